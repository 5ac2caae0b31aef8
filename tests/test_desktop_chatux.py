"""The rough edges a newcomer hit in the desktop app (issue 14), driven like a person would."""

from __future__ import annotations

import asyncio
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QWidget  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from test_desktop_window import (  # noqa: E402,F401 (windows is a fixture)
    contents,
    fill_and_join,
    online,
    type_and_enter,
    until,
    windows,
)

from conftest import ChatPeer, free_port, make_config  # noqa: E402
from desktop.i18n import Translations  # noqa: E402
from desktop.models import Kind  # noqa: E402
from server.protocol import ChatRecord  # noqa: E402
from server.thread import ServerThread  # noqa: E402


def notices(window) -> list[str]:
    return [item.text for item in window.model.items() if item.kind is Kind.SYSTEM]


def test_join_is_confirmed_in_the_chat_area_in_both_languages(run, server_thread, windows, qapp):
    translations = Translations(qapp)
    alice = windows("alice", translations)

    async def scenario():
        bob = await ChatPeer.open(server_thread.url)
        await bob.join("bob", "room-1")
        await bob.send(type="chat", content="earlier message")
        await bob.expect("chat")
        fill_and_join(alice, "alice", server_thread.url)
        await until(lambda: "Joined room-1 (2 online)" in notices(alice), what="join confirmation")
        texts = [item.text for item in alice.model.items()]
        assert texts.index("earlier message") < texts.index("Joined room-1 (2 online)"), \
            "the confirmation follows the history, like a line saying 'you are here now'"
        alice.set_language("zh_CN")
        await until(lambda: "已加入房间「room-1」,当前 2 人在线" in notices(alice), what="Chinese")
        alice.set_language("en")
        await bob.close()

    try:
        run(scenario())
    finally:
        translations.apply("en")


def test_empty_room_is_not_blank_after_joining(run, server_thread, windows):
    alice = windows("alice")

    async def scenario():
        fill_and_join(alice, "alice", server_thread.url, room="lonely")
        await until(lambda: notices(alice) == ["Joined lonely (1 online)"], what="confirmation")
        assert contents(alice, Kind.OTHER) == []

    run(scenario())


def test_a_reconnect_says_reconnected_not_joined_again(run, windows, tmp_path):
    config = make_config(tmp_path / "data", port=free_port())
    server = ServerThread(config)
    server.start()
    alice = windows("alice")

    async def scenario():
        nonlocal server
        fill_and_join(alice, "alice", server.url)
        await until(lambda: notices(alice) == ["Joined room-1 (1 online)"])
        await asyncio.get_running_loop().run_in_executor(None, server.stop)
        await until(lambda: not online(alice), what="offline")
        server = ServerThread(config)
        await asyncio.get_running_loop().run_in_executor(None, server.start)
        await until(lambda: online(alice) and "Reconnected to room-1" in notices(alice), what="back")
        assert notices(alice).count("Joined room-1 (1 online)") == 1

    try:
        run(scenario())
    finally:
        server.stop()


def test_counter_and_refusal_reason_in_chinese(windows, qapp, artifacts):
    translations = Translations(qapp)
    window = windows("zh", translations)
    try:
        window.set_language("zh_CN")
        composer = window.composer
        composer.set_enabled(True)
        composer.edit.setPlainText("字" * 4001)
        assert composer.counter.text() == "太长了:4001 / 4000,请删去 1 个字符"
        assert not composer.send_button.isEnabled()
        window.resize(1000, 680)
        window.grab().save(str(artifacts / "desktop-counter-zh.png"))
        window.model.own_name = "alice"
        window.connection.pendingAdded.emit("n1", ChatRecord(0, "room-1", "alice", "x", 0, nonce="n1"))
        window.connection.messageRefused.emit("n1", "too_long")
        window.connection.messageFailed.emit("n1", "the message is longer than 4000 characters")
        item = window.model.item(window.model.rowCount() - 1)
        assert window.view.bubbles.meta_text(item).endswith("未发送:超过 4000 个字符")
    finally:
        translations.apply("en")


