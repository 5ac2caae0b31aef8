"""Scale-out benchmark: one process without Redis, one with Redis, two with Redis.

Run from the repository root (needs Debian's ``redis-server``; stdlib + websockets + uvloop):

    python docs/bench/cluster.py                 # both loads, all three setups
    python docs/bench/cluster.py --seconds 5 --json cluster.json

Two loads, each at a fixed offered rate so that the setups are compared on the same work:

* ``fanout``: one room of ``--fanout-members`` members spread evenly over the processes;
  ``--fanout-senders`` of them each send ``--fanout-rate`` messages/s.
* ``rooms``: ``--rooms`` rooms of ``--room-size`` members (spread over the processes); one
  member per room sends ``--room-rate`` messages/s.

Every message carries its send time (``time.time_ns``); every receiver records the delivery
latency. Reported per setup: deliveries/s, p50/p99 latency, lost deliveries (expected minus
received after a drain), and CPU per delivery of the servers plus redis-server (the load
generator runs on the same machine: its CPU and the machine's are reported too).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from scale import cpu_seconds, free_port, machine_busy_ticks, percentile  # noqa: E402

SUBPROTOCOL = "roomchat.v2"


def start_redis(folder: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", "",
         "--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction"],
        stdout=subprocess.DEVNULL,
    )
    wait_port(port)
    return proc, port


def start_server(folder: Path, redis_port: int | None, node: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    argv = [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(port), "--log-level", "error",
            "--rate-limit", "0", "--join-rate", "0", "--max-conns-per-ip", "0", "--data-dir", str(folder / node)]
    if redis_port is not None:
        argv += ["--redis", f"redis://127.0.0.1:{redis_port}/0", "--node-id", node]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL)
    wait_port(port)
    return proc, port


def wait_port(port: int) -> None:
    import socket

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


class Receiver:
    def __init__(self) -> None:
        self.latencies: list[int] = []  # microseconds


async def member(url: str, room: str, name: str, receiver: Receiver) -> object:
    ws = await connect(url, subprotocols=[SUBPROTOCOL], compression=None, max_queue=None)
    await ws.send(json.dumps({"type": "join", "userId": name, "room": room}))
    while json.loads(await ws.recv())["type"] != "history":
        pass

    async def read() -> None:
        with contextlib.suppress(Exception):
            async for text in ws:
                if text.startswith('{"type":"chat"') and '"nonce"' not in text:
                    sent = int(json.loads(text)["content"])
                    receiver.latencies.append((time.time_ns() - sent) // 1000)

    ws.reader = asyncio.create_task(read())
    return ws


async def load(urls: list[str], rooms: dict[str, int], senders: dict[str, int], rate: float, seconds: float,
               pids: list[int]) -> dict:
    """Join every member (spread over ``urls``), send at ``rate``/s from each sender, measure."""
    receiver = Receiver()
    sockets: dict[str, list] = {}
    count = 0
    for room, size in rooms.items():
        sockets[room] = []
        for i in range(size):
            url = urls[count % len(urls)]
            count += 1
            sockets[room].append(await member(url, room, f"m{i}", receiver))
    await asyncio.sleep(1.0)  # join notices settle
    receiver.latencies.clear()
    cpu0 = sum(cpu_seconds(p) for p in pids)
    own0 = cpu_seconds(os.getpid())
    busy0, total0 = machine_busy_ticks()
    start = time.monotonic()
    sent = 0

    async def send(ws) -> None:
        nonlocal sent
        interval = 1 / rate
        next_at = time.monotonic()
        while time.monotonic() - start < seconds:
            await ws.send(json.dumps({"type": "chat", "content": str(time.time_ns()), "nonce": "n"}))
            sent += 1
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    await asyncio.gather(*(send(sockets[room][i]) for room, n in senders.items() for i in range(n)))
    elapsed = time.monotonic() - start
    per_room_sent = sent / max(1, sum(senders.values()))
    expected = int(sum(per_room_sent * n * (rooms[room] - 1) for room, n in senders.items()))
    deadline = time.monotonic() + 10
    while len(receiver.latencies) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    drained = time.monotonic() - start
    cpu = sum(cpu_seconds(p) for p in pids) - cpu0
    own = cpu_seconds(os.getpid()) - own0
    busy1, total1 = machine_busy_ticks()
    for room_sockets in sockets.values():
        for ws in room_sockets:
            await ws.close()
    ordered = sorted(receiver.latencies)
    delivered = len(ordered)
    return {
        "sent": sent,
        "expected": expected,
        "delivered": delivered,
        "lost": max(0, expected - delivered),
        "deliveries_per_s": delivered / elapsed,
        "p50_ms": percentile(ordered, 0.5) / 1000 if ordered else None,
        "p99_ms": percentile(ordered, 0.99) / 1000 if ordered else None,
        "server_cpu_s": cpu,
        "cpu_us_per_delivery": 1e6 * cpu / max(1, delivered),
        "loadgen_cpu_pct": 100 * own / drained,
        "machine_busy_pct": 100 * (busy1 - busy0) / max(1, total1 - total0),
    }


async def run_setup(name: str, processes: int, use_redis: bool, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        procs: list[subprocess.Popen] = []
        redis_port = None
        if use_redis:
            redis, redis_port = start_redis(folder)
            procs.append(redis)
        ports = []
        try:
            for i in range(processes):
                proc, port = start_server(folder, redis_port, f"n{i + 1}")
                procs.append(proc)
                ports.append(port)
            urls = [f"ws://127.0.0.1:{p}" for p in ports]
            pids = [p.pid for p in procs]
            results = {
                "fanout": await load(urls, {"hall": args.fanout_members}, {"hall": args.fanout_senders},
                                     args.fanout_rate, args.seconds, pids),
                "rooms": await load(urls, {f"r{i}": args.room_size for i in range(args.rooms)},
                                    {f"r{i}": 1 for i in range(args.rooms)}, args.room_rate, args.seconds, pids),
            }
        finally:
            for proc in reversed(procs):
                proc.terminate()
            for proc in procs:
                proc.wait()
    return {"setup": name, **results}


def markdown(results: list[dict]) -> str:
    lines = ["| load | setup | deliveries/s | p50 ms | p99 ms | lost | CPU µs/delivery (servers + Redis) "
             "| load generator CPU % | machine busy % |", "|---|---|---|---|---|---|---|---|---|"]
    for load_name in ("fanout", "rooms"):
        for result in results:
            r = result[load_name]
            lines.append(
                f"| {load_name} | {result['setup']} | {r['deliveries_per_s']:,.0f} | {r['p50_ms']:.1f} | "
                f"{r['p99_ms']:.1f} | {r['lost']} | {r['cpu_us_per_delivery']:.1f} | "
                f"{r['loadgen_cpu_pct']:.0f} | {r['machine_busy_pct']:.0f} |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--fanout-members", type=int, default=200)
    parser.add_argument("--fanout-senders", type=int, default=4)
    parser.add_argument("--fanout-rate", type=float, default=25.0, help="messages/s per sender")
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--room-size", type=int, default=5)
    parser.add_argument("--room-rate", type=float, default=10.0, help="messages/s per room")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    setups = [("1 process, SQLite", 1, False), ("1 process + Redis", 1, True), ("2 processes + Redis", 2, True)]
    results = []
    for name, processes, use_redis in setups:
        results.append(asyncio.run(run_setup(name, processes, use_redis, args)))
        print(f"{name}: done", file=sys.stderr, flush=True)
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
