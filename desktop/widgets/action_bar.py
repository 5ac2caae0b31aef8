"""The strip above the message box while a reply or an edit is being written."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QToolButton

__all__ = ["ActionBar"]


class ActionBar(QFrame):
    """"Replying to bob: first line" or "Editing your message", with a ✕ to cancel.

    Signals:
        cancelled(): the ✕ was clicked.
    """

    cancelled = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("actionBar")
        self.kind = ""  # "reply" | "edit" | "" (hidden)
        self._reply: tuple[str, str] = ("", "")
        self.label = QLabel(self)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # long text: cut
        self.close_button = QToolButton(self)
        self.close_button.setText("✕")
        self.close_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.close_button.clicked.connect(self.cancelled)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.close_button)
        self.setStyleSheet("#actionBar { background: #eef0ff; border-left: 3px solid #646cff; }"
                           "#actionBar[kind=\"edit\"] { background: #ecfdf5; border-left-color: #10b981; }"
                           "#actionBar QLabel { color: #1e1b4b; }")
        self.hide()

    def show_reply(self, sender: str, excerpt: str) -> None:
        self._reply = (sender, excerpt)
        self._show("reply")

    def show_edit(self) -> None:
        self._show("edit")

    def _show(self, kind: str) -> None:
        self.kind = kind
        self.setProperty("kind", kind)
        self.style().unpolish(self)
        self.style().polish(self)
        self.retranslate_ui()
        self.show()

    def clear(self) -> None:
        self.kind = ""
        self.hide()

    def retranslate_ui(self) -> None:
        self.close_button.setToolTip(self.tr("Cancel"))
        if self.kind == "reply":
            text = self.tr("Replying to %1: %2").replace("%1", self._reply[0]).replace("%2", self._reply[1])
        else:
            text = self.tr("Editing your message · Enter saves, Esc cancels")
        self.label.setText(text)
        self.label.setToolTip(text)

    def changeEvent(self, event) -> None:  # noqa: N802
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()
        super().changeEvent(event)
