"""Shared files under load: server memory, throughput, and the room's chat latency.

    python docs/bench/files.py [--big-mib 500] [--pair-mib 200]

Starts ``roomchat-server`` (the headless server, as deployed) on a free loopback port with a
fresh data dir, then measures:

1. chat latency while idle: one member sends, another receives (median, p99 of 200 messages);
2. the same while two other connections (separate processes) each upload ``--pair-mib``;
3. one ``--big-mib`` upload: the server's RSS sampled every 20 ms (peak) and the upload's MiB/s;
4. the download of that file over HTTP GET: MiB/s, SHA-256 checked.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from server.protocol import SUBPROTOCOL  # noqa: E402
from tests.uploads import Uploader, http_get  # noqa: E402

MiB = 1024 * 1024
BLOCK = os.urandom(4 * MiB)


def payload(size: int) -> bytes:
    """Incompressible, and different per call (no dedup between runs)."""
    head = os.urandom(64)
    return (head + BLOCK * (size // len(BLOCK) + 1))[:size]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def joined(url: str, name: str):
    from websockets.asyncio.client import connect

    connection = await connect(url, subprotocols=[SUBPROTOCOL], compression=None, max_size=None)
    await connection.send(json.dumps({"type": "join", "userId": name, "room": "bench"}))
    while json.loads(await connection.recv())["type"] != "history":
        pass
    return connection


async def upload(url: str, name: str, size: int) -> float:
    """Upload ``size`` bytes; return MiB/s from offer to the record."""
    data = payload(size)
    uploader = Uploader(await joined(url, name))
    started = time.perf_counter()
    await uploader.send_file(f"{name}.bin", data)
    elapsed = time.perf_counter() - started
    await uploader.close()
    return size / MiB / elapsed


def upload_process(url: str, name: str, size: int, results) -> None:
    """On a LAN the senders are other machines; here they share the server's cores, so they
    run at the lowest priority and take only the CPU the server and the probes leave."""
    os.nice(19)
    results.put(asyncio.run(upload(url, name, size)))


async def latencies(url: str, count: int, stop: asyncio.Event | None = None) -> list[float]:
    """Milliseconds from one member's send to another's receipt, 20 messages a second."""
    sender, receiver = await joined(url, "probe-a"), await joined(url, "probe-b")
    found: list[float] = []
    try:
        for i in range(count):
            if stop is not None and stop.is_set():
                break
            sent = time.perf_counter()
            await sender.send(json.dumps({"type": "chat", "content": f"probe {i}", "nonce": str(i)}))
            while True:
                frame = json.loads(await receiver.recv())
                if frame.get("content") == f"probe {i}":
                    found.append((time.perf_counter() - sent) * 1000)
                    break
            await asyncio.sleep(0.05)
    finally:
        await sender.close()
        await receiver.close()
    return found


def summary(values: list[float]) -> str:
    values = sorted(values)
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    return f"median {statistics.median(values):.2f} ms, p99 {p99:.2f} ms (n={len(values)})"


def rss_sampler(pid: int, peak: list[int], stop: asyncio.Event):
    async def sample() -> None:
        while not stop.is_set():
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        peak.append(int(line.split()[1]) * 1024)
            await asyncio.sleep(0.02)

    return sample()


async def main(args) -> None:
    port = free_port()
    url = f"ws://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data_dir:
        server = subprocess.Popen(
            [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(port), "--data-dir", data_dir,
             "--rate-limit", "0", "--max-conns-per-ip", "0", "--log-level", "warning",
             "--max-file-size", str(max(args.big_mib, args.pair_mib) + 1), "--max-storage", str(args.big_mib + 3 * args.pair_mib),
             *args.server_flag],
            cwd=ROOT,
        )
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            idle = await latencies(url, 200)
            print(f"chat latency idle:                 {summary(idle)}")

            context = multiprocessing.get_context("spawn")
            results = context.Queue()
            workers = [context.Process(target=upload_process, args=(url, f"pair{i}", args.pair_mib * MiB, results))
                       for i in range(2)]
            for worker in workers:
                worker.start()
            await asyncio.sleep(1.0)  # both uploads are streaming
            stop = asyncio.Event()

            async def watch() -> None:
                await asyncio.to_thread(lambda: [w.join() for w in workers])
                stop.set()

            watcher = asyncio.create_task(watch())
            busy = await latencies(url, 10_000, stop)
            await watcher
            rates = [results.get() for _ in workers]
            print(f"chat latency, two {args.pair_mib} MiB uploads: {summary(busy)}")
            print(f"  ratio of medians {statistics.median(busy) / statistics.median(idle):.2f}x; "
                  f"uploads ran at {rates[0]:.0f} and {rates[1]:.0f} MiB/s")

            peak: list[int] = []
            stop = asyncio.Event()
            sampler = asyncio.create_task(rss_sampler(server.pid, peak, stop))
            rate = await upload(url, "big", args.big_mib * MiB)
            stop.set()
            await sampler
            print(f"{args.big_mib} MiB upload: {rate:.0f} MiB/s; server RSS before {peak[0] / MiB:.0f} MiB, "
                  f"peak {max(peak) / MiB:.0f} MiB")

            connection = await joined(url, "reader")
            history = None
            await connection.send(json.dumps({"type": "join", "userId": "reader2", "room": "bench"}))
            while history is None:
                frame = json.loads(await connection.recv())
                if frame["type"] == "history":
                    history = frame
            await connection.close()
            ref = [m["file"] for m in history["messages"] if m.get("file", {}).get("name") == "big.bin"][0]
            started = time.perf_counter()
            status, _, body = await asyncio.to_thread(http_get, port, ref["url"], 120)
            elapsed = time.perf_counter() - started
            assert status == 200 and hashlib.sha256(body).hexdigest() == ref["sha256"]
            print(f"download of {args.big_mib} MiB: {len(body) / MiB / elapsed:.0f} MiB/s (SHA-256 matches)")
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-mib", type=int, default=500)
    parser.add_argument("--pair-mib", type=int, default=200)
    parser.add_argument("--server-flag", action="append", default=[], help="passed on to roomchat-server")
    asyncio.run(main(parser.parse_args()))
