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
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode, Opcode
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
        self, loop: asyncio.AbstractEventLoop, max_buffer: int, on_kill: Callable[[WebSocketSession], None]
    ) -> None:
        self._loop = loop
        self._max_buffer = max_buffer
        self._dirty: list[WebSocketSession] = []
        self.on_kill = on_kill

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
                session.kill(CLOSE_TOO_SLOW, "too slow: fell more than 1 MiB behind, resume with since")
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
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._next = 0.0

    def __call__(self, callback: Callable[[], None]) -> None:
        def run() -> None:
            start = self._loop.time()
            callback()
            end = self._loop.time()
            self._next = end + (end - start)

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
        self.kill(code, reason)

    def kill(self, code: int, reason: str) -> None:
        """Stop queueing for this connection, take it out of its room, close it in the background."""
        if self.dead:
            return
        self.dead = True
        self.chunks.clear()
        self._outboxes.on_kill(self)
        task = asyncio.get_running_loop().create_task(self.connection.close(code, reason))
        _background.add(task)
        task.add_done_callback(_background.discard)


_background: set[asyncio.Task] = set()


class TextFrameConnection(ServerConnection):
    """Hands each complete text frame to the chat server as soon as it is parsed.

    websockets queues every frame in an assembler and wakes the handler task to read it;
    for a chat server, whose frames are small, that is most of the cost of receiving one.
    Here complete text frames are dispatched inside ``data_received``; fragmented and
    binary messages still take websockets' usual path to the handler. Frames parsed before
    the handler is ready are kept (at most EARLY_FRAMES) and dispatched first, in order.
    """

    EARLY_FRAMES = 32

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._on_text: Callable[[str], None] | None = None
        self._early: list[str] = []

    def start_dispatch(self, on_text: Callable[[str], None]) -> None:
        for text in self._early:
            on_text(text)
        self._early.clear()
        self._on_text = on_text

    def process_event(self, event) -> None:
        if self.request is None or event.opcode is not Opcode.TEXT or not event.fin:
            super().process_event(event)
            return
        try:
            text = event.data.decode()
        except UnicodeDecodeError as exc:
            self.protocol.fail(CloseCode.INVALID_DATA, f"{exc.reason} at position {exc.start}")
            self.send_data()
            return
        if self._on_text is not None:
            self._on_text(text)
        elif len(self._early) < self.EARLY_FRAMES:
            self._early.append(text)
        else:
            self.protocol.fail(CloseCode.POLICY_VIOLATION, "too many frames before the handshake settled")
            self.send_data()


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
        self._outboxes = Outboxes(loop, self.config.max_buffer, on_kill=lambda s: self._hub.disconnect(s))
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
        log.info("serving on %s:%d", self.config.host, self.port)

    async def _listen(self) -> Server:
        return await serve(
            self._handle,
            self.config.host,
            self.config.port,
            create_connection=TextFrameConnection,
            backlog=1024,  # the default 100 overflowed when a room full of clients reconnects at once
            process_request=self._process_request,
            select_subprotocol=_select_subprotocol,
            compression=None,
            max_size=self.config.max_frame,
            max_queue=64,
            ping_interval=self.config.ping_interval,
            ping_timeout=self.config.ping_timeout,
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

    async def _handle(self, connection: TextFrameConnection) -> None:
        assert self._hub is not None and self._outboxes is not None
        hub = self._hub
        ip = _peer_ip(connection)
        self._per_ip[ip] = self._per_ip.get(ip, 0) + 1
        self._connections += 1
        session = WebSocketSession(
            connection, self._outboxes, TokenBucket(self.config.rate_limit, self.config.rate_burst)
        )

        def on_text(text: str) -> None:
            try:
                self._dispatch(hub, session, text)
            except Exception:  # a bug must cost one connection, never the server
                log.exception("frame handling failed")
                session.kill(1011, "internal error")

        connection.start_dispatch(on_text)
        try:
            async for frame in connection:  # only fragmented and binary messages come this way
                self._dispatch(hub, session, frame)
        except ConnectionClosed:
            pass
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


def _select_subprotocol(connection: ServerConnection, offered: list[str]) -> str | None:
    return SUBPROTOCOL if SUBPROTOCOL in offered else None


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
