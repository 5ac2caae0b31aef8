"""Completing "@name" in the message box from the room's members (a QCompleter popup)."""

from __future__ import annotations

from PySide6.QtCore import QObject, QStringListModel, Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QCompleter, QPlainTextEdit

from desktop.mentions import completion_prefix

__all__ = ["MentionCompleter"]


class MentionCompleter(QObject):
    """Typing "@" (then letters) pops up the matching members; Enter, Tab or a click inserts.

    The edit asks :meth:`handles_key` first, so Enter picks a name instead of sending.
    """

    def __init__(self, edit: QPlainTextEdit) -> None:
        super().__init__(edit)
        self._edit = edit
        self.members = QStringListModel(self)
        self.completer = QCompleter(self.members, self)
        self.completer.setWidget(edit)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchStartsWith)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.completer.popup().setObjectName("mentionPopup")
        self.completer.activated.connect(self.insert)
        edit.textChanged.connect(self._update)
        edit.cursorPositionChanged.connect(self._update)

    def set_members(self, names: list[str]) -> None:
        self.members.setStringList(sorted(names, key=str.casefold))

    @property
    def popup_visible(self) -> bool:
        return self.completer.popup().isVisible()

    def handles_key(self, key: int) -> bool:
        """Keys the open popup takes (it receives them itself through QCompleter's filter)."""
        return self.popup_visible and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab,
                                              Qt.Key.Key_Escape, Qt.Key.Key_Backtab)

    def _prefix(self) -> str | None:
        cursor = self._edit.textCursor()
        block_text = cursor.block().text()[: cursor.positionInBlock()]
        return completion_prefix(block_text)

    def _update(self) -> None:
        prefix = self._prefix()
        popup = self.completer.popup()
        if prefix is None or not self.members.rowCount():
            popup.hide()
            return
        if prefix != self.completer.completionPrefix():
            self.completer.setCompletionPrefix(prefix)
        if self.completer.completionCount() == 0:
            popup.hide()
            return
        popup.setCurrentIndex(self.completer.completionModel().index(0, 0))
        rect = self._edit.cursorRect()
        rect.setWidth(max(160, popup.sizeHintForColumn(0) + 24))
        self.completer.complete(rect)

    def insert(self, name: str) -> None:
        """Replace the "@prefix" before the cursor with "@name "."""
        prefix = self._prefix()
        if prefix is None:
            return
        cursor = self._edit.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.Left, QTextCursor.MoveMode.KeepAnchor,
                            len(prefix) + 1)
        cursor.insertText(f"@{name} ")
        self._edit.setTextCursor(cursor)
        self.completer.popup().hide()
