"""``roomchat-server --workers 2 --redis ...`` on the LAN: one announcement, every member counted.

Run only inside a network namespace that has nothing but loopback (test_discovery.py starts
it with ``unshare --net``). It starts its own redis-server and the two workers, joins twelve
members to one room (the kernel spreads them over both workers), then browses with real
mDNS and prints one JSON line: the RoomChat services seen on the workers' port and the room
counts each announces.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from test_cluster import RedisProcess  # noqa: E402
from zeroconf import IPVersion  # noqa: E402
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf  # noqa: E402

from conftest import ChatPeer, free_port, wait_listening  # noqa: E402
from server.advertise import SERVICE_TYPE, decode_txt  # noqa: E402

os.environ.pop("ROOMCHAT_MDNS", None)  # after conftest's "off": this namespace holds only loopback

MEMBERS = 12



async def announcements(port: int, seconds: float) -> dict[str, list]:
    """Every RoomChat service on ``port`` seen within ``seconds``, with the rooms it announces."""
    zeroconf = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    names: set[str] = set()
    browser = AsyncServiceBrowser(zeroconf.zeroconf, SERVICE_TYPE,
                                  handlers=[lambda zeroconf, service_type, name, state_change: names.add(name)])
    await asyncio.sleep(seconds)
    found = {}
    for name in sorted(names):
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        if await info.async_request(zeroconf.zeroconf, 3000) and info.port == port:
            announcement = decode_txt(info.properties or {})
            found[name] = [list(room) for room in announcement.rooms] if announcement else None
    await browser.async_cancel()
    await zeroconf.async_close()
    return found


async def scenario(port: int) -> dict:
    members = []
    for i in range(MEMBERS):
        peer = await ChatPeer.open(f"ws://127.0.0.1:{port}")
        assert (await peer.join(f"m{i}", "lobby"))["type"] == "welcome"
        members.append(peer)
    found = await announcements(port, 6.0)
    for peer in members:  # aborted: a member that read none of its join notices would wait out a close
        peer.connection.transport.abort()
    return found


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        redis = RedisProcess(Path(folder) / "redis", persist=False)
        redis.start()
        port = free_port()
        workers = subprocess.Popen(
            [sys.executable, "-m", "server", "--host", "0.0.0.0", "--port", str(port), "--data-dir",
             str(Path(folder) / "data"), "--redis", redis.url, "--workers", "2", "--mdns-interface", "127.0.0.1",
             "--advertise-name", "hall-workers", "--log-level", "warning"],
            cwd=ROOT, stdout=subprocess.DEVNULL,
        )
        try:
            wait_listening(port, workers)
            time.sleep(1.5)  # the second worker too: members are spread over both
            found = asyncio.run(scenario(port))
        finally:
            workers.terminate()
            workers.wait(20)
            redis.stop()
    print("FOUND " + json.dumps(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
