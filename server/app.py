"""The chat server: HTTP and WebSocket on one port, admission, messages to the hub.

:class:`ChatServer` wires the three parts together: the transport (``server.transport``,
the only module that touches sockets), the hub (``server.hub``: rooms and routing) and the
store (``server.store``: SQLite). It admits connections (origin policy, per-IP limit,
subprotocol), serves the web page and ``/healthz``, and turns each message into a call on
the hub.
"""

from __future__ import annotations

import asyncio
import http
import json
import logging
import os
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from . import __version__, protocol
from .advertise import Advertiser, mdns_disabled
from .file_format import CHUNK_HEADER
from .files import FileLimits, FileService, FileStore
from .flood import JoinLimitedHub
from .hub import EDIT_WINDOW, Hub
from .lan import ipv4_addresses
from .limits import TokenBucket
from .protocol import SHUTDOWN_REASON, SUBPROTOCOL, ProtocolError, Version
from .search import SearchIndex
from .security import OriginPolicy, pem_fingerprint
from .store import HistoryStore
from .transport import Endpoint, StreamedResponse, WebSocketPeer, http_response
from .webroot import WebRoot

__all__ = ["ServerConfig", "ChatServer", "TLSError"]

log = logging.getLogger(__name__)

ROOMS_DEBOUNCE = 0.5
"""Seconds between a membership change and its report (one re-announce per burst of joins)."""


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
    edit_window: float = EDIT_WINDOW  # seconds during which senders may edit or delete a message
    files: FileLimits = FileLimits()
    # Heartbeat: ping every interval, drop a peer silent for interval + timeout.
    ping_interval: float = 30.0
    ping_timeout: float = 30.0
    close_timeout: float = 5.0
    open_timeout: float = 10.0  # the opening handshake must be complete by then
    # Access
    key: str | None = None
    # Browser pages from other origins that may connect (``null`` = pages opened from file://).
    allowed_origins: tuple[str, ...] = ()
    # TLS: both set -> https:// and wss:// on the same port.
    certfile: Path | None = None
    keyfile: Path | None = None
    # Discovery: announce on the LAN with mDNS (roomchat-server turns it on for non-loopback
    # hosts; off here so an embedded or test server never announces unless asked).
    advertise: bool = False
    advertise_name: str = ""  # "" = this machine's name
    mdns_interfaces: tuple[str, ...] = ()  # () = the LAN addresses (server.lan), or the bound one
    # Several processes as one service (server.cluster): rooms, history and presence in Redis.
    redis_url: str | None = None
    node_id: str | None = None  # unique per process; default host-pid
    presence_ttl: float = 60.0  # a dead process's members leave everyone's lists within this
    reuse_port: bool = False  # share the port with sibling processes (SO_REUSEPORT)


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


class ChatPeer(WebSocketPeer):
    """A connection as the chat server keeps it: protocol version, message budget, address."""

    __slots__ = ("version", "bucket", "ip", "deferred", "base_url")

    def __init__(self, endpoint: Endpoint) -> None:
        super().__init__(endpoint)
        self.version = Version.V1
        self.bucket: TokenBucket | None = None
        self.ip = "?"
        self.deferred: list[str | bytes] | None = None  # frames that arrived while a join was pending
        self.base_url = ""  # scheme://host as the client reached us: v1 download links use it