def test_every_copy_says_copied_then_returns(windows, qapp, artifacts):
    from PySide6.QtGui import QGuiApplication

    from desktop.widgets.copy_feedback import COPIED_FOR_MS

    translations = Translations(qapp)
    window = windows("copy", translations)
    card = window.share_card
    try:
        for language, copied, copy in (("en", "Copied ✓", "Copy"), ("zh_CN", "已复制 ✓", "复制")):
            window.set_language(language)
            qapp.processEvents()
            card.show_addresses([("ws://192.0.2.7:8080", "http://192.0.2.7:8080/")])
            card.show()
            button = card.browser_copy
            assert button.text() == copy
            QTest.mouseClick(button, Qt.MouseButton.LeftButton)
            assert QGuiApplication.clipboard().text() == "http://192.0.2.7:8080/"
            assert button.text() == copied and button.property("copied") is True
            QTest.qWait(COPIED_FOR_MS + 200)
            assert button.text() == copy and button.property("copied") is False

            window.model.add_records([ChatRecord(1, "room-1", "bob", "copy me 复制我", 0)])
            menu = window.view.message_menu(window.model.item(window.model.rowCount() - 1))
            menu.actions()[0].trigger()
            assert QGuiApplication.clipboard().text() == "copy me 复制我"
            toast = window.view.viewport().findChild(type(window.sidebar.title), "copyToast")
            assert toast.isVisible() and toast.text() == copied
            window.grab().save(str(artifacts / f"desktop-copied-{language}.png"))
            QTest.qWait(COPIED_FOR_MS + 200)
            assert not toast.isVisible()
            window.model.clear()
    finally:
        translations.apply("en")


def test_typing_another_room_and_enter_switches_rooms_enter_in_a_locked_field_does_not(
        run, server_thread, windows):
    alice = windows("alice")
    s = alice.sidebar

    async def scenario():
        bob = await ChatPeer.open(server_thread.url)
        await bob.join("bob", "room-1")
        fill_and_join(alice, "alice", server_thread.url)
        await until(lambda: online(alice) and "Joined room-1 (2 online)" in notices(alice))
        await bob.expect("members", members=["alice", "bob"])
        assert not s.join_button.isEnabled() and s.join_button.text() == "Joined"
        assert s.name_edit.isReadOnly() and s.server_edit.isReadOnly() and not s.room_edit.isReadOnly()
        assert "press Enter to switch" in s.room_edit.toolTip()
        for edit in (s.name_edit, s.server_edit, s.room_edit):  # locked, or the same room
            QTest.keyClick(edit, Qt.Key.Key_Return)
        assert await bob.nothing(0.5) == [], "nobody left or joined again"
        assert notices(alice) == ["Joined room-1 (2 online)"]

        s.room_edit.selectAll()
        QTest.keyClicks(s.room_edit, "room-2")
        assert s.join_button.isEnabled() and s.join_button.text() == "Switch room"
        QTest.keyClick(s.room_edit, Qt.Key.Key_Return)
        await until(lambda: online(alice) and alice.connection.room == "room-2", what="switched")
        await until(lambda: notices(alice) == ["Joined room-2 (1 online)"], what="fresh room view")
        left = await bob.expect("system", event="leave")
        assert left["userId"] == "alice"
        assert alice.windowTitle() == "RoomChat — room-2"
        assert not s.join_button.isEnabled() and s.join_button.text() == "Joined"

        s.room_edit.selectAll()
        QTest.keyClicks(s.room_edit, "room-1")
        QTest.mouseClick(s.join_button, Qt.MouseButton.LeftButton)  # the button switches too
        await until(lambda: online(alice) and alice.connection.room == "room-1", what="back")
        await bob.expect("system", event="join")
        await bob.close()

    run(scenario())


