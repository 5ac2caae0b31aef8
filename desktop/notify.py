"""Telling the person about messages they have not seen, with whatever the desktop offers.

Always the window alert (``QApplication.alert``: a blinking taskbar entry, a bouncing dock
icon); then a balloon from the tray icon where there is a system tray, else, on Linux
desktops without a tray (GNOME by default), a desktop notification through D-Bus
(``org.freedesktop.Notifications.Notify``, sent by ``gdbus``, which ships with GLib).
Bursts are throttled: one balloon per few seconds, however many messages arrive.
"""

from __future__ import annotations

import os
import shutil
import sys
import time

from PySide6.QtCore import QObject, QProcess, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QSystemTrayIcon, QWidget

__all__ = ["Notifier", "NOTIFY_EVERY_S", "desktop_notifications"]

NOTIFY_EVERY_S = 3.0
"""A burst of unseen messages raises one notification, not one per message."""

BODY_MAX = 200


def desktop_notifications() -> str | None:
    """The gdbus program when a D-Bus session bus is there to take notifications, else None."""
    if not sys.platform.startswith(("linux", "freebsd")) or not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return None
    return shutil.which("gdbus")


class Notifier(QObject):
    """Alerts for one window.

    Signals:
        activated(): the tray icon was clicked (the window brings itself forward).
    """

    activated = Signal()

    def __init__(self, window: QWidget, icon: QIcon) -> None:
        super().__init__(window)
        self._window = window
        self._icon = icon
        self._tray: QSystemTrayIcon | None = None
        self._notified_at = -NOTIFY_EVERY_S
        self.last_channel = ""
        """"tray", "dbus" or "" (alert only): how the last notification went out."""
        self.muted = False
        """A muted room alerts only for ``urgent`` messages (mentions, private messages)."""

    def set_muted(self, muted: bool) -> None:
        self.muted = muted

    def notify(self, title: str, body: str, *, urgent: bool = False) -> str:
        """Alert the window, then show ``title``/``body``; ``urgent`` passes mute and throttle."""
        if self.muted and not urgent:
            return ""
        QApplication.alert(self._window, 0)
        now = time.monotonic()
        if not urgent and now - self._notified_at < NOTIFY_EVERY_S:
            return ""
        self._notified_at = now
        body = body[:BODY_MAX]
        if QSystemTrayIcon.isSystemTrayAvailable():
            if self._tray is None:
                self._tray = QSystemTrayIcon(self._icon, self)
                self._tray.activated.connect(lambda *_: self.activated.emit())
            self._tray.show()
            self._tray.showMessage(title, body, QSystemTrayIcon.MessageIcon.Information, 5000)
            self.last_channel = "tray"
        elif (gdbus := desktop_notifications()) is not None:
            QProcess.startDetached(gdbus, [
                "call", "--session", "--dest", "org.freedesktop.Notifications",
                "--object-path", "/org/freedesktop/Notifications",
                "--method", "org.freedesktop.Notifications.Notify",
                "RoomChat", "uint32 0", "roomchat", title, body, "@as []", "@a{sv} {}", "int32 5000",
            ])
            self.last_channel = "dbus"
        else:
            self.last_channel = ""
        return self.last_channel

    def clear(self) -> None:
        """Everything was read: the tray icon goes until the next unseen message."""
        if self._tray is not None:
            self._tray.hide()
