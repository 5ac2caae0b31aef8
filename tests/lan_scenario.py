"""Two RoomChat apps and a headless server find each other through real mDNS.

Run only inside a network namespace that has nothing but loopback (test_discovery.py starts
it with ``unshare --net``): every announcement and query goes out on 127.0.0.1 there, never
on this machine's real network. It starts, as separate processes, a headless server with a
key (``roomchat-server --mdns-interface 127.0.0.1``) and a desktop app hosting a room
(``roomchat --host-room --mdns-interface 127.0.0.1``, with "Encrypt (TLS)" on in its settings);
in this process a real window browses, lists both, joins the desktop host's room with a
double-click over wss:// (pinning the fingerprint the announcement carries, no question asked),
and watches both vanish when they stop. It also checks the two failures that need a network of their own (DNS, no route).
Prints one JSON line with the measured times; artifacts go to the folder given as argv[1].
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ.pop("ROOMCHAT_MDNS", None)  # this namespace holds only loopback: announcing is safe

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

ARTIFACTS = Path(sys.argv[1])
KEY = "k-secret-never-announced"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rooms_at(port: int, tls: bool = False) -> int:
    """Rooms with members, from the server's /healthz (-1 while it does not answer)."""
    unverified = ssl._create_unverified_context() if tls else None  # a count, not a trust decision
    try:
        with urllib.request.urlopen(f"{'https' if tls else 'http'}://127.0.0.1:{port}/healthz", timeout=0.5,
                                    context=unverified) as answer:
            return json.loads(answer.read())["rooms"]
    except OSError:
        return -1