def test_after_a_second_window_took_over_and_closed_the_first_rejoins_with_its_private_history(
        run, server_thread, tmp_path):
    from PySide6.QtCore import QCoreApplication, QEvent, QSettings

    from desktop.client import ConnectionState
    from desktop.settings import Settings
    from desktop.window import MainWindow
    from test_desktop_window import FAST_RECONNECT

    def window_on_shared_settings() -> MainWindow:
        store = QSettings(str(tmp_path / "shared.ini"), QSettings.Format.IniFormat)
        made = MainWindow(Settings(store), connection_options=FAST_RECONNECT)
        made.show()
        return made

    first, second = window_on_shared_settings(), window_on_shared_settings()

    async def scenario():
        bob = await ChatPeer.open(server_thread.url)
        await bob.join("bob", "room-1")
        fill_and_join(first, "alice", server_thread.url)
        await until(lambda: online(first))
        await bob.send(type="chat", content="just for alice", to="alice")
        await until(lambda: "just for alice" in contents(first), what="private message")

        fill_and_join(second, "alice", server_thread.url)  # the same person, a second window
        await until(lambda: online(second) and first.connection.state is ConnectionState.OFFLINE,
                    what="takeover")
        await until(lambda: "just for alice" in contents(second), what="second window's history")
        await second.shutdown()

        QTest.mouseClick(first.sidebar.join_button, Qt.MouseButton.LeftButton)
        await until(lambda: online(first), what="first window back")
        await until(lambda: "Joined room-1 (2 online)" in notices(first))
        assert "just for alice" in contents(first), "its own private conversation is back"
        await bob.close()

    try:
        run(scenario())
    finally:
        for window in (first, second):
            run(window.shutdown())
            window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def _clipped(window) -> list[str]:
    """Visible widgets of the chat column that stick out of the window or lack their minimum."""
    from PySide6.QtCore import QRect
    from PySide6.QtWidgets import QLabel, QPushButton, QToolButton

    bad = []
    frame = QRect(0, 0, window.width(), window.height())
    for widget in window.centralWidget().findChildren(QWidget):
        if not widget.isVisible() or window.drawer.area.isAncestorOf(widget) \
                or window.view.viewport().isAncestorOf(widget):
            continue
        rect = QRect(widget.mapTo(window, widget.rect().topLeft()), widget.size())
        if not frame.contains(rect):
            bad.append(f"{widget.objectName() or type(widget).__name__} outside the window")
        if isinstance(widget, (QLabel, QPushButton, QToolButton)) and widget.text():
            wrapped = isinstance(widget, QLabel) and widget.wordWrap()
            needed = widget.minimumSizeHint().width() if wrapped else widget.sizeHint().width()
            if widget.width() < needed:
                bad.append(f"{widget.objectName()} {widget.width()} < {needed}: {widget.text()!r}")
    return bad


def test_narrow_window_folds_the_sidebar_and_clips_nothing(windows, qapp, artifacts):
    from PySide6.QtWidgets import QWidget  # noqa: F401 (used by _clipped)

    translations = Translations(qapp)
    window = windows("narrow", translations)
    try:
        for language in ("en", "zh_CN"):
            window.set_language(language)
            window.resize(1000, 680)
            qapp.processEvents()
            assert window.drawer.open and window.drawer.area.isVisible()
            window.resize(600, 400)
            qapp.processEvents()
            assert not window.drawer.area.isVisible() and not window.drawer.toggle.isChecked()
            assert window.composer.width() == 600, "the chat takes the whole width"
            assert window.minimumSizeHint().width() <= 600
            edit = window.composer.edit
            assert edit.fontMetrics().horizontalAdvance(edit.placeholderText()) < edit.viewport().width()
            assert _clipped(window) == []
            window.grab().save(str(artifacts / f"desktop-narrow-folded-{language}.png"))

            QTest.mouseClick(window.drawer.toggle, Qt.MouseButton.LeftButton)
            qapp.processEvents()
            assert window.drawer.area.isVisible() and window.drawer.area.width() == 270
            assert edit.fontMetrics().horizontalAdvance(edit.placeholderText()) < edit.viewport().width()
            assert _clipped(window) == []
            window.grab().save(str(artifacts / f"desktop-narrow-open-{language}.png"))
            QTest.mouseClick(window.drawer.toggle, Qt.MouseButton.LeftButton)
            qapp.processEvents()
            assert not window.drawer.area.isVisible()
            window.resize(1000, 680)
            qapp.processEvents()
            assert window.drawer.area.isVisible(), "wide again: the sidebar is back"
            assert "Enter" in edit.placeholderText(), "the full hint where it fits"
    finally:
        translations.apply("en")


