"""What people type as a server address, and the recent-servers fallback to discovery."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402

from desktop.addresses import RECENT_MAX, RecentServer, normalize_url, parse_recent  # noqa: E402
from desktop.settings import Settings  # noqa: E402


@pytest.mark.parametrize(
    ("typed", "url"),
    [
        ("192.168.1.23", "ws://192.168.1.23:8080/"),  # no port: RoomChat's 8080, not the web's 80
        ("192.168.1.23:8081", "ws://192.168.1.23:8081/"),
        (":8081", "ws://localhost:8081/"),  # this computer
        ("localhost", "ws://localhost:8080/"),
        ("alice-laptop.local", "ws://alice-laptop.local:8080/"),
        ("http://192.168.1.23:8080/", "ws://192.168.1.23:8080/"),  # the browser address
        ("http://192.168.1.23", "ws://192.168.1.23:8080/"),
        ("https://192.168.1.23:8443/", "wss://192.168.1.23:8443/"),
        ("https://chat.example.org", "wss://chat.example.org/"),  # TLS without a port: 443
        ("ws://[fe80::1]", "ws://[fe80::1]:8080/"),
        ("  ws://10.0.0.2:9000/?key=k  ", "ws://10.0.0.2:9000/?key=k"),
    ],
)
def test_every_way_of_writing_an_address(typed, url):
    assert normalize_url(typed)[0] == url


@pytest.mark.parametrize("typed", ["", ":", ":abc", "http://", "user@host", "ftp://host", "host:65536"])
def test_what_is_not_an_address(typed):
    with pytest.raises(ValueError):
        normalize_url(typed)


def test_recent_servers_keep_the_last_five_with_their_rooms(tmp_path):
    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    assert settings.recent_servers == []
    for number in range(7):
        settings.remember_join(f"ws://10.0.0.{number}:8080/", "lobby")
    settings.remember_join("ws://10.0.0.3:8080/", "dev")
    settings.remember_join("ws://10.0.0.3:8080/", "lobby")
    recent = settings.recent_servers
    assert len(recent) == RECENT_MAX
    assert recent[0] == RecentServer("ws://10.0.0.3:8080/", ("lobby", "dev"))
    assert [entry.url for entry in recent[1:]] == [f"ws://10.0.0.{n}:8080/" for n in (6, 5, 4, 2)]
    reopened = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    assert reopened.recent_servers == recent


@pytest.mark.parametrize("stored", ["not json", "{}", '[1, {"url": 2}, {"rooms": []}]', '[{"url": "x", "rooms": 5}]'])
def test_a_damaged_recent_list_reads_as_what_is_usable(stored):
    entries = parse_recent(stored)
    assert all(isinstance(entry.url, str) and isinstance(entry.rooms, tuple) for entry in entries)
