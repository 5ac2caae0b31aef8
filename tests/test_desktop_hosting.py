"""Host mode as a person meets it: the share card, its QR code, the self-test, stopping politely.

Real windows host on loopback (the windows fixture binds 127.0.0.1 and turns announcing off),
guests are real windows, the QR code is read back by a real decoder (zxing-cpp).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
import zxingcpp  # noqa: E402
from conftest import free_port  # noqa: E402
from PySide6.QtCore import QCoreApplication, QPoint, QRect, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QWidget  # noqa: E402
from test_connection_failures import http_page, silent, tcp_server  # noqa: E402
from test_desktop_window import answer, fill_and_join, online, until, windows  # noqa: E402, F401

from desktop.client import ConnectionState  # noqa: E402
from desktop.failures import Failure  # noqa: E402
from desktop.i18n import Translations  # noqa: E402
from desktop.reachability import Cause, check_addresses  # noqa: E402
from desktop.widgets.copy_feedback import COPIED_FOR_MS
from desktop.widgets.share_card import qr_image  # noqa: E402

SIZES = {"default": (1000, 640), "minimum": None}


def decode_qr(image: QImage) -> list[str]:
    """Every QR code zxing-cpp finds in ``image`` (grey pixels handed over as a 2-D buffer)."""
    grey = image.convertToFormat(QImage.Format.Format_Grayscale8)
    width, height, stride = grey.width(), grey.height(), grey.bytesPerLine()
    data = bytes(grey.constBits())[: stride * height]
    rows = b"".join(data[y * stride: y * stride + width] for y in range(height))
    return [result.text for result in zxingcpp.read_barcodes(memoryview(rows).cast("B", (height, width)))]


def inside_window(widget: QWidget) -> bool:
    """The widget is shown and its whole rectangle lies inside its window's visible area."""
    window = widget.window()
    rect = QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())
    return widget.isVisible() and window.rect().contains(rect)


async def host(window, port: int, name: str = "hoster", key: str = "") -> None:
    window.sidebar.name_edit.setText(name)
    window.sidebar.host_panel.key_edit.setText(key)
    window.sidebar.host_panel.port_spin.setValue(port)
    QTest.mouseClick(window.sidebar.host_panel.switch, Qt.MouseButton.LeftButton)
    await until(lambda: online(window), what="the host joins its own room")


def test_qr_code_reads_back_as_the_browser_address():
    for url in ("http://192.168.1.23:8080/", "http://10.0.0.7:8081/?key=s%C3%A9cret%20%26%20more"):
        assert decode_qr(qr_image(url)) == [url]