def _colourful(image) -> int:
    from PySide6.QtGui import QColor

    return sum(QColor(image.pixel(x, y)).hsvSaturation() > 120 and QColor(image.pixel(x, y)).value() > 120
               for y in range(image.height()) for x in range(image.width()))


def test_emoji_in_colour_and_the_picker_inserts_them(windows, qapp, artifacts):
    from desktop.emoji import PICKER_EMOJI, draws_colour_emoji

    assert draws_colour_emoji(), "a colour emoji font is installed (fonts-noto-color-emoji)"
    translations = Translations(qapp)
    window = windows("emoji", translations)
    try:
        window.model.own_name = "alice"
        window.model.add_records([ChatRecord(1, "room-1", "bob", "party 😀😂😉😊 time", 0)])
        qapp.processEvents()
        item = window.model.item(0)
        rect = window.view.visualRect(window.model.index(0))
        bubble = window.view.bubbles.geometry(item, rect.width()).bubble.translated(rect.topLeft())
        shot = window.view.viewport().grab(bubble.toRect()).toImage()
        assert _colourful(shot) > 40, "emoji drawn in colour in a bubble"

        for language, tip in (("en", "Insert an emoji"), ("zh_CN", "插入表情")):
            window.set_language(language)
            qapp.processEvents()
            composer = window.composer
            composer.set_enabled(True)
            composer.edit.setPlainText("see you ")
            composer.edit.moveCursor(composer.edit.textCursor().MoveOperation.End)
            assert composer.emoji_button.toolTip() == tip
            QTest.mouseClick(composer.emoji_button, Qt.MouseButton.LeftButton)
            picker = composer.emoji_button.picker
            assert picker.isVisible() and len(picker.buttons) == len(PICKER_EMOJI) == 40
            wave = picker.buttons[PICKER_EMOJI.index("👋")]
            QTest.mouseClick(wave, Qt.MouseButton.LeftButton)
            QTest.mouseClick(picker.buttons[PICKER_EMOJI.index("🚀")], Qt.MouseButton.LeftButton)
            assert picker.isVisible(), "non-modal: stays open for another"
            assert composer.edit.toPlainText() == "see you 👋🚀"
            picker.grab().save(str(artifacts / f"desktop-emoji-picker-{language}.png"))
            window.grab().save(str(artifacts / f"desktop-emoji-{language}.png"))
            assert _colourful(picker.grab().toImage()) > 500
            QTest.keyClick(picker, Qt.Key.Key_Escape)
            assert not picker.isVisible()
            composer.edit.clear()
    finally:
        translations.apply("en")


def test_at_offers_members_and_a_mention_is_highlighted(run, server_thread, windows, qapp, artifacts):
    alice = windows("alice")

    async def scenario():
        bob = await ChatPeer.open(server_thread.url)
        await bob.join("bob", "room-1")
        carol = await ChatPeer.open(server_thread.url)
        await carol.join("Bobby", "room-1")
        fill_and_join(alice, "alice", server_thread.url)
        await until(lambda: online(alice) and len(alice.sidebar.members.stringList()) == 3)
        edit = alice.composer.edit
        completer = edit.mention_completer
        QTest.keyClicks(edit, "hi @")
        await until(lambda: completer.popup_visible, what="the member popup")
        popup = completer.completer.popup()
        assert [popup.model().index(r, 0).data() for r in range(popup.model().rowCount())] == \
            ["bob", "Bobby"], "members but oneself"
        QTest.keyClicks(edit, "Bo")
        assert popup.model().rowCount() == 2
        QTest.keyClicks(edit, "bb")
        assert [popup.model().index(r, 0).data() for r in range(popup.model().rowCount())] == ["Bobby"]
        popup.grab().save(str(artifacts / "desktop-mention-popup.png"))
        QTest.keyClick(popup, Qt.Key.Key_Return)
        assert edit.toPlainText() == "hi @Bobby ", "Enter picked the name and sent nothing"
        assert not completer.popup_visible
        QTest.keyClick(edit, Qt.Key.Key_Return)
        got = await carol.expect("chat", content="hi @Bobby ")
        assert got["from"] == "alice"

        await bob.send(type="chat", content="@Alice can you look at this?")
        await bob.send(type="chat", content="no mention of alice here, mail@alice.org")
        await until(lambda: len(contents(alice, Kind.OTHER)) == 2)
        first, second = [i for i in alice.model.items() if i.kind is Kind.OTHER]
        assert first.mentioned and not second.mentioned
        await asyncio.sleep(0.1)
        alice.grab().save(str(artifacts / "desktop-mention.png"))
        row = alice.model.items().index(first)
        rect = alice.view.visualRect(alice.model.index(row))
        image = alice.view.viewport().grab(rect).toImage()
        from PySide6.QtGui import QColor
        marker = sum(QColor(image.pixel(x, y)).name() == "#fbbf24"
                     for y in range(image.height()) for x in range(image.width()))
        assert marker > 50, "@alice is marked in the bubble"
        await bob.close()
        await carol.close()

    run(scenario())


