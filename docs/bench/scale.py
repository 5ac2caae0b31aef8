"""Scale benchmark: N concurrent v2 connections on one headless server.

Run from the repository root (a clean clone is enough; stdlib + websockets, uvloop if present):

    python docs/bench/scale.py --connections 10000
    python docs/bench/scale.py --connections 1000 --seconds 5 --json scale-1k.json

What it measures, against ``python -m server`` started here as a subprocess on a free port:

1. Memory: the server's RSS before any client and with all N joined, in rooms of
   ``--room-size``, and the difference per joined connection.
2. Connecting: the time until all N are connected and welcomed (at most
   ``--connect-concurrency`` handshakes in flight, failed connects retried with backoff).
3. Latency: for ``--seconds``, one member of every room sends ``--rate`` messages/s whose
   content is the send time (``time.time_ns``, the same clock in every process); every other
   member computes the delivery latency. Percentiles, delivered against expected after a
   drain, the server's CPU during the phase and its RSS after it.

The clients are spread over ``--procs`` worker processes so that the load generator is not
the bottleneck; they share the machine with the server, so their CPU is reported too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from server import protocol

CLK_TCK = os.sysconf("SC_CLK_TCK")
CONNECT_ATTEMPTS = 8
SETTLE_SECONDS = (
    1.0  # join notices and history frames still on their way when the last welcome arrives
)


# Measuring processes through /proc -------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def machine_busy_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine: shows whether other work shared the cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU used by some processes, and by the machine, between start() and percent()."""

    def __init__(self, pids: list[int]) -> None:
        self._pids = pids
        self._start = self._sample()

    def _sample(self) -> tuple[float, float, int, int]:
        busy, total = machine_busy_ticks()
        return time.monotonic(), sum(cpu_seconds(pid) for pid in self._pids), busy, total

    def percent(self) -> tuple[float, float]:
        """(processes' CPU in % of one core, machine busy in % of all cores) since creation."""
        wall0, cpu0, busy0, total0 = self._start
        wall1, cpu1, busy1, total1 = self._sample()
        return 100 * (cpu1 - cpu0) / (wall1 - wall0), 100 * (busy1 - busy0) / max(
            1, total1 - total0
        )


