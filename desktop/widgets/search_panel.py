"""Ctrl+F: search the room's history on the server and jump to a result.

The panel only renders: it asks for a search with ``searchRequested`` and shows what
:meth:`SearchPanel.show_results` is given; the results are a model/view list.
"""

from __future__ import annotations

from PySide6.QtCore import QDateTime, QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QLineEdit, QListView, QToolButton, QVBoxLayout

from server.protocol import DEFAULT_LIMITS, SearchResults

__all__ = ["SearchPanel", "ID_ROLE"]

ID_ROLE = Qt.ItemDataRole.UserRole + 1
"""A result row's message id."""

DEBOUNCE_MS = 300


class SearchPanel(QFrame):
    """A query field over a list of matches, newest first.

    Signals:
        searchRequested(str): the query, typed and settled (or Enter).
        resultActivated(int): the message id of the clicked (or Enter-ed) result.
    """

    searchRequested = Signal(str)
    resultActivated = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("searchPanel")
        self.query = QLineEdit(self)
        self.query.setObjectName("searchQuery")
        self.query.setClearButtonEnabled(True)
        self.query.setMaxLength(DEFAULT_LIMITS.query_max)
        self.close_button = QToolButton(self)
        self.close_button.setText("✕")
        self.close_button.clicked.connect(self.close_panel)
        self.status = QLabel(self)
        self.status.setObjectName("searchStatus")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.results = QStandardItemModel(self)
        self.list = QListView(self)
        self.list.setObjectName("searchResults")
        self.list.setModel(self.results)
        self.list.setWordWrap(True)
        self.list.setUniformItemSizes(False)
        self.list.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        self.list.activated.connect(self._activated)
        self.list.clicked.connect(self._activated)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.ask)
        self.query.textEdited.connect(lambda _text: self._debounce.start())
        self.query.returnPressed.connect(self.ask)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.close_panel,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.query, 1)
        row.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 8, 16, 8)
        layout.setSpacing(4)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.list, 1)
        self._state: tuple[str, int] = ("", 0)  # what the status line says: key and count
        self.setMaximumHeight(260)
        self.retranslate_ui()
        self.hide()

    def open_panel(self) -> None:
        self.show()
        self.query.setFocus()
        self.query.selectAll()

    def close_panel(self) -> None:
        self._debounce.stop()
        self.hide()

    def clear(self) -> None:
        self.query.clear()
        self.results.clear()
        self._set_status("", 0)
        self.close_panel()

    def ask(self) -> None:
        self._debounce.stop()
        query = " ".join(self.query.text().split())
        if not query:
            self.results.clear()
            self._set_status("", 0)
            return
        if len(query.split()) > DEFAULT_LIMITS.query_terms_max:
            self._set_status("too_long", 0)
            return
        self.results.clear()
        self._set_status("searching", 0)
        self.searchRequested.emit(query)

    def show_results(self, results: SearchResults) -> None:
        self.results.clear()
        for record in results.messages:
            when = QDateTime.fromMSecsSinceEpoch(record.timestamp).toString("yyyy-MM-dd HH:mm")
            head = f"{record.sender} · {when}" + (" · " + self.tr("private") if record.to else "")
            row = QStandardItem(f"{head}\n{' '.join(record.content.split())}")
            row.setData(record.id, ID_ROLE)
            row.setToolTip(record.content)
            self.results.appendRow(row)
        self._set_status("found", len(results.messages))

    def show_failure(self, code: str) -> None:
        self._set_status("failed:" + code, 0)

    def show_not_loaded(self) -> None:
        self._set_status("not_loaded", self.results.rowCount())

    def _activated(self, index) -> None:
        message_id = index.data(ID_ROLE)
        if message_id:
            self.resultActivated.emit(int(message_id))

    def _set_status(self, key: str, count: int) -> None:
        self._state = (key, count)
        if key == "searching":
            text = self.tr("Searching…")
        elif key == "found" and count == 0:
            text = self.tr("No messages found.")
        elif key == "found":
            text = self.tr("%1 messages found, newest first").replace("%1", str(count))
        elif key == "not_loaded":
            text = self.tr("That message is older than the history loaded here.")
        elif key == "too_long":
            text = self.tr("Use at most 8 words.")
        elif key.startswith("failed:"):
            text = self.tr("The search failed (%1).").replace("%1", key.split(":", 1)[1])
        else:
            text = ""
        self.status.setText(text)

    def retranslate_ui(self) -> None:
        self.query.setPlaceholderText(self.tr("Search this room's messages…"))
        self.close_button.setToolTip(self.tr("Close search (Esc)"))
        self._set_status(*self._state)

    def changeEvent(self, event) -> None:  # noqa: N802
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()
        super().changeEvent(event)
