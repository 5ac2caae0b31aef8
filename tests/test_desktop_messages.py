"""Replies, edits, deletions and search in the desktop window (pytest-qt, real server, offscreen)."""

from __future__ import annotations

import asyncio
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402
from test_desktop_window import (  # noqa: E402,F401 (windows is a fixture)
    fill_and_join,
    online,
    type_and_enter,
    until,
    windows,
)

from conftest import ChatPeer  # noqa: E402
from desktop.i18n import Translations  # noqa: E402
from desktop.models import Kind, MessageModel  # noqa: E402
from desktop.widgets.search_panel import ID_ROLE  # noqa: E402
from server.protocol import ChatRecord, DeleteRecord, EditRecord, Quote  # noqa: E402


def item_with(window, text: str):
    return next(i for i in window.model.items() if i.content == text)


def row_of(window, item) -> int:
    return window.model.items().index(item)


def menu_action(window, item, label: str):
    """Trigger the context menu entry ``label`` of ``item``'s bubble (as a right click would)."""
    menu = window.view.message_menu(item)
    labels = [a.text() for a in menu.actions() if a.text()]
    action = next((a for a in menu.actions() if a.text() == label), None)
    assert action is not None, labels
    action.trigger()
    return labels


async def bob_says(bob: ChatPeer, content: str, **extra) -> dict:
    await bob.send(type="chat", content=content, nonce=content[:20], **extra)
    return await bob.expect("chat", nonce=content[:20])


def click_quote(window, row: int) -> None:
    view = window.view
    rect = view.visualRect(window.model.index(row))
    quote = view.bubbles.geometry(window.model.item(row), rect.width()).quote_rect
    assert quote is not None
    point = QPoint(int(rect.left() + quote.center().x()), int(rect.top() + quote.center().y()))
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)


def test_model_applies_edits_deletions_and_quotes_in_place(qapp):
    model = MessageModel("alice")
    model.add_records([ChatRecord(1, "r", "bob", "first", 1), ChatRecord(2, "r", "alice", "re", 2,
                                                                         reply=Quote(1, "bob", "first"))])
    changed = []
    model.dataChanged.connect(lambda top, _bottom: changed.append(top.row()))
    assert model.add_records([EditRecord(3, "r", "bob", 1, "first, fixed", 3)]) == 0
    assert model.item(0).content == "first, fixed" and model.item(0).edited and model.rowCount() == 2
    model.add_records([DeleteRecord(4, "r", "bob", 1, 4), EditRecord(3, "r", "bob", 1, "again", 3)])
    assert model.item(0).deleted and model.item(0).text == "Message deleted"
    assert model.item(1).quote == Quote(1, "bob", None)
    assert model.row_of_id(2) == 1 and model.row_of_id(3) == -1 and model.row_of_id(99) == -1
    assert sorted(set(changed)) == [0, 1]


