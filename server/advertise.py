"""Announcing a server on the LAN with mDNS/DNS-SD, so apps nearby list its rooms.

A server that listens on a non-loopback address registers ``_roomchat._tcp.local.`` with
python-zeroconf's asyncio API on its own event loop. The TXT record says what a joiner needs
before connecting: protocol version, whether a key is required (never the key), whether TLS
is on and the certificate's SHA-256 (so a joiner pins it instead of asking), the host's display
name, the port and the rooms that have members. The record is
re-announced when rooms change (ChatServer debounces that) and withdrawn on stop with
goodbye packets, so browsers drop the host at once instead of when its TTL runs out.

:func:`encode_txt` and :func:`decode_txt` are the one definition of the record, shared with
the desktop's browser (desktop/discovery.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from zeroconf import IPVersion, NonUniqueNameException, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from .security import compact_fingerprint, parse_fingerprint

__all__ = ["SERVICE_TYPE", "TXT_VERSION", "MAX_ANNOUNCED_ROOMS", "Announcement", "Advertiser",
           "encode_txt", "decode_txt", "mdns_disabled", "MDNS_ENV"]

log = logging.getLogger(__name__)

SERVICE_TYPE = "_roomchat._tcp.local."
"""DNS-SD service type (the name part is at most 15 bytes)."""

TXT_VERSION = "2"
"""The newest protocol version a server speaks (it speaks v1 too)."""

MAX_ANNOUNCED_ROOMS = 16
"""Rooms listed in the TXT record, fullest first (keeps the record well inside one packet)."""

MDNS_ENV = "ROOMCHAT_MDNS"
"""``ROOMCHAT_MDNS=off`` turns announcing and browsing off in every process (the test suite
sets it: no test may send mDNS out of a real interface)."""

STOP_TIMEOUT = 3.0
"""Seconds a stop waits for the goodbye packets."""


def mdns_disabled() -> bool:
    return os.environ.get(MDNS_ENV, "").lower() in ("off", "0", "no")


@dataclass(frozen=True)
class Announcement:
    """What one server says about itself in its TXT record."""

    name: str
    port: int
    version: str = TXT_VERSION
    key_required: bool = False
    tls: bool = False
    fingerprint: str = ""
    """The TLS certificate's SHA-256 (``AB:CD:…``), "" without TLS or from an older server."""
    rooms: tuple[tuple[str, int], ...] = ()
    """(room, member count), fullest first."""


def encode_txt(announcement: Announcement) -> dict[str, str]:
    """The TXT properties: ``v``, ``key``, ``tls``, ``fp`` (64 hex digits, with TLS only),
    ``name``, ``port``, ``rooms`` and ``r0..rN`` (each ``COUNT:ROOM``, one key per room so no
    room name needs escaping)."""
    properties = {
        "v": announcement.version,
        "key": "1" if announcement.key_required else "0",
        "tls": "1" if announcement.tls else "0",
        "name": _cut(announcement.name, 100),
        "port": str(announcement.port),
        "rooms": str(len(announcement.rooms)),
    }
    if announcement.tls and announcement.fingerprint:
        properties["fp"] = compact_fingerprint(announcement.fingerprint)
    for number, (room, members) in enumerate(announcement.rooms):
        properties[f"r{number}"] = f"{members}:{_cut(room, 200)}"
    return properties


