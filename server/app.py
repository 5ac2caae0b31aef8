"""The transport: websockets server, HTTP on the same port, limits, coalesced writes.

This is the only server module that touches sockets. It turns frames into protocol
messages for the :class:`~server.hub.Hub` and implements the hub's ``Session`` and
``Delivery`` interfaces:

* a fan-out frames the message once (the WebSocket frame bytes are the same for every
  recipient) and appends those bytes to each recipient's outbox;
* once per event-loop turn every outbox is written with one ``transport.write``, so a
  connection that is owed 30 messages costs one system call, not 30;
* a connection whose unsent bytes pass ``max_buffer`` (it stopped reading) is closed with
  1008 instead of buffering without bound; it resumes later with ``since``.
"""

from __future__ import annotations

import asyncio
import http
import json
import logging
import socket
import ssl
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State

from . import __version__, protocol
from .flood import JoinLimitedHub
from .hub import Hub
from .limits import TokenBucket
from .protocol import SUBPROTOCOL, ProtocolError, Version
from .security import OriginPolicy
from .store import HistoryStore
from .webroot import WebRoot

__all__ = ["ServerConfig", "ChatServer", "TLSError"]

log = logging.getLogger(__name__)

CLOSE_TOO_SLOW = 1008


@dataclass
class ServerConfig:
    """Everything ``roomchat-server`` can be told; the desktop host uses the same."""

    data_dir: Path
    host: str = "0.0.0.0"
    port: int = 8080
    # Limits
    rate_limit: float = 20.0
    rate_burst: int = 40
    join_rate: float = 1.0  # joins per second per connection (0 = off), bursts of join_burst
    join_burst: int = 5
    max_conns_per_ip: int = 64
    max_frame: int = 64 * 1024
    max_buffer: int = 1024 * 1024
    retention: int = 10_000
    # Heartbeat: ping every interval, drop a peer silent for interval + timeout.
    ping_interval: float = 30.0
    ping_timeout: float = 30.0
    close_timeout: float = 5.0
    # Access
    key: str | None = None
    # Browser pages from other origins that may connect (``null`` = pages opened from file://).
    allowed_origins: tuple[str, ...] = ()
    # TLS: both set -> https:// and wss:// on the same port.
    certfile: Path | None = None
    keyfile: Path | None = None


class TLSError(RuntimeError):
    """The certificate or key cannot be used; the message says why, for a person."""


