"""The WebSocket transport: one small ``asyncio.Protocol`` object per connection.

websockets' sans-I/O ``ServerProtocol`` does the opening handshake (HTTP parsing, the
accept key, subprotocol negotiation, error responses) and is dropped once the connection
is open. From then on this module reads and writes frames itself (RFC 6455, no
extensions), because a chat server's messages are small and many:

* a received message is handed to the application inside ``data_received``: no task,
  future or queue per connection, and an idle connection holds only its peer object;
* what a connection is owed is queued as ready frame bytes and written once per
  event-loop turn, so 30 messages to one member cost one system call, not 30;
* a connection whose unsent bytes pass ``max_buffer`` (it stopped reading) is closed
  with 1008 instead of buffering without bound; it resumes later with ``since``;
* the work one peer can cause per event-loop turn is bounded whatever it sends: after
  ``TURN_BUDGET`` of parsing it stops reading until the loop has served the others, incomplete
  input is appended in place and parsed only once it can complete a frame (or, in the
  handshake, searched only where it is new), and a message's size and fragment count are
  running totals with their own limits;
* timeouts (opening handshake, silence, closing handshake) are enforced by one sweep over
  all connections, not a timer per connection.
"""

from __future__ import annotations

import asyncio
import email.utils
import enum
import http
import logging
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from websockets.datastructures import Headers
from websockets.exceptions import ProtocolError as FrameError
from websockets.frames import Close, CloseCode
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - websockets built without its C extension
    from websockets.utils import apply_mask

__all__ = [
    "Endpoint", "WebSocketApp", "WebSocketPeer", "PeerState", "StreamedResponse", "http_response", "text_frame",
]

log = logging.getLogger(__name__)

MAX_REQUEST = 16 * 1024
"""Longest opening-handshake request (request line and headers) accepted."""

MAX_FRAGMENTS = 4096
"""Most frames one message may arrive in; beyond, 1009 (empty continuations are not free)."""

TURN_BUDGET = 256 * 1024
"""Parsing one peer may cause before it waits a loop turn: payload bytes plus FRAME_COST a frame.

Per peer, not per read: uvloop reads a busy socket up to 32 times in one turn."""

FRAME_COST = 1024
"""What a frame costs against TURN_BUDGET besides its payload (256 empty frames use it up)."""

MAX_CLOSE_REASON = 123
"""Bytes of a close frame's reason (125 minus the code), cut on a UTF-8 character boundary."""

CLOSE_TOO_SLOW = 1008

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_PING = bytes((0x80 | OP_PING, 0))


_TLS_HANDSHAKE = b"\x16"
"""First byte of a TLS ClientHello: never the start of an HTTP request line."""


class PeerState(enum.IntEnum):
    CONNECTING = 0
    OPEN = 1
    CLOSING = 2  # our close frame is sent; frames are still read, for the peer's close
    DRAINING = 3  # we are done sending (FIN sent); input is discarded until the peer closes
    CLOSED = 4


def _frame(opcode: int, payload: bytes) -> bytes:
    """An unmasked, unfragmented server frame (RFC 6455 section 5.2)."""
    length = len(payload)
    if length < 126:
        return bytes((0x80 | opcode, length)) + payload
    if length < 65536:
        return struct.pack("!BBH", 0x80 | opcode, 126, length) + payload
    return struct.pack("!BBQ", 0x80 | opcode, 127, length) + payload


def text_frame(text: str) -> bytes:
    return _frame(OP_TEXT, text.encode())


def _close_frame(code: int, reason: str) -> bytes:
    raw = reason.encode()
    if len(raw) > MAX_CLOSE_REASON:  # a cut inside a character would make the peer fail with 1007
        raw = raw[:MAX_CLOSE_REASON].decode(errors="ignore").encode()
    return _frame(OP_CLOSE, struct.pack("!H", code) + raw)


def http_response(status: http.HTTPStatus, body: bytes, content_type: str) -> Response:
    """A plain HTTP answer on the WebSocket port; the connection closes after it."""
    headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-cache"),
            ("X-Content-Type-Options", "nosniff"),
            ("Connection", "close"),
        ]
    )
    return Response(status.value, status.phrase, headers, body)


@dataclass(slots=True)
class StreamedResponse:
    """An HTTP answer whose body is read from an open file as fast as the client takes it
    (a shared file: never whole in memory). ``response`` carries status and headers."""

    response: Response
    body: BinaryIO


