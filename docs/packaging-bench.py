"""Start-up time of the built app: wall time of ``RoomChat --self-test``, launch to exit.

Build first (``pyinstaller build.spec``), then from the repository root:

    python docs/packaging-bench.py [path/to/RoomChat] [--runs 7]

The self-test's first step builds and shows the main window as the app does on start (Qt,
the translations, the window with its icon), then it also runs a server, a client, the page
and the history check; so the wall time printed here is an upper bound for the time from
double-click to the window being shown (goal: under 2 s). It runs offscreen, with the files
in the OS page cache after the first run (a warm start; the first run is shown separately).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_APP = (
    ROOT / "dist" / "RoomChat" / ("RoomChat.exe" if sys.platform == "win32" else "RoomChat")
)


def launch(app: Path, home: Path) -> tuple[float, str]:
    """(wall seconds, the self-test's line) of one run with its own empty user folders."""
    home.mkdir(parents=True)
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        HOME=str(home),
        USERPROFILE=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_CACHE_HOME=str(home / "cache"),
    )
    started = time.perf_counter()
    result = subprocess.run(
        [str(app), "--self-test"],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{app} --self-test failed ({result.returncode}): {result.stderr.strip()}")
    return wall, result.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", nargs="?", type=Path, default=DEFAULT_APP)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if not args.app.exists():
        sys.exit(f"{args.app} not found: build it first with  pyinstaller build.spec")
    with tempfile.TemporaryDirectory(prefix="roomchat-bench-") as folder:
        first, line = launch(args.app, Path(folder) / "first")
        walls = [launch(args.app, Path(folder) / f"run{n}")[0] for n in range(args.runs)]
    print(f"app: {args.app}")
    print(f"first run: {first:.2f} s   ({line})")
    print(
        f"next {args.runs} runs: median {statistics.median(walls):.2f} s, "
        f"min {min(walls):.2f} s, max {max(walls):.2f} s"
    )
    print(f"launch to window shown: at most {statistics.median(walls):.2f} s (median; goal < 2 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