def test_reply_edit_delete_from_the_context_menu(run, server_thread, windows, artifacts):
    alice = windows("alice")

    async def scenario():
        bob = await ChatPeer.open(server_thread.url)
        await bob.join("bob", "room-1")
        original = await bob_says(bob, "lunch at noon?\nI'll book")
        for i in range(30):
            await bob_says(bob, f"chatter {i}")
        fill_and_join(alice, "alice", server_thread.url)
        await until(lambda: online(alice) and any(i.content == "chatter 29" for i in alice.model.items()))
        theirs = item_with(alice, "lunch at noon?\nI'll book")
        labels = menu_action(alice, theirs, "Reply")
        assert labels == ["Copy text", "Reply"]  # not theirs to edit or delete
        assert alice.action_bar.isVisible()
        assert alice.action_bar.label.text() == "Replying to bob: lunch at noon?"
        type_and_enter(alice, "yes works")
        got = await bob.expect("chat", content="yes works")
        assert got["replyTo"] == {"id": original["id"], "from": "bob", "excerpt": "lunch at noon?"}
        await until(lambda: item_with(alice, "yes works").id)
        reply = item_with(alice, "yes works")
        assert reply.quote == Quote(original["id"], "bob", "lunch at noon?") and not alice.action_bar.isVisible()
        alice.resize(900, 640)
        alice.grab().save(str(artifacts / "desktop-reply-en.png"))
        # Clicking the quote scrolls to the original and outlines it.
        click_quote(alice, row_of(alice, reply))
        assert alice.view.highlighted == original["id"]
        top = alice.view.visualRect(alice.model.index(row_of(alice, theirs)))
        assert alice.view.viewport().rect().intersects(top)
        # Edit own: the text comes into the box, Enter saves, the bubble changes in place.
        rows = alice.model.rowCount()
        assert menu_action(alice, reply, "Edit") == ["Copy text", "Reply", "Edit", "Delete"]
        assert alice.composer.edit.toPlainText() == "yes works"
        alice.composer.edit.selectAll()
        type_and_enter(alice, "yes, noon works")
        edit = await bob.expect("edit")
        assert edit["target"] == reply.id and edit["content"] == "yes, noon works", (edit, reply.id, reply.content)
        await until(lambda: reply.content == "yes, noon works" and reply.edited)
        assert alice.model.rowCount() == rows
        assert "edited" in alice.view.bubbles.meta_text(reply)
        # Bob edits and deletes his: alice sees both in place, and her quote says it is gone.
        await bob.send(type="edit", id=original["id"], content="lunch at one?", nonce="e")
        await until(lambda: theirs.content == "lunch at one?" and theirs.edited)
        await bob.send(type="delete", id=original["id"], nonce="d")
        await until(lambda: theirs.deleted and reply.quote.excerpt is None)
        assert theirs.text == "Message deleted"
        assert menu_action(alice, reply, "Delete")
        box = alice.actions.delete_box
        assert box is not None and box.isVisible()
        box.button(QMessageBox.StandardButton.Yes).click()
        await bob.expect("delete", target=reply.id)
        await until(lambda: reply.deleted)
        alice.grab().save(str(artifacts / "desktop-deleted-en.png"))
        await bob.close()

    run(scenario())


def test_edit_and_delete_are_offered_only_inside_the_servers_edit_window(run, windows, tmp_path):
    from conftest import make_config
    from server.thread import ServerThread

    thread = ServerThread(make_config(tmp_path / "data", edit_window=1.0))
    thread.start()
    alice = windows("alice")

    async def scenario():
        fill_and_join(alice, "alice", thread.url)
        await until(lambda: online(alice))
        assert alice.view.edit_window == 1.0
        type_and_enter(alice, "mine")
        await until(lambda: any(i.content == "mine" and i.id for i in alice.model.items()))
        labels = [a.text() for a in alice.view.message_menu(item_with(alice, "mine")).actions() if a.text()]
        assert "Edit" in labels and "Delete" in labels
        await asyncio.sleep(1.2)
        labels = [a.text() for a in alice.view.message_menu(item_with(alice, "mine")).actions() if a.text()]
        assert "Edit" not in labels and "Delete" not in labels and "Reply" in labels

    try:
        run(scenario())
    finally:
        thread.stop()


def test_escape_cancels_an_edit_and_refusals_are_said(run, server_thread, windows):
    alice = windows("alice")

    async def scenario():
        fill_and_join(alice, "alice", server_thread.url)
        await until(lambda: online(alice))
        type_and_enter(alice, "mine")
        await until(lambda: any(i.content == "mine" and i.id for i in alice.model.items()))
        mine = item_with(alice, "mine")
        menu_action(alice, mine, "Edit")
        QTest.keyClick(alice.composer.edit, Qt.Key.Key_Escape)
        assert not alice.action_bar.isVisible() and alice.composer.edit.toPlainText() == ""
        # An edit the server refuses (a stale id, as after the edit window) is explained.
        mine.id = 4242
        menu_action(alice, mine, "Edit")
        alice.composer.edit.selectAll()
        type_and_enter(alice, "changed")
        await until(lambda: any(i.kind is Kind.SYSTEM and "not changed" in i.text for i in alice.model.items()))

    run(scenario())


