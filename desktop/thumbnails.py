"""Pictures of shared images for the bubbles: fetched when a bubble first paints, decoded and
scaled on a worker thread, and kept in a bounded cache (the newest used stay).

Only the four image types the server recognised by their bytes are fetched; a picture that
cannot be fetched or decoded is remembered as failed, and its bubble shows it as a file.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable

from PySide6.QtCore import QBuffer, QByteArray, QObject, QSize, Qt, Signal
from PySide6.QtGui import QImage, QImageReader

from desktop.transfers import DownloadError, HttpTarget, download_bytes
from server.protocol import FileRef

__all__ = ["Thumbnails", "THUMBNAIL_BOX", "decode_image"]

THUMBNAIL_BOX = QSize(240, 180)
"""The largest a picture is shown in a bubble (scaled down, never up)."""

KEPT = 64
"""Pictures kept decoded (about 170 KiB each at most: 11 MiB)."""

FETCH_MAX = 32 * 1024 * 1024
"""Bigger images are not fetched for a thumbnail (their bubble offers Save)."""

AT_ONCE = 3


def decode_image(data: bytes, box: QSize | None = None) -> QImage:
    """Decode an image (scaled down to fit ``box`` if given); a null QImage if it is not one."""
    buffer = QBuffer()
    buffer.setData(QByteArray(data))
    reader = QImageReader(buffer)
    reader.setAutoTransform(True)
    size = reader.size()
    if box is not None and size.isValid() and (size.width() > box.width() or size.height() > box.height()):
        reader.setScaledSize(size.scaled(box, Qt.AspectRatioMode.KeepAspectRatio))
    return reader.read()


class Thumbnails(QObject):
    """Scaled pictures by file id. ``image()`` asks for one; ``ready(file id)`` says it came.

    Args:
        target: gives the current server's HttpTarget (it changes with the room).
    """

    ready = Signal(str)

    def __init__(self, target: Callable[[], HttpTarget], parent: QObject | None = None, *, kept: int = KEPT) -> None:
        super().__init__(parent)
        self._target = target
        self._kept = kept
        self._images: OrderedDict[str, QImage] = OrderedDict()
        self._failed: set[str] = set()
        self._loading: dict[str, asyncio.Task] = {}
        self._slots = asyncio.Semaphore(AT_ONCE)

    def peek(self, ref: FileRef) -> QImage | None:
        """The picture if it is here (laying out measures with it, without fetching)."""
        return self._images.get(ref.id)

    def image(self, ref: FileRef) -> QImage | None:
        """The picture if it is here; otherwise None, and it is fetched (once)."""
        image = self._images.get(ref.id)
        if image is not None:
            self._images.move_to_end(ref.id)
            return image
        if ref.id and ref.is_image and ref.id not in self._failed and ref.id not in self._loading \
                and ref.size <= FETCH_MAX:
            task = asyncio.ensure_future(self._load(ref))
            self._loading[ref.id] = task
            task.add_done_callback(lambda _t, key=ref.id: self._loading.pop(key, None))
        return None

    def failed(self, ref: FileRef) -> bool:
        """No picture will come (not an image, too big, unreadable): show it as a file."""
        return not ref.is_image or ref.size > FETCH_MAX or ref.id in self._failed

    def __len__(self) -> int:
        return len(self._images)

    async def _load(self, ref: FileRef) -> None:
        async with self._slots:
            try:
                data = await download_bytes(self._target(), ref, FETCH_MAX)
                image = await asyncio.to_thread(decode_image, data, THUMBNAIL_BOX)
            except DownloadError:
                image = QImage()
        if image.isNull():
            self._failed.add(ref.id)
        else:
            self._images[ref.id] = image
            while len(self._images) > self._kept:
                self._images.popitem(last=False)
        self.ready.emit(ref.id)

    async def close(self) -> None:
        for task in list(self._loading.values()):
            task.cancel()
        await asyncio.gather(*self._loading.values(), return_exceptions=True)