def decode_txt(properties: Mapping[bytes | str, bytes | str | None]) -> Announcement | None:
    """The announcement in a TXT record, or None if it is not a RoomChat server's."""
    text = {_text(k): _text(v) for k, v in properties.items() if v is not None}
    try:
        port = int(text["port"])
        count = min(int(text.get("rooms", "0")), MAX_ANNOUNCED_ROOMS)
    except (KeyError, ValueError):
        return None
    if not text.get("v", "").isdigit() or not 0 < port < 65536:
        return None
    tls = text.get("tls") == "1"
    rooms: list[tuple[str, int]] = []
    for number in range(count):
        members, _, room = text.get(f"r{number}", "").partition(":")
        if members.isdigit() and room:
            rooms.append((room, int(members)))
    return Announcement(
        name=text.get("name", "")[:100], port=port, version=text["v"],
        key_required=text.get("key") == "1", tls=tls,
        fingerprint=(parse_fingerprint(text.get("fp", "")) or "") if tls else "", rooms=tuple(rooms),
    )


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, between characters."""
    return text.encode()[:limit].decode("utf-8", "ignore")


def fullest_rooms(occupancy: Mapping[str, int]) -> tuple[tuple[str, int], ...]:
    ranked = sorted(occupancy.items(), key=lambda item: (-item[1], item[0]))
    return tuple(ranked[:MAX_ANNOUNCED_ROOMS])


class Advertiser:
    """Registers one server with mDNS on the running loop; update rooms; withdraw on stop.

    Failures (no multicast route, an interface that went away) are logged and leave the
    server running: discovery is a convenience, the address still works.
    """

    def __init__(self, *, name: str, port: int, interfaces: Sequence[str], key_required: bool,
                 tls: bool, fingerprint: str = "") -> None:
        self._announcement = Announcement(name=name, port=port, key_required=key_required, tls=tls,
                                          fingerprint=fingerprint)
        self._interfaces = list(interfaces)
        self._zeroconf: AsyncZeroconf | None = None
        self._info: ServiceInfo | None = None
        self._registered = False
        self._task: asyncio.Task | None = None
        self._pending_rooms: tuple[tuple[str, int], ...] | None = None

    @property
    def service_name(self) -> str | None:
        """The registered instance name (zeroconf may have renamed it on a conflict)."""
        return self._info.name if self._info is not None else None

    def start(self) -> None:
        """Begin registering (probing takes about a second: the server does not wait for it)."""
        self._task = asyncio.get_running_loop().create_task(self._register())

    def update(self, occupancy: Mapping[str, int]) -> None:
        """Announce the rooms that now have members."""
        self._pending_rooms = fullest_rooms(occupancy)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._reannounce())

    async def stop(self) -> None:
        """Send goodbyes and close (the double await: the inner task sends the packets)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        zeroconf, self._zeroconf = self._zeroconf, None
        if zeroconf is None:
            return
        try:
            if self._registered and self._info is not None:
                await asyncio.wait_for(_done(zeroconf.async_unregister_service(self._info)), STOP_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            log.warning("mDNS goodbye not sent: %s", exc)
        finally:
            self._registered = False
            await zeroconf.async_close()

    def _service_info(self, name: str | None = None) -> ServiceInfo:
        announcement = self._announcement
        label = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40].strip("-") or "roomchat"
        instance = f"{_cut(announcement.name, 40) or label}-{announcement.port}"
        return ServiceInfo(
            SERVICE_TYPE,
            name or f"{instance}.{SERVICE_TYPE}",
            port=announcement.port,
            properties=encode_txt(announcement),
            server=f"roomchat-{label}-{announcement.port}.local.",
            addresses=[socket.inet_aton(address) for address in self._interfaces],
        )

    async def _register(self) -> None:
        try:
            self._zeroconf = AsyncZeroconf(interfaces=self._interfaces, ip_version=IPVersion.V4Only)
            self._info = self._service_info()
            await _done(self._zeroconf.async_register_service(self._info, allow_name_change=True))
            self._registered = True
            log.info("announced %s on %s", self._info.name, ", ".join(self._interfaces))
        except (OSError, NonUniqueNameException) as exc:
            log.warning("not announced on the network (mDNS): %s", exc)
            return
        await self._reannounce()

    async def _reannounce(self) -> None:
        """Send the newest rooms; an update that arrives meanwhile is sent right after."""
        while self._registered and self._pending_rooms is not None:
            assert self._zeroconf is not None and self._info is not None
            rooms, self._pending_rooms = self._pending_rooms, None
            self._announcement = dataclasses.replace(self._announcement, rooms=rooms)
            self._info = self._service_info(self._info.name)
            try:
                await _done(self._zeroconf.async_update_service(self._info))
            except OSError as exc:
                log.warning("mDNS update not sent: %s", exc)


async def _done(registration) -> None:
    """AsyncZeroconf's register/update/unregister return a task that does the sending."""
    await (await registration)
