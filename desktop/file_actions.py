"""Shared files in the window: what dropping files, pasting a picture, the attach button and
a file bubble's buttons mean, between the widgets and the connection's uploads.

Widgets only render and emit, the connection (desktop.transfers.Uploads) only speaks the
protocol; this object turns drops, pastes and the non-modal file dialogs into uploads,
upload progress into the model, and Save/Open/picture clicks into downloads and viewers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QEvent, QIODevice, QObject, QStandardPaths, QUrl
from PySide6.QtGui import QDesktopServices, QImage
from PySide6.QtWidgets import QFileDialog, QWidget

from desktop.client import ChatConnection
from desktop.models import MessageItem, MessageModel
from desktop.thumbnails import Thumbnails
from desktop.transfers import DownloadError, download_to, pasted_name
from desktop.widgets.composer import Composer, local_files
from desktop.widgets.image_viewer import ImageViewer
from desktop.widgets.message_view import MessageView
from server.file_format import safe_file_name

__all__ = ["FileActions", "png_bytes"]

PROGRESS_EVERY = 0.1
"""Seconds between repaints of one transfer's bar (acks come every 256 KiB)."""


def png_bytes(image: QImage) -> bytes:
    """A picture (a pasted screenshot) as PNG file bytes."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data)


class FileActions(QObject):
    """The window's file sharing: inputs in, bubbles' buttons out.

    Args:
        before_change: called before the model changes (the window inserts waiting live
            messages first, so the order of rows stays the order things happened).
    """

    def __init__(self, window: QWidget, connection: ChatConnection, model: MessageModel, view: MessageView,
                 composer: Composer, before_change: Callable[[], None]) -> None:
        super().__init__(window)
        self._window = window
        self._connection = connection
        self._model = model
        self._composer = composer
        self._before = before_change
        self._uploads = connection.uploads
        self._painted: dict[str, float] = {}
        self._tasks: set[asyncio.Task] = set()
        self.dialog: QFileDialog | None = None
        self.viewer: ImageViewer | None = None
        self.thumbnails = Thumbnails(connection.http_target, self)
        self.thumbnails.ready.connect(model.file_changed)
        view.thumbnails = self.thumbnails
        view.bubbles.fileAction.connect(self.act)
        self._uploads.added.connect(self._added)
        self._uploads.progress.connect(self._progress)
        self._uploads.failed.connect(self._failed)
        composer.attachRequested.connect(self.choose_files)
        composer.filesGiven.connect(self.send_files)
        composer.imagePasted.connect(self.send_image)
        window.setAcceptDrops(True)
        window.installEventFilter(self)

    # Inputs -------------------------------------------------------------------------

    def send_files(self, paths: list[str]) -> None:
        """Upload files from disk (to the private addressee, if the composer has one)."""
        if not self._composer.edit.isEnabled():
            return
        for path in paths:
            self._uploads.add_file(path, self._composer.private_to)

    def send_image(self, image: QImage) -> None:
        """A pasted picture becomes a PNG upload named by the time."""
        if self._composer.edit.isEnabled() and not image.isNull():
            self._uploads.add_data(pasted_name("png"), png_bytes(image), self._composer.private_to)

    def choose_files(self) -> None:
        """The attach button: a non-modal dialog, several files may be chosen."""
        dialog = QFileDialog(self._window, self.tr("Send files"))
        dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
        dialog.filesSelected.connect(self.send_files)
        self._open(dialog)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt override
        """Files dragged onto the window are offered a copy drop and uploaded when dropped."""
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop):
            paths = local_files(event.mimeData())
            if not paths or not self._composer.edit.isEnabled():
                return False
            event.acceptProposedAction()
            if kind == QEvent.Type.Drop:
                self.send_files(paths)
            return True
        return super().eventFilter(watched, event)

    # Upload progress into the model -----------------------------------------------------

    def _added(self, nonce: str, record) -> None:
        self._before()
        self._model.add_pending(nonce, record)

    def _progress(self, nonce: str, done: int) -> None:
        item = self._model.by_nonce(nonce)
        now = time.monotonic()
        if item is None or item.file is None:
            return
        if done < item.file.size and now - self._painted.get(nonce, 0.0) < PROGRESS_EVERY:
            item.transfer = done  # painted with the next repaint
            return
        self._painted[nonce] = now
        self._model.set_transfer(item, done)

    def _failed(self, nonce: str, code: str, reason: str) -> None:
        self._painted.pop(nonce, None)
        self._before()
        self._model.refuse(nonce, code)
        self._model.fail(nonce, reason)

    # A bubble's buttons -----------------------------------------------------------------

    def act(self, action: str, item: MessageItem) -> None:
        if action in ("cancel", "dismiss") and item.nonce:
            self._uploads.cancel(item.nonce)
            self._model.remove_nonce(item.nonce)
        elif action == "save" and item.file is not None and item.file.id:
            self.choose_destination(item)
        elif action == "open" and item.saved:
            QDesktopServices.openUrl(QUrl.fromLocalFile(item.saved))
        elif action == "view" and item.file is not None:
            self.viewer = self.viewer or ImageViewer(self._window)
            self._keep(self.viewer.show_file(self._connection.http_target(), item.file))

    def choose_destination(self, item: MessageItem) -> None:
        """Save: a non-modal dialog proposing the file's (sanitised) name in Downloads."""
        assert item.file is not None
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DownloadLocation) or str(Path.home())
        dialog = QFileDialog(self._window, self.tr("Save file"), str(Path(folder) / safe_file_name(item.file.name)))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.fileSelected.connect(lambda path: self._keep(self.save(item, Path(path))))
        self._open(dialog)

    async def save(self, item: MessageItem, dest: Path) -> None:
        """Download into ``dest`` with the bubble's bar moving; then its Open button appears."""
        assert item.file is not None
        self._model.set_transfer(item, 0, error="")
        last = [0.0]

        def moved(done: int) -> None:
            item.transfer = done
            if time.monotonic() - last[0] >= PROGRESS_EVERY:
                last[0] = time.monotonic()
                self._model.set_transfer(item, done)

        try:
            await download_to(self._connection.http_target(), item.file, dest, progress=moved)
        except (DownloadError, OSError) as exc:
            self._model.set_transfer(item, -1, error=self.tr("Not saved: %1").replace("%1", str(exc)))
            return
        self._model.set_transfer(item, -1, saved=str(dest))

    # Plumbing ---------------------------------------------------------------------------

    def _open(self, dialog: QFileDialog) -> None:
        if self.dialog is not None:
            self.dialog.deleteLater()
        self.dialog = dialog  # open() does not block: keep it alive while it is shown
        dialog.open()

    def _keep(self, coro) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.thumbnails.close()
