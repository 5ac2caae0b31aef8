"""The host panel's "Encrypt (TLS)" as a person meets it: real windows on loopback, never announced.

The host window serves https:// and wss:// with its own certificate, the share card shows the
fingerprint and what the browsers' warning means, its QR code and links carry the fingerprint,
and a guest window joining by the link pins it without a question; a link naming another
fingerprint is refused with both shown.
"""

from __future__ import annotations

import asyncio
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from conftest import free_port  # noqa: E402
from PySide6.QtCore import QCoreApplication, QEvent, QPoint, QRect, QSettings, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402
from test_desktop_hosting import decode_qr, inside_window  # noqa: E402
from test_desktop_window import LOOPBACK_HOST, fill_and_join, online, until, windows  # noqa: E402, F401

from desktop.client import MISMATCHED_CERTIFICATE  # noqa: E402
from desktop.i18n import Translations  # noqa: E402
from desktop.settings import Settings  # noqa: E402
from desktop.trust import CertificateTrust, link_fingerprint, with_fingerprint  # noqa: E402
from desktop.window import MainWindow  # noqa: E402

WARNING_WORDS = {"en": ("not private", "made its own certificate", "still encrypted", "SHA-256", "do not continue"),
                 "zh_CN": ("不是私密连接", "自己生成", "仍然是加密的", "SHA-256", "不要继续")}

REFUSED_STATUS = {"en": "not the one in the link", "zh_CN": "与链接中的不一致"}


