"""The desktop client's file transfers on loopback: upload and Save throughput, client memory.

    python docs/bench/desktop_files.py [--mib 200]

Starts ``roomchat-server`` on a free loopback port with a fresh data dir, then, in this
process, the desktop's ChatConnection on a qasync loop (offscreen Qt) joins a room and
uploads a ``--mib`` file from disk (desktop.transfers.Uploads: offer, credit window, acks)
until the room's record arrives, then saves it back with download_to (HTTP GET streamed to
disk, SHA-256 checked). Prints MiB/s for both and this process's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402
import qasync  # noqa: E402

from desktop.client import ChatConnection, ConnectionState  # noqa: E402
from desktop.transfers import download_to  # noqa: E402

MiB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def until(predicate, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.005)


async def measure(port: int, path: Path, work: Path) -> None:
    connection = ChatConnection()
    delivered = {}
    connection.messageReceived.connect(lambda record: delivered.setdefault("record", record))
    connection.join(f"ws://127.0.0.1:{port}", "bench", "files")
    await until(lambda: connection.state is ConnectionState.ONLINE, 20)
    size = path.stat().st_size
    started = time.perf_counter()
    connection.uploads.add_file(path)
    await until(lambda: "record" in delivered)
    upload = time.perf_counter() - started
    ref = delivered["record"].file
    started = time.perf_counter()
    saved = await download_to(connection.http_target(), ref, work / "saved.bin")
    download = time.perf_counter() - started
    digest = hashlib.sha256()
    with open(saved, "rb") as source:
        while block := source.read(4 * MiB):
            digest.update(block)
    assert digest.hexdigest() == ref.sha256
    await connection.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"desktop upload of {size / MiB:.0f} MiB: {upload:.2f} s, {size / MiB / upload:.0f} MiB/s "
          f"(until the room's record arrived: hashing and storing included)")
    print(f"desktop Save of it: {download:.2f} s, {size / MiB / download:.0f} MiB/s (SHA-256 checked)")
    print(f"this process's peak RSS (Qt included): {rss:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path = work / "big.bin"
        with open(path, "wb") as out:
            block = os.urandom(4 * MiB)
            for _ in range(args.mib // 4):
                out.write(block)
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(port),
                                   "--data-dir", str(work / "data"), "--no-advertise",
                                   "--max-file-size", str(args.mib + 1)], cwd=ROOT)
        try:
            app = QApplication([])
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            qasync.run(measure(port, path, work))
            del app
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