def _tls_context(config: ServerConfig) -> ssl.SSLContext | None:
    if config.certfile is None and config.keyfile is None:
        return None
    if config.certfile is None or config.keyfile is None:
        raise TLSError("TLS needs both a certificate file and a key file")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(config.certfile, config.keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise TLSError(f"cannot use the certificate {config.certfile} with key {config.keyfile}: {exc}") from exc
    return context


def _frame_header(length: int) -> bytes:
    """Header of an unmasked, unfragmented text frame (RFC 6455 section 5.2)."""
    if length < 126:
        return bytes((0x81, length))
    if length < 65536:
        return struct.pack("!BBH", 0x81, 126, length)
    return struct.pack("!BBQ", 0x81, 127, length)


def _wire(text: str) -> bytes:
    data = text.encode()
    return _frame_header(len(data)) + data


class Outboxes:
    """Coalesces what each connection is owed into one write per event-loop turn."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, max_buffer: int, on_close: Callable[[WebSocketSession], None]
    ) -> None:
        self._loop = loop
        self._max_buffer = max_buffer
        self._dirty: list[WebSocketSession] = []
        self.on_close = on_close

    def push(self, session: WebSocketSession, wire: bytes) -> None:
        if session.dead:
            return
        if not session.chunks:
            if not self._dirty:
                self._loop.call_soon(self.flush)
            self._dirty.append(session)
        session.chunks.append(wire)

    def flush(self) -> None:
        dirty, self._dirty = self._dirty, []
        for session in dirty:
            chunks, session.chunks = session.chunks, []
            connection = session.connection
            if connection.protocol.state is not State.OPEN:
                continue
            transport = connection.transport
            transport.write(b"".join(chunks) if len(chunks) > 1 else chunks[0])
            unsent = transport.get_write_buffer_size()
            if unsent > self._max_buffer + session.history_allowance:
                session.close(CLOSE_TOO_SLOW, "too slow: fell more than 1 MiB behind, resume with since")
            elif unsent <= self._max_buffer:
                session.history_allowance = 0  # the join's history is out of our hands

    def broadcast(self, sessions: Iterable[WebSocketSession], text: str) -> None:
        """The hub's Delivery: frame once, queue everywhere."""
        wire = None
        for session in sessions:
            if wire is None:
                wire = _wire(text)
            self.push(session, wire)


class BatchTimer:
    """Runs the hub's flush on the next loop turn, but leaves as long a pause as it took.

    A quiet server commits and delivers every message on the very next turn; a busy one
    gathers what arrives meanwhile into one commit and one write per connection, spending
    at most about half its time in flushes instead of a commit and a system call per message.
    Pauses under MIN_PAUSE are skipped: event-loop timers round them up to a millisecond.
    """

    MIN_PAUSE = 0.001

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._next = 0.0

    def __call__(self, callback: Callable[[], None]) -> None:
        def run() -> None:
            start = self._loop.time()
            callback()
            end = self._loop.time()
            took = end - start
            self._next = end + took if took >= self.MIN_PAUSE else 0.0

        if self._loop.time() >= self._next:
            self._loop.call_soon(run)
        else:
            self._loop.call_at(self._next, run)


class WebSocketSession:
    """One websocket connection as the hub sees it (the hub's ``Session``)."""

    __slots__ = ("connection", "version", "chunks", "dead", "history_allowance", "_outboxes", "bucket")

    def __init__(self, connection: ServerConnection, outboxes: Outboxes, bucket: TokenBucket) -> None:
        self.connection = connection
        self.version = Version.V2 if connection.subprotocol == SUBPROTOCOL else Version.V1
        self.chunks: list[bytes] = []
        self.dead = False
        self.history_allowance = 0  # bytes of join history the slow-member bound lets pass
        self._outboxes = outboxes
        self.bucket = bucket

    def send(self, text: str) -> None:
        self._outboxes.push(self, _wire(text))

    def send_history(self, text: str) -> None:
        wire = _wire(text)
        self.history_allowance += len(wire)
        self._outboxes.push(self, wire)

    def close(self, code: int, reason: str) -> None:
        """Stop queueing for this connection, take it out of its room, close it in the background."""
        if self.dead:
            return
        self.dead = True
        self.chunks.clear()
        self._outboxes.on_close(self)
        task = asyncio.get_running_loop().create_task(self.connection.close(code, reason))
        _background.add(task)
        task.add_done_callback(_background.discard)


_background: set[asyncio.Task] = set()


class _NoAssembler:
    """Stands in for websockets' per-connection message queue, which is never used here."""

    def close(self) -> None:
        pass


_NO_ASSEMBLER = _NoAssembler()
_SETTLED_REQUEST = Request("/", Headers())
"""What an open connection keeps of its handshake request (websockets only checks it is set)."""


class DispatchConnection(ServerConnection):
    """Hands each complete message to the chat server as soon as its last frame is parsed.

    websockets queues every frame in an assembler and wakes a handler task to read it; for
    a chat server, whose messages are small, that is most of the cost of receiving one, and
    the waiting task costs memory on every idle connection. Here messages are dispatched
    inside ``data_received`` (fragments joined first; websockets already bounds a message's
    total size), and ``heard`` records when the peer last sent anything, for the server's
    one heartbeat task. Messages parsed before the handler is ready are kept (at most
    EARLY_MESSAGES) and dispatched first, in order.
    """

    EARLY_MESSAGES = 32

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.heard = self.loop.time()
        self._on_message: Callable[[str | bytes], None] | None = None
        self._early: list[str | bytes] = []
        self._fragments: list[Frame] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # Messages never reach websockets' assembler (about 2.5 KiB a connection); only its
        # close() is still called, on connection_lost. recv() is not for this connection.
        self.recv_messages = _NO_ASSEMBLER

    def start_dispatch(self, on_message: Callable[[str | bytes], None]) -> None:
        for message in self._early:
            on_message(message)
        self._early.clear()
        self._on_message = on_message

    def process_event(self, event) -> None:
        if self.request is None:
            super().process_event(event)  # the handshake request
            return
        self.heard = self.loop.time()
        if event.opcode not in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            super().process_event(event)  # ping, pong, close: websockets' bookkeeping
            return
        if not event.fin:
            self._fragments.append(event)
            return
        if self._fragments:
            first = self._fragments[0]
            data = b"".join(f.data for f in self._fragments) + event.data
            opcode, self._fragments = first.opcode, []
        else:
            opcode, data = event.opcode, event.data
        if opcode is Opcode.TEXT:
            try:
                self._deliver(bytes(data).decode())
            except UnicodeDecodeError as exc:
                self._fail(CloseCode.INVALID_DATA, f"{exc.reason} at position {exc.start}")
        else:
            self._deliver(bytes(data))

    def _deliver(self, message: str | bytes) -> None:
        if self._on_message is not None:
            self._on_message(message)
        elif len(self._early) < self.EARLY_MESSAGES:
            self._early.append(message)
        else:
            self._fail(CloseCode.POLICY_VIOLATION, "too many messages before the handshake settled")

    def _fail(self, code: CloseCode, reason: str) -> None:
        self.protocol.fail(code, reason)
        self.send_data()


class Heartbeat:
    """One task pings every quiet connection and drops those silent for too long.

    Replaces websockets' keepalive task per connection (about 2 KiB each): a connection
    that sent nothing for ``interval`` seconds gets a ping; one silent for ``interval +
    timeout`` seconds is closed with 1011 and its socket aborted.
    """

    def __init__(self, server: Server, interval: float, timeout: float) -> None:
        self._server = server
        self._interval = interval
        self._timeout = timeout
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(self._interval, self._timeout) / 2)
            now = loop.time()
            for connection in self._server.connections:
                silent = now - connection.heard
                try:
                    if silent > self._interval + self._timeout:
                        connection.protocol.fail(CloseCode.INTERNAL_ERROR, "no answer to ping")
                        connection.send_data()
                        connection.transport.abort()
                    elif silent > self._interval and connection.protocol.state is State.OPEN:
                        connection.protocol.send_ping(b"")
                        connection.send_data()
                except Exception:  # one broken connection must not stop the heartbeat of all
                    log.exception("heartbeat failed for one connection")
                    connection.transport.abort()

    def stop(self) -> None:
        self._task.cancel()


