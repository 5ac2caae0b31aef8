"""What a person may type as a server address, and the servers they joined lately.

People copy whatever the host shows or says out loud: ``192.168.1.23``, ``192.168.1.23:8081``,
``:8081`` (this computer), ``host.local``, or the browser address ``http://...``. All of these
become a ws:// (or wss:// for https://) URL; without a port RoomChat's own 8080 is meant, not
the web's 80. The recent-servers list is the fallback when discovery cannot work (multicast
blocked on public Wi-Fi, AP isolation, another subnet).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit, urlunsplit

__all__ = ["DEFAULT_PORT", "RECENT_MAX", "RecentServer", "normalize_url", "remember_server",
           "parse_recent", "dump_recent", "display_address"]

DEFAULT_PORT = 8080
"""The port RoomChat hosts on by default, meant whenever an address names none."""

RECENT_MAX = 5
"""How many servers the recent list keeps (newest first)."""

_SCHEMES = {"ws": "ws", "http": "ws", "wss": "wss", "https": "wss"}


def normalize_url(text: str) -> tuple[str, str | None]:
    """Turn a typed address into a ws:// or wss:// URL, plus the room key in its ``?key=``.

    ws://, http:// and bare addresses without a port mean port 8080; wss:// and https://
    without a port keep 443 (a TLS address without a port is a proxy in front of RoomChat).
    Raises ValueError for something that is not an address.
    """
    text = text.strip()
    if text.startswith(":"):
        text = "localhost" + text
    if "://" not in text:
        text = "ws://" + text
    parts = urlsplit(text)
    scheme = _SCHEMES.get(parts.scheme.lower())
    # parts.port raises ValueError itself for a port that is not a number or too large
    if (scheme is None or not parts.hostname or parts.port == 0 or "@" in parts.netloc
            or parts.netloc.endswith(":")):
        raise ValueError(f"not a chat server address: {text!r}")
    netloc = parts.netloc
    if parts.port is None and scheme == "ws":
        netloc = f"{netloc}:{DEFAULT_PORT}"
    key = parse_qs(parts.query).get("key", [None])[0]
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, "")), key


def display_address(url: str) -> str:
    """A URL as the server list shows it: host:port, with wss:// spelled out, no key."""
    parts = urlsplit(url)
    shown = parts.netloc
    return f"wss://{shown}" if parts.scheme == "wss" else shown


@dataclass(frozen=True)
class RecentServer:
    """A server joined before and the rooms joined there (newest first)."""

    url: str
    rooms: tuple[str, ...]


def remember_server(recent: list[RecentServer], url: str, room: str) -> list[RecentServer]:
    """The list after joining ``room`` at ``url``: that server first, at most RECENT_MAX."""
    previous = next((entry for entry in recent if entry.url == url), None)
    rooms = (room, *(r for r in (previous.rooms if previous else ()) if r != room))[:RECENT_MAX]
    others = [entry for entry in recent if entry.url != url]
    return [RecentServer(url, rooms), *others][:RECENT_MAX]


def parse_recent(stored: str) -> list[RecentServer]:
    """The stored JSON list; anything unreadable counts as empty (a settings file is user data)."""
    try:
        items = json.loads(stored) if stored else []
    except ValueError:
        return []
    found: list[RecentServer] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            continue
        rooms = item.get("rooms")
        rooms = tuple(r for r in rooms if isinstance(r, str))[:RECENT_MAX] if isinstance(rooms, list) else ()
        found.append(RecentServer(item["url"], rooms))
    return found[:RECENT_MAX]


def dump_recent(recent: list[RecentServer]) -> str:
    return json.dumps([{"url": entry.url, "rooms": list(entry.rooms)} for entry in recent])
