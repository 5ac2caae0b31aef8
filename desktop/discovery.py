"""Finding RoomChat hosts on the LAN: mDNS browsing on the qasync loop, in signals.

:class:`RoomBrowser` creates its ``AsyncZeroconf`` inside the running (qasync) loop, so
zeroconf's work happens on the GUI thread's loop without ever blocking it: browsing and
resolving are asynchronous (``AsyncServiceBrowser``, ``AsyncServiceInfo.async_request``). Only
services whose TXT record reads as a RoomChat announcement (server.advertise.decode_txt) are
listed. A host that says goodbye vanishes at once; one that disappears silently, when its
records expire.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from zeroconf import IPVersion, ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from desktop.addresses import RecentServer, display_address
from desktop.trust import with_fingerprint
from server.advertise import SERVICE_TYPE, Announcement, decode_txt, mdns_disabled
from server.lan import ipv4_addresses

if TYPE_CHECKING:
    from desktop.window import MainWindow

__all__ = ["NetworkHost", "RoomEntry", "RoomBrowser", "LanRooms", "entries_for", "RESOLVE_TIMEOUT_MS"]

log = logging.getLogger(__name__)

RESOLVE_TIMEOUT_MS = 3000
"""How long one host's address and TXT record may take to arrive."""


@dataclass(frozen=True)
class NetworkHost:
    """A RoomChat server seen on the network."""

    service: str
    """The mDNS instance name (unique on the network)."""
    address: str
    announcement: Announcement

    @property
    def url(self) -> str:
        scheme = "wss" if self.announcement.tls else "ws"
        return f"{scheme}://{self.address}:{self.announcement.port}/"

    @property
    def join_url(self) -> str:
        """:attr:`url`, with the announced certificate fingerprint (``#fp=``) to pin on joining."""
        fingerprint = self.announcement.fingerprint
        return with_fingerprint(self.url, fingerprint) if self.announcement.tls and fingerprint else self.url

    @property
    def name(self) -> str:
        return self.announcement.name or self.service.removesuffix("." + SERVICE_TYPE)


@dataclass(frozen=True)
class RoomEntry:
    """One joinable row."""

    host: str
    room: str
    url: str
    members: int | None = None
    """None: not known (a recent server)."""
    locked: bool = False
    recent: bool = False


def entries_for(hosts: list[NetworkHost], recent: list[RecentServer]) -> list[RoomEntry]:
    """Live rooms (fullest first per host; a host with no rooms yet gets one empty row), then
    the recent servers that are not live."""
    entries: list[RoomEntry] = []
    live = set()
    for host in hosts:
        live.add(host.url)
        announcement = host.announcement
        rooms = announcement.rooms or (("", 0),)
        for room, members in rooms:
            entries.append(RoomEntry(host.name, room, host.join_url, members, announcement.key_required))
    for server in recent:
        if server.url.split("?", 1)[0] in live:
            continue
        for room in server.rooms[:1] or ("",):
            entries.append(RoomEntry(display_address(server.url), room, server.url, recent=True))
    return entries


class RoomBrowser(QObject):
    """Lists RoomChat hosts as they appear, change their rooms and vanish.

    Signals:
        hostsChanged(): :attr:`hosts` changed.
    """

    hostsChanged = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._zeroconf: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._hosts: dict[str, NetworkHost] = {}
        self._tasks: set[asyncio.Task] = set()

    @property
    def hosts(self) -> list[NetworkHost]:
        """Known hosts, by name."""
        return sorted(self._hosts.values(), key=lambda host: (host.name.casefold(), host.service))

    @property
    def running(self) -> bool:
        return self._zeroconf is not None

    def start(self, interfaces: Sequence[str] = ()) -> bool:
        """Browse on ``interfaces`` (IPv4 addresses; empty = this machine's LAN addresses).

        Needs the running loop. False when there is nothing to browse on, or ROOMCHAT_MDNS=off.
        """
        if self._zeroconf is not None:
            return True
        chosen = list(interfaces) or ipv4_addresses()
        if mdns_disabled() or not chosen:
            return False
        try:
            self._zeroconf = AsyncZeroconf(interfaces=chosen, ip_version=IPVersion.V4Only)
            self._browser = AsyncServiceBrowser(self._zeroconf.zeroconf, SERVICE_TYPE,
                                                handlers=[self._changed])
        except OSError as exc:  # no multicast on this network: the recent list still works
            log.warning("cannot look for rooms on the network: %s", exc)
            self._zeroconf = None
            return False
        return True

    async def stop(self) -> None:
        browser, self._browser = self._browser, None
        zeroconf, self._zeroconf = self._zeroconf, None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if browser is not None:
            await browser.async_cancel()
        if zeroconf is not None:
            await zeroconf.async_close()
        if self._hosts:
            self._hosts.clear()
            self.hostsChanged.emit()

    def _changed(self, zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        """zeroconf's handler (called on the loop): resolve added or updated services."""
        if state_change is ServiceStateChange.Removed:
            if self._hosts.pop(name, None) is not None:
                self.hostsChanged.emit()
            return
        task = asyncio.get_running_loop().create_task(self._resolve(name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resolve(self, name: str) -> None:
        zeroconf = self._zeroconf
        if zeroconf is None:
            return
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        if not await info.async_request(zeroconf.zeroconf, RESOLVE_TIMEOUT_MS):
            return
        announcement = decode_txt(info.properties or {})
        addresses = info.parsed_addresses(IPVersion.V4Only)
        if announcement is None or not addresses or self._zeroconf is not zeroconf:
            return  # not a RoomChat server (or we stopped meanwhile)
        host = NetworkHost(name, addresses[0], announcement)
        if self._hosts.get(name) != host:
            self._hosts[name] = host
            self.hostsChanged.emit()


class LanRooms(QObject):
    """The window's "Rooms on this network": browser + recent servers -> the sidebar list."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.browser = RoomBrowser(self)
        self.widget = window.sidebar.network_rooms
        self.browser.hostsChanged.connect(self.refresh)
        self.widget.joinRequested.connect(self.join)
        self.refresh()

    def start(self, interfaces: Sequence[str] = ()) -> bool:
        """Start browsing (the app calls this once its loop runs; tests never do on real networks)."""
        started = self.browser.start(interfaces)
        self.refresh()
        return started

    def refresh(self) -> None:
        self.widget.set_entries(entries_for(self.browser.hosts, self.window.settings.recent_servers),
                                searching=self.browser.running)

    def join(self, url: str, room: str) -> None:
        """A row was picked: fill the address (and room) and join as if typed."""
        sidebar = self.window.sidebar
        sidebar.server_edit.setText(url)
        if room:
            sidebar.room_edit.setText(room)
        self.window.join_from_form()
