"""A shared picture at full size in its own window (non-modal): fetched from the server,
decoded on a worker thread, shown scaled down to fit the screen, scrollable when larger."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QPixmap
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from desktop.thumbnails import decode_image
from desktop.transfers import DownloadError, HttpTarget, download_bytes
from server.protocol import FileRef

__all__ = ["ImageViewer", "VIEW_MAX"]

VIEW_MAX = 100 * 1024 * 1024
"""The largest picture fetched to be shown (the server's default file limit)."""


class ImageViewer(QWidget):
    """One window that shows the picture last asked for."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("imageViewer")
        self.label = QLabel(self)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        scroll = QScrollArea(self)
        scroll.setWidget(self.label)
        scroll.setWidgetResizable(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        self.ref: FileRef | None = None
        self.resize(640, 480)

    async def show_file(self, target: HttpTarget, ref: FileRef) -> None:
        """Open the window at once ("Loading…"), then show the picture or why it cannot be shown."""
        self.ref = ref
        self.setWindowTitle(ref.name)
        self.label.setPixmap(QPixmap())
        self.label.setText(self.tr("Loading picture…"))
        self.show()
        self.raise_()
        try:
            data = await download_bytes(target, ref, VIEW_MAX)
            image = await asyncio.to_thread(decode_image, data)
        except DownloadError as exc:
            if self.ref is ref:
                self.label.setText(self.tr("The picture cannot be shown: %1").replace("%1", str(exc)))
            return
        if self.ref is not ref:
            return  # another picture was asked for meanwhile
        if image.isNull():
            self.label.setText(self.tr("The picture cannot be shown: it is damaged"))
            return
        screen = (self.screen() or QGuiApplication.primaryScreen()).availableGeometry()
        fit = image.size().boundedTo(screen.size() * 0.85)
        if fit != image.size():
            image = image.scaled(fit, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        self.label.setText("")
        self.label.setPixmap(QPixmap.fromImage(image))
        self.resize(image.size().grownBy(self.contentsMargins()).expandedTo(self.minimumSizeHint()))
