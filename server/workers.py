"""``roomchat-server --workers N``: N server processes sharing one port.

Each worker is an ordinary ``roomchat-server --redis ...`` started with ``--reuse-port`` and
its own node id; the kernel spreads new connections over them (SO_REUSEPORT). The parent
only supervises: it restarts a worker that dies (its clients reconnect to the others
meanwhile and resume) and passes SIGINT/SIGTERM on.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time

__all__ = ["run_workers"]

RESTART_DELAY = 1.0


def _worker_argv(argv: list[str], node: str, *, advertise: bool) -> list[str]:
    """The parent's arguments without --workers/--node-id, plus this worker's own.

    Only one worker (``advertise``) may announce the service on the LAN: the workers are one
    server on one port, and N announcements would list every room N times."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in ("--workers", "--node-id"):
            skip = "=" not in arg
            continue
        kept.append(arg)
    return [sys.executable, "-m", "server", *kept, "--reuse-port", "--node-id", node,
            *(() if advertise else ("--no-advertise",))]


def run_workers(args: argparse.Namespace, argv: list[str]) -> int:
    if args.workers < 1:
        print("roomchat-server: --workers must be at least 1", file=sys.stderr)
        return 2
    if args.redis is None:
        print(
            "roomchat-server: --workers N > 1 needs --redis redis://HOST:PORT/DB "
            "(the processes share rooms through Redis)",
            file=sys.stderr,
        )
        return 2
    if not hasattr(socket, "SO_REUSEPORT"):
        print(
            "roomchat-server: --workers needs SO_REUSEPORT, which this platform lacks; "
            "start one server per port instead",
            file=sys.stderr,
        )
        return 2
    base = args.node_id or f"{socket.gethostname()}-{os.getpid()}"
    nodes = [f"{base}-w{i + 1}" for i in range(args.workers)]
    announcer = nodes[0]
    children = {node: subprocess.Popen(_worker_argv(argv, node, advertise=node == announcer)) for node in nodes}
    stopping = False

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        time.sleep(0.2)
        for node, child in list(children.items()):
            code = child.poll()
            if code is None or stopping:
                continue
            if code == 2:  # a startup refusal (Redis unreachable, port taken): it would repeat
                stop(signal.SIGTERM, None)
                return 2
            print(
                f"roomchat-server: worker {node} ended ({code}); restarting it",
                file=sys.stderr,
                flush=True,
            )
            time.sleep(RESTART_DELAY)
            children[node] = subprocess.Popen(_worker_argv(argv, node, advertise=node == announcer))
    codes = [child.wait() for child in children.values()]
    return 0 if all(code == 0 for code in codes) else 1
