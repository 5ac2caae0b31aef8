"""Shared fixtures: real servers on free loopback ports, real websocket clients."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# No test announces or browses with mDNS on this machine's real interfaces: every process the
# suite starts inherits this; only test_discovery.py lifts it, inside a network namespace.
os.environ["ROOMCHAT_MDNS"] = "off"

from server.app import ServerConfig  # noqa: E402
from server.protocol import SUBPROTOCOL  # noqa: E402
from server.thread import ServerThread  # noqa: E402

ARTIFACTS = Path(__file__).parent / "artifacts"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, proc, timeout: float = 15.0) -> None:
    """Wait until the server process ``proc`` accepts connections on ``port`` (fail if it exits)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("server did not listen")


class TcpServer:
    """``asyncio.start_server`` that, on ``close()``, also ends the connections it accepted.

    A stream left to the garbage collector closes itself from whatever thread collects it;
    on the qasync loop, from a server thread, that fails ("Timers cannot be started from
    another thread"). So every accepted writer is closed and every handler awaited here."""

    def __init__(self, handler, **options) -> None:
        self._handler = handler
        self._options = options
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task] = set()
        self._server: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(self._serve, host, port, **self._options)
        return self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        self._tasks.add(asyncio.current_task())
        try:
            await self._handler(reader, writer)
        finally:
            writer.close()
            self._writers.discard(writer)
            self._tasks.discard(asyncio.current_task())

    def track(self, writer: asyncio.StreamWriter) -> None:
        """Close ``writer`` (e.g. a handler's own outgoing connection) with the server."""
        self._writers.add(writer)

    def forget(self, writer: asyncio.StreamWriter) -> None:
        writer.close()
        self._writers.discard(writer)

    def abort_connections(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.abort_connections()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()


def make_config(data_dir: Path, **overrides) -> ServerConfig:
    """A loopback server config; tests pass overrides for the limits they exercise."""
    options = {"host": "127.0.0.1", "port": 0}
    options.update(overrides)
    return ServerConfig(data_dir=data_dir, **options)


def client_frame(opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True, rsv: int = 0,
                 claimed_length: int | None = None) -> bytes:
    """A WebSocket frame as a client sends it (masked), or deliberately malformed."""
    length = len(payload) if claimed_length is None else claimed_length
    head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    mask_bit = 0x80 if masked else 0
    if length < 126:
        head += bytes([mask_bit | length])
    elif length < 65536:
        head += bytes([mask_bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", length)
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def raw_websocket(port: int, *, receive_buffer: int | None = None, timeout: float | None = 5.0) -> socket.socket:
    """A v2 websocket on a bare socket: the test decides what to send and whether to read."""
    sock = socket.socket()
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(timeout)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Protocol: {SUBPROTOCOL}\r\n\r\n".encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(4096)
    assert response.startswith(b"HTTP/1.1 101 "), response[:80]
    return sock


@pytest.fixture(scope="session")
def qasync_loop(qapp):
    """One qasync loop for the whole session: a fresh QEventLoop per test crashed Qt (segfault)."""
    import qasync

    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    yield loop
    loop.run_until_complete(loop.shutdown_asyncgens())
    asyncio.set_event_loop(None)
    loop.close()


@pytest.fixture(name="run")
def run_on_qasync(qasync_loop):
    """Desktop tests: run one scenario coroutine to completion on the qasync loop."""

    def run_scenario(scenario, timeout: float = 60.0):
        asyncio.set_event_loop(qasync_loop)
        reentered = []

        def note_reentry(loop, context) -> None:
            # Spinning Qt's event loop inside a coroutine (processEvents, qWait, exec) steps
            # another task from within this one: asyncio refuses, and that task never resumes.
            if "Cannot enter into task" in str(context.get("exception")):
                reentered.append(context["exception"])
            loop.default_exception_handler(context)

        qasync_loop.set_exception_handler(note_reentry)
        try:
            result = qasync_loop.run_until_complete(asyncio.wait_for(scenario, timeout))
        finally:
            qasync_loop.set_exception_handler(None)
        assert not reentered, f"the Qt event loop was spun inside a coroutine: {reentered[0]}"
        return result

    return run_scenario


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def server_thread(tmp_path: Path) -> Iterator[ServerThread]:
    """A running server on its own thread, on a free port, with its history in tmp_path."""
    thread = ServerThread(make_config(tmp_path / "data"))
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture
def unlimited_server(tmp_path: Path) -> Iterator[ServerThread]:
    """Like server_thread, with the rate limit off, for tests that send in bulk."""
    thread = ServerThread(make_config(tmp_path / "data", rate_limit=0))
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


class ChatPeer:
    """A test's websocket client: sends dicts, receives dicts, skips what a test ignores.

    Peers opened inside :func:`run` are closed when the scenario ends, so stopping the server
    afterwards does not wait out its close timeout for clients nobody reads any more.
    """

    opened: list[ChatPeer] = []

    def __init__(self, connection) -> None:
        self.connection = connection
        ChatPeer.opened.append(self)

    @classmethod
    async def open(cls, url: str, *, v2: bool = True, **kwargs) -> ChatPeer:
        from websockets.asyncio.client import connect

        connection = await connect(
            url, subprotocols=[SUBPROTOCOL] if v2 else None, compression=None, **kwargs
        )
        return cls(connection)

    async def send(self, **message) -> None:
        await self.connection.send(json.dumps(message))

    async def recv(self, timeout: float = 5.0) -> dict:
        return json.loads(await asyncio.wait_for(self.connection.recv(), timeout))

    async def expect(self, kind: str, timeout: float = 5.0, **fields) -> dict:
        """The next frame of type ``kind`` whose fields match; other frames are skipped."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            message = await self.recv(max(0.01, deadline - loop.time()))
            if message.get("type") == kind and all(message.get(k) == v for k, v in fields.items()):
                return message

    async def nothing(self, wait: float = 0.3) -> list[dict]:
        """Every frame that arrives within ``wait`` seconds (a test asserts it is empty)."""
        frames = []
        try:
            while True:
                frames.append(await self.recv(wait))
        except (TimeoutError, asyncio.TimeoutError):
            return frames

    async def join(self, name: str, room: str, **extra) -> dict:
        await self.send(type="join", userId=name, room=room, **extra)
        return await self.recv()

    async def close(self) -> None:
        await self.connection.close()


def run(scenario):
    """Run a test scenario on a fresh event loop and close every peer it opened."""

    async def scenario_then_close():
        try:
            return await scenario
        finally:
            peers, ChatPeer.opened = ChatPeer.opened, []
            await asyncio.gather(*(p.connection.close() for p in peers), return_exceptions=True)

    return asyncio.run(scenario_then_close())
