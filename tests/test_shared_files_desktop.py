"""Shared files in the desktop app against a real server on loopback, with real files:
attach (non-modal dialog, several files), paste of a picture, drag and drop, progress and
Cancel, private files, resume after the connection drops, refusals in plain words,
thumbnails painted by the delegate, Save and Open.

(Named to run after tests/test_hostile_host_desktop.py, which holds this test process's RSS
to 300 MiB: what these transfers leave in the process's heap is not the app's footprint.)"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QColor, QDesktopServices, QDragEnterEvent, QDropEvent, QGuiApplication, QImage  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QFileDialog  # noqa: E402

from conftest import ChatPeer, make_config  # noqa: E402
from desktop.i18n import Translations  # noqa: E402
from desktop.models import DeliveryState, Kind  # noqa: E402
from server.files import FileLimits, MiB  # noqa: E402
from server.thread import ServerThread  # noqa: E402
from test_desktop_window import UrlCatcher, fill_and_join, online, until, windows  # noqa: E402,F401
from tests.pictures import png  # noqa: E402
from tests.uploads import http_get  # noqa: E402


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def random_file(path: Path, size: int) -> str:
    """Write ``size`` random bytes a MiB at a time (big test files never sit whole in this
    process: freed big blocks stay in its heap and count against later tests' RSS limits)."""
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        for start in range(0, size, MiB):
            block = os.urandom(min(MiB, size - start))
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def file_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while block := source.read(MiB):
            digest.update(block)
    return digest.hexdigest()


@pytest.fixture(autouse=True)
def return_freed_memory():
    """These tests move hundreds of MiB through this process (client and server threads);
    glibc keeps freed chunks in per-thread arenas, which later tests would count as the app's
    RSS. Hand the free pages back after each test."""
    yield
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def server_with(tmp_path: Path, **limits) -> ServerThread:
    thread = ServerThread(make_config(tmp_path / "data", rate_limit=0, files=FileLimits(**limits)))
    thread.start()
    return thread


@pytest.fixture
def files_server(tmp_path):
    thread = server_with(tmp_path)
    yield thread
    thread.stop()


@pytest.fixture
def slow_server(tmp_path):
    """Uploads paced at 4 MiB/s, so a test can act while one is under way."""
    thread = server_with(tmp_path, bandwidth=4 * MiB)
    yield thread
    thread.stop()


async def file_records(peer: ChatPeer, count: int, timeout: float = 30) -> list[dict]:
    records = []
    while len(records) < count:
        frame = await peer.expect("chat", timeout=timeout)
        if frame.get("file"):
            records.append(frame)
    return records


async def fetch(port: int, url: str) -> bytes:
    status, _, body = await asyncio.to_thread(http_get, port, url)
    assert status == 200
    return body


async def joined_pair(window, server, room: str = "files"):
    fill_and_join(window, "alice", server.url, room)
    await until(lambda: online(window), what="alice online")
    bob = await ChatPeer.open(server.url)
    await bob.join("bob", room)
    return bob


def file_items(window, delivered: bool | None = None):
    return [i for i in window.model.items() if i.file is not None
            and (delivered is None or (i.state is DeliveryState.DELIVERED) == delivered)]


def click_file_button(window, item, action: str) -> None:
    """Click the painted button ``action`` of the file bubble ``item`` (as a person would)."""
    view = window.view
    rect = view.visualRect(window.model.index(window.model.items().index(item)))
    inside = view.bubbles.geometry(item, rect.width()).file
    target = next(r for r, a in inside.buttons if a == action)
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     target.center().toPoint() + rect.topLeft())


def partial_files(server: ServerThread) -> list[Path]:
    return list((server.config.data_dir / "files" / "partial").glob("*"))