STREAM_CHUNK = 256 * 1024


class WebSocketApp(Protocol):
    """What the transport asks of the application (server.app.ChatServer)."""

    def respond(self, peer: WebSocketPeer, request: Request) -> Response | StreamedResponse | None:
        """An HTTP response for this request, or None to go on with the WebSocket handshake."""

    def opened(self, peer: WebSocketPeer) -> None:
        """The handshake succeeded; messages may arrive from now on."""

    def received(self, peer: WebSocketPeer, message: str | bytes) -> None:
        """One complete message (text as str, binary as bytes)."""

    def closed(self, peer: WebSocketPeer) -> None:
        """An open connection started closing (either side) or was lost; called once."""


class Endpoint:
    """What every connection on one listening socket shares: limits, the app, the outbox."""

    def __init__(
        self,
        app: WebSocketApp,
        *,
        subprotocols: Sequence[str] = (),
        server_header: str,
        max_message: int,
        max_buffer: int,
        open_timeout: float,
        close_timeout: float,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.app = app
        self.subprotocols = tuple(subprotocols)
        self.server_header = server_header
        self.max_message = max_message
        self.max_buffer = max_buffer
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout
        self.peers: set[WebSocketPeer] = set()
        self._dirty: list[WebSocketPeer] = []
        self._all_gone: asyncio.Future[None] | None = None

    def factory(self, peer_class: Callable[[Endpoint], WebSocketPeer]) -> Callable[[], WebSocketPeer]:
        """The protocol factory for ``loop.create_server``."""
        return lambda: peer_class(self)

    # Writes ---------------------------------------------------------------------

    def queue(self, peer: WebSocketPeer, wire: bytes) -> None:
        if peer.state is not PeerState.OPEN:
            return
        chunks = peer.chunks
        if chunks is None:
            if not self._dirty:
                self.loop.call_soon(self.flush)
            self._dirty.append(peer)
            peer.chunks = [wire]
        else:
            chunks.append(wire)

    def flush(self) -> None:
        """Write what each connection is owed in one system call; drop those too far behind."""
        dirty, self._dirty = self._dirty, []
        limit = self.max_buffer
        for peer in dirty:
            chunks, peer.chunks = peer.chunks, None
            if chunks is None or peer.state is not PeerState.OPEN:
                continue
            transport = peer.transport
            transport.write(b"".join(chunks) if len(chunks) > 1 else chunks[0])
            unsent = transport.get_write_buffer_size()
            if unsent > limit + peer.history_allowance:
                peer.close(CLOSE_TOO_SLOW, f"too slow: fell over {limit // 1024} KiB behind, resume with since")
            elif unsent <= limit:
                peer.history_allowance = 0  # the join's history is out of our hands

    def broadcast(self, peers: Iterable[WebSocketPeer], text: str) -> None:
        """Frame once, queue everywhere (the hub's Delivery)."""
        wire = None
        queue = self.queue
        for peer in peers:
            if wire is None:
                wire = text_frame(text)
            queue(peer, wire)

    # Timeouts and shutdown ----------------------------------------------------------

    def sweep(self, ping_interval: float, ping_timeout: float) -> None:
        """Enforce every timeout in one pass (called periodically by the server's heartbeat).

        Handshakes slower than ``open_timeout`` and closings slower than ``close_timeout``
        are aborted; an open connection quiet for ``ping_interval`` gets one ping (not one
        per sweep), and one silent for ``ping_interval + ping_timeout`` is closed with 1011
        and aborted.
        """
        now = self.loop.time()
        for peer in list(self.peers):
            try:
                quiet = now - peer.heard
                state = peer.state
                if state is PeerState.OPEN:
                    if quiet > ping_interval + ping_timeout:
                        peer.close(CloseCode.INTERNAL_ERROR, "no answer to ping")
                        peer.transport.abort()
                    elif quiet > ping_interval and peer.pinged != peer.heard:
                        peer.transport.write(_PING)
                        peer.pinged = peer.heard  # until it is heard from again
                elif quiet > (self.open_timeout if state is PeerState.CONNECTING else self.close_timeout):
                    peer.transport.abort()
            except Exception:  # one broken connection must not stop the sweep for all
                log.exception("heartbeat failed for one connection")
                peer.transport.abort()

    async def shutdown(self, code: int, reason: str) -> None:
        """Close every connection with ``code``; abort those that do not finish in time."""
        self.flush()
        for peer in list(self.peers):
            if peer.state is PeerState.OPEN:
                peer.close(code, reason)
            elif peer.state is PeerState.CONNECTING:
                peer.transport.close()
        if self.peers:
            self._all_gone = self.loop.create_future()
            try:
                await asyncio.wait_for(asyncio.shield(self._all_gone), self.close_timeout)
            except TimeoutError:
                for peer in list(self.peers):
                    peer.transport.abort()
                await asyncio.sleep(0)  # let connection_lost run

    def _forget(self, peer: WebSocketPeer) -> None:
        self.peers.discard(peer)
        if not self.peers and self._all_gone is not None and not self._all_gone.done():
            self._all_gone.set_result(None)


class WebSocketPeer(asyncio.Protocol):
    """One connection: opening handshake, frames in and out, the closing handshake.

    It is also the hub's ``Session`` (``send``, ``send_history``, ``close``); subclasses add
    what the application keeps per connection.
    """

    __slots__ = (
        "endpoint", "transport", "state", "heard", "pinged", "subprotocol", "chunks",
        "history_allowance", "_buffer", "_need", "_budget", "_fragments", "_fragment_size",
        "_fragment_opcode", "_body", "_paused",
    )

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.transport: asyncio.Transport = None  # type: ignore[assignment]  # set by connection_made
        self.state = PeerState.CONNECTING
        self.heard = endpoint.loop.time()  # last sign of life (or state change) for the sweep
        self.pinged = 0.0  # the ``heard`` our last ping was sent after: one ping per silence
        self.subprotocol: str | None = None
        self.chunks: list[bytes] | None = None  # frames owed, written at the end of the turn
        self.history_allowance = 0  # bytes of join history the slow-member bound lets pass
        self._buffer: bytearray | bytes = b""  # an incomplete request or frame, grown in place
        self._need = 0  # bytes the buffer must hold before parsing it can make progress
        self._budget = TURN_BUDGET  # parsing left before this peer yields a loop turn
        self._fragments: list[bytes] | None = None
        self._fragment_size = 0  # bytes in _fragments, kept as a running total
        self._fragment_opcode = OP_TEXT
        self._body: BinaryIO | None = None  # a file being sent as an HTTP response body
        self._paused = False  # the transport's buffer is full (asyncio flow control)

    @property
    def remote_ip(self) -> str:
        address = self.transport.get_extra_info("peername")
        return str(address[0]) if address else "?"

    # The hub's Session -------------------------------------------------------------

    def send(self, text: str) -> None:
        self.endpoint.queue(self, text_frame(text))

    def send_history(self, text: str) -> None:
        wire = text_frame(text)
        self.history_allowance += len(wire)
        self.endpoint.queue(self, wire)

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake; what was still queued for this peer is dropped."""
        if self.state is not PeerState.OPEN:
            return
        self.chunks = None
        self.transport.write(_close_frame(code, reason))
        self._closing()

    # asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.endpoint.peers.add(self)

    def data_received(self, data: bytes) -> None:
        self.heard = self.endpoint.loop.time()
        if self._body is not None:
            return  # one request per connection: the rest is ignored while its answer streams
        searched = 0
        buffer = self._buffer
        if buffer or self._need:
            searched = len(buffer)
            buffer += data  # a bytearray: appended in place, not copied per chunk
            if len(buffer) < self._need:
                return
            data, self._buffer, self._need = buffer, b"", 0
        if self.state is PeerState.CONNECTING:
            self._handshake(data, searched)
        elif self.state is PeerState.OPEN or self.state is PeerState.CLOSING:
            self._frames(data)

    def eof_received(self) -> None:
        self._closing()  # the transport closes itself

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._body is not None:
            self._pump()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None
        self._closing()
        self.state = PeerState.CLOSED
        self.chunks = None
        self.endpoint._forget(self)

    # Internals ----------------------------------------------------------------------

    def _closing(self) -> None:
        if self.state is PeerState.OPEN:
            self.state = PeerState.CLOSING
            self.heard = self.endpoint.loop.time()
            self.endpoint.app.closed(self)

    def _fail(self, code: int, reason: str) -> None:
        """A protocol violation: say why, then stop sending and ignore the rest."""
        self.close(code, reason)
        self._drain()

    def _drain(self) -> None:
        """End our side with a FIN and read (discarding) until the peer closes its side.

        Closing the socket at once would make the kernel answer the peer's unread bytes (the
        rest of an oversized frame, a request body) with a reset, and the peer could lose the
        close frame or HTTP response that explains why. The sweep aborts peers that never close.
        """
        self.state = PeerState.DRAINING
        self.heard = self.endpoint.loop.time()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        else:  # TLS: no half-close
            self.transport.close()

    def _handshake(self, data: bytes | bytearray, searched: int) -> None:
        """Answer the opening request once complete; ``data[:searched]`` is known to lack its end."""
        if data[:1] == _TLS_HANDSHAKE:  # wss:// to a plain port: hang up now, not at the timeout
            self.transport.close()
            return
        end = data.find(b"\r\n\r\n", max(0, searched - 3))
        if end < 0:
            if len(data) > MAX_REQUEST:
                self._refuse(http.HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request too large\n")
            else:
                self._keep(data, 0, 0)
            return
        endpoint = self.endpoint
        handshake = ServerProtocol(max_size=endpoint.max_message)
        handshake.receive_data(bytes(data[: end + 4]))
        events = handshake.events_received()
        if not events:  # not a valid request: websockets has queued its answer (or just EOF)
            self._write_and_close(handshake)
            return
        request = events[0]
        response = endpoint.app.respond(self, request)
        if isinstance(response, StreamedResponse):
            response.response.headers["Server"] = endpoint.server_header
            self.transport.write(response.response.serialize())
            self._body = response.body
            self._pump()
            return
        if response is None:
            offered = {
                token.strip()
                for header in request.headers.get_all("Sec-WebSocket-Protocol")
                for token in header.split(",")
            }
            handshake.available_subprotocols = [p for p in endpoint.subprotocols if p in offered] or None
            response = handshake.accept(request)
        response.headers["Server"] = endpoint.server_header
        handshake.send_response(response)
        if response.status_code != 101:
            self._write_and_close(handshake)
            return
        self.transport.write(b"".join(handshake.data_to_send()))
        self.subprotocol = handshake.subprotocol
        self.state = PeerState.OPEN
        endpoint.app.opened(self)
        rest = data[end + 4 :]
        if rest and self.state is PeerState.OPEN:
            self._frames(rest)

    def _pump(self) -> None:
        """Write the body until the transport's buffer is full; resume_writing calls again."""
        body = self._body
        assert body is not None
        while not self._paused and not self.transport.is_closing():
            chunk = body.read(STREAM_CHUNK)
            self.heard = self.endpoint.loop.time()  # progress: the sweep's handshake timeout waits
            if not chunk:
                body.close()
                self._body = None
                self._drain()
                return
            self.transport.write(chunk)

    def _refuse(self, status: http.HTTPStatus, text: str) -> None:
        self.transport.write(ServerProtocol().reject(status, text).serialize())
        self._drain()

    def _write_and_close(self, handshake: ServerProtocol) -> None:
        self.transport.write(b"".join(handshake.data_to_send()))
        self._drain()

    def _keep(self, data: bytes | bytearray, pos: int, need: int) -> None:
        """Keep ``data[pos:]`` for later; parsing resumes once the buffer holds ``need`` bytes."""
        if isinstance(data, bytearray):  # the buffer itself: trimmed in place, never copied whole
            del data[:pos]
            self._buffer = data
        else:
            self._buffer = bytearray(memoryview(data)[pos:])
        self._need = need

    def _frames(self, data: bytes | bytearray) -> None:
        """Parse the complete frames in ``data`` within this turn's budget; keep the rest."""
        size = len(data)
        pos = 0
        max_message = self.endpoint.max_message
        while size - pos >= 2:
            first, second = data[pos], data[pos + 1]
            length = second & 0x7F
            start = pos + 2
            if length == 126:
                if size - pos < 4:
                    self._keep(data, pos, 4)
                    return
                length = int.from_bytes(data[start : start + 2], "big")
                start += 2
            elif length == 127:
                if size - pos < 10:
                    self._keep(data, pos, 10)
                    return
                length = int.from_bytes(data[start : start + 8], "big")
                start += 8
            if first & 0x70 or not second & 0x80:
                self._fail(CloseCode.PROTOCOL_ERROR, "reserved bits set or frame not masked")
                return
            opcode = first & 0x0F
            if opcode >= OP_CLOSE and (length > 125 or not first & 0x80):
                self._fail(CloseCode.PROTOCOL_ERROR, "control frame fragmented or too long")
                return
            if opcode < OP_CLOSE and self._fragments is not None:  # control frames stand alone
                if len(self._fragments) >= MAX_FRAGMENTS:
                    self._fail(CloseCode.MESSAGE_TOO_BIG, f"message in over {MAX_FRAGMENTS} fragments")
                    return
                total = self._fragment_size + length
            else:
                total = length
            if total > max_message:
                self._fail(CloseCode.MESSAGE_TOO_BIG, f"message over {max_message} bytes")
                return
            end = start + 4 + length
            if size < end:
                self._keep(data, pos, end - pos)
                return
            payload = apply_mask(data[start + 4 : end], data[start : start + 4]) if length else b""
            pos = end
            self._frame(opcode, bool(first & 0x80), payload)
            if self.state is PeerState.DRAINING or self.transport.is_closing():
                return  # failed, or the closing handshake is done
            self._budget -= length + FRAME_COST
            if self._budget <= 0:
                self._pause(data, pos)
                return
        if pos < size:
            self._keep(data, pos, 2)

    def _pause(self, data: bytes | bytearray, pos: int) -> None:
        """Enough for this turn: stop reading, let the loop serve the others, go on next turn."""
        self._keep(data, pos, 1 << 62)  # anything arriving meanwhile is only appended
        self.transport.pause_reading()
        self.endpoint.loop.call_soon(self._resume)

    def _resume(self) -> None:
        data, self._buffer, self._need, self._budget = self._buffer, b"", 0, TURN_BUDGET
        state = self.state
        if state is not PeerState.OPEN and state is not PeerState.CLOSING or self.transport.is_closing():
            return
        self.transport.resume_reading()
        self._frames(data)

    def _frame(self, opcode: int, fin: bool, payload: bytes) -> None:
        if opcode == OP_TEXT or opcode == OP_BINARY:
            if self._fragments is not None:
                self._fail(CloseCode.PROTOCOL_ERROR, "expected a continuation frame")
            elif fin:
                self._message(opcode, payload)
            else:
                self._fragments, self._fragment_opcode = [payload], opcode
                self._fragment_size = len(payload)
        elif opcode == OP_CONT:
            if self._fragments is None:
                self._fail(CloseCode.PROTOCOL_ERROR, "unexpected continuation frame")
            elif fin:
                self._fragments.append(payload)
                payload = b"".join(self._fragments)
                self._fragments = None
                self._message(self._fragment_opcode, payload)
            else:
                self._fragments.append(payload)
                self._fragment_size += len(payload)
        elif opcode == OP_PING:
            self._pong(payload)
        elif opcode == OP_PONG:
            pass  # data_received already noted the sign of life
        elif opcode == OP_CLOSE:
            self._peer_closed(payload)
        else:
            self._fail(CloseCode.PROTOCOL_ERROR, f"unknown opcode {opcode}")

    def _pong(self, payload: bytes) -> None:
        """Answer a ping, also after our close frame (RFC 6455 5.5.2: until the peer's close)."""
        transport = self.transport
        transport.write(_frame(OP_PONG, payload))
        if transport.get_write_buffer_size() > self.endpoint.max_buffer + self.history_allowance:
            transport.abort()  # it pings but never reads: its pongs must not pile up here

    def _message(self, opcode: int, payload: bytes) -> None:
        if self.state is not PeerState.OPEN:
            return  # after our close frame, only the peer's close matters
        if opcode == OP_TEXT:
            try:
                text = payload.decode()
            except UnicodeDecodeError as exc:
                self._fail(CloseCode.INVALID_DATA, f"invalid UTF-8 at position {exc.start}")
                return
            self.endpoint.app.received(self, text)
        else:
            self.endpoint.app.received(self, payload)

    def _peer_closed(self, payload: bytes) -> None:
        """The peer's close frame: answer it (if we have not sent ours) and end the connection."""
        if self.state is PeerState.OPEN:
            try:
                if payload:
                    Close.parse(payload)  # checks the code and the reason's UTF-8
            except FrameError as exc:
                self._fail(CloseCode.PROTOCOL_ERROR, str(exc))
                return
            except UnicodeDecodeError:
                self._fail(CloseCode.INVALID_DATA, "close reason is not UTF-8")
                return
            self.chunks = None
            self.transport.write(_frame(OP_CLOSE, payload))
            self._closing()
        self.transport.close()