def test_ctrl_f_search_lists_results_and_jumps_both_languages(run, server_thread, windows, qapp, artifacts):
    translations = Translations(qapp)
    alice = windows("alice", translations)

    async def scenario():
        bob = await ChatPeer.open(server_thread.url)
        await bob.join("bob", "room-1")
        first = await bob_says(bob, "我们明天去北京开会")
        for i in range(30):
            await bob_says(bob, f"unrelated {i}")
        await bob_says(bob, "北京烤鸭 for lunch?")
        fill_and_join(alice, "alice", server_thread.url)
        await until(lambda: online(alice) and any("烤鸭" in i.content for i in alice.model.items()))
        alice.resize(900, 640)
        for language, found in (("en", "2 messages found, newest first"), ("zh_CN", "找到 2 条消息,最新的在前")):
            alice.set_language(language)
            QTest.keyClick(alice, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
            panel = alice.search_panel
            assert panel.isVisible() and panel.query.hasFocus()
            panel.query.setText("北京")
            QTest.keyClick(panel.query, Qt.Key.Key_Return)
            await until(lambda: panel.results.rowCount() == 2, what="results")
            assert panel.status.text() == found
            texts = [panel.results.item(r).text().split("\n", 1)[1] for r in range(2)]
            assert texts == ["北京烤鸭 for lunch?", "我们明天去北京开会"]
            alice.grab().save(str(artifacts / f"desktop-search-{'zh' if language != 'en' else 'en'}.png"))
            panel.list.clicked.emit(panel.results.index(1, 0))
            assert alice.view.highlighted == first["id"]
            assert panel.results.index(1, 0).data(ID_ROLE) == first["id"]
            QTest.keyClick(panel.query, Qt.Key.Key_Escape)
            assert not panel.isVisible()
        await bob.close()

    try:
        run(scenario())
    finally:
        translations.apply("en")


def test_reply_and_edit_screens_in_chinese(run, server_thread, windows, qapp, artifacts):
    translations = Translations(qapp)
    alice = windows("alice", translations)

    async def scenario():
        bob = await ChatPeer.open(server_thread.url)
        await bob.join("bob", "room-1")
        await bob_says(bob, "明天几点开会?")
        fill_and_join(alice, "alice", server_thread.url)
        await until(lambda: online(alice) and any("开会" in i.content for i in alice.model.items()))
        alice.set_language("zh_CN")
        await asyncio.sleep(0.2)  # the LanguageChange events reach every widget
        theirs = item_with(alice, "明天几点开会?")
        labels = menu_action(alice, theirs, "回复")
        assert labels == ["复制文字", "回复"]
        assert alice.action_bar.label.text() == "回复 bob:明天几点开会?"
        alice.resize(900, 640)
        alice.grab().save(str(artifacts / "desktop-replying-zh.png"))
        type_and_enter(alice, "上午十点")
        await until(lambda: any(i.content == "上午十点" and i.id for i in alice.model.items()))
        mine = item_with(alice, "上午十点")
        menu_action(alice, mine, "编辑")
        assert alice.action_bar.label.text().startswith("正在编辑你的消息")
        alice.composer.edit.selectAll()
        type_and_enter(alice, "上午十点半")
        await until(lambda: mine.edited)
        assert "已编辑" in alice.view.bubbles.meta_text(mine)
        await bob.send(type="delete", id=item_with(alice, "明天几点开会?").id, nonce="d")
        await until(lambda: theirs.deleted)
        assert theirs.text == "消息已删除"
        alice.grab().save(str(artifacts / "desktop-reply-zh.png"))
        await bob.close()

    try:
        run(scenario())
    finally:
        translations.apply("en")
