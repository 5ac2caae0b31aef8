"""What the window remembers between runs (QSettings "RoomChat"/"RoomChat")."""

from __future__ import annotations

import hashlib
from typing import Protocol

from PySide6.QtCore import QSettings

from desktop.addresses import RecentServer, dump_recent, parse_recent, remember_server

__all__ = ["ResumeSecrets", "Settings", "DEFAULT_ROOM", "DEFAULT_SERVER", "NAME_MAX"]

DEFAULT_ROOM = "room-1"
DEFAULT_SERVER = "ws://localhost:8080"
NAME_MAX = 20
"""The name field's limit, as on the seed's page (the protocol allows 32)."""


class ResumeSecrets(Protocol):
    """Keeps the resume secret a server issued to a name in a room (what Settings implements).

    Private history is shown only to whoever proves, with the name's last secret, to be the
    member who sent or received it; keeping the secret lets a restarted app prove that.
    """

    def resume_secret(self, url: str, name_key: str, room: str) -> str: ...

    def remember_resume_secret(self, url: str, name_key: str, room: str, secret: str) -> None: ...


class Settings:
    """Typed access to the stored name, room, server address, UI language and resume secrets.

    Tests pass their own ``QSettings`` (an ini file in a tmp dir) so they never
    touch the user's settings.
    """

    def __init__(self, store: QSettings | None = None) -> None:
        self._store = store if store is not None else QSettings("RoomChat", "RoomChat")

    def _text(self, key: str, default: str = "") -> str:
        value = self._store.value(key, default)
        return value if isinstance(value, str) else default

    def _set(self, key: str, value: str) -> None:
        self._store.setValue(key, value)
        self._store.sync()

    @property
    def name(self) -> str:
        return self._text("name")[:NAME_MAX]

    @name.setter
    def name(self, value: str) -> None:
        self._set("name", value)

    @property
    def room(self) -> str:
        return self._text("room", DEFAULT_ROOM) or DEFAULT_ROOM

    @room.setter
    def room(self, value: str) -> None:
        self._set("room", value)

    @property
    def server(self) -> str:
        """The last server joined, or "" on a first start."""
        return self._text("server")

    @server.setter
    def server(self, value: str) -> None:
        self._set("server", value)

    @property
    def language(self) -> str:
        """"zh_CN", "en", or "" to follow the system locale."""
        return self._text("language")

    @language.setter
    def language(self, value: str) -> None:
        self._set("language", value)

    @property
    def host_tls(self) -> bool:
        """The host panel's "Encrypt (TLS)" switch (off until turned on once)."""
        return self._text("host_tls") == "1"

    @host_tls.setter
    def host_tls(self, on: bool) -> None:
        self._set("host_tls", "1" if on else "0")

    @property
    def recent_servers(self) -> list[RecentServer]:
        """Servers joined lately with their rooms, newest first (the fallback to discovery)."""
        return parse_recent(self._text("recent_servers"))

    def remember_join(self, url: str, room: str) -> None:
        """Put ``url`` and ``room`` first in the recent servers."""
        self._set("recent_servers", dump_recent(remember_server(self.recent_servers, url, room)))

    # Resume secrets (ChatConnection's ResumeSecrets) --------------------------

    @staticmethod
    def _resume_key(url: str, name_key: str, room: str) -> str:
        identity = f"{url}\n{room}\n{name_key}".encode()
        return "resume/" + hashlib.sha256(identity).hexdigest()[:32]

    def resume_secret(self, url: str, name_key: str, room: str) -> str:
        """The secret the server at ``url`` last gave this name in this room, or "".

        Read afresh: another RoomChat process may have been given a newer one.
        """
        self._store.sync()
        return self._text(self._resume_key(url, name_key, room))

    def remember_resume_secret(self, url: str, name_key: str, room: str, secret: str) -> None:
        self._set(self._resume_key(url, name_key, room), secret)
