"""Unseen messages alert the window and, without a system tray, notify through D-Bus.

A private session bus (dbus-daemon) per test; dbus-monitor records what the app sends.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtWidgets import QApplication, QSystemTrayIcon  # noqa: E402
from test_desktop_window import fill_and_join, online, until, windows  # noqa: E402,F401

from conftest import ChatPeer  # noqa: E402
from desktop.i18n import Translations  # noqa: E402

pytestmark = pytest.mark.skipif(not (shutil.which("dbus-daemon") and shutil.which("dbus-monitor")
                                     and shutil.which("gdbus")), reason="needs D-Bus tools")


@pytest.fixture
def session_bus(monkeypatch):
    """A private D-Bus session bus and a monitor of Notifications calls on it."""
    daemon = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    address = daemon.stdout.readline().strip()
    monitor = subprocess.Popen(["dbus-monitor", "--address", address,
                                "interface='org.freedesktop.Notifications'"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(0.3)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    yield monitor
    for process in (monitor, daemon):
        process.terminate()
        process.wait(5)


def notify_calls(monitor: subprocess.Popen) -> str:
    monitor.terminate()
    return monitor.communicate(timeout=5)[0]


def test_without_a_tray_an_unseen_message_alerts_and_notifies_over_dbus(
        run, server_thread, windows, session_bus, monkeypatch, qapp):
    assert not QSystemTrayIcon.isSystemTrayAvailable(), "offscreen: no tray, as on stock GNOME"
    alerts = []
    real_alert = QApplication.alert
    monkeypatch.setattr(QApplication, "alert", lambda widget, ms=0: (alerts.append(widget),
                                                                     real_alert(widget, ms)))
    translations = Translations(qapp)
    alice, other = windows("alice", translations), windows("other")

    async def scenario():
        fill_and_join(alice, "alice", server_thread.url)
        await until(lambda: online(alice))
        alice.set_language("zh_CN")
        other.activateWindow()
        await until(lambda: not alice.isActiveWindow())
        bob = await ChatPeer.open(server_thread.url)
        await bob.join("bob", "room-1")
        await bob.send(type="chat", content="lunch at noon?")
        await until(lambda: alice.notifier.last_channel == "dbus", what="a D-Bus notification")
        await bob.send(type="chat", content="anyone?")  # within 3 s: throttled
        await bob.send(type="chat", content="psst", to="alice")
        await until(lambda: len(alerts) >= 3, what="alert per unseen message")
        await bob.close()

    try:
        run(scenario())
    finally:
        translations.apply("en")
    assert alerts[0] is alice
    time.sleep(0.5)  # gdbus runs detached
    calls = notify_calls(session_bus)
    assert "member=Notify" in calls
    assert 'string "bob 发来新消息"' in calls and 'string "lunch at noon?"' in calls
    assert "uint32 0" in calls and "int32 5000" in calls, "the spec's argument types"
    assert calls.count("member=Notify") == 2, "a burst raises one; a private message gets through"
    assert 'string "来自 bob 的私信"' in calls


def test_an_attended_window_neither_alerts_nor_notifies(run, server_thread, windows, session_bus,
                                                        monkeypatch):
    alerts = []
    monkeypatch.setattr(QApplication, "alert", lambda widget, ms=0: alerts.append(widget))
    alice = windows("alice")

    async def scenario():
        fill_and_join(alice, "alice", server_thread.url)
        await until(lambda: online(alice))
        alice.activateWindow()
        await until(lambda: alice.isActiveWindow())
        bob = await ChatPeer.open(server_thread.url)
        await bob.join("bob", "room-1")
        await bob.send(type="chat", content="hello")
        await until(lambda: "hello" in [i.content for i in alice.model.items()])
        await bob.close()

    run(scenario())
    assert alerts == []
    assert "member=Notify" not in notify_calls(session_bus)


def test_a_mention_notifies_even_in_a_muted_room(run, server_thread, windows, session_bus,
                                                  monkeypatch, qapp):
    alerts = []
    monkeypatch.setattr(QApplication, "alert", lambda widget, ms=0: alerts.append(widget))
    translations = Translations(qapp)
    alice, other = windows("alice", translations), windows("other")

    async def scenario():
        fill_and_join(alice, "alice", server_thread.url)
        await until(lambda: online(alice))
        alice.set_language("zh_CN")
        await asyncio.sleep(0)
        alice.drawer.mute.click()
        assert alice.notifier.muted and alice.drawer.mute.text() == "🔕"
        assert alice.drawer.mute.toolTip().startswith("已静音")
        other.activateWindow()
        await until(lambda: not alice.isActiveWindow())
        bob = await ChatPeer.open(server_thread.url)
        await bob.join("bob", "room-1")
        await bob.send(type="chat", content="just chatting")
        await until(lambda: alice.unread == 1, what="counted though muted")
        assert alerts == [] and alice.notifier.last_channel == ""
        await bob.send(type="chat", content="@alice 你能看一下吗")
        await until(lambda: alerts == [alice], what="the mention alerts")
        await until(lambda: alice.notifier.last_channel == "dbus")
        await bob.close()

    try:
        run(scenario())
    finally:
        translations.apply("en")
    time.sleep(0.5)
    calls = notify_calls(session_bus)
    assert calls.count("member=Notify") == 1
    assert 'string "bob 提到了你"' in calls and 'string "@alice 你能看一下吗"' in calls
