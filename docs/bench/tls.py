"""What "Encrypt (TLS)" costs a desktop host and its guests, on loopback.

Run from the repository root:

    python docs/bench/tls.py             # 200 joins of each kind
    python docs/bench/tls.py --joins 50

Measured (medians and p90 in milliseconds, wall time, client and server on this machine):

* making the host certificate (new P-256 key, self-signed, written with the key at 0600), and
  reusing it at the next start (read, parse, check against the key and the clock);
* one join as a guest's app does it: connect, websocket upgrade, join, welcome, over ws://,
  over wss:// with the certificate already pinned, and over wss:// the first time by a
  fingerprinted link (one extra TLS handshake to check the certificate before the upgrade).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from websockets.asyncio.client import connect  # noqa: E402

from desktop.certificate import host_certificate  # noqa: E402
from desktop.trust import CertificateTrust, fetch_certificate, fingerprint  # noqa: E402
from server.app import ServerConfig  # noqa: E402
from server.protocol import SUBPROTOCOL  # noqa: E402
from server.thread import ServerThread  # noqa: E402


def _summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[int(len(ordered) * 0.9) - 1]
    return f"median {statistics.median(ordered) * 1000:7.2f} ms   p90 {p90 * 1000:7.2f} ms   (n={len(ordered)})"


def certificate_times(folder: Path, count: int) -> tuple[list[float], list[float]]:
    made, reused = [], []
    for number in range(count):
        target = folder / f"cert-{number}"
        started = time.perf_counter()
        host_certificate(target, addresses=["192.168.1.23"])
        made.append(time.perf_counter() - started)
        started = time.perf_counter()
        assert not host_certificate(target).created
        reused.append(time.perf_counter() - started)
    return made, reused


async def join_once(url: str, ssl_context, number: int) -> None:
    async with connect(url, subprotocols=[SUBPROTOCOL], compression=None, ssl=ssl_context, proxy=None) as ws:
        await ws.send(json.dumps({"type": "join", "userId": f"guest{number}", "room": "bench"}))
        answer = json.loads(await ws.recv())
        assert answer["type"] == "welcome", answer


async def joins(port: int, tls_port: int, trust_file: Path, expected: str, count: int) -> dict[str, list[float]]:
    address = f"127.0.0.1:{tls_port}"
    results: dict[str, list[float]] = {"ws://": [], "wss:// pinned": [], "wss:// first, by link": []}
    for number in range(count):
        started = time.perf_counter()
        await join_once(f"ws://127.0.0.1:{port}/", None, number)
        results["ws://"].append(time.perf_counter() - started)

        trust_file.unlink(missing_ok=True)
        trust = CertificateTrust(trust_file)
        started = time.perf_counter()  # what ServerCertificates.pin_expected adds, then the join
        der = await fetch_certificate("127.0.0.1", tls_port)
        assert fingerprint(der) == expected
        trust.trust(address, der)
        await join_once(f"wss://{address}/", trust.context_for(address), number)
        results["wss:// first, by link"].append(time.perf_counter() - started)

        started = time.perf_counter()
        await join_once(f"wss://{address}/", trust.context_for(address), number)
        results["wss:// pinned"].append(time.perf_counter() - started)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--joins", type=int, default=200)
    parser.add_argument("--certificates", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="roomchat-tls-bench-") as folder:
        root = Path(folder)
        made, reused = certificate_times(root, args.certificates)
        print(f"certificate made     {_summary(made)}")
        print(f"certificate reused   {_summary(reused)}")
        certificate = host_certificate(root / "host")
        plain = ServerThread(ServerConfig(data_dir=root / "plain", host="127.0.0.1", port=0,
                                          join_rate=0, join_burst=0, max_conns_per_ip=0))
        encrypted = ServerThread(ServerConfig(data_dir=root / "tls", host="127.0.0.1", port=0, join_rate=0,
                                              join_burst=0, max_conns_per_ip=0, certfile=certificate.certfile,
                                              keyfile=certificate.keyfile))
        plain.start()
        encrypted.start()
        try:
            results = asyncio.run(joins(plain.port, encrypted.port, root / "trust.json",
                                        certificate.fingerprint, args.joins))
        finally:
            plain.stop()
            encrypted.stop()
        for kind, samples in results.items():
            print(f"join {kind:<22}{_summary(samples)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