def test_hosting_shows_the_card_copy_confirms_and_a_guest_joins_then_is_told_the_host_left(
        run, windows, artifacts):
    hoster, guest = windows("host"), windows("guest")
    port = free_port()

    async def scenario():
        assert not hoster.share_card.isVisible()
        await host(hoster, port, key="team key")
        card = hoster.share_card
        assert card.isVisible() and hoster.host.running and hoster.host.port == port
        ws_url, http_url = card.current
        assert (ws_url, http_url) == (f"ws://127.0.0.1:{port}/?key=team%20key",
                                      f"http://127.0.0.1:{port}/?key=team%20key")
        assert decode_qr(card.qr.pixmap().toImage()) == [http_url]
        await until(lambda: card.check_label.property("tone") == "ok", what="the self-test")
        assert "127.0.0.1" in card.check_label.text()

        QTest.mouseClick(card.browser_copy, Qt.MouseButton.LeftButton)
        assert QGuiApplication.clipboard().text() == http_url
        assert card.browser_copy.text() == "Copied ✓" and card.app_copy.text() == "Copy"
        QTest.mouseClick(card.app_copy, Qt.MouseButton.LeftButton)
        assert QGuiApplication.clipboard().text() == ws_url
        began = time.monotonic()
        await until(lambda: card.browser_copy.text() == "Copy", timeout=5)
        assert COPIED_FOR_MS / 1000 - 0.2 < time.monotonic() - began < COPIED_FOR_MS / 1000 + 1

        QTest.mouseClick(card.hide_button, Qt.MouseButton.LeftButton)
        assert not card.isVisible() and hoster.sidebar.host_panel.show_card_button.isVisible()
        QTest.mouseClick(hoster.sidebar.host_panel.show_card_button, Qt.MouseButton.LeftButton)
        assert card.isVisible() and not hoster.sidebar.host_panel.show_card_button.isVisible()

        fill_and_join(guest, "guest", http_url)  # the browser address works in the app too
        await until(lambda: online(guest))
        await until(lambda: hoster.hosting.guests() == 1, what="the host counts its guest")

        QTest.mouseClick(hoster.sidebar.host_panel.switch, Qt.MouseButton.LeftButton)
        assert await answer(hoster, stop=False) == "1 person is in a room you host. Stop hosting?"
        assert hoster.host.running and hoster.sidebar.host_panel.switch.isChecked() and online(guest)

        QTest.mouseClick(hoster.sidebar.host_panel.switch, Qt.MouseButton.LeftButton)
        await answer(hoster, stop=True)
        await until(lambda: not hoster.host.running, what="hosting stops")
        await until(lambda: not card.isVisible())
        status = guest.sidebar.status_label
        await until(lambda: "The host closed the room" in status.text(), what="the guest is told why")
        guest.sidebar.grab().save(str(artifacts / "hosting-guest-host-closed-en.png"))
        await asyncio.sleep(0.8)  # several refused retries later, it still says why
        assert "The host closed the room" in status.text() and "Connection lost" not in status.text()
        assert guest.connection.state is ConnectionState.RECONNECTING

        await host(hoster, port, key="team key")  # the room comes back: the guest rejoins alone
        await until(lambda: online(guest), timeout=10, what="the guest rejoins")

    run(scenario())


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_the_share_card_is_fully_visible(run, windows, artifacts, qapp, language, size):
    translations = Translations(qapp)
    translations.apply(language)
    window = windows(f"card-{language}", translations)
    window.resize(*(SIZES[size] or (window.minimumSize().width(), window.minimumSize().height())))
    port = free_port()

    async def scenario():
        await host(window, port, key="a-long-room-key-for-the-whole-team")
        card = window.share_card
        await until(lambda: card.check_label.property("tone") == "ok", what="the self-test")
        await asyncio.sleep(0.1)
        window.grab().save(str(artifacts / f"share-card-{size}-{language}.png"))
        parts = [card, card.qr, card.title, card.hide_button, card.browser_kind, card.browser_url,
                 card.browser_copy, card.app_kind, card.app_url, card.app_copy, card.check_label]
        hidden = [part.objectName() or type(part).__name__ for part in parts if not inside_window(part)]
        assert not hidden, f"not fully visible at {window.size().toTuple()}: {hidden}"
        assert window.view.height() >= 70, "a few lines of messages still show below the card"
        for label in (card.browser_url, card.app_url):  # wrapped, never cut
            assert label.heightForWidth(label.width()) <= label.height()

    try:
        run(scenario())
    finally:
        translations.apply("en")


def test_the_card_can_show_a_tls_fingerprint(qapp, artifacts):
    from desktop.widgets.share_card import ShareCard

    card = ShareCard()
    fingerprint = ":".join(f"{n:02X}" for n in range(32))
    card.show_addresses([("wss://192.168.1.23:8080/", "https://192.168.1.23:8080/")], fingerprint=fingerprint)
    card.resize(560, card.heightForWidth(560) if card.hasHeightForWidth() else card.sizeHint().height())
    card.show()
    assert not card.fingerprint_label.isHidden() and not card.tls_row.isHidden()
    assert ":".join(card.fingerprint_label.text().removeprefix("SHA-256 ").split()) == fingerprint  # two lines of 16
    card.grab().save(str(artifacts / "share-card-fingerprint-en.png"))
    card.show_addresses([("ws://192.168.1.23:8080/", "http://192.168.1.23:8080/")])
    assert card.fingerprint_label.isHidden() and card.tls_row.isHidden()
    card.deleteLater()