class ChatServer:
    """One RoomChat server: ``await start()``, ``await stop()``."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.tls = _tls_context(config)
        self.origin_policy = OriginPolicy.create(
            config.allowed_origins, (socket.gethostname(),), secure=self.tls is not None
        )
        self.store = HistoryStore(Path(config.data_dir) / "history.sqlite3", retention=config.retention)
        self.web = WebRoot()
        self._server: Server | None = None
        self._hub: Hub | None = None
        self._outboxes: Outboxes | None = None
        self._per_ip: dict[str, int] = {}
        self._connections = 0

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._outboxes = Outboxes(loop, self.config.max_buffer, on_close=lambda s: self._hub.disconnect(s))
        self._hub = JoinLimitedHub(
            self.store,
            self._outboxes,
            BatchTimer(loop),
            key=self.config.key,
            join_rate=self.config.join_rate,
            join_burst=self.config.join_burst,
        )
        try:
            self._server = await self._listen()
        except BaseException:
            self.store.close()  # release the data folder: a retry on another port must find it free
            raise
        self._heartbeat = Heartbeat(self._server, self.config.ping_interval, self.config.ping_timeout)
        log.info("serving on %s:%d", self.config.host, self.port)

    async def _listen(self) -> Server:
        return await serve(
            self._handle,
            self.config.host,
            self.config.port,
            create_connection=DispatchConnection,
            backlog=1024,  # the default 100 overflowed when a room full of clients reconnects at once
            process_request=self._process_request,
            compression=None,
            max_size=self.config.max_frame,
            max_queue=64,
            ping_interval=None,  # Heartbeat pings for all connections from one task
            close_timeout=self.config.close_timeout,
            server_header=f"RoomChat/{__version__}",
            ssl=self.tls,
        )

    async def stop(self) -> None:
        """Deliver what is queued, close every client with 1001, flush and close history."""
        if self._server is None:
            return
        assert self._hub is not None and self._outboxes is not None
        self._hub.flush()
        self._outboxes.flush()
        self._heartbeat.stop()
        self._server.close(close_connections=True)
        await self._server.wait_closed()
        self._hub.flush()
        self.store.close()
        self._server = None
        log.info("stopped")

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    # HTTP ---------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            refusal = self.origin_policy.refusal(request.headers.get("Origin"), request.headers.get("Host"))
            if refusal is not None:
                log.warning("refused a websocket from %s: %s", _peer_ip(connection), refusal)
                return connection.respond(http.HTTPStatus.FORBIDDEN, refusal + "\n")
            ip = _peer_ip(connection)
            limit = self.config.max_conns_per_ip
            if limit and self._per_ip.get(ip, 0) >= limit:
                response = connection.respond(
                    http.HTTPStatus.TOO_MANY_REQUESTS,
                    f"too many connections from {ip} (limit {limit})\n",
                )
                return response
            offered = ",".join(request.headers.get_all("Sec-WebSocket-Protocol"))
            if SUBPROTOCOL in (token.strip() for token in offered.split(",")):
                # websockets then selects it; a client offering nothing stays v1. (A
                # select_subprotocol callback would cost a closure on every connection.)
                connection.protocol.available_subprotocols = [SUBPROTOCOL]
            return None
        path = request.path.split("?", 1)[0]
        if path == "/healthz":
            body = json.dumps(
                {
                    "status": "ok",
                    "version": __version__,
                    "rooms": self._hub.room_count if self._hub else 0,
                    "connections": self._connections,
                }
            ).encode()
            return _response(connection, http.HTTPStatus.OK, body, "application/json")
        found = self.web.get(path)
        if found is None:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "not found\n")
        body, content_type = found
        return _response(connection, http.HTTPStatus.OK, body, content_type)

    # WebSocket ----------------------------------------------------------------

    async def _handle(self, connection: DispatchConnection) -> None:
        assert self._hub is not None and self._outboxes is not None
        hub = self._hub
        ip = _peer_ip(connection)
        self._per_ip[ip] = self._per_ip.get(ip, 0) + 1
        self._connections += 1
        session = WebSocketSession(
            connection, self._outboxes, TokenBucket(self.config.rate_limit, self.config.rate_burst)
        )

        def on_message(message: str | bytes) -> None:
            try:
                self._dispatch(hub, session, message)
            except Exception:  # a bug must cost one connection, never the server
                log.exception("frame handling failed")
                session.close(1011, "internal error")

        # The handshake's headers (about 2.5 KiB) are not needed once the connection is open.
        connection.request, connection.response = _SETTLED_REQUEST, None
        connection.start_dispatch(on_message)
        try:
            await connection.wait_closed()
        finally:
            hub.disconnect(session)
            session.dead = True
            self._connections -= 1
            remaining = self._per_ip[ip] - 1
            if remaining:
                self._per_ip[ip] = remaining
            else:
                del self._per_ip[ip]

    def _dispatch(self, hub: Hub, session: WebSocketSession, frame: str | bytes) -> None:
        try:
            message = protocol.parse_client(frame)
            if not session.bucket.allow():
                raise ProtocolError(
                    protocol.ErrorCode.RATE_LIMITED,
                    "too many messages, slow down",
                    getattr(message, "nonce", None),
                )
            if isinstance(message, protocol.Chat):
                hub.chat(session, message)
            elif isinstance(message, protocol.Ping):
                session.send(protocol.encode(protocol.Pong()))
            elif isinstance(message, protocol.Join):
                hub.join(session, message)
            elif isinstance(message, protocol.Typing):
                hub.typing(session, message)
            elif isinstance(message, protocol.Leave):
                hub.leave(session)
        except ProtocolError as error:
            hub.reply_error(session, error)


def _peer_ip(connection: ServerConnection) -> str:
    address = connection.remote_address
    return str(address[0]) if address else "?"


def _response(connection: ServerConnection, status: http.HTTPStatus, body: bytes, content_type: str) -> Response:
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-cache"),
            ("X-Content-Type-Options", "nosniff"),
            ("Connection", "close"),
        ]
    )
    return Response(status.value, status.phrase, headers, body)