async def host_encrypted(window: MainWindow, port: int, name: str = "hoster", key: str = "") -> None:
    panel = window.sidebar.host_panel
    window.sidebar.name_edit.setText(name)
    panel.key_edit.setText(key)
    panel.port_spin.setValue(port)
    if not panel.tls_switch.isChecked():
        # on the box itself: the label is short and a click right of it hits nothing
        QTest.mouseClick(panel.tls_switch, Qt.MouseButton.LeftButton, pos=QPoint(6, panel.tls_switch.height() // 2))
        assert panel.tls_switch.isChecked()
    QTest.mouseClick(panel.switch, Qt.MouseButton.LeftButton)
    await until(lambda: online(window), what="the host joins its own encrypted room")


def test_the_switch_is_remembered(qapp, tmp_path):
    ini = str(tmp_path / "settings.ini")

    def window() -> MainWindow:
        return MainWindow(Settings(QSettings(ini, QSettings.Format.IniFormat)), None,
                          host_data_dir=tmp_path / "host", host_options=LOOPBACK_HOST)

    first = window()
    assert not first.sidebar.host_panel.tls_switch.isChecked()  # off until chosen
    first.sidebar.host_panel.tls_switch.setChecked(True)
    first.deleteLater()
    second = window()
    assert second.sidebar.host_panel.tls_switch.isChecked()
    second.sidebar.host_panel.tls_switch.setChecked(False)
    second.deleteLater()
    assert not Settings(QSettings(ini, QSettings.Format.IniFormat)).host_tls
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_an_encrypted_host_shows_its_fingerprint_and_a_guest_pins_it(run, windows, qapp, tmp_path, artifacts,
                                                                    language):
    translations = Translations(qapp)
    translations.apply(language)
    host = windows(f"tls-host-{language}", translations, trust=CertificateTrust(tmp_path / "host-trust.json"))
    host.resize(1000, 700)
    guest_trust = tmp_path / "guest-trust.json"
    guest = windows(f"tls-guest-{language}", translations, trust=CertificateTrust(guest_trust))
    port = free_port()

    async def scenario():
        await host_encrypted(host, port, key="team-key")
        fp = host.host.fingerprint
        assert fp is not None and getattr(host, "certificate_box", None) is None  # its own link pins, unasked
        card = host.share_card
        await until(lambda: card.check_label.property("tone") == "ok", what="the self-test over TLS")
        app_link, browser_link = card.current
        assert app_link.startswith(f"wss://127.0.0.1:{port}/?key=team-key#fp=")
        assert browser_link.startswith(f"https://127.0.0.1:{port}/?key=team-key#fp=")
        assert link_fingerprint(app_link) == link_fingerprint(browser_link) == fp
        assert decode_qr(card.qr.pixmap().toImage()) == [browser_link]
        assert inside_window(card.fingerprint_label)
        assert ":".join(card.fingerprint_label.text().removeprefix("SHA-256 ").split()) == fp
        assert inside_window(card.tls_note) and "SHA-256" in card.tls_note.text()
        assert inside_window(card.why_button)
        QTest.mouseClick(card.why_button, Qt.MouseButton.LeftButton)
        await until(lambda: card.warning_box is not None and card.warning_box.isVisible(), what="the explanation")
        explained = card.warning_box.text()
        assert all(word in explained for word in WARNING_WORDS[language]), explained
        assert "\n".join(card.fingerprint_label.text().removeprefix("SHA-256 ").split()) in explained
        card.warning_box.grab().save(str(artifacts / f"tls-browser-warning-explained-{language}.png"))
        card.warning_box.button(QMessageBox.StandardButton.Ok).click()
        await until(lambda: card.warning_box is None, what="the explanation closed")
        await asyncio.sleep(0.1)
        host.grab().save(str(artifacts / f"tls-host-window-{language}.png"))
        card.grab().save(str(artifacts / f"tls-share-card-{language}.png"))
        panel = host.sidebar.host_panel  # grabbed from the window: the sidebar paints its background
        host.grab(QRect(panel.mapTo(host, QPoint(0, 0)), panel.size())).save(
            str(artifacts / f"tls-host-panel-{language}.png"))
        assert not host.sidebar.host_panel.tls_switch.isEnabled()  # applies from the next start

        host.resize(host.minimumSize())  # the card, note included, still fits whole
        await asyncio.sleep(0.1)
        host.grab().save(str(artifacts / f"tls-host-window-minimum-{language}.png"))
        parts = [card.qr, card.browser_url, card.app_url, card.fingerprint_label, card.tls_note, card.check_label]
        assert all(inside_window(part) for part in parts), [p.objectName() for p in parts if not inside_window(p)]
        assert host.view.height() >= 70, "a few lines of messages still show below the card"
        for label in (card.browser_url, card.app_url, card.fingerprint_label, card.tls_note):  # never cut
            assert label.heightForWidth(label.width()) <= label.height(), label.objectName()

        fill_and_join(guest, "guest", app_link)  # pasted from the card
        await until(lambda: online(guest), what="the guest joins over wss://")
        assert getattr(guest, "certificate_box", None) is None
        assert CertificateTrust(guest_trust).pinned_fingerprint(f"127.0.0.1:{port}") == fp

    try:
        run(scenario())
    finally:
        translations.apply("en")


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_a_link_with_another_fingerprint_is_refused_with_both_shown(run, windows, qapp, tmp_path, artifacts,
                                                                   language):
    translations = Translations(qapp)
    translations.apply(language)
    host = windows(f"tls-host-{language}", translations, trust=CertificateTrust(tmp_path / "host-trust.json"))
    guest = windows(f"tls-guest-{language}", translations, trust=CertificateTrust(tmp_path / "guest-trust.json"))
    guest.resize(1000, 640)
    port = free_port()
    statuses = []
    guest.connection.errorReceived.connect(lambda code, _text: statuses.append(code))

    async def scenario():
        await host_encrypted(host, port)
        fp = host.host.fingerprint
        wrong = ("0" if fp[0] != "0" else "1") + fp[1:]
        fill_and_join(guest, "guest", with_fingerprint(f"wss://127.0.0.1:{port}/", wrong))
        await until(lambda: getattr(guest, "certificate_box", None) is not None, what="the refusal")
        box = guest.certificate_box
        assert statuses == [MISMATCHED_CERTIFICATE] and not online(guest)
        assert wrong in box.text() and fp in box.text()
        assert box.icon() is QMessageBox.Icon.Critical
        assert box.button(QMessageBox.StandardButton.Yes) is None  # nothing to accept
        assert REFUSED_STATUS[language] in guest.sidebar.status_label.text()
        box.grab().save(str(artifacts / f"tls-mismatch-box-{language}.png"))
        guest.grab().save(str(artifacts / f"tls-mismatch-window-{language}.png"))
        box.button(QMessageBox.StandardButton.Ok).click()
        await asyncio.sleep(0.3)
        assert not online(guest) and not box.isVisible()
        assert host.hosting.guests() == 0

    try:
        run(scenario())
    finally:
        translations.apply("en")