# The server under test -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerProcess:
    """``python -m server`` with every per-connection limit off, on a free port and a fresh data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.stderr_path = data_dir / "server-stderr.log"
        argv = [
            sys.executable,
            "-m",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(data_dir),
            "--rate-limit",
            "0",
            "--max-conns-per-ip",
            "0",
            "--log-level",
            "warning",
        ]
        with self.stderr_path.open("wb") as stderr:
            self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr)
        self._wait_listening()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def _wait_listening(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited with {self.proc.returncode}:\n{self.errors()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"server not listening on port {self.port} after {timeout} s")

    def errors(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-4000:]

    def stop(self) -> tuple[float, float]:
        """SIGTERM and wait for the exit (clients may still be connected).

        Returns the seconds it took and the CPU seconds the server used meanwhile: its
        lifetime CPU comes from the kernel's accounting of reaped children, since its
        /proc entry is gone by then.
        """
        started = time.monotonic()
        if self.proc.poll() is not None:
            return 0.0, 0.0
        reaped_before = _children_cpu_seconds()
        used_before = cpu_seconds(self.proc.pid)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return time.monotonic() - started, _children_cpu_seconds() - reaped_before - used_before


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# Load generator (runs in each worker process) --------------------------------------------


@dataclass
class JoinReport:
    joined: int
    retries: int
    connect_ms: list[float]


@dataclass
class PhaseReport:
    sent: int = 0
    expected: int = 0
    delivered: int = 0
    closed_early: int = 0
    latencies_us: list[int] = field(default_factory=list)


class Member:
    """One connected, joined client; counts and times the chat messages it receives."""

    def __init__(self, connection: ClientConnection, name: str, report: PhaseReport) -> None:
        self.connection = connection
        self.name = name
        self._report = report
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        # json.loads rather than protocol.parse_server: the generator must stay cheaper than the server.
        try:
            async for frame in self.connection:
                message = json.loads(frame)
                if message.get("type") == "chat" and message["from"] != self.name:
                    self._report.delivered += 1
                    self._report.latencies_us.append(
                        (time.time_ns() - int(message["content"])) // 1000
                    )
        except ConnectionClosed:
            pass
        if self.connection.close_code != 1001:  # 1001: the server shutting down at the end
            self._report.closed_early += 1


class JoinRefused(Exception):
    """The server answered a join with something other than a welcome."""


async def join_member(url: str, room: str, name: str) -> tuple[ClientConnection, int]:
    """Connect, join and wait for the welcome; retries refused or timed-out connects with backoff.

    Returns the connection and the number of retries it needed.
    """
    for attempt in range(CONNECT_ATTEMPTS):
        try:
            connection = await connect(
                url,
                subprotocols=[protocol.SUBPROTOCOL],
                compression=None,
                ping_interval=None,
                open_timeout=30,
                close_timeout=5,
            )
        except (OSError, InvalidHandshake, TimeoutError):
            if attempt == CONNECT_ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.05 * 2**attempt * (1 + random.random()))
            continue
        await connection.send(protocol.encode(protocol.Join(user_id=name, room=room)))
        reply = protocol.parse_server(await connection.recv())
        if not isinstance(reply, protocol.Welcome):
            raise JoinRefused(f"{name} in {room}: expected a welcome, got {reply!r}")
        return connection, attempt
    raise AssertionError("unreachable")


class LoadWorker:
    """The clients of some rooms; the first member of each room is its sender."""

    def __init__(
        self, url: str, rooms: dict[str, int], concurrency: int, control: Connection
    ) -> None:
        self.url = url
        self.rooms = rooms  # room name -> members
        self.concurrency = concurrency
        self.control = control
        self.report = PhaseReport()
        self.members: dict[str, list[Member]] = {}

    async def run(self) -> None:
        self.control.send("ready")  # imports done: the connect timing starts with the command
        await self.receive()
        self.control.send(await self.join_all())
        rate, seconds, drain = await self.receive()
        await self.send_phase(rate, seconds)
        await self.drain(drain)
        self.control.send(self.report)
        await self.receive()  # the server has stopped: every connection is closed

    async def receive(self):
        return await asyncio.get_running_loop().run_in_executor(None, self.control.recv)

    async def join_all(self) -> JoinReport:
        gate = asyncio.Semaphore(self.concurrency)
        connect_ms: list[float] = []
        retries = 0

        async def join_one(room: str, name: str) -> Member:
            nonlocal retries
            async with gate:
                started = time.perf_counter()
                connection, attempts = await join_member(self.url, room, name)
                connect_ms.append((time.perf_counter() - started) * 1000)
                retries += attempts
                return Member(connection, name, self.report)

        for room, size in self.rooms.items():
            self.members[room] = [
                asyncio.ensure_future(join_one(room, f"{room}-m{i}")) for i in range(size)
            ]
        for room, pending in self.members.items():
            self.members[room] = list(await asyncio.gather(*pending))
        return JoinReport(sum(map(len, self.members.values())), retries, connect_ms)

    async def send_phase(self, rate: float, seconds: float) -> None:
        """Open loop: each sender keeps its own schedule whatever the server's speed."""
        start = time.monotonic()

        async def send_from(room: str) -> None:
            sender, *receivers = self.members[room]
            at = start + random.random() / rate  # spread the rooms over the first interval
            while at < start + seconds:
                await asyncio.sleep(at - time.monotonic())
                try:
                    await sender.connection.send(
                        protocol.encode(protocol.Chat(content=str(time.time_ns())))
                    )
                except ConnectionClosed:  # counted by its reader as closed early
                    return
                self.report.sent += 1
                self.report.expected += len(receivers)
                at += 1 / rate

        await asyncio.gather(*(send_from(room) for room in self.members))

    async def drain(self, seconds: float) -> None:
        """Wait for messages still in flight, up to ``seconds``."""
        deadline = time.monotonic() + seconds
        while self.report.delivered < self.report.expected and time.monotonic() < deadline:
            await asyncio.sleep(0.05)


def worker_main(url: str, rooms: dict[str, int], concurrency: int, control: Connection) -> None:
    """Entry of a worker process: uvloop where available, as the server uses."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(LoadWorker(url, rooms, concurrency, control).run())
    else:
        uvloop.run(LoadWorker(url, rooms, concurrency, control).run())


# Orchestration ---------------------------------------------------------------------------


def raise_open_files_limit(needed: int) -> int:
    """Soft RLIMIT_NOFILE up to the hard limit; the server subprocess and workers inherit it."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard != resource.RLIM_INFINITY and hard < needed:
        print(
            f"warning: the open-files hard limit is {hard}, the server needs about {needed}",
            file=sys.stderr,
        )
    return hard


