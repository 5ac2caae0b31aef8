"""The emoji button beside the message box and the grid it pops up (non-modal)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, Qt, Signal
from PySide6.QtWidgets import QFrame, QGridLayout, QToolButton, QWidget

from desktop.emoji import PICKER_EMOJI

__all__ = ["EmojiPicker", "EmojiButton"]

COLUMNS = 8


class EmojiPicker(QFrame):
    """A popup grid of emoji; clicking one emits it and leaves the popup open for more.

    It is a Qt.Popup: a click outside or Escape closes it, nothing else is blocked.

    Signals:
        picked(str): an emoji was chosen.
    """

    picked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("emojiPicker")
        grid = QGridLayout(self)
        grid.setContentsMargins(6, 6, 6, 6)
        grid.setSpacing(2)
        self.buttons: list[QToolButton] = []
        for number, emoji in enumerate(PICKER_EMOJI):
            button = QToolButton(self)
            button.setObjectName("emojiChoice")
            button.setText(emoji)
            button.setAutoRaise(True)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.clicked.connect(lambda _checked=False, e=emoji: self.picked.emit(e))
            grid.addWidget(button, number // COLUMNS, number % COLUMNS)
            self.buttons.append(button)


class EmojiButton(QToolButton):
    """☺ beside the message box: opens the picker above itself.

    Signals:
        picked(str): forwarded from the picker.
    """

    picked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emojiButton")
        self.setText("😊")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.picker = EmojiPicker(self)
        self.picker.picked.connect(self.picked)
        self.clicked.connect(self.open_picker)
        self.retranslate_ui()

    def open_picker(self) -> None:
        self.picker.adjustSize()
        size = self.picker.sizeHint()
        corner = self.mapToGlobal(QPoint(self.width(), 0))
        self.picker.move(corner.x() - size.width(), corner.y() - size.height() - 4)
        self.picker.show()

    def retranslate_ui(self) -> None:
        self.setToolTip(self.tr("Insert an emoji"))

    def changeEvent(self, event) -> None:  # noqa: N802
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()
        super().changeEvent(event)