def markers(window) -> list[int]:
    return [row for row, item in enumerate(window.model.items()) if item.event == "unread"]


def test_new_messages_line_marks_the_first_unseen_message(run, server_thread, windows, qapp, artifacts):
    translations = Translations(qapp)
    alice, other = windows("alice", translations), windows("other")

    async def scenario():
        bob = await ChatPeer.open(server_thread.url)
        await bob.join("bob", "room-1")
        fill_and_join(alice, "alice", server_thread.url)
        await until(lambda: online(alice) and alice.model.rowCount() == 1)
        alice.activateWindow()
        await until(lambda: alice.isActiveWindow())
        await bob.send(type="chat", content="seen at once")
        await until(lambda: "seen at once" in contents(alice))
        assert markers(alice) == []
        other.activateWindow()
        await until(lambda: not alice.isActiveWindow())
        await bob.send(type="chat", content="first unseen")
        await bob.send(type="chat", content="second unseen")
        await until(lambda: "second unseen" in contents(alice))
        texts = [item.text for item in alice.model.items()]
        assert texts[markers(alice)[0] + 1] == "first unseen" and len(markers(alice)) == 1
        assert alice.windowTitle() == "(2) RoomChat — room-1"
        alice.activateWindow()
        await until(lambda: alice.windowTitle() == "RoomChat — room-1", what="title cleared")
        assert len(markers(alice)) == 1, "the line stays while reading"
        alice.set_language("zh_CN")
        await asyncio.sleep(0.1)
        assert alice.model.item(markers(alice)[0]).text == "以下为新消息"
        alice.grab().save(str(artifacts / "desktop-unread-zh.png"))
        alice.set_language("en")
        await asyncio.sleep(0.1)
        alice.grab().save(str(artifacts / "desktop-unread-en.png"))
        other.activateWindow()
        await until(lambda: not alice.isActiveWindow())
        await bob.send(type="chat", content="next time away")
        await until(lambda: "next time away" in contents(alice))
        texts = [item.text for item in alice.model.items()]
        assert len(markers(alice)) == 1 and texts[markers(alice)[0] + 1] == "next time away"
        await bob.close()

    try:
        run(scenario())
    finally:
        translations.apply("en")


def test_a_reconnect_marks_what_was_missed(run, windows, tmp_path):
    config = make_config(tmp_path / "data", port=free_port())
    server = ServerThread(config)
    server.start()
    alice = windows("alice", base_delay=2.0, max_delay=2.0)

    async def scenario():
        nonlocal server
        fill_and_join(alice, "alice", server.url)
        await until(lambda: online(alice) and alice.model.rowCount() == 1)
        alice.activateWindow()
        await asyncio.get_running_loop().run_in_executor(None, server.stop)
        await until(lambda: not online(alice))
        server = ServerThread(config)
        await asyncio.get_running_loop().run_in_executor(None, server.start)
        bob = await ChatPeer.open(server.url)
        await bob.join("bob", "room-1")
        await bob.send(type="chat", content="while you were away")
        await bob.expect("chat")
        await until(lambda: online(alice) and "while you were away" in contents(alice), timeout=15)
        texts = [item.text for item in alice.model.items()]
        assert markers(alice) and texts[markers(alice)[0] + 1] == "while you were away"
        await bob.close()

    try:
        run(scenario())
    finally:
        server.stop()
