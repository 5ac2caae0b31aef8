"""Host-a-room mode: the real server, embedded, on its own thread and event loop.

The window only starts and stops it; a busy window never stalls the server because
:class:`server.thread.ServerThread` runs it on a separate loop.
"""

from __future__ import annotations

import dataclasses
import errno
import ipaddress
import socket
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from platformdirs import user_data_dir
from PySide6.QtCore import QObject, Signal

from desktop.trust import with_fingerprint
from server.lan import ipv4_addresses
from server.app import ServerConfig, TLSError
from server.protocol import HOST_CLOSED_REASON
from server.store import StoreError
from server.thread import ServerThread

if TYPE_CHECKING:
    from desktop.certificate import HostCertificate

__all__ = ["RoomHost", "default_data_dir", "find_free_port"]

_WSAEADDRINUSE = 10048
"""Windows' code for a port in use (OSError.errno is not EADDRINUSE there)."""


def default_data_dir() -> Path:
    """Where a hosted room keeps its history."""
    return Path(user_data_dir("RoomChat", appauthor=False)) / "hosted"


def _port_in_use(exc: OSError) -> bool:
    return exc.errno == errno.EADDRINUSE or getattr(exc, "winerror", None) == _WSAEADDRINUSE


def find_free_port(start: int, host: str = "0.0.0.0", tries: int = 100) -> int:
    """The first port from ``start`` on that can be bound, else one the OS picks."""
    for port in range(start, min(start + tries, 65536)):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
                return port
            except OSError:
                continue
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class RoomHost(QObject):
    """Starts and stops the embedded server.

    Signals:
        started(port): listening on every interface
        stopped(): every client was closed with 1001 and history flushed
        failed(reason, suggested free port): could not listen (port in use: the next free
            port is suggested; other errors suggest 0)
        roomsChanged(dict room -> member count): people came or went (debounced by the server)

    Args:
        host: the address to bind (tests: 127.0.0.1).
        advertise: whether this host may announce itself with mDNS at all (off by default, so
            nothing but the app itself announces); each start() can still decline.
        mdns_interfaces: IPv4 addresses to announce on; empty = the LAN addresses.
    """

    started = Signal(int)
    stopped = Signal()
    failed = Signal(str, int)
    roomsChanged = Signal(object)
    _roomsReported = Signal(object)  # emitted on the server's thread, delivered queued

    def __init__(self, parent: QObject | None = None, *, host: str = "0.0.0.0", advertise: bool = False,
                 mdns_interfaces: tuple[str, ...] = ()) -> None:
        super().__init__(parent)
        self._host = host
        self._advertise = advertise
        self._mdns_interfaces = tuple(mdns_interfaces)
        self._thread: ServerThread | None = None
        self._key: str | None = None
        self._certificate: HostCertificate | None = None
        self._occupancy: dict[str, int] = {}
        self._roomsReported.connect(self._take_rooms)

    @property
    def occupancy(self) -> dict[str, int]:
        """Member count of each room with members, as last reported."""
        return dict(self._occupancy)

    @property
    def people(self) -> int:
        """Members in all hosted rooms (the host's own connection included, if joined)."""
        return sum(self._occupancy.values())

    @property
    def advertising(self) -> bool:
        """Whether the running server announces itself on the LAN."""
        return self._thread is not None and self._thread.config.advertise

    def _take_rooms(self, occupancy: dict[str, int]) -> None:
        if self._thread is None:
            return
        self._occupancy = occupancy
        self.roomsChanged.emit(dict(occupancy))

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def port(self) -> int:
        """The listening port, 0 when not hosting."""
        return self._thread.port if self._thread is not None else 0

    @property
    def key(self) -> str | None:
        return self._key

    @property
    def fingerprint(self) -> str | None:
        """SHA-256 of the certificate served (``AB:CD:…``), None when not serving TLS."""
        return self._certificate.fingerprint if self._thread is not None and self._certificate else None

    @property
    def certificate(self) -> HostCertificate | None:
        """The certificate the running server serves, if it serves TLS."""
        return self._certificate if self._thread is not None else None

    def start(self, port: int = 8080, data_dir: Path | None = None, key: str | None = None, *,
              announce: bool = True, name: str = "", tls: bool = False) -> bool:
        """Listen on ``port`` (0 = any free port); emit started or failed and say which.

        ``announce``: show the rooms on the network (if this host may advertise at all), under
        ``name`` ("" = this machine's name). ``tls``: serve https:// and wss:// with the host's
        own certificate (desktop.certificate), made in ``data_dir`` on the first such start.
        """
        if self._thread is not None:
            self.stop()
        config = ServerConfig(
            data_dir=Path(data_dir) if data_dir is not None else default_data_dir(),
            host=self._host, port=port, key=key or None,
            advertise=self._advertise and announce, advertise_name=name,
            mdns_interfaces=self._mdns_interfaces,
        )
        try:
            config.data_dir.mkdir(parents=True, exist_ok=True)
            certificate = None
            if tls:  # cryptography is imported only now: 17 MiB of memory nobody else needs
                from desktop.certificate import host_certificate

                certificate = host_certificate(config.data_dir / "tls", addresses=self._lan_addresses())
            if certificate is not None:
                config = dataclasses.replace(config, certfile=certificate.certfile, keyfile=certificate.keyfile)
            thread = ServerThread(config, self._roomsReported.emit)
            thread.start()
        except OSError as exc:
            if _port_in_use(exc):
                self.failed.emit(f"port {port} is already in use", find_free_port(port + 1, self._host))
            else:
                self.failed.emit(f"could not start the server: {exc.strerror or exc}", 0)
            return False
        except (StoreError, TLSError) as exc:
            self.failed.emit(f"could not start the server: {exc}", 0)
            return False
        self._thread, self._key, self._certificate = thread, key or None, certificate
        self.started.emit(thread.port)
        return True

    def stop(self) -> None:
        """Close every client with 1001, flush history and stop listening (also on app quit)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        thread.stop(reason=HOST_CLOSED_REASON)
        self._occupancy = {}
        self.stopped.emit()

    def _lan_addresses(self) -> list[str]:
        """The LAN addresses peers reach this host at (bound to loopback: none)."""
        if self._host in ("0.0.0.0", ""):
            return ipv4_addresses()
        return [] if ipaddress.ip_address(self._host).is_loopback else [self._host]

    def addresses(self) -> list[tuple[str, str]]:
        """(ws URL, http URL) pairs peers can use: LAN addresses first, then localhost.

        A host bound to one address offers only that one (bound to loopback: only localhost).
        Serving TLS they are wss:// and https:// and carry the certificate's fingerprint in
        ``#fp=``, so an app joining by them pins it without asking.
        """
        if self._thread is None:
            return []
        query = f"?key={quote(self._key, safe='')}" if self._key else ""
        port = self._thread.port
        fingerprint = self.fingerprint
        pairs = []
        for address in [*self._lan_addresses(), "127.0.0.1"]:
            if fingerprint is None:
                pairs.append((f"ws://{address}:{port}/{query}", f"http://{address}:{port}/{query}"))
            else:
                pairs.append((with_fingerprint(f"wss://{address}:{port}/{query}", fingerprint),
                              with_fingerprint(f"https://{address}:{port}/{query}", fingerprint)))
        return pairs