class ChatServer:
    """One RoomChat server: ``await start()``, ``await stop()``.

    It is the transport's :class:`~server.transport.WebSocketApp`: it answers HTTP on the
    WebSocket port, admits connections (origin, per-IP limit, subprotocol) and turns their
    messages into calls on the hub.
    """

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.tls = _tls_context(config)
        self.fingerprint = (pem_fingerprint(Path(config.certfile).read_text(encoding="ascii", errors="replace"))
                            if self.tls is not None else None)
        """The served certificate's SHA-256 (``AB:CD:…``), None without TLS."""
        self.origin_policy = OriginPolicy.create(
            config.allowed_origins, (socket.gethostname(),), secure=self.tls is not None
        )
        # With Redis the history lives there (no search index); one process alone keeps it in SQLite.
        data_dir = Path(config.data_dir)
        self.store: HistoryStore | None = None
        self.search: SearchIndex | None = None
        if not config.redis_url:
            self.store = HistoryStore(data_dir / "history.sqlite3", retention=config.retention)
            try:
                self.search = SearchIndex(data_dir / "search.sqlite3", self.store.path)
            except BaseException:
                self.store.close()
                raise
            self.store.on_commit = self.search.wake
        self.web = WebRoot()
        self._server: asyncio.Server | None = None
        self._hub: Hub | None = None
        self._files: FileService | None = None  # single process only: files live on its disk
        self._endpoint: Endpoint | None = None
        self._heartbeat: asyncio.Task | None = None
        self._per_ip: dict[str, int] = {}  # open websocket connections by address
        self._rooms_listeners: list[Callable[[dict[str, int]], None]] = []
        self._rooms_report: asyncio.TimerHandle | None = None
        self._advertiser: Advertiser | None = None

    def add_rooms_listener(self, listener: Callable[[dict[str, int]], None]) -> None:
        """Call ``listener(room -> member count)`` on the server's loop, at most every
        ROOMS_DEBOUNCE seconds, after rooms gained or lost members (discovery, the host's UI)."""
        self._rooms_listeners.append(listener)

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        config = self.config
        self._endpoint = Endpoint(
            self,
            subprotocols=(SUBPROTOCOL,),
            server_header=f"RoomChat/{__version__}",
            max_message=config.max_frame,
            max_buffer=config.max_buffer,
            open_timeout=config.open_timeout,
            close_timeout=config.close_timeout,
        )
        options = {"key": config.key, "edit_window": config.edit_window, "join_rate": config.join_rate,
                   "join_burst": config.join_burst,
                   "on_rooms_changed": self._rooms_changed}
        if self.store is not None:
            self._hub = JoinLimitedHub(
                self.store, self._endpoint, self._schedule_flush, searcher=self.search, **options
            )
            self._files = FileService(
                FileStore(Path(config.data_dir) / "files"),
                self._hub,
                limits=config.files,
                chunk=config.max_frame - CHUNK_HEADER,
            )
            self._hub.file_deleted = self._files.withdraw
        else:
            self._hub = await _cluster_hub(config, self._endpoint, self._schedule_flush, options)
        try:
            self._server = await loop.create_server(
                self._endpoint.factory(ChatPeer),
                config.host,
                config.port,
                ssl=self.tls,
                backlog=1024,  # the default 100 overflowed when a room full of clients reconnects at once
                reuse_address=True,
                reuse_port=config.reuse_port or None,
            )
        except BaseException:
            await self._close_history()  # release the data folder: a retry on another port must find it free
            raise
        if self.search is not None:
            self.search.start(loop.call_soon_threadsafe)
        self._heartbeat = loop.create_task(self._sweep_forever())
        log.info("serving on %s:%d", config.host, self.port)
        self._start_advertising()

    def _start_advertising(self) -> None:
        config = self.config
        if not config.advertise or mdns_disabled():
            return
        interfaces = list(config.mdns_interfaces)
        if not interfaces:
            interfaces = ipv4_addresses() if config.host in ("0.0.0.0", "") else [config.host]
        if not interfaces:
            log.warning("not announced on the network: no LAN address")
            return
        self._advertiser = Advertiser(
            name=config.advertise_name or socket.gethostname(), port=self.port, interfaces=interfaces,
            key_required=config.key is not None, tls=self.tls is not None, fingerprint=self.fingerprint or "",
        )
        self._advertiser.start()
        self.add_rooms_listener(self._advertiser.update)

    def _rooms_changed(self) -> None:
        """The hub's notice that membership changed: report once the burst settles."""
        if self._rooms_report is None and self._rooms_listeners:
            self._rooms_report = asyncio.get_running_loop().call_later(ROOMS_DEBOUNCE, self._report_rooms)

    def _report_rooms(self) -> None:
        self._rooms_report = None
        if self._hub is None:
            return
        occupancy = self._hub.occupancy()
        for listener in self._rooms_listeners:
            listener(occupancy)

    def _schedule_flush(self, hub_flush: Callable[[], None]) -> None:
        """The hub's batch runs on the next loop turn: one commit for whatever arrived meanwhile,
        then one write per connection. (Waiting longer to gather bigger batches was measured:
        it lowered throughput and raised p99 latency.)"""
        asyncio.get_running_loop().call_soon(self._flush_batch, hub_flush)

    def _flush_batch(self, hub_flush: Callable[[], None]) -> None:
        assert self._endpoint is not None
        hub_flush()
        self._endpoint.flush()  # write the batch now, not one more loop turn later

    async def _sweep_forever(self) -> None:
        """The heartbeat: one pass over all connections enforces every timeout."""
        assert self._endpoint is not None
        config = self.config
        period = min(config.ping_interval, config.ping_timeout, config.open_timeout, config.close_timeout) / 2
        while True:
            await asyncio.sleep(period)
            self._endpoint.sweep(config.ping_interval, config.ping_timeout)
            if self._files is not None:
                self._files.sweep()

    async def stop(self, reason: str = SHUTDOWN_REASON) -> None:
        """Deliver what is queued, close every client with 1001 and ``reason``, flush and close
        history (a desktop host says HOST_CLOSED_REASON, so its guests show who left)."""
        if self._server is None:
            return
        assert self._hub is not None and self._endpoint is not None and self._heartbeat is not None
        self._server.close()  # no new connections
        self._heartbeat.cancel()
        self._rooms_listeners.clear()  # the closing clients' leaves are nobody's news
        if self._advertiser is not None:  # goodbyes first: browsers drop us while clients close
            await self._advertiser.stop()
            self._advertiser = None
        self._hub.flush()
        await self._endpoint.shutdown(CloseCode.GOING_AWAY, reason)
        if self._files is not None:
            await self._files.close()
        self._hub.flush()
        if self._rooms_report is not None:
            self._rooms_report.cancel()
            self._rooms_report = None
        await self._close_history()
        self._server = None
        log.info("stopped")

    async def _close_history(self) -> None:
        if self._files is not None:
            self._files.store.close()
            self._files = None
        if self.search is not None:
            self.search.stop()
        if self.store is not None:
            self.store.close()
        elif self._hub is not None:
            await self._hub.aclose()  # type: ignore[attr-defined] # the cluster hub

    # WebSocketApp -------------------------------------------------------------

    def respond(self, peer: ChatPeer, request: Request) -> Response | StreamedResponse | None:
        """Refuse a websocket (origin, per-IP limit), or answer HTTP; None admits it."""
        if request.headers.get("Upgrade", "").lower() == "websocket":
            ip = peer.remote_ip
            peer.base_url = f"{'https' if self.tls else 'http'}://{request.headers.get('Host', ip)}"
            refusal = self.origin_policy.refusal(request.headers.get("Origin"), request.headers.get("Host"))
            if refusal is not None:
                log.warning("refused a websocket from %s: %s", ip, refusal)
                return _text_response(http.HTTPStatus.FORBIDDEN, refusal + "\n")
            limit = self.config.max_conns_per_ip
            if limit and self._per_ip.get(ip, 0) >= limit:
                return _text_response(
                    http.HTTPStatus.TOO_MANY_REQUESTS, f"too many connections from {ip} (limit {limit})\n"
                )
            return None
        path = request.path.split("?", 1)[0]
        if path.startswith("/files/") and self._files is not None:
            return self._files.respond(path)
        if path == "/healthz":
            health = {
                "status": "ok",
                "version": __version__,
                "rooms": self._hub.room_count if self._hub else 0,
                "connections": sum(self._per_ip.values()),
            }
            status = http.HTTPStatus.OK
            cluster = getattr(self._hub, "status", None)  # only the cluster hub has a backplane
            if cluster is not None:
                health.update(cluster)
                if cluster["redis"] != "ok":
                    health["status"], status = "unavailable", http.HTTPStatus.SERVICE_UNAVAILABLE
            return http_response(status, json.dumps(health).encode(), "application/json")
        found = self.web.get(path)
        if found is None:
            return _text_response(http.HTTPStatus.NOT_FOUND, "not found\n")
        body, content_type = found
        return http_response(http.HTTPStatus.OK, body, content_type)

    def opened(self, peer: ChatPeer) -> None:
        peer.version = Version.V2 if peer.subprotocol == SUBPROTOCOL else Version.V1
        peer.bucket = TokenBucket(self.config.rate_limit, self.config.rate_burst)
        peer.ip = ip = peer.remote_ip
        self._per_ip[ip] = self._per_ip.get(ip, 0) + 1

    def received(self, peer: ChatPeer, frame: str | bytes) -> None:
        hub = self._hub
        assert hub is not None and peer.bucket is not None
        if peer.deferred is not None:  # frames are handled in order: after the pending join
            if len(peer.deferred) >= DEFERRED_MAX:
                peer.close(CloseCode.POLICY_VIOLATION, "too many frames before the join was answered")
            peer.deferred.append(frame)
            return
        try:
            if isinstance(frame, bytes) and peer.version is Version.V2:
                self._files_or_refuse().chunk(peer, frame)
                return
            message = protocol.parse_client(frame)
            if isinstance(message, (protocol.FileOffer, protocol.FileCancel)) and peer.version is Version.V2:
                self._file_message(peer, message)  # uploads have their own budgets
                return
            if not peer.bucket.allow():
                raise ProtocolError(
                    protocol.ErrorCode.RATE_LIMITED,
                    "too many messages, slow down",
                    getattr(message, "nonce", None),
                )
            if isinstance(message, protocol.Chat):
                hub.chat(peer, message)
            elif isinstance(message, protocol.Ping):
                peer.send(protocol.encode(protocol.Pong()))
            elif isinstance(message, protocol.Join):
                hub.join(peer, message)
                pending = hub.joining(peer)
                if pending is not None:
                    peer.deferred = []
                    pending.add_done_callback(lambda _: self._undefer(peer))
            elif isinstance(message, protocol.Edit):
                hub.edit(peer, message)
            elif isinstance(message, protocol.Delete):
                hub.delete(peer, message)
            elif isinstance(message, protocol.Search):
                hub.search(peer, message)
            elif isinstance(message, protocol.Typing):
                hub.typing(peer, message)
            elif isinstance(message, protocol.Leave):
                hub.leave(peer)
        except ProtocolError as error:
            hub.reply_error(peer, error)
        except Exception:  # a bug must cost one connection, never the server
            log.exception("frame handling failed")
            peer.close(CloseCode.INTERNAL_ERROR, "internal error")

    def _files_or_refuse(self) -> FileService:
        if self._files is None:
            raise ProtocolError(protocol.ErrorCode.UNAVAILABLE, "this server does not take files (several "
                                "processes share it, and each keeps its own disk)")
        return self._files

    def _file_message(self, peer: ChatPeer, message: protocol.FileOffer | protocol.FileCancel) -> None:
        if isinstance(message, protocol.FileOffer):
            try:
                self._files_or_refuse().offer(peer, message)
            except ProtocolError as error:
                raise ProtocolError(error.code, error.message, message.nonce) from None
        else:
            self._files_or_refuse().cancel(peer, message)

    def _undefer(self, peer: ChatPeer) -> None:
        frames, peer.deferred = peer.deferred or [], None
        for index, frame in enumerate(frames):
            self.received(peer, frame)
            if peer.deferred is not None:  # another join is pending: the rest waits for it
                peer.deferred.extend(frames[index + 1 :])
                return

    def closed(self, peer: ChatPeer) -> None:
        assert self._hub is not None
        if self._files is not None:
            self._files.disconnected(peer)
        self._hub.disconnect(peer)
        remaining = self._per_ip[peer.ip] - 1
        if remaining:
            self._per_ip[peer.ip] = remaining
        else:
            del self._per_ip[peer.ip]


async def _cluster_hub(config: ServerConfig, endpoint: Endpoint, schedule, limits: dict) -> Hub:
    """The hub of one process of a multi-process service; raises BackplaneError if Redis
    cannot be used. Imported here: a single process never loads redis."""
    from .backplane import RedisBackplane
    from .cluster import LimitedClusterHub

    assert config.redis_url is not None
    node = config.node_id or f"{socket.gethostname()}-{os.getpid()}"
    backplane = RedisBackplane(config.redis_url, node, retention=config.retention, presence_ttl=config.presence_ttl)
    hub = LimitedClusterHub(backplane, endpoint, schedule, **limits)
    try:
        await hub.start()
    except BaseException:
        await backplane.close()
        raise
    return hub


DEFERRED_MAX = 256
"""Frames a connection may send before its pending join is answered (cluster mode)."""


def _text_response(status: http.HTTPStatus, text: str) -> Response:
    return http_response(status, text.encode(), "text/plain; charset=utf-8")
