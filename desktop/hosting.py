"""Host mode in the window: the switch, the share card, the address self-test, stopping politely.

:class:`Hosting` connects the host panel, the share card and the chat area's banner to the
:class:`desktop.host.RoomHost`. Stopping (or quitting) while others are in the hosted rooms
asks first, with a non-modal ``QMessageBox.open()`` (``exec()`` inside the qasync loop would
re-enter it); guests then see "The host closed the room" and keep trying.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from PySide6.QtCore import QT_TRANSLATE_NOOP, QObject
from PySide6.QtWidgets import QMessageBox

from desktop.client import ConnectionState
from desktop.reachability import check_addresses
from desktop.trust import with_fingerprint

if TYPE_CHECKING:
    from desktop.window import MainWindow

__all__ = ["Hosting"]


class Hosting(QObject):
    """The window's host mode (the window keeps joining, the status line and the banner)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.host = window.host
        self.panel = window.sidebar.host_panel
        self.card = window.share_card
        self.question: QMessageBox | None = None
        """The open "Stop hosting?" or "Quit?" question, if any."""
        self._quit_confirmed = False
        self.panel.hostingToggled.connect(self._toggled)
        self.panel.tls_switch.setChecked(window.settings.host_tls)
        self.panel.tls_switch.toggled.connect(self._remember_tls)
        self.panel.shareCardRequested.connect(self._show_card)
        self.card.hideRequested.connect(self._hide_card)
        self.host.started.connect(self._started)
        self.host.stopped.connect(self._stopped)
        self.host.failed.connect(self._failed)
        self.card.hide()

    # Who is here ------------------------------------------------------------------------

    def guests(self) -> int:
        """People in the hosted rooms other than this window's own connection."""
        window = self.window
        own = window._joining_own_host(window.connection.url) and window.connection.state is ConnectionState.ONLINE
        return max(0, self.host.people - (1 if own else 0))

    def _ask(self, count: int, quitting: bool, then) -> None:
        if count == 1:
            text = (self.tr("1 person is in a room you host. Quit and close the room?") if quitting
                    else self.tr("1 person is in a room you host. Stop hosting?"))
        else:
            text = (self.tr("%1 people are in rooms you host. Quit and close the rooms?") if quitting
                    else self.tr("%1 people are in rooms you host. Stop hosting?")).replace("%1", str(count))
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Stop hosting"), text,
                          QMessageBox.StandardButton.NoButton, self.window)
        yes = box.addButton(self.tr("Quit") if quitting else self.tr("Stop hosting"),
                            QMessageBox.ButtonRole.AcceptRole)
        no = box.addButton(self.tr("Keep hosting"), QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(no)
        box.finished.connect(lambda _result: then(box.clickedButton() is yes))
        self.question = box  # open() does not block: keep it alive while shown
        box.open()

    # Starting and stopping --------------------------------------------------------------

    def _toggled(self, on: bool) -> None:
        if on:
            self.window.banner.hide()
            name = self.window.sidebar.name_edit.text().strip()
            self.host.start(self.panel.port_spin.value(), self.window.host_data_dir, self.panel.key,
                            announce=self.panel.announce, name=name, tls=self.panel.tls)
            return
        count = self.guests()
        if count:
            self.panel.set_hosting(True)  # until the answer
            self._ask(count, False, self._stop_answered)
        else:
            self._stop()

    def _stop_answered(self, stop: bool) -> None:
        self.question = None
        if stop:
            self._stop()

    def _stop(self) -> None:
        self.panel.switch.setEnabled(False)
        self.window._keep(self._stop_hosting())

    async def _stop_hosting(self) -> None:
        """Leave our own room first, then stop the server off the GUI thread (it waits for clients)."""
        window = self.window
        if window._joining_own_host(window.connection.url):
            window.leave()
            await window.connection.close()
        await asyncio.get_running_loop().run_in_executor(None, self.host.stop)
        self.panel.switch.setEnabled(True)

    def may_quit(self) -> bool:
        """True if the window may close now; otherwise a question is open and closes it on yes."""
        count = self.guests()
        if self._quit_confirmed or not self.host.running or not count:
            return True
        if self.question is None:
            self._ask(count, True, self._quit_answered)
        return False

    def quit_without_asking(self) -> None:
        """Close the window even with guests (SIGTERM: the system is shutting down)."""
        self._quit_confirmed = True
        self.window.close()

    def _quit_answered(self, quit_: bool) -> None:
        self.question = None
        if quit_:
            self._quit_confirmed = True
            self.window.close()

    def _remember_tls(self, on: bool) -> None:
        self.window.settings.host_tls = on

    def use_port(self, port: int) -> None:
        self.panel.port_spin.setValue(port)
        self.panel.switch.setChecked(True)

    def _started(self, port: int) -> None:
        window = self.window
        self.panel.set_hosting(True)
        addresses = self.host.addresses()
        self.card.show_addresses(addresses, fingerprint=self.host.fingerprint)
        self._show_card()
        window._keep(self._self_test(addresses, port))
        own = f"ws://127.0.0.1:{port}"
        if self.host.fingerprint is not None:  # our own link: we pin our own certificate, unasked
            own = with_fingerprint(f"wss://127.0.0.1:{port}", self.host.fingerprint)
        window.sidebar.server_edit.setText(own)
        if window.sidebar.name_edit.text().strip():
            window.join_from_form()
        else:
            window._set_status("neutral", QT_TRANSLATE_NOOP("MainWindow", "Hosting on port %1: enter your name and join"),
                               (str(port),))
            window.sidebar.name_edit.setFocus()

    async def _self_test(self, addresses: list[tuple[str, str]], port: int) -> None:
        hosts = [urlsplit(ws_url).hostname or "" for ws_url, _ in addresses]
        results = await check_addresses(hosts, port, tls=self.host.fingerprint is not None)
        if self.host.running and self.host.port == port:
            self.card.set_checks(results)

    def _stopped(self) -> None:
        self.panel.set_hosting(False)
        self.card.hide()

    def _failed(self, reason: str, suggested_port: int) -> None:
        """Say why at the top of the chat area, where it is seen without scrolling."""
        self.panel.set_hosting(False)
        port = self.panel.port_spin.value()
        if suggested_port:
            self.window.show_banner(
                lambda: (self.tr("Port %1 is in use by another program.").replace("%1", str(port)),
                         self.tr("Use port %1").replace("%1", str(suggested_port))),
                lambda: self.use_port(suggested_port))
        else:
            self.window.show_banner(lambda: (self.tr("Could not host: %1").replace("%1", reason), ""), None)

    # The card ---------------------------------------------------------------------------

    def _hide_card(self) -> None:
        self.card.hide()
        self.panel.show_card_button.setVisible(self.host.running)

    def _show_card(self) -> None:
        self.card.show()
        self.panel.show_card_button.hide()