def plan_rooms(connections: int, room_size: int, procs: int) -> list[dict[str, int]]:
    """Whole rooms per worker, round robin; the last room holds the remainder."""
    plans: list[dict[str, int]] = [{} for _ in range(procs)]
    for index in range(math.ceil(connections / room_size)):
        size = min(room_size, connections - index * room_size)
        plans[index % procs][f"room-{index}"] = size
    return [plan for plan in plans if plan]


def command(controls: list[Connection], message) -> None:
    for control in controls:
        control.send(message)


def replies(controls: list[Connection]) -> list:
    return [control.recv() for control in controls]


def percentile(ordered: list, fraction: float):
    """Nearest-rank percentile of an already sorted list."""
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)] if ordered else None


def run(args: argparse.Namespace) -> dict:
    nofile = raise_open_files_limit(args.connections + 100)
    plans = plan_rooms(args.connections, args.room_size, args.procs)
    with tempfile.TemporaryDirectory(prefix="roomchat-scale-") as data_dir:
        server = ServerProcess(Path(data_dir))
        context = multiprocessing.get_context("spawn")
        workers, controls = [], []
        try:
            time.sleep(0.5)
            rss_idle = rss_kib(server.proc.pid)
            concurrency = max(1, args.connect_concurrency // len(plans))
            for plan in plans:
                ours, theirs = context.Pipe()
                worker = context.Process(
                    target=worker_main, args=(server.url, plan, concurrency, theirs)
                )
                worker.start()
                theirs.close()  # a worker that dies then shows as EOFError here, not as a hang
                workers.append(worker)
                controls.append(ours)
            replies(controls)  # "ready"
            started = time.monotonic()
            server_cpu = CpuMeter([server.proc.pid])
            loadgen_cpu = CpuMeter([w.pid for w in workers])
            command(controls, "join")
            joins: list[JoinReport] = replies(controls)
            connect_seconds = time.monotonic() - started
            connect_server_cpu, _ = server_cpu.percent()
            connect_loadgen_cpu, _ = loadgen_cpu.percent()
            time.sleep(SETTLE_SECONDS)
            rss_joined = rss_kib(server.proc.pid)
            joined = sum(j.joined for j in joins)

            server_cpu = CpuMeter([server.proc.pid])
            loadgen_cpu = CpuMeter([w.pid for w in workers])
            command(controls, (args.rate, args.seconds, args.drain))
            time.sleep(args.seconds)
            phase_server_cpu, machine_busy = server_cpu.percent()
            phase_loadgen_cpu, _ = loadgen_cpu.percent()
            phases: list[PhaseReport] = replies(controls)
            rss_after = rss_kib(server.proc.pid)
        finally:
            loadgen_cpu = CpuMeter([w.pid for w in workers])
            stop_seconds, stop_server_cpu_seconds = server.stop()
            stop_loadgen_cpu, _ = loadgen_cpu.percent()
            server_stderr = server.errors()
            for control in controls:  # some worker may already be gone
                with contextlib.suppress(OSError):
                    control.send("stop")
            for worker in workers:
                worker.join(30)
                if worker.is_alive():
                    worker.kill()

    connect_ms = sorted(ms for j in joins for ms in j.connect_ms)
    latencies = sorted(us for p in phases for us in p.latencies_us)
    sent, expected, delivered = (
        sum(getattr(p, name) for p in phases) for name in ("sent", "expected", "delivered")
    )
    return {
        "connections": joined,
        "rooms": sum(len(plan) for plan in plans),
        "room_size": args.room_size,
        "procs": len(plans),
        "open_files_limit": nofile,
        "server_rss_idle_kib": rss_idle,
        "server_rss_joined_kib": rss_joined,
        "kib_per_connection": round((rss_joined - rss_idle) / max(1, joined), 2),
        "connect_seconds": round(connect_seconds, 2),
        "connect_ms_p50": round(percentile(connect_ms, 0.5), 1),
        "connect_ms_p99": round(percentile(connect_ms, 0.99), 1),
        "connect_ms_max": round(connect_ms[-1], 1),
        "connect_retries": sum(j.retries for j in joins),
        "connect_server_cpu_pct": round(connect_server_cpu),
        "connect_loadgen_cpu_pct": round(connect_loadgen_cpu),
        "seconds": args.seconds,
        "sent": sent,
        "sent_per_second": round(sent / args.seconds),
        "expected": expected,
        "delivered": delivered,
        "lost": expected - delivered,
        "deliveries_per_second": round(delivered / args.seconds),
        "latency_ms_p50": _ms(percentile(latencies, 0.5)),
        "latency_ms_p99": _ms(percentile(latencies, 0.99)),
        "latency_ms_p999": _ms(percentile(latencies, 0.999)),
        "latency_ms_max": _ms(latencies[-1] if latencies else None),
        "closed_early": sum(p.closed_early for p in phases),
        "phase_server_cpu_pct": round(phase_server_cpu),
        "phase_loadgen_cpu_pct": round(phase_loadgen_cpu),
        "phase_machine_busy_pct": round(machine_busy),
        "server_rss_after_kib": rss_after,
        "server_stop_seconds": round(stop_seconds, 2),
        "server_stop_cpu_seconds": round(stop_server_cpu_seconds, 2),
        "stop_loadgen_cpu_pct": round(stop_loadgen_cpu),
        "server_exit_code": server.proc.returncode,
        "server_stderr": server_stderr,
    }


def _ms(microseconds: int | None) -> float | None:
    return None if microseconds is None else round(microseconds / 1000, 2)


def markdown(result: dict) -> str:
    r = result
    rows = [
        ("connections joined", f"{r['connections']:,} in {r['rooms']:,} rooms of {r['room_size']}"),
        (
            "server RSS idle / all joined",
            f"{r['server_rss_idle_kib'] / 1024:.1f} / {r['server_rss_joined_kib'] / 1024:.1f} MiB",
        ),
        ("server RSS per joined connection", f"{r['kib_per_connection']:.1f} KiB"),
        ("connect + join all", f"{r['connect_seconds']:.2f} s ({r['connect_retries']} retries)"),
        (
            "connect + join one, p50 / p99 / max",
            f"{r['connect_ms_p50']} / {r['connect_ms_p99']} / {r['connect_ms_max']} ms",
        ),
        (
            "CPU while connecting: server / load generator",
            f"{r['connect_server_cpu_pct']}% / {r['connect_loadgen_cpu_pct']}%",
        ),
        ("messages sent", f"{r['sent']:,} ({r['sent_per_second']:,}/s for {r['seconds']:g} s)"),
        (
            "deliveries: expected / delivered / lost",
            f"{r['expected']:,} / {r['delivered']:,} / {r['lost']:,}",
        ),
        ("deliveries per second", f"{r['deliveries_per_second']:,}"),
        (
            "latency p50 / p99 / p99.9 / max",
            f"{r['latency_ms_p50']} / {r['latency_ms_p99']} / {r['latency_ms_p999']} / {r['latency_ms_max']} ms",
        ),
        ("connections closed early", f"{r['closed_early']}"),
        (
            "CPU in phase: server / load generator / machine",
            f"{r['phase_server_cpu_pct']}% / {r['phase_loadgen_cpu_pct']}% / {r['phase_machine_busy_pct']}% of all cores",
        ),
        ("server RSS after phase", f"{r['server_rss_after_kib'] / 1024:.1f} MiB"),
        (
            "server stop (SIGTERM, all connected)",
            (
                f"{r['server_stop_seconds']:.2f} s, exit code {r['server_exit_code']}; server CPU "
                f"{r['server_stop_cpu_seconds']:.2f} s, load generator {r['stop_loadgen_cpu_pct']}%"
            ),
        ),
    ]
    lines = ["| figure | value |", "|---|---|"] + [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--room-size", type=int, default=20)
    parser.add_argument("--procs", type=int, default=2, help="load generator processes")
    parser.add_argument(
        "--connect-concurrency", type=int, default=200, help="handshakes in flight, all workers"
    )
    parser.add_argument("--seconds", type=float, default=10, help="length of the latency phase")
    parser.add_argument("--rate", type=float, default=1.0, help="messages per second per room")
    parser.add_argument(
        "--drain", type=float, default=2.0, help="seconds to wait for messages in flight"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    result = run(args)
    print(markdown(result))
    if result["server_stderr"]:
        print("\nserver stderr:\n" + result["server_stderr"], file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0 if result["lost"] == 0 and result["closed_early"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
