""""Rooms on this network" in the sidebar: discovered hosts' rooms, then recent servers.

Each row is a room someone can join with a double-click or Enter: host name, room, member
count and a lock when the host requires a key. Recent servers (the fallback when multicast is
blocked) follow, marked as such, unless the same server is already listed live.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractListModel, QEvent, QModelIndex, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPixmap
from PySide6.QtWidgets import QFrame, QLabel, QListView, QVBoxLayout

from desktop.discovery import RoomEntry

__all__ = ["NetworkRoomsModel", "NetworkRooms", "NETWORK_ROOMS_STYLE"]

NETWORK_ROOMS_STYLE = """
#networkRoomsView { background: #16213e; color: #e0e0f0; border: 1px solid #333355; border-radius: 6px; }
#networkRoomsView::item { padding: 4px 4px; }
#networkRoomsView::item:selected { background: #2d2d55; color: #ffffff; }
#sidebar #networkRoomsHint { color: #8a8aa0; font-size: 8.5pt; }
"""
"""The list's part of the window's style sheet (the dark sidebar)."""


def _lock_icon(size: int = 14) -> QPixmap:
    """A small padlock, drawn (no icon font or emoji font needed)."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    colour = QColor("#fbbf24")
    pen = painter.pen()
    pen.setColor(colour)
    pen.setWidthF(size / 9)
    painter.setPen(pen)
    shackle = QPainterPath()
    shackle.moveTo(QPointF(size * 0.3, size * 0.5))
    shackle.arcTo(QRectF(size * 0.3, size * 0.1, size * 0.4, size * 0.5), 180, -180)
    painter.drawPath(shackle)
    painter.fillRect(QRectF(size * 0.18, size * 0.45, size * 0.64, size * 0.45), colour)
    painter.end()
    return pixmap


VISIBLE_ROWS = 4
"""Rows shown before the list scrolls."""


class NetworkRoomsModel(QAbstractListModel):
    """The rows; ``Qt.UserRole`` gives the RoomEntry."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._entries: list[RoomEntry] = []
        self._lock = _lock_icon()
        self._no_lock = QPixmap(self._lock.size())  # keeps unlocked rows' text aligned
        self._no_lock.fill(Qt.GlobalColor.transparent)

    def set_entries(self, entries: list[RoomEntry]) -> None:
        self.beginResetModel()
        self._entries = list(entries)
        self.endResetModel()

    def entries(self) -> list[RoomEntry]:
        return list(self._entries)

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._entries)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._entries):
            return None
        entry = self._entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(entry)
        if role == Qt.ItemDataRole.DecorationRole:
            return self._lock if entry.locked else self._no_lock
        if role == Qt.ItemDataRole.ToolTipRole:
            return entry.url.split("#", 1)[0].split("?", 1)[0]
        if role == Qt.ItemDataRole.UserRole:
            return entry
        return None

    def text(self, entry: RoomEntry) -> str:
        room = entry.room or self.tr("(no one in a room yet)")
        if entry.recent:
            return self.tr("%1 · %2 (recent)").replace("%1", room).replace("%2", entry.host)
        people = self.tr("1 person") if entry.members == 1 else self.tr("%1 people").replace(
            "%1", str(entry.members))
        return f"{room} · {entry.host}" + (f" · {people}" if entry.room else "")


class NetworkRooms(QFrame):
    """Title, list and a hint; double-click or Enter on a row asks to join it.

    Signals:
        joinRequested(url, room): the person picked a row (room "" = keep the room field).
    """

    joinRequested = Signal(str, str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("networkRooms")
        self._searching = False
        self.title = QLabel(self)
        self.title.setObjectName("fieldLabel")
        self.model = NetworkRoomsModel(self)
        self.view = QListView(self)
        self.view.setObjectName("networkRoomsView")
        self.view.setModel(self.model)
        self.view.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setTextElideMode(Qt.TextElideMode.ElideRight)  # the room name comes first
        self.view.activated.connect(self._activated)  # double-click and Enter
        self.hint = QLabel(self)
        self.hint.setObjectName("networkRoomsHint")
        self.hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.view)
        layout.addWidget(self.hint)
        self.retranslate_ui()

    def set_entries(self, entries: list[RoomEntry], *, searching: bool) -> None:
        """``searching``: discovery runs (else only the recent servers can be shown)."""
        self._searching = searching
        self.model.set_entries(entries)
        self.view.setVisible(bool(entries))
        shown = min(len(entries), VISIBLE_ROWS)  # as tall as its rows: the host panel stays in view
        row = self.view.sizeHintForRow(0) if entries else 0
        self.view.setFixedHeight(shown * row + 2 * self.view.frameWidth() + 4)
        self._render_hint()

    def _activated(self, index: QModelIndex) -> None:
        entry: RoomEntry = index.data(Qt.ItemDataRole.UserRole)
        self.joinRequested.emit(entry.url, entry.room)

    def _render_hint(self) -> None:
        live = any(not entry.recent for entry in self.model.entries())
        if live:
            text = self.tr("Double-click a room to join it.")
        elif self._searching:
            text = self.tr("Looking for rooms… None yet: type the host's address above.")
        else:
            text = self.tr("Rooms on the network cannot be listed here: type the host's address above.")
        self.hint.setText(text)

    def retranslate_ui(self) -> None:
        self.title.setText(self.tr("Rooms on this network"))
        self.model.layoutChanged.emit()  # row texts are rendered in the current language
        self._render_hint()

    def changeEvent(self, event) -> None:  # noqa: N802
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate_ui()
        super().changeEvent(event)