def test_the_self_test_names_why_an_address_does_not_answer(run, windows, artifacts, qapp):
    """Real sockets on 127.0.0.1: nothing listening, nothing answering, something else answering."""

    async def scenario():
        refused = await check_addresses(["127.0.0.1"], free_port())
        assert not refused["127.0.0.1"].ok and refused["127.0.0.1"].cause is Cause.REFUSED
        async with tcp_server(silent) as port:
            began = time.monotonic()
            mute = await check_addresses(["127.0.0.1"], port, timeout=0.5)
            assert mute["127.0.0.1"].cause is Cause.TIMED_OUT and time.monotonic() - began < 1.5
        async with tcp_server(http_page) as port:
            other = await check_addresses(["127.0.0.1"], port)
            assert other["127.0.0.1"].cause is Cause.NOT_OURS
            assert str(port) in other["127.0.0.1"].cause_text()
        return refused

    refused = run(scenario())
    translations = Translations(qapp)
    window = windows("selftest", translations)
    window.resize(1000, 640)
    card = window.share_card
    try:
        for language, expected in (("en", "does not answer"), ("zh_CN", "无法访问")):
            translations.apply(language)
            card.show_addresses([("ws://127.0.0.1:1/", "http://127.0.0.1:1/")])
            card.set_checks(refused)
            card.show()
            QCoreApplication.processEvents()
            assert card.check_label.property("tone") == "bad" and expected in card.check_label.text()
            assert inside_window(card.check_label)
            window.grab().save(str(artifacts / f"share-card-unreachable-{language}.png"))
    finally:
        translations.apply("en")


def test_port_in_use_is_said_at_the_top_with_a_free_port_to_use(run, windows, artifacts):
    window = windows("busy")
    window.resize(1000, 640)
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    taken = blocker.getsockname()[1]

    async def scenario():
        panel = window.sidebar.host_panel
        panel.port_spin.setValue(taken)
        panel.switch.setChecked(True)
        assert not window.host.running and not panel.switch.isChecked()
        assert inside_window(window.banner_label) and inside_window(window.banner_button)
        assert str(taken) in window.banner_label.text()
        window.grab().save(str(artifacts / "hosting-port-in-use-en.png"))
        for _ in range(3):  # other programs on this machine may take a suggested port first
            suggested = int(window.banner_button.text().rsplit(" ", 1)[1])
            assert suggested != taken
            QTest.mouseClick(window.banner_button, Qt.MouseButton.LeftButton)
            if window.host.running:
                break
        assert window.host.running and window.host.port == suggested, window.banner_label.text()
        assert not window.banner.isVisible() and window.share_card.isVisible()
        assert window.sidebar.status_label.text().startswith("Hosting on port")

    try:
        run(scenario())
    finally:
        blocker.close()


def test_quitting_with_guests_asks_first(run, windows):
    hoster, guest = windows("quit-host"), windows("quit-guest")
    port = free_port()

    async def scenario():
        await host(hoster, port)
        fill_and_join(guest, "guest", f":{port}")
        await until(lambda: online(guest))
        await until(lambda: hoster.hosting.guests() == 1)
        hoster.close()
        assert await answer(hoster, stop=False) == "1 person is in a room you host. Quit and close the room?"
        assert hoster.isVisible() and hoster.closing is None and hoster.host.running
        hoster.close()
        await answer(hoster, stop=True)
        await until(lambda: hoster.closing is not None and hoster.closing.done(), what="the quit")
        assert not hoster.host.running
        await until(lambda: guest.connection.state is ConnectionState.RECONNECTING)
        await until(lambda: Failure.HOST_CLOSED.value in guest.sidebar.status_label.text())

    run(scenario())
