"""Desktop benchmarks: cold start, a 10,000-message burst, memory and scrolling at 100,000 messages.

Run from the repository root:  /work/venv/bin/python docs/desktop-bench.py
(offscreen by default; set QT_QPA_PLATFORM=xcb to measure a real window).

1. Cold start: a fresh interpreter runs ``roomchat``'s main() until the window is shown.
2. Burst: a real server on loopback, one MainWindow joined to it, another client sends
   10,000 messages as fast as it can; a 5 ms QTimer heartbeat records the longest
   event-loop stall of the window's process while they arrive (goal < 50 ms).
3. Memory: RSS with 100,000 messages in the window's model, laid out (goal < 300 MiB).
4. Scrolling: time to scroll and repaint one page, over many pages of that model.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QElapsedTimer, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

import qasync  # noqa: E402

BURST = 10_000
BIG = 100_000

CHILD = """
import os, sys, time
from PySide6.QtCore import QTimer
import desktop.window
shown_original = desktop.window.MainWindow.showEvent
def announce(self, event):
    shown_original(self, event)
    QTimer.singleShot(0, lambda: (print("SHOWN", time.time(), flush=True), os._exit(0)))
desktop.window.MainWindow.showEvent = announce
from desktop.__main__ import main
sys.exit(main([]))
"""


def cold_start(runs: int = 3) -> list[float]:
    """Seconds from process launch to the window's first show event."""
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as home:
            env = dict(os.environ, XDG_CONFIG_HOME=home, XDG_DATA_HOME=home, PYTHONPATH=str(ROOT))
            started = time.time()
            out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True,
                                 text=True, timeout=60, cwd=ROOT).stdout
            shown = float(next(line for line in out.splitlines() if line.startswith("SHOWN")).split()[1])
            times.append(shown - started)
    return times


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Heartbeat:
    """Measures the longest gap between ticks of a 5 ms timer: the event loop's worst stall."""

    def __init__(self) -> None:
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.worst = 0
        self.last = 0

    def start(self) -> None:
        self.clock.start()
        self.last = 0
        self.worst = 0
        self.timer.start()

    def _tick(self) -> None:
        now = self.clock.elapsed()
        self.worst = max(self.worst, now - self.last)
        self.last = now

    def stop(self) -> int:
        self.timer.stop()
        return self.worst


def send_burst(url: str, count: int, done: threading.Event) -> None:
    """Another member, on its own thread and loop, sending ``count`` messages at once."""
    from websockets.asyncio.client import connect

    from server.protocol import SUBPROTOCOL

    async def run() -> None:
        async with connect(url, subprotocols=[SUBPROTOCOL], compression=None) as ws:
            await ws.send(json.dumps({"type": "join", "userId": "sender", "room": "bench"}))
            while json.loads(await ws.recv())["type"] != "welcome":
                pass
            for i in range(count):
                await ws.send(json.dumps({"type": "chat", "content": f"burst message {i} " + "x" * (i % 80)}))
            done.set()
            await asyncio.sleep(1.0)

    asyncio.run(run())


async def burst(window, url: str) -> dict:
    from desktop.client import ConnectionState

    window.sidebar.name_edit.setText("reader")
    window.sidebar.room_edit.setText("bench")
    window.sidebar.server_edit.setText(url)
    window.join_from_form()
    while window.connection.state is not ConnectionState.ONLINE:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)
    heartbeat = Heartbeat()
    heartbeat.start()
    started = time.perf_counter()
    done = threading.Event()
    sender = threading.Thread(target=send_burst, args=(url, BURST, done), daemon=True)
    sender.start()
    while len(window.model.ids()) < BURST:
        await asyncio.sleep(0.005)
    received = time.perf_counter() - started
    await asyncio.sleep(0.5)  # let the view finish its batched layout under the heartbeat
    stall = heartbeat.stop()
    ids = window.model.ids()
    await asyncio.get_running_loop().run_in_executor(None, sender.join, 5)
    return {"received_s": received, "worst_stall_ms": stall, "rows": window.model.rowCount(),
            "unique_ids": len(set(ids)) == len(ids)}


async def big_model(window) -> dict:
    from server.protocol import ChatRecord

    window.model.clear()
    base = 1764090000000
    before = rss_mib()
    started = time.perf_counter()
    window.model.add_records(
        ChatRecord(i, "bench", "bob" if i % 3 else "reader", f"message {i}: " + "lorem ipsum " * (i % 12),
                   base + i * 1000)
        for i in range(1, BIG + 1))
    inserted = time.perf_counter() - started
    view = window.view
    bar = view.verticalScrollBar()
    heartbeat = Heartbeat()
    heartbeat.start()
    started = time.perf_counter()
    # The batched layout is done when the scroll range has grown and stops growing.
    stable, last = 0, -1
    while stable < 20 or last <= 0:
        await asyncio.sleep(0.01)
        stable = stable + 1 if bar.maximum() == last else 0
        last = bar.maximum()
    layout_s = time.perf_counter() - started
    layout_stall = heartbeat.stop()
    rss = rss_mib()
    page_times = []
    pages = bar.maximum() // max(bar.pageStep(), 1)
    bar.setValue(bar.maximum())
    for _ in range(200):
        t0 = time.perf_counter()
        bar.setValue(bar.value() - bar.pageStep())
        view.viewport().grab()  # renders the visible bubbles now, into a pixmap
        page_times.append((time.perf_counter() - t0) * 1000)
    return {"insert_s": inserted, "layout_s": layout_s, "layout_worst_stall_ms": layout_stall,
            "rss_mib": rss, "rss_before_mib": before,
            "page_ms_median": statistics.median(page_times), "page_ms_max": max(page_times),
            "pages": pages}


def main() -> None:
    from desktop.settings import Settings
    from desktop.window import MainWindow
    from server.app import ServerConfig
    from server.thread import ServerThread

    starts = cold_start()
    print("cold start to window shown (s):", ", ".join(f"{t:.2f}" for t in starts))
    app = QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerThread(ServerConfig(host="127.0.0.1", port=0, data_dir=Path(tmp) / "data",
                                           rate_limit=1e9, rate_burst=10**9, retention=BIG))
        server.start()
        settings = Settings(QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat))
        window = MainWindow(settings)
        window.resize(1000, 680)
        window.show()
        try:
            result = loop.run_until_complete(burst(window, server.url))
            print(f"burst of {BURST}: all received in {result['received_s']:.2f} s, "
                  f"longest event-loop stall {result['worst_stall_ms']} ms (goal < 50), "
                  f"rows {result['rows']}, ids unique: {result['unique_ids']}")
            loop.run_until_complete(window.connection.close())
            result = loop.run_until_complete(big_model(window))
            print(f"{BIG} messages: model insert {result['insert_s']:.2f} s, view layout "
                  f"{result['layout_s']:.2f} s (longest stall {result['layout_worst_stall_ms']} ms), "
                  f"RSS {result['rss_mib']:.0f} MiB (goal < 300; {result['rss_before_mib']:.0f} before)")
            print(f"scrolling: {result['page_ms_median']:.1f} ms per page (median), "
                  f"{result['page_ms_max']:.1f} ms worst of 200 pages (of {result['pages']} in the model)")
        finally:
            loop.run_until_complete(window.shutdown())
            server.stop()


if __name__ == "__main__":
    main()