def test_attach_two_files_with_the_non_modal_dialog_they_arrive_byte_identical(run, files_server, windows, tmp_path):
    window = windows("alice")
    first, second = tmp_path / "report.pdf", tmp_path / "notes 2026.txt"
    random_file(first, 3 * MiB + 17)
    second.write_bytes("第一行\nline two\n".encode())

    async def scenario():
        bob = await joined_pair(window, files_server)
        QTest.mouseClick(window.composer.attach_button, Qt.MouseButton.LeftButton)
        dialog = window.files.dialog
        assert isinstance(dialog, QFileDialog) and dialog.isVisible(), "open(), never exec()"
        assert dialog.fileMode() == QFileDialog.FileMode.ExistingFiles
        dialog.setDirectory(str(tmp_path))
        dialog.selectFile(f'"{first.name}" "{second.name}"')
        dialog.accept()
        await until(lambda: len(file_items(window)) == 2, what="two pending file bubbles")
        records = await file_records(bob, 2)
        by_name = {r["file"]["name"]: r for r in records}
        assert set(by_name) == {"report.pdf", "notes 2026.txt"}
        for path in (first, second):
            ref = by_name[path.name]["file"]
            assert ref["size"] == path.stat().st_size and ref["sha256"] == sha(path.read_bytes())
            assert await fetch(files_server.port, ref["url"]) == path.read_bytes()
        await until(lambda: len(file_items(window, delivered=True)) == 2, what="both delivered")
        assert all(i.file.id and i.transfer == -1 and i.kind is Kind.OWN for i in file_items(window))
        assert partial_files(files_server) == []

    run(scenario())


def test_paste_of_a_picture_uploads_a_png_and_text_paste_stays_text(run, files_server, windows):
    window = windows("alice")

    async def scenario():
        bob = await joined_pair(window, files_server)
        picture = QImage()
        assert picture.loadFromData(png(120, 80))
        clipboard = QGuiApplication.clipboard()
        clipboard.setText("just words")
        window.composer.edit.paste()
        assert window.composer.edit.toPlainText() == "just words" and file_items(window) == []
        window.composer.edit.clear()
        clipboard.setImage(picture)
        window.composer.edit.paste()
        assert window.composer.edit.toPlainText() == ""
        record, = await file_records(bob, 1)
        ref = record["file"]
        assert ref["name"].startswith("pasted-") and ref["name"].endswith(".png")
        assert ref["type"] == "image/png"
        pasted = QImage()
        assert pasted.loadFromData(await fetch(files_server.port, ref["url"]))
        assert pasted.size() == picture.size()
        assert pasted.pixelColor(60, 40) == picture.pixelColor(60, 40)

    run(scenario())


