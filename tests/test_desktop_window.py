"""The main window driven like a person would: typing into fields, clicking, pressing Enter.

Windows talk to real servers on loopback (ServerThread on a free port). Each test runs one
scenario coroutine on a qasync loop; waiting polls the window's visible state.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QPoint, QSettings, Qt, QUrl, Slot  # noqa: E402
from PySide6.QtGui import QDesktopServices, QFontMetricsF, QGuiApplication  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from conftest import ChatPeer, free_port, make_config  # noqa: E402
from desktop.client import ConnectionState  # noqa: E402
from desktop.i18n import Translations  # noqa: E402
from desktop.models import DeliveryState, Kind, Role  # noqa: E402
from desktop.settings import Settings  # noqa: E402
from desktop.widgets.bubbles import PAD_X, SIDE_MARGIN, find_links  # noqa: E402
from desktop.window import MainWindow  # noqa: E402
from server.protocol import ChatRecord  # noqa: E402
from server.thread import ServerThread  # noqa: E402

FAST_RECONNECT = {"base_delay": 0.2, "max_delay": 0.5, "jitter": 0.0}
LOOPBACK_HOST = {"host": "127.0.0.1", "advertise": False}
"""Windows in tests host on loopback and never announce (the share card's self-test then
connects to 127.0.0.1 only)."""


@pytest.fixture
def windows(run, tmp_path):
    """Make MainWindows with isolated settings; each is shut down cleanly afterwards."""
    made: list[MainWindow] = []

    def make(label: str = "w", translations: Translations | None = None, **options) -> MainWindow:
        store = QSettings(str(tmp_path / f"settings-{label}-{len(made)}.ini"), QSettings.Format.IniFormat)
        window = MainWindow(Settings(store), translations, host_data_dir=tmp_path / f"host-{label}",
                            connection_options={**FAST_RECONNECT, **options}, host_options=LOOPBACK_HOST)
        window.show()
        made.append(window)
        return window

    yield make
    for window in made:
        run(window.shutdown())
        window.deleteLater()
    # Delete the windows now, not during interpreter finalization (PySide6 crashes there).
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


async def until(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def fill_and_join(window: MainWindow, name: str, server: str, room: str = "room-1") -> None:
    s = window.sidebar
    for edit, text in ((s.name_edit, name), (s.room_edit, room), (s.server_edit, server)):
        edit.clear()
        QTest.keyClicks(edit, text)
    QTest.mouseClick(s.join_button, Qt.MouseButton.LeftButton)


async def answer(window: MainWindow, *, stop: bool) -> str:
    """Wait for the "Stop hosting?"/"Quit?" question, click its yes or no; return its text."""
    await until(lambda: window.hosting.question is not None and window.hosting.question.isVisible(),
                what="the question about the people in the hosted rooms")
    box = window.hosting.question
    text = box.text()
    yes, no = (button for button in box.buttons())
    QTest.mouseClick(yes if stop else no, Qt.MouseButton.LeftButton)
    return text


def online(window: MainWindow) -> bool:
    return window.connection.state is ConnectionState.ONLINE


def type_and_enter(window: MainWindow, text: str) -> None:
    """Type ``text`` (QTest types ASCII letters; other text is pasted) and press Enter."""
    if text.isascii() and "?" not in text:
        QTest.keyClicks(window.composer.edit, text)
    else:
        window.composer.edit.insertPlainText(text)
    QTest.keyClick(window.composer.edit, Qt.Key.Key_Return)


def contents(window: MainWindow, kind: Kind | None = None) -> list[str]:
    return [item.content for item in window.model.items() if kind is None or item.kind is kind]


def has_delivered(window: MainWindow, content: str) -> bool:
    return any(i.content == content and i.id and i.state is DeliveryState.DELIVERED
               for i in window.model.items())


def test_two_windows_chat_through_the_ui(run, server_thread, windows):
    alice, bob = windows("alice"), windows("bob")

    async def scenario():
        fill_and_join(alice, "alice", server_thread.url)
        await until(lambda: online(alice), what="alice online")
        assert alice.sidebar.join_button.text() == "Joined"
        assert not alice.sidebar.join_button.isEnabled()
        assert alice.focusWidget() is alice.composer.edit
        assert alice.sidebar.status_label.property("tone") == "online"
        fill_and_join(bob, "bob", server_thread.url)
        await until(lambda: online(bob), what="bob online")
        await until(lambda: "bob joined the room" in [i.text for i in alice.model.items()],
                    what="join notice")
        assert alice.sidebar.members.stringList() == ["alice", "bob"]

        # Shift+Enter is a new line, Enter sends; the own bubble shows at once as pending.
        QTest.keyClicks(alice.composer.edit, "hello")
        QTest.keyClick(alice.composer.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
        type_and_enter(alice, "bob")
        assert alice.composer.edit.toPlainText() == ""
        row = alice.model.rowCount() - 1
        assert alice.model.index(row).data(Role.CONTENT) == "hello\nbob"
        assert alice.model.index(row).data(Role.STATE) == "pending"
        await until(lambda: has_delivered(alice, "hello\nbob"), what="delivery")
        await until(lambda: "hello\nbob" in contents(bob), what="bob receives")

        QTest.mouseClick(bob.composer.send_button, Qt.MouseButton.LeftButton)  # empty: nothing
        QTest.keyClicks(bob.composer.edit, "hi alice")
        QTest.mouseClick(bob.composer.send_button, Qt.MouseButton.LeftButton)
        await until(lambda: "hi alice" in contents(alice), what="alice receives")
        await until(lambda: has_delivered(bob, "hi alice"), what="bob's delivery")

        # Own bubbles on the right, others' on the left, the same ids on both sides.
        for window, own, other in ((alice, "hello\nbob", "hi alice"), (bob, "hi alice", "hello\nbob")):
            width = window.view.viewport().width()
            for item in window.model.items():
                if item.content in (own, other):
                    bubble = window.view.bubbles.geometry(item, width).bubble
                    if item.content == own:
                        assert item.kind is Kind.OWN and bubble.right() == pytest.approx(width - SIDE_MARGIN)
                    else:
                        assert item.kind is Kind.OTHER and bubble.left() == SIDE_MARGIN
        assert alice.model.ids() == bob.model.ids() and len(alice.model.ids()) == 2

    run(scenario())


def test_private_message_from_member_menu_and_typing_line(run, server_thread, windows):
    alice, bob = windows("alice"), windows("bob")

    async def scenario():
        fill_and_join(alice, "alice", server_thread.url)
        await until(lambda: online(alice))
        fill_and_join(bob, "bob", server_thread.url)
        await until(lambda: alice.sidebar.members.stringList() == ["alice", "bob"])
        menu = alice.sidebar.member_menu("bob")
        menu.actions()[0].trigger()
        assert alice.composer.private_chip.isVisible()
        assert alice.composer.private_label.text() == "Private to bob"
        assert not alice.sidebar.member_menu("alice").actions()[0].isEnabled()

        QTest.keyClicks(alice.composer.edit, "just for you")
        await until(lambda: bob.composer.typing_label.text() == "alice is typing…", what="typing line")
        QTest.keyClick(alice.composer.edit, Qt.Key.Key_Return)
        await until(lambda: "just for you" in contents(bob))
        await until(lambda: bob.composer.typing_label.text() == "", what="typing stopped")
        received = next(i for i in bob.model.items() if i.content == "just for you")
        assert received.to == "bob" and received.kind is Kind.OTHER
        assert "private" in bob.view.bubbles.meta_text(received)
        await until(lambda: has_delivered(alice, "just for you"))
        sent = next(i for i in alice.model.items() if i.content == "just for you")
        assert "private to bob" in alice.view.bubbles.meta_text(sent)

        QTest.mouseClick(alice.composer.private_close, Qt.MouseButton.LeftButton)
        assert not alice.composer.private_chip.isVisible() and alice.composer.private_to is None
        type_and_enter(alice, "for everyone")
        await until(lambda: "for everyone" in contents(bob))
        assert next(i for i in bob.model.items() if i.content == "for everyone").to is None

    run(scenario())


def test_server_restart_reconnects_both_windows_and_delivers_offline_queue(run, windows, tmp_path):
    port = free_port()
    config = make_config(tmp_path / "data", port=port)
    server = ServerThread(config)
    server.start()
    alice, bob = windows("alice"), windows("bob")
    url = f"ws://127.0.0.1:{port}"

    async def scenario():
        nonlocal server
        fill_and_join(alice, "alice", url)
        fill_and_join(bob, "bob", url)
        await until(lambda: online(alice) and online(bob))
        for n in range(3):
            type_and_enter(alice, f"before {n}")
            type_and_enter(bob, f"bob before {n}")
        await until(lambda: len(alice.model.ids()) == 6 and len(bob.model.ids()) == 6)

        await asyncio.get_running_loop().run_in_executor(None, server.stop)
        await until(lambda: not online(alice) and not online(bob), what="both notice")
        assert alice.sidebar.join_button.text() in ("Reconnecting...", "Joining…")
        assert alice.sidebar.status_label.property("tone") == "offline"
        assert alice.composer.edit.isEnabled()
        type_and_enter(alice, "typed while offline")
        queued = alice.model.item(alice.model.rowCount() - 1)
        assert queued.content == "typed while offline" and queued.state is DeliveryState.PENDING

        server = ServerThread(config)
        await asyncio.get_running_loop().run_in_executor(None, server.start)
        await until(lambda: online(alice) and online(bob), timeout=15, what="both back")
        await until(lambda: "typed while offline" in contents(bob), what="queued message arrives")
        await until(lambda: queued.state is DeliveryState.DELIVERED and queued.id)
        type_and_enter(bob, "after restart")
        await until(lambda: has_delivered(alice, "after restart") or "after restart" in contents(alice))
        for window in (alice, bob):
            ids = window.model.ids()
            assert ids == sorted(set(ids)) and len(ids) == 8
            chat = [i.content for i in window.model.items() if i.kind is not Kind.SYSTEM]
            assert len(chat) == len(set(chat)) == 8, "no lost or duplicate bubbles"
        assert alice.model.ids() == bob.model.ids()

    try:
        run(scenario())
    finally:
        server.stop()


def test_language_switch_retranslates_the_window(run, windows, qapp):
    translations = Translations(qapp)
    window = windows("zh", translations)

    async def scenario():
        window.language_actions["zh_CN"].trigger()
        assert translations.language == "zh_CN"
        assert window.settings.language == "zh_CN"
        await until(lambda: window.sidebar.join_button.text() == "加入房间", what="retranslation")
        assert window.sidebar.name_label.text() == "用户名"
        assert window.composer.send_button.text() == "发送"
        assert window.language_menu.title().startswith("语言")
        assert window.banner_button.text() == "主持房间"
        assert window.sidebar.host_panel.switch.text() == "在这台电脑上主持房间"
        assert window.sidebar.status_label.text() == "未连接"
        window.language_actions["en"].trigger()
        await until(lambda: window.sidebar.join_button.text() == "Join room")
        assert window.settings.language == "en"

    try:
        run(scenario())
    finally:
        translations.apply("en")


def test_hostile_name_and_content_render_as_plain_text(run, server_thread, windows):
    alice, mallory = windows("alice"), windows("mallory")
    name, content = "<b>x</b>", '<img src="http://127.0.0.1:1/x.png">&amp;'

    async def scenario():
        fill_and_join(alice, "alice", server_thread.url)
        await until(lambda: online(alice))
        fill_and_join(mallory, name, server_thread.url)
        await until(lambda: online(mallory))
        type_and_enter(mallory, content)
        await until(lambda: content in contents(alice))
        assert name in alice.sidebar.members.stringList()
        assert f"{name} joined the room" in [i.text for i in alice.model.items()]
        item = next(i for i in alice.model.items() if i.content == content)
        assert alice.view.bubbles.meta_text(item).startswith(f"{name} · ")
        # The bubble is as wide as the literal characters, which rich text would not be.
        geometry = alice.view.bubbles.geometry(item, alice.view.viewport().width())
        literal = QFontMetricsF(alice.view.font()).horizontalAdvance(content)
        assert geometry.bubble.width() - 2 * PAD_X == pytest.approx(literal, abs=2)

    run(scenario())


def test_unread_count_in_title_while_the_window_is_inactive(run, server_thread, windows):
    alice, bob = windows("alice"), windows("bob")

    async def scenario():
        fill_and_join(alice, "alice", server_thread.url)
        fill_and_join(bob, "bob", server_thread.url)
        await until(lambda: online(alice) and online(bob))
        assert bob.windowTitle() == "RoomChat — room-1"
        alice.activateWindow()
        await until(lambda: alice.isActiveWindow() and not bob.isActiveWindow())
        type_and_enter(alice, "one")
        type_and_enter(alice, "two")
        await until(lambda: bob.windowTitle() == "(2) RoomChat — room-1", what="unread in title")
        assert alice.windowTitle() == "RoomChat — room-1", "own messages are never unread"
        bob.activateWindow()
        await until(lambda: bob.windowTitle() == "RoomChat — room-1", what="reset on activation")

    run(scenario())


def test_too_long_message_is_refused_in_the_composer_with_a_counter(run, server_thread, windows):
    alice = windows("alice")

    async def scenario():
        fill_and_join(alice, "alice", server_thread.url)
        await until(lambda: online(alice) and alice.model.rowCount() == 1, what="joined line")
        composer, rows = alice.composer, alice.model.rowCount()
        composer.edit.setPlainText("x" * 3499)
        assert not composer.counter.isVisible()
        composer.edit.setPlainText("x" * 3999)
        assert composer.counter.isVisible() and composer.counter.text() == "3999 / 4000"
        composer.edit.setPlainText("字" * 4001)  # the server counts characters, not bytes
        assert composer.counter.text() == "Too long: 4001 / 4000, remove 1"
        assert composer.counter.property("over") is True
        assert not composer.send_button.isEnabled()
        QTest.keyClick(composer.edit, Qt.Key.Key_Return)
        QTest.mouseClick(composer.send_button, Qt.MouseButton.LeftButton)
        await asyncio.sleep(0.2)
        assert alice.model.rowCount() == rows, "nothing was sent"
        assert composer.edit.toPlainText() == "字" * 4001, "the text stays to be shortened"
        QTest.keyClick(composer.edit, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
        QTest.keyClick(composer.edit, Qt.Key.Key_Backspace)
        assert composer.send_button.isEnabled() and composer.counter.text() == "4000 / 4000"
        QTest.keyClick(composer.edit, Qt.Key.Key_Return)
        await until(lambda: has_delivered(alice, "字" * 4000), what="exactly 4000 characters go")
        assert not composer.counter.isVisible()

    run(scenario())


def test_a_refusal_that_retrying_cannot_fix_offers_no_retry(run, server_thread, windows):
    alice = windows("alice")

    async def scenario():
        fill_and_join(alice, "alice", server_thread.url)
        await until(lambda: online(alice))
        alice.connection.send("x" * 4001)  # as if the server's limit were lower than ours
        await until(lambda: alice.model.item(alice.model.rowCount() - 1).state is DeliveryState.FAILED)
        row = alice.model.rowCount() - 1
        item = alice.model.item(row)
        assert alice.view.bubbles.meta_text(item).endswith("not sent: longer than 4000 characters")
        assert alice.model.index(row).data(Qt.ItemDataRole.ToolTipRole) is None
        retries = []
        alice.view.retryRequested.connect(retries.append)
        await until(lambda: alice.view.visualRect(alice.model.index(row)).height() > 0)
        click_bubble(alice, row)
        assert retries == []

    run(scenario())


def click_bubble(window: MainWindow, row: int) -> None:
    view = window.view
    rect = view.visualRect(window.model.index(row))
    bubble = view.bubbles.geometry(window.model.item(row), rect.width()).bubble
    click = QPoint(int(rect.left() + bubble.center().x()), int(rect.top() + bubble.bottom() - 4))
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, click)


def test_failed_message_click_retries(run, server_thread, windows):
    alice = windows("alice")

    async def scenario():
        fill_and_join(alice, "alice", server_thread.url)
        await until(lambda: online(alice))
        alice.connection.send("psst", to="ghost")  # nobody of that name: no_such_member
        await until(lambda: alice.model.item(alice.model.rowCount() - 1).state is DeliveryState.FAILED)
        row = alice.model.rowCount() - 1
        assert alice.view.bubbles.meta_text(alice.model.item(row)).endswith("not sent — click to retry")
        view = alice.view
        await until(lambda: view.visualRect(alice.model.index(row)).height() > 0)
        retries = []
        view.retryRequested.connect(retries.append)
        click_bubble(alice, row)
        assert retries == [alice.model.item(row).nonce]
        await until(lambda: alice.model.item(alice.model.rowCount() - 1).state is DeliveryState.FAILED)
        assert alice.model.rowCount() == row + 1, "a retry does not add a second bubble"

    run(scenario())


class UrlCatcher(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url.toString())


def test_links_are_clickable_and_only_http(windows, qapp):
    window = windows("links")
    window.model.own_name = "alice"
    window.model.add_records([ChatRecord(1, "room-1", "bob", "see https://example.com/a?b=1. "
                                         "and javascript:alert(1) ftp://x.org/f", 1764090000000)])
    assert [url for _, _, url in find_links(window.model.item(0).content)] == ["https://example.com/a?b=1"]
    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("https", catcher, "open")
    try:
        QTest.qWait(50)
        view = window.view
        rect = view.visualRect(window.model.index(0))
        geometry = view.bubbles.geometry(window.model.item(0), rect.width())
        (link_rects, url), = geometry.links
        centre = link_rects[0].center().toPoint() + rect.topLeft()
        QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre)
        box = view.link_prompt.box
        assert box is not None and box.isVisible() and catcher.urls == [], "a click asks first"
        assert box.informativeText() == "https://example.com/a?b=1"
        box.button(QMessageBox.StandardButton.Cancel).click()
        QTest.qWait(20)
        assert catcher.urls == [] and view.link_prompt.box is None
        QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre)
        view.link_prompt.open_button.click()
        QTest.qWait(20)
        assert catcher.urls == ["https://example.com/a?b=1"]
        outside = QPoint(rect.left() + SIDE_MARGIN + PAD_X + 2, centre.y())
        QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, outside)
        assert catcher.urls == ["https://example.com/a?b=1"] and view.link_prompt.box is None
    finally:
        QDesktopServices.unsetUrlHandler("https")


def test_a_link_prompt_shows_hidden_characters_and_the_real_host(windows, qapp, artifacts):
    """'https://bank.example\u202egnp.exe' and a Cyrillic look-alike host are spelled out."""
    from desktop.widgets.link_prompt import shown_target

    window = windows("prompt")
    assert shown_target("https://exаmple.com/") == "https://xn--exmple-4nf.com/"  # Cyrillic а
    window.model.add_records([ChatRecord(1, "room-1", "bob", "https://exаmple.com/pay\u202egnp.exe", 0)])
    (start, end, url), = find_links(window.model.item(0).content)
    assert url == "https://exаmple.com/pay", "a link ends at a direction override"
    window.view.link_prompt.ask("https://exаmple.com/p%20a\u200bth")
    box = window.view.link_prompt.box
    assert box.informativeText() == "https://xn--exmple-4nf.com/p%20a%E2%80%8Bth"
    box.grab().save(str(artifacts / "link-prompt.png"))
    box.button(QMessageBox.StandardButton.Cancel).click()


def test_view_sticks_to_bottom_until_scrolled_up_then_counts_new(windows, qapp):
    window = windows("scroll")
    model, view = window.model, window.view
    model.add_records(ChatRecord(i, "room-1", "bob", f"line {i}", 0) for i in range(1, 201))
    QTest.qWait(100)
    bar = view.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == bar.maximum()
    model.add_records([ChatRecord(201, "room-1", "bob", "newest", 0)])
    QTest.qWait(50)
    assert bar.value() == bar.maximum() and not view.jump_button.isVisible()
    bar.setValue(0)
    model.add_records(ChatRecord(i, "room-1", "bob", f"more {i}", 0) for i in range(202, 205))
    QTest.qWait(50)
    assert bar.value() == 0, "reading older messages is not interrupted"
    assert view.jump_button.isVisible() and view.jump_button.text() == "3 new messages ↓"
    QTest.mouseClick(view.jump_button, Qt.MouseButton.LeftButton)
    QTest.qWait(50)
    assert bar.value() == bar.maximum() and not view.jump_button.isVisible()


def test_screenshots_of_a_room_in_use(run, windows, qapp, artifacts, tmp_path):
    """Not an assertion of looks: pictures for a person to check (tests/artifacts/desktop-*.png)."""
    translations = Translations(qapp)
    alice, bob = windows("alice", translations), windows("bob")
    alice.resize(1000, 860)  # tall enough to show the host panel's addresses too
    port = free_port()

    async def scenario():
        alice.sidebar.name_edit.setText("alice")
        alice.sidebar.host_panel.port_spin.setValue(port)
        alice.sidebar.host_panel.switch.setChecked(True)
        await until(lambda: online(alice))
        fill_and_join(bob, "bob", f"ws://127.0.0.1:{port}")
        await until(lambda: online(bob))
        type_and_enter(bob, "Hello Alice, 房间里见 — the notes are at https://example.com/notes")
        await until(lambda: len(alice.model.ids()) == 1)
        type_and_enter(alice, "Hi bob! Got them, thanks.")
        bob.sidebar.member_menu("alice").actions()[0].trigger()
        type_and_enter(bob, "psst, this one is just for you")
        await until(lambda: len(alice.model.ids()) == 3)
        QTest.keyClicks(bob.composer.edit, "Sounds good")
        await until(lambda: alice.composer.typing_label.text() != "")
        alice.activateWindow()
        await asyncio.sleep(0.2)
        alice.grab().save(str(artifacts / "desktop-host-room.png"))
        bob.grab().save(str(artifacts / "desktop-guest.png"))
        alice.set_language("zh_CN")
        await asyncio.sleep(0.1)
        alice.grab().save(str(artifacts / "desktop-chinese.png"))
        alice.set_language("en")
        await until(lambda: alice.hosting.guests() == 1, what="the host counting bob (reported after 0.5 s)")
        QTest.mouseClick(alice.sidebar.host_panel.switch, Qt.MouseButton.LeftButton)
        await answer(alice, stop=True)  # bob is still in the room: asked first
        await until(lambda: bob.connection.state is not ConnectionState.ONLINE)
        bob.composer.edit.clear()
        type_and_enter(bob, "are you still there?")
        await asyncio.sleep(0.3)
        bob.grab().save(str(artifacts / "desktop-offline-pending.png"))

    try:
        run(scenario())
    finally:
        translations.apply("en")


def test_big_burst_is_measured_in_slices_and_stays_at_the_bottom(windows, qapp):
    window = windows("burst")
    model, view = window.model, window.view
    model.add_records(ChatRecord(i, "room-1", "bob", f"m{i} " + "word " * (i % 40), 0) for i in range(1, 3001))
    bar = view.verticalScrollBar()
    assert view._stale[1] > view._stale[0], "most rows wait for measuring, the last screenful does not"
    assert bar.value() == bar.maximum()
    for _ in range(200):
        if view._stale[1] <= view._stale[0]:
            break
        QTest.qWait(20)
    width = view.viewport().width()
    assert view._heights == [view.bubbles.row_height(item, width) for item in model.items()]
    assert view.content_height == sum(view._heights)
    assert bar.value() == bar.maximum(), "still showing the newest message"
    last = model.index(model.rowCount() - 1)
    assert view.visualRect(last).bottom() <= view.viewport().height()
    assert view.indexAt(view.visualRect(last).center()) == last


def test_gave_up_shows_retry_now_which_reconnects(run, windows, tmp_path):
    port = free_port()
    config = make_config(tmp_path / "data", port=port)
    server = ServerThread(config)
    server.start()
    alice = windows("alice", max_attempts=2)

    async def scenario():
        nonlocal server
        fill_and_join(alice, "alice", f"ws://127.0.0.1:{port}")
        await until(lambda: online(alice))
        assert not alice.sidebar.retry_button.isVisible()
        await asyncio.get_running_loop().run_in_executor(None, server.stop)
        await until(lambda: alice.connection.state is ConnectionState.GAVE_UP, what="giving up")
        assert alice.sidebar.retry_button.isVisible()
        assert alice.sidebar.status_label.text().startswith("Gave up reconnecting")
        assert alice.sidebar.status_label.property("tone") == "offline"
        server = ServerThread(config)
        await asyncio.get_running_loop().run_in_executor(None, server.start)
        QTest.mouseClick(alice.sidebar.retry_button, Qt.MouseButton.LeftButton)
        await until(lambda: online(alice), what="back online after Retry now")
        assert not alice.sidebar.retry_button.isVisible()
        QTest.mouseClick(alice.sidebar.leave_button, Qt.MouseButton.LeftButton)
        await until(lambda: alice.connection.state is ConnectionState.OFFLINE)
        assert alice.sidebar.join_button.isEnabled() and alice.sidebar.join_button.text() == "Join room"
        assert not alice.composer.edit.isEnabled() and alice.sidebar.members.stringList() == []

    try:
        run(scenario())
    finally:
        server.stop()


def test_command_line_host_room_without_name_focuses_the_name_field(run, windows):
    from desktop.__main__ import parse_args

    window = windows("cli")
    port = free_port()

    async def scenario():
        window.apply_arguments(parse_args(["--host-room", "--port", str(port), "--room", "lan"]))
        assert window.host.running and window.host.port == port
        assert window.sidebar.server_edit.text() == f"ws://127.0.0.1:{port}"
        assert window.connection.state is ConnectionState.OFFLINE
        assert window.focusWidget() is window.sidebar.name_edit
        QTest.keyClicks(window.sidebar.name_edit, "dora")
        QTest.keyClick(window.sidebar.name_edit, Qt.Key.Key_Return)
        await until(lambda: online(window))
        assert window.connection.room == "lan" and window.windowTitle() == "RoomChat — lan"

    run(scenario())


def test_command_line_name_and_room_join_at_once(tmp_path, server_thread):
    """The real entry point in its own process: --server/--name/--room join without a click."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path),
               XDG_DATA_HOME=str(tmp_path))
    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen([sys.executable, "-m", "desktop", "--server", server_thread.url,
                                "--name", "carol", "--room", "cli-room"], env=env, cwd=root,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def watch() -> list[str]:
        peer = await ChatPeer.open(server_thread.url)
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                welcome = await peer.join(f"watcher{int(time.monotonic() * 1000) % 100000}", "cli-room")
                if "carol" in welcome.get("members", []):
                    return welcome["members"]
                await peer.send(type="leave")
                await asyncio.sleep(0.2)
            return []
        finally:
            await peer.close()

    try:
        members = asyncio.run(watch())
    finally:
        process.terminate()
        process.wait(10)
    assert "carol" in members