async def until(predicate, timeout: float, what: str) -> float:
    """Wait for predicate(); return when it held (monotonic)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)
    return time.monotonic()


def rows(window):
    return window.sidebar.network_rooms.model.entries()


def row(window, host: str, room: str):
    return next((e for e in rows(window) if e.host == host and e.room == room and not e.recent), None)


async def scenario(app, folder: Path) -> dict:
    from websockets.asyncio.client import connect

    from desktop.client import ConnectionState
    from desktop.failures import Failure
    from desktop.i18n import Translations
    from desktop.settings import Settings
    from desktop.trust import CertificateTrust
    from desktop.window import MainWindow
    from server.security import pem_fingerprint

    figures: dict = {}
    env = dict(os.environ, XDG_CONFIG_HOME=str(folder / "config"), XDG_DATA_HOME=str(folder / "data"),
               HOME=str(folder))
    server_port, app_port = free_port(), free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "server", "--host", "0.0.0.0", "--port", str(server_port), "--data-dir",
         str(folder / "server"), "--mdns-interface", "127.0.0.1", "--advertise-name", "hall-server",
         "--key", KEY, "--log-level", "warning"], cwd=ROOT, env=env)
    app_settings = folder / "config" / "RoomChat" / "RoomChat.conf"  # the hosting app's QSettings
    app_settings.parent.mkdir(parents=True, exist_ok=True)
    app_settings.write_text("[General]\nhost_tls=1\n", encoding="utf-8")
    app_launched = time.monotonic()
    hosting_app = subprocess.Popen(
        [sys.executable, "-m", "desktop", "--host-room", "--port", str(app_port), "--name", "Dora",
         "--room", "standup", "--mdns-interface", "127.0.0.1"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    translations = Translations(app)
    store = QSettings(str(folder / "browser.ini"), QSettings.Format.IniFormat)
    trust_file = folder / "browser-trust.json"
    window = MainWindow(Settings(store), translations, host_options={"host": "127.0.0.1"},
                        connection_options={"trust": CertificateTrust(trust_file)})
    window.resize(1000, 680)
    window.show()
    try:
        assert window.lan_rooms.start(["127.0.0.1"]), "browsing did not start"

        # The headless server: its room appears once someone is in it, with a lock (key).
        await until(lambda: rooms_at(server_port) == 0, 10, "roomchat-server to answer")
        peer = await connect(f"ws://127.0.0.1:{server_port}", subprotocols=["roomchat.v2"])
        await peer.send(json.dumps({"type": "join", "userId": "carol", "room": "lobby", "key": KEY}))
        joined = time.monotonic()
        seen = await until(lambda: row(window, "hall-server", "lobby") is not None, 10, "the server's room")
        figures["server_room_appears_s"] = round(seen - joined, 3)
        entry = row(window, "hall-server", "lobby")
        assert entry.locked and entry.members == 1 and entry.url == f"ws://127.0.0.1:{server_port}/"
        raw = [host for host in window.lan_rooms.browser.hosts if host.name == "hall-server"]
        assert raw and KEY not in json.dumps(raw[0].announcement.__dict__), "the key was announced"

        # The desktop host: its room appears once Dora has joined it.
        room_made = await until(lambda: rooms_at(app_port, tls=True) >= 1, 20, "the desktop host's room")
        seen = await until(lambda: row(window, "Dora", "standup") is not None, 10, "the app's room")
        figures["app_room_appears_s"] = round(seen - room_made, 3)
        figures["app_launch_to_listed_s"] = round(seen - app_launched, 3)
        entry = row(window, "Dora", "standup")
        assert not entry.locked and entry.members == 1
        certificate = folder / "data" / "RoomChat" / "hosted" / "tls" / "host-certificate.pem"
        fingerprint = pem_fingerprint(certificate.read_text(encoding="ascii"))
        assert entry.url == f"wss://127.0.0.1:{app_port}/#fp={fingerprint.replace(':', '')}", entry.url
        for language in ("en", "zh_CN"):
            translations.apply(language)
            await asyncio.sleep(0.1)
            window.sidebar.grab().save(str(ARTIFACTS / f"network-rooms-{language}.png"))
        translations.apply("en")

        # One double-click joins it.
        window.sidebar.name_edit.setText("eve")
        view = window.sidebar.network_rooms.view
        index = next(i for i in range(view.model().rowCount())
                     if rows(window)[i].host == "Dora" and rows(window)[i].room == "standup")
        rect = view.visualRect(view.model().index(index, 0))
        QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # a double-click
        QTest.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # is press, release, press
        await until(lambda: window.connection.state is ConnectionState.ONLINE, 10, "joining by double-click")
        assert window.connection.room == "standup"
        assert window.connection.url == f"wss://127.0.0.1:{app_port}/"
        assert getattr(window, "certificate_box", None) is None, "asked although the announcement named it"
        assert CertificateTrust(trust_file).pinned_fingerprint(f"127.0.0.1:{app_port}") == fingerprint
        updated = await until(lambda: (row(window, "Dora", "standup") or entry).members == 2, 5,
                              "the member count to follow")
        figures["member_count_update_s"] = round(updated - seen, 3)
        window.grab().save(str(ARTIFACTS / "network-rooms-joined-en.png"))
        window.leave()
        await until(lambda: window.connection.state is ConnectionState.OFFLINE, 5, "leaving")

        await peer.close()

        # Stopping: both vanish (goodbye packets).
        stopped = time.monotonic()
        server.send_signal(signal.SIGTERM)
        gone = await until(lambda: not any(e.host == "hall-server" for e in rows(window)), 10,
                           "the server to vanish")
        figures["server_vanishes_s"] = round(gone - stopped, 3)
        stopped = time.monotonic()
        hosting_app.send_signal(signal.SIGTERM)
        gone = await until(lambda: row(window, "Dora", "standup") is None, 10, "the app host to vanish")
        figures["app_vanishes_s"] = round(gone - stopped, 3)
        await until(lambda: all(e.recent for e in rows(window)), 5, "only recent servers left")
        assert any(e.recent and e.room == "standup" for e in rows(window)), "the recent fallback"
        window.sidebar.grab().save(str(ARTIFACTS / "network-rooms-recent-en.png"))

        # Failures that need a network without DNS or routes.
        for language in ("en", "zh_CN"):
            translations.apply(language)
            for name, address, failure in (("dns", "ws://nobody.roomchat-test.invalid:8080", Failure.HOST_NOT_FOUND),
                                           ("no-route", "ws://192.0.2.1:8080", Failure.NO_ROUTE)):
                began = time.monotonic()
                window.sidebar.server_edit.setText(address)
                window.sidebar.room_edit.setText("room-1")
                window.join_from_form()
                text = app.translate("Failures", failure.value)
                shown = await until(lambda text=text: text in window.sidebar.status_label.text(), 5,
                                    f"{failure.name} shown")
                figures[f"{name}_shown_s_{language}"] = round(shown - began, 3)
                window.sidebar.grab().save(str(ARTIFACTS / f"failure-{name}-{language}.png"))
                window.leave()
        translations.apply("en")
    finally:
        for process in (server, hosting_app):
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        await window.shutdown()
    return figures


def main() -> int:
    import qasync

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as folder:
        figures = qasync.run(scenario(app, Path(folder)))
    print("FIGURES " + json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