def test_files_dropped_on_the_window_are_sent(run, files_server, windows, tmp_path):
    window = windows("alice")
    paths = [tmp_path / f"dropped-{n}.bin" for n in range(3)]
    for n, path in enumerate(paths):
        path.write_bytes(bytes([n]) * (1000 + n))

    async def scenario():
        bob = await joined_pair(window, files_server)
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
        point = window.view.geometry().center()
        enter = QDragEnterEvent(point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(window, enter)
        assert enter.isAccepted()
        drop = QDropEvent(QPointF(point), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                          Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(window, drop)
        assert drop.isAccepted()
        records = await file_records(bob, 3)
        assert sorted(r["file"]["name"] for r in records) == [p.name for p in paths]
        for record in records:
            path = tmp_path / record["file"]["name"]
            assert await fetch(files_server.port, record["file"]["url"]) == path.read_bytes()
        # Text dragged in is not a file: the window does not take it.
        words = QMimeData()
        words.setText("plain words")
        enter = QDragEnterEvent(point, Qt.DropAction.CopyAction, words, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
        enter.ignore()
        QApplication.sendEvent(window, enter)
        assert not enter.isAccepted()

    run(scenario())


def test_cancel_stops_the_upload_and_nothing_is_stored(run, slow_server, windows, tmp_path):
    window = windows("alice")
    big = tmp_path / "big.iso"
    random_file(big, 24 * MiB)

    async def scenario():
        bob = await joined_pair(window, slow_server)
        window.files.send_files([str(big)])
        await until(lambda: file_items(window) and file_items(window)[0].transfer > 0, what="progress")
        item = file_items(window)[0]
        assert item.state is DeliveryState.PENDING
        await until(lambda: partial_files(slow_server), what="the partial file on the server")
        click_file_button(window, item, "cancel")
        assert file_items(window) == []
        await until(lambda: partial_files(slow_server) == [], what="the server deleting the partial file")
        assert [f for f in await bob.nothing(1.0) if f.get("file")] == []
        assert window.connection.uploads.active == ()

    run(scenario())


def test_a_refused_file_shows_the_servers_reason(run, tmp_path, windows, artifacts):
    server = server_with(tmp_path, max_file=1 * MiB)
    window = windows("alice")
    too_big = tmp_path / "holiday.mov"
    too_big.write_bytes(b"\0" * (MiB + 1))
    try:
        async def scenario():
            fill_and_join(window, "alice", server.url, "files")
            await until(lambda: online(window))
            window.files.send_files([str(too_big)])
            await until(lambda: file_items(window) and file_items(window)[0].state is DeliveryState.FAILED,
                        what="the refusal")
            item = file_items(window)[0]
            assert item.refusal == "file_too_big"
            assert "holiday.mov is 1.0 MiB; files may be at most 1.0 MiB" in item.error
            inside = window.view.bubbles.geometry(item, window.view.viewport().width()).file
            assert inside.error is not None and inside.error.text() == item.error, "painted in the bubble"
            assert [a for _, a in inside.buttons] == ["dismiss"]
            await asyncio.sleep(0.05)
            window.grab().save(str(artifacts / "desktop-file-refused.png"))
            click_file_button(window, item, "dismiss")
            assert file_items(window) == []

        run(scenario())
    finally:
        server.stop()


def test_a_private_file_reaches_only_its_addressee_also_through_history(run, files_server, windows, tmp_path):
    window = windows("alice")
    secret = tmp_path / "salary.xlsx"
    secret.write_bytes(os.urandom(5000))

    async def scenario():
        bob = await joined_pair(window, files_server)
        carol = await ChatPeer.open(files_server.url)
        await carol.join("carol", "files")
        await until(lambda: "carol" in window.sidebar.members.stringList())
        window.composer.set_private("bob")
        window.files.send_files([str(secret)])
        record, = await file_records(bob, 1)
        assert record["to"] == "bob" and record["file"]["name"] == "salary.xlsx"
        assert [f for f in await carol.nothing(0.8) if f.get("file")] == []
        await until(lambda: file_items(window, delivered=True), what="alice's copy")
        assert file_items(window)[0].to == "bob"
        # History: dave, joining later, never sees it; alice's window after a rejoin does.
        dave = await ChatPeer.open(files_server.url)
        await dave.join("dave", "files")
        history = await dave.expect("history")
        assert not any(m.get("file") for m in history["messages"])
        window.model.clear()
        window.join_from_form()
        await until(lambda: file_items(window, delivered=True), what="alice's history")
        assert file_items(window)[0].file.sha256 == sha(secret.read_bytes())

    run(scenario())


def test_an_upload_resumes_where_it_stopped_after_the_connection_drops(run, slow_server, windows, tmp_path):
    window = windows("alice")
    path = tmp_path / "video.mp4"
    digest = random_file(path, 12 * MiB)
    progress: list[int] = []

    async def scenario():
        bob = await joined_pair(window, slow_server)
        window.connection.uploads.progress.connect(lambda _nonce, done: progress.append(done))
        window.files.send_files([str(path)])
        await until(lambda: progress and progress[-1] >= 3 * MiB, what="3 MiB sent")
        at_drop = progress[-1]
        dropped_at = len(progress)
        window.connection.socket.transport.abort()  # the network goes away mid-upload
        await until(lambda: not online(window), what="the drop noticed")
        await until(lambda: online(window), what="reconnected")
        record, = await file_records(bob, 1, timeout=60)
        assert record["file"]["sha256"] == digest
        assert sha(await fetch(slow_server.port, record["file"]["url"])) == digest
        resumed = progress[dropped_at:]
        assert resumed and min(resumed) >= at_drop, "went on from the server's offset, not from 0"
        await until(lambda: file_items(window, delivered=True), what="delivered")
        assert len(file_items(window)) == 1
        assert [f for f in await bob.nothing(0.5) if f.get("file")] == [], "exactly once"
        assert partial_files(slow_server) == []

    run(scenario(), timeout=90)


def test_a_hostile_hosts_file_records_are_held_to_what_a_server_sends():
    import json

    from desktop import guard

    def frame(**file) -> str:
        ref = {"id": "abcDEF_-123", "name": "report.pdf", "size": 10, "type": "application/pdf",
               "sha256": "0" * 64, **file}
        return json.dumps({"type": "chat", "id": 5, "room": "r", "from": "eve", "content": "x",
                           "timestamp": 1, "file": ref})

    assert guard.received(frame()).file.name == "report.pdf"
    assert guard.received(frame(id="../../etc/passwd")).file is None, "an id that is not a capability"
    assert guard.received(frame(id="x?y=1#")).file is None
    odd = guard.received(frame(name="..\\..\\evil\u202egpj.exe", type="text/html<script>", size=-5,
                               sha256="not-a-hash")).file
    assert odd.name == "evilgpj.exe" and odd.mime == "application/octet-stream"
    assert odd.size == 0 and odd.sha256 == "" and not odd.is_image


def test_pictures_show_as_thumbnails_files_save_and_open_in_both_languages(run, slow_server, windows, qapp,
                                                                              tmp_path, artifacts):
    translations = Translations(qapp)
    alice, bob = windows("alice"), windows("bob", translations)
    picture = png(160, 100)
    document = tmp_path / "minutes.odt"
    document.write_bytes(os.urandom(200_000))
    big = tmp_path / "backup.tar"
    random_file(big, 40 * MiB)
    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "open")

    async def scenario():
        fill_and_join(alice, "alice", slow_server.url, "files")
        fill_and_join(bob, "bob", slow_server.url, "files")
        await until(lambda: online(alice) and online(bob))
        alice.connection.uploads.add_data("holiday.png", picture)
        await until(lambda: file_items(bob), what="the picture's record at bob")
        alice.files.send_files([str(document)])
        await until(lambda: len(file_items(bob)) == 2, what="the document at bob")
        shown, doc = file_items(bob)
        assert shown.file.is_image and not doc.file.is_image and shown.kind is Kind.OTHER
        await until(lambda: bob.files.thumbnails.peek(shown.file) is not None, what="the thumbnail")
        await asyncio.sleep(0.1)

        # The delegate paints the picture itself: the grabbed viewport has its pixels.
        view = bob.view
        row_rect = view.visualRect(bob.model.index(bob.model.items().index(shown)))
        inside = view.bubbles.geometry(shown, row_rect.width()).file
        assert inside.picture is not None and inside.picture.size().toSize().width() == 160
        grabbed = view.viewport().grab().toImage()
        origin = inside.picture.topLeft().toPoint() + row_rect.topLeft()
        source = QImage()
        source.loadFromData(picture)
        for x, y in ((80, 50), (20, 30), (1, 1), (150, 90)):
            got, want = grabbed.pixelColor(origin + QPoint(x, y)), source.pixelColor(x, y)
            assert max(abs(got.red() - want.red()), abs(got.green() - want.green()),
                       abs(got.blue() - want.blue())) <= 8, (x, y, got.name(), want.name())
        assert grabbed.pixelColor(origin + QPoint(-3, 50)) != QColor("#ffffff")  # the bubble around it

        # A click on the picture opens it whole in a window of its own (not modal).
        QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         inside.picture.center().toPoint() + row_rect.topLeft())
        viewer = bob.files.viewer
        await until(lambda: viewer is not None and not viewer.label.pixmap().isNull(), what="the full picture")
        assert viewer.isVisible() and not viewer.isModal() and viewer.label.pixmap().size().width() == 160
        viewer.close()

        # Save (a non-modal dialog proposing the file's name), then Open.
        click_file_button(bob, doc, "save")
        dialog = bob.files.dialog
        assert dialog.isVisible() and dialog.acceptMode() == QFileDialog.AcceptMode.AcceptSave
        assert dialog.selectedFiles()[0].endswith("/minutes.odt")
        target = tmp_path / "saved" / "minutes copy.odt"
        target.parent.mkdir()
        dialog.selectFile(str(target))
        dialog.accept()
        await until(lambda: doc.saved == str(target), what="saved")
        assert target.read_bytes() == document.read_bytes() and not list(target.parent.glob("*.part"))
        click_file_button(bob, doc, "open")
        assert catcher.urls == [QUrl.fromLocalFile(str(target)).toString()]

        # Pictures for a person: an upload under way at alice, the room at bob in both languages.
        alice.files.send_files([str(big)])
        await until(lambda: any(i.transfer > 2 * MiB for i in file_items(alice)), what="progress")
        await asyncio.sleep(0.2)
        alice.grab().save(str(artifacts / "desktop-files-uploading.png"))
        bob.grab().save(str(artifacts / "desktop-files-en.png"))
        bob.set_language("zh_CN")
        await asyncio.sleep(0.2)
        bob.grab().save(str(artifacts / "desktop-files-zh.png"))
        bob.set_language("en")
        uploading = next(i for i in file_items(alice) if i.state is DeliveryState.PENDING)
        click_file_button(alice, uploading, "cancel")

    try:
        run(scenario(), timeout=90)
    finally:
        QDesktopServices.unsetUrlHandler("file")
