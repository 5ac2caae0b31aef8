"""The bottom of the chat area: private-mode chip, typing line, message box and Send button."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QMimeData, Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.widgets.emoji_picker import EmojiButton
from desktop.widgets.mention_completer import MentionCompleter
from server.protocol import DEFAULT_LIMITS

__all__ = ["MessageEdit", "Composer", "typing_text", "local_files", "COUNTER_FROM"]

MAX_LINES = 5

CONTENT_MAX = DEFAULT_LIMITS.content_max
"""The server refuses longer messages (characters = code points, as the server counts)."""

COUNTER_FROM = CONTENT_MAX - 500
"""The character counter appears once a message is this long."""


def local_files(mime: QMimeData | None) -> list[str]:
    """The local files dragged or pasted (file:// URLs); [] if there are none."""
    if mime is None or not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


class MessageEdit(QPlainTextEdit):
    """Enter sends, Shift+Enter starts a new line; grows up to five lines. Files dropped or
    pasted here, and pasted pictures, are handed on to be sent; text stays text.

    Signals:
        submitted(): Enter was pressed.
        filesGiven(list[str]): local files were dropped or pasted.
        imagePasted(QImage): a picture was pasted (a screenshot).
    """

    submitted = Signal()
    filesGiven = Signal(list)
    imagePasted = Signal(QImage)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("messageEdit")
        self.setTabChangesFocus(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.document().documentLayout().documentSizeChanged.connect(self._fit_height)
        self._hints = ("", "")
        self.mention_completer = MentionCompleter(self)
        self._fit_height()

    def set_hints(self, full: str, short: str) -> None:
        """Placeholder texts: ``full`` where it fits on one line, else ``short`` (no wrapping)."""
        self._hints = (full, short)
        self.setToolTip(full)
        self._fit_hint()

    def _fit_hint(self) -> None:
        full, short = self._hints
        room = self.viewport().width() - 2 * self.document().documentMargin() - 4
        self.setPlaceholderText(full if self.fontMetrics().horizontalAdvance(full) <= room else short)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit_hint()

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if self.mention_completer.handles_key(event.key()):
            event.ignore()  # the open @name popup takes it
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
            else:
                self.submitted.emit()
            return
        super().keyPressEvent(event)

    def canInsertFromMimeData(self, source: QMimeData) -> bool:  # noqa: N802 - Qt override
        return bool(local_files(source)) or source.hasImage() or super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source: QMimeData) -> None:  # noqa: N802 - Qt override
        files = local_files(source)
        if files:
            self.filesGiven.emit(files)
        elif source.hasImage():
            self.imagePasted.emit(QImage(source.imageData()))
        else:
            super().insertFromMimeData(source)

    def _fit_height(self, *_args) -> None:
        wanted = max(1, int(self.document().size().height()))
        lines = min(MAX_LINES, wanted)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded if wanted > MAX_LINES
                                        else Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        margins = self.contentsMargins()
        frame = int(self.document().documentMargin() * 2) + margins.top() + margins.bottom()
        self.setFixedHeight(lines * self.fontMetrics().lineSpacing() + frame + 8)


def typing_text(names: list[str]) -> str:
    """"alice is typing…", "alice and bob are typing…", "several people are typing…"."""
    if not names:
        return ""
    if len(names) == 1:
        return QCoreApplication.translate("Composer", "%1 is typing…").replace("%1", names[0])
    if len(names) == 2:
        return QCoreApplication.translate("Composer", "%1 and %2 are typing…").replace("%1", names[0]).replace("%2", names[1])
    return QCoreApplication.translate("Composer", "Several people are typing…")


class Composer(QWidget):
    """Where a message is written; the window decides what sending means.

    Signals:
        sendRequested(str, object): text and the private addressee (None = everyone).
        privateCleared(): the chip's ✕ was clicked.
        attachRequested(): the attach button was clicked.
        filesGiven(list[str]), imagePasted(QImage): from the message box (MessageEdit).
    """

    sendRequested = Signal(str, object)
    privateCleared = Signal()
    attachRequested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self._private_to: str | None = None
        self._typers: list[str] = []

        self.typing_label = QLabel(self)
        self.typing_label.setObjectName("typingLabel")
        self.typing_label.setTextFormat(Qt.TextFormat.PlainText)

        self.private_chip = QFrame(self)
        self.private_chip.setObjectName("privateChip")
        chip_layout = QHBoxLayout(self.private_chip)
        chip_layout.setContentsMargins(10, 2, 4, 2)
        chip_layout.setSpacing(4)
        self.private_label = QLabel(self.private_chip)
        self.private_label.setTextFormat(Qt.TextFormat.PlainText)
        self.private_close = QToolButton(self.private_chip)
        self.private_close.setObjectName("privateClose")
        self.private_close.setText("✕")
        self.private_close.setCursor(Qt.CursorShape.PointingHandCursor)
        self.private_close.clicked.connect(self.clear_private)
        chip_layout.addWidget(self.private_label)
        chip_layout.addWidget(self.private_close)
        self.private_chip.hide()

        self.edit = MessageEdit(self)
        self.edit.submitted.connect(self.submit)
        self.filesGiven, self.imagePasted = self.edit.filesGiven, self.edit.imagePasted
        self.attach_button = QToolButton(self)
        self.attach_button.setObjectName("attachButton")
        self.attach_button.setText("📎")
        self.attach_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.attach_button.clicked.connect(self.attachRequested)
        self.send_button = QPushButton(self)
        self.send_button.setObjectName("sendButton")
        self.send_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.send_button.clicked.connect(self.submit)
        self.send_button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

        self.counter = QLabel(self)
        self.counter.setObjectName("charCounter")
        self.counter.setTextFormat(Qt.TextFormat.PlainText)
        self.counter.hide()
        self.edit.textChanged.connect(self._update_counter)

        self.emoji_button = EmojiButton(self)
        self.emoji_button.picked.connect(self.insert_emoji)

        chips = QHBoxLayout()
        chips.setContentsMargins(0, 0, 0, 0)
        chips.addWidget(self.private_chip)
        chips.addWidget(self.typing_label, 1)
        chips.addWidget(self.counter)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        row.addWidget(self.attach_button, 0, Qt.AlignmentFlag.AlignBottom)
        row.addWidget(self.edit, 1)
        row.addWidget(self.emoji_button, 0, Qt.AlignmentFlag.AlignBottom)
        row.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 6, 16, 16)
        layout.setSpacing(6)
        layout.addLayout(chips)
        layout.addLayout(row)
        self.retranslate_ui()

    @property
    def private_to(self) -> str | None:
        return self._private_to

    def set_private(self, member: str) -> None:
        self._private_to = member
        self.private_label.setText(self.tr("Private to %1").replace("%1", member))
        self.private_chip.show()
        self.edit.setFocus()

    def clear_private(self) -> None:
        if self._private_to is None:
            return
        self._private_to = None
        self.private_chip.hide()
        self.privateCleared.emit()

    def set_members(self, others: list[str]) -> None:
        """Who "@" offers: the room's members but oneself."""
        self.edit.mention_completer.set_members(others)

    def set_typers(self, names: list[str]) -> None:
        self._typers = list(names)
        self.typing_label.setText(typing_text(self._typers))

    def set_enabled(self, enabled: bool) -> None:
        self.edit.setEnabled(enabled)
        self.attach_button.setEnabled(enabled)
        self.send_button.setEnabled(enabled and not self.too_long)

    @property
    def too_long(self) -> bool:
        return len(self.edit.toPlainText()) > CONTENT_MAX

    def _update_counter(self) -> None:
        """Show "3,612 / 4,000" near the limit; over it, say how much to cut (Send is off)."""
        length = len(self.edit.toPlainText())
        over = length > CONTENT_MAX
        self.counter.setVisible(length >= COUNTER_FROM)
        self.counter.setProperty("over", over)
        if over:
            self.counter.setText(self.tr("Too long: %1 / %2, remove %3").replace("%1", str(length))
                                 .replace("%2", str(CONTENT_MAX)).replace("%3", str(length - CONTENT_MAX)))
        else:
            self.counter.setText(f"{length} / {CONTENT_MAX}")
        self.counter.style().unpolish(self.counter)
        self.counter.style().polish(self.counter)
        self.send_button.setEnabled(self.edit.isEnabled() and not over)

    def insert_emoji(self, emoji: str) -> None:
        """Put the emoji at the cursor; the picker stays open for another."""
        self.edit.insertPlainText(emoji)

    def submit(self) -> None:
        """Send what is typed; a message over the limit stays in the box (the counter says why)."""
        text = self.edit.toPlainText()
        if not text.strip() or not self.edit.isEnabled() or self.too_long:
            return
        self.sendRequested.emit(text, self._private_to)
        self.edit.clear()

    def retranslate_ui(self) -> None:
        self.edit.set_hints(self.tr("Type a message…  (Enter sends, Shift+Enter: new line)"),
                            self.tr("Type a message…"))
        self.send_button.setText(self.tr("Send"))
        self.attach_button.setToolTip(self.tr("Send files (or drop them here, or paste a picture)"))
        self.private_close.setToolTip(self.tr("Send to everyone again"))
        if self._private_to is not None:
            self.private_label.setText(self.tr("Private to %1").replace("%1", self._private_to))
        self.typing_label.setText(typing_text(self._typers))
        self._update_counter()

    def changeEvent(self, event) -> None:  # noqa: N802
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()
        super().changeEvent(event)
