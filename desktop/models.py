"""Item models behind the chat window: the message list and the member list.

The message list holds plain Python items (one small slotted object per
message) so that 100,000 messages stay cheap; views read them through roles,
and the bubble delegate reads the whole item through :data:`Role.ITEM`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from PySide6.QtCore import (
    QAbstractListModel,
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)

from desktop.guard import MESSAGES_KEPT
from desktop.mentions import mentions
from server.protocol import ChatRecord, DeleteRecord, EditRecord, FileRef, Notice, Quote, Record

__all__ = ["Kind", "DeliveryState", "Role", "MessageItem", "MessageModel", "notice_text"]


class Kind(str, enum.Enum):
    """Who a bubble belongs to, which decides its side and colour."""

    OWN = "own"
    OTHER = "other"
    SYSTEM = "system"


class DeliveryState(str, enum.Enum):
    """Where an own message is on its way to the server."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class Role(enum.IntEnum):
    """Item data roles of :class:`MessageModel` (DisplayRole gives the content)."""

    SENDER = Qt.ItemDataRole.UserRole + 1
    CONTENT = Qt.ItemDataRole.UserRole + 2
    TIMESTAMP = Qt.ItemDataRole.UserRole + 3
    KIND = Qt.ItemDataRole.UserRole + 4
    STATE = Qt.ItemDataRole.UserRole + 5
    PRIVATE = Qt.ItemDataRole.UserRole + 6
    TO = Qt.ItemDataRole.UserRole + 7
    ID = Qt.ItemDataRole.UserRole + 8
    NONCE = Qt.ItemDataRole.UserRole + 9
    ERROR = Qt.ItemDataRole.UserRole + 10
    ITEM = Qt.ItemDataRole.UserRole + 11


def notice_text(event: str | None, user: str | None, fallback: str) -> str:
    """A system notice in the UI language: known events are translated, others kept as sent."""
    if event == "join" and user:
        return QCoreApplication.translate("MessageModel", "%1 joined the room").replace("%1", user)
    if event == "leave" and user:
        return QCoreApplication.translate("MessageModel", "%1 left the room").replace("%1", user)
    if event == "welcome" and user:  # user: the room; fallback: how many are online
        return QCoreApplication.translate("MessageModel", "Joined %1 (%2 online)").replace(
            "%1", user).replace("%2", fallback)
    if event == "rejoined" and user:
        return QCoreApplication.translate("MessageModel", "Reconnected to %1").replace("%1", user)
    if event == "unread":
        return QCoreApplication.translate("MessageModel", "New messages")
    if event == "dropped":  # fallback: how many
        return QCoreApplication.translate(
            "MessageModel", "%1 older messages are no longer kept in this window").replace("%1", fallback)
    if event == "truncated":
        return QCoreApplication.translate(
            "MessageModel", "You were away a long time: only the newest 1,000 messages are shown."
        )
    if event == "history_reset":
        return QCoreApplication.translate(
            "MessageModel", "The server lost this room's history: earlier messages are gone there."
        )
    return fallback


class MessageItem:
    """One row: a chat message (own or other) or a system notice."""

    __slots__ = ("id", "sender", "content", "timestamp", "kind", "state", "to", "nonce",
                 "error", "event", "refusal", "mentioned", "quote", "edited", "deleted", "file", "transfer", "saved")

    def __init__(self, *, id: int, sender: str, content: str, timestamp: int, kind: Kind,
                 state: DeliveryState = DeliveryState.DELIVERED, to: str | None = None,
                 nonce: str | None = None, error: str = "", event: str | None = None) -> None:
        self.id = id
        self.sender = sender
        self.content = content
        self.timestamp = timestamp
        self.kind = kind
        self.state = state
        self.to = to
        self.nonce = nonce
        self.error = error
        self.event = event
        self.refusal: str | None = None
        """The server's error code when it refused this message (FAILED); None = retry may work."""
        self.mentioned = False
        """Someone else's message that says "@" + our name (highlighted, notifies)."""
        self.quote: Quote | None = None
        """The message this one replies to (sender, first line; excerpt None: deleted)."""
        self.edited = False
        self.deleted = False
        self.file: FileRef | None = None
        """A shared file (its ``id`` is empty while our own upload is still on its way)."""
        self.transfer = -1
        """Bytes uploaded (own pending file) or saved so far (a Save in progress); -1: none."""
        self.saved = ""
        """Where this file was saved on this computer (its Open button opens that)."""

    @property
    def text(self) -> str:
        """What the bubble shows: the content, or for a notice its translated sentence."""
        if self.kind is Kind.SYSTEM:
            return notice_text(self.event, self.sender, self.content)
        if self.deleted:
            return QCoreApplication.translate("MessageModel", "Message deleted")
        if self.file is not None:
            return self.file.name
        return self.content


class MessageModel(QAbstractListModel):
    """The messages of the current room, oldest first, own unconfirmed ones last.

    Messages with a server id are unique by id (history after a reconnect may
    repeat what is already shown). Own messages enter as *pending* under their
    nonce and are replaced by the server's copy when it arrives. Rows are
    inserted one ``beginInsertRows`` per burst, never one per message.
    """

    def __init__(self, own_name: str = "", parent=None, *, kept: int = MESSAGES_KEPT) -> None:
        super().__init__(parent)
        self.kept = kept
        self._marker: MessageItem | None = None  # the first row once older rows were dropped
        self._items: list[MessageItem] = []
        self._ids: set[int] = set()
        self._by_nonce: dict[str, MessageItem] = {}
        self._by_id: dict[int, MessageItem] = {}
        self.own_name = own_name

    # Qt model interface ---------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._items)

    def roleNames(self) -> dict[int, bytes]:
        names = dict(super().roleNames())
        names.update({int(role): role.name.lower().encode() for role in Role})
        return names

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._items):
            return None
        item = self._items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole or role == Role.CONTENT:
            return item.text
        if role == Role.ITEM:
            return item
        if role == Role.SENDER:
            return item.sender
        if role == Role.TIMESTAMP:
            return item.timestamp
        if role == Role.KIND:
            return item.kind.value
        if role == Role.STATE:
            return item.state.value
        if role == Role.PRIVATE:
            return item.to is not None
        if role == Role.TO:
            return item.to
        if role == Role.ID:
            return item.id
        if role == Role.NONCE:
            return item.nonce
        if role == Role.ERROR:
            return item.error
        if role == Qt.ItemDataRole.ToolTipRole and item.state is DeliveryState.FAILED and not item.refusal:
            return item.error
        return None

    def flags(self, index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    # Reading --------------------------------------------------------------

    def item(self, row: int) -> MessageItem:
        return self._items[row]

    def items(self) -> tuple[MessageItem, ...]:
        return tuple(self._items)

    def ids(self) -> list[int]:
        """Server ids in display order (tests check for loss and duplicates with this)."""
        return [item.id for item in self._items if item.id]

    def row_of_id(self, message_id: int) -> int:
        """The row of message ``message_id``, -1 if it is not loaded."""
        item = self._by_id.get(message_id)
        return -1 if item is None else self._items.index(item)

    def row_of_nonce(self, nonce: str) -> int:
        item = self._by_nonce.get(nonce)
        return -1 if item is None else self._items.index(item)

    # Changing -------------------------------------------------------------

    def _confirmed_end(self) -> int:
        """Where server-confirmed rows go: before the trailing block of unconfirmed own ones."""
        row = len(self._items)
        while row and self._items[row - 1].state is not DeliveryState.DELIVERED:
            row -= 1
        return row

    def _insert(self, row: int, items: list[MessageItem]) -> None:
        if not items:
            return
        self.beginInsertRows(QModelIndex(), row, row + len(items) - 1)
        self._items[row:row] = items
        self.endInsertRows()
        self._drop_oldest()

    def _drop_oldest(self) -> None:
        """Keep the newest ``kept`` rows; the first row counts what was dropped."""
        marker = self._marker if self._items and self._items[0] is self._marker else None
        first = 0 if marker is None else 1
        excess = len(self._items) - first - self.kept
        if excess <= 0:
            return
        dropped = self._items[first : first + excess]
        self.beginRemoveRows(QModelIndex(), first, first + excess - 1)
        del self._items[first : first + excess]
        self.endRemoveRows()
        for item in dropped:
            self._ids.discard(item.id)
            if self._by_id.get(item.id) is item:
                del self._by_id[item.id]
            if item.nonce is not None:
                self._by_nonce.pop(item.nonce, None)
        if marker is None:
            self._marker = MessageItem(id=0, sender="", content=str(excess), kind=Kind.SYSTEM,
                                       timestamp=dropped[-1].timestamp, event="dropped")
            self.beginInsertRows(QModelIndex(), 0, 0)
            self._items.insert(0, self._marker)
            self.endInsertRows()
        else:
            marker.content = str(int(marker.content) + excess)
            self._changed(0)

    def _record_item(self, record: ChatRecord) -> MessageItem:
        own = bool(self.own_name) and record.sender == self.own_name
        item = MessageItem(id=record.id, sender=record.sender, content=record.content,
                           timestamp=record.timestamp, kind=Kind.OWN if own else Kind.OTHER,
                           to=record.to)
        item.mentioned = not own and mentions(record.content, self.own_name)
        item.quote, item.edited, item.deleted = record.reply, record.edited is not None, record.deleted
        item.file = None if record.deleted else record.file
        if record.id:
            self._by_id[record.id] = item
        return item

    def add_records(self, records: Iterable[Record]) -> int:
        """Append server messages in one insertion, skipping ids already shown; return how many.

        Edit and delete events change the message they name in place (and add no row).
        """
        fresh = []
        for record in records:
            if record.id and record.id in self._ids:
                continue
            if isinstance(record, (EditRecord, DeleteRecord)):
                self._ids.add(record.id)
                self._amend(record)
                continue
            if record.nonce and record.nonce in self._by_nonce:
                self.deliver(record.nonce, record)
                continue
            if record.id:
                self._ids.add(record.id)
            fresh.append(self._record_item(record))
        self._insert(self._confirmed_end(), fresh)
        return len(fresh)

    def add_notice(self, notice: Notice, timestamp: int) -> None:
        item = MessageItem(id=0, sender=notice.user_id or "", content=notice.content,
                           timestamp=timestamp, kind=Kind.SYSTEM, event=notice.event)
        self._insert(self._confirmed_end(), [item])

    def place_unread_marker(self) -> None:
        """Put the one "New messages" line where the next message will go (desktop.unread)."""
        for row, item in enumerate(self._items):
            if item.kind is Kind.SYSTEM and item.event == "unread":
                self._remove(row)
                break
        self.add_notice(Notice("New messages", "unread"), 0)

    def add_pending(self, nonce: str, record: ChatRecord) -> None:
        """Show an own message at once, before the server confirmed it; a retried one moves last."""
        if nonce in self._by_nonce:
            self._remove(self._items.index(self._by_nonce.pop(nonce)))
        item = MessageItem(id=0, sender=record.sender, content=record.content,
                           timestamp=record.timestamp, kind=Kind.OWN,
                           state=DeliveryState.PENDING, to=record.to, nonce=nonce)
        item.quote, item.file = record.reply, record.file
        self._by_nonce[nonce] = item
        self._insert(len(self._items), [item])

    def deliver(self, nonce: str, record: ChatRecord) -> None:
        """The server stored an own message: give the pending row its id and time."""
        item = self._by_nonce.pop(nonce, None)
        if item is None or (record.id and record.id in self._ids):
            if item is not None:  # already shown under its id: drop the provisional copy
                self._remove(self._items.index(item))
            else:
                self.add_records([record])
            return
        row = self._items.index(item)
        target = self._confirmed_end()
        if row != target:
            self.beginMoveRows(QModelIndex(), row, row, QModelIndex(), target)
            self._items.insert(target, self._items.pop(row))
            self.endMoveRows()
            row = target
        item.id = record.id
        item.timestamp = record.timestamp or item.timestamp
        item.state = DeliveryState.DELIVERED
        item.error = ""
        item.quote = record.reply or item.quote
        item.file, item.transfer = record.file or item.file, -1
        if record.id:
            self._ids.add(record.id)
            self._by_id[record.id] = item
        self._changed(row)

    def _amend(self, event: EditRecord | DeleteRecord) -> None:
        target = self._by_id.get(event.target)
        if target is not None and not target.deleted:
            if isinstance(event, EditRecord):
                target.content, target.edited = event.content, True
            else:
                target.content, target.deleted, target.quote = "", True, None
                target.mentioned, target.file = False, None
            self._changed(self._items.index(target))
        if isinstance(event, DeleteRecord):  # the quotes of it say so from now on
            for row, item in enumerate(self._items):
                if item.quote is not None and item.quote.id == event.target and item.quote.excerpt is not None:
                    item.quote = Quote(item.quote.id, item.quote.sender, None)
                    self._changed(row)

    def refuse(self, nonce: str, code: str) -> None:
        """The server refused an own message with ``code`` (fail() follows with the reason)."""
        item = self._by_nonce.get(nonce)
        if item is not None:
            item.refusal = code

    def fail(self, nonce: str, reason: str) -> None:
        item = self._by_nonce.get(nonce)
        if item is not None:
            item.state = DeliveryState.FAILED
            item.error = reason
            self._changed(self._items.index(item))

    def set_transfer(self, item: MessageItem, done: int, *, saved: str | None = None, error: str | None = None) -> None:
        """Progress of an upload or a Save (-1 when over), where it was saved, or why it failed."""
        if item not in self._items:
            return
        item.transfer = done
        if saved is not None:
            item.saved = saved
        if error is not None:
            item.error = error
        self._changed(self._items.index(item))

    def by_nonce(self, nonce: str) -> MessageItem | None:
        return self._by_nonce.get(nonce)

    def remove_nonce(self, nonce: str) -> None:
        """Drop an own message that will never be sent (a cancelled upload)."""
        item = self._by_nonce.pop(nonce, None)
        if item is not None:
            self._remove(self._items.index(item))

    def file_changed(self, file_id: str) -> None:
        """A file's picture arrived: its rows are measured and painted again."""
        for row, item in enumerate(self._items):
            if item.file is not None and item.file.id == file_id:
                self._changed(row)

    def retranslate(self) -> None:
        """System notices are worded in the UI language; repaint them after a switch."""
        if self._items:
            self.dataChanged.emit(self.index(0), self.index(len(self._items) - 1))

    def clear(self) -> None:
        self.beginResetModel()
        self._items.clear()
        self._ids.clear()
        self._by_nonce.clear()
        self._by_id.clear()
        self.endResetModel()

    def _remove(self, row: int) -> None:
        self.beginRemoveRows(QModelIndex(), row, row)
        if self._by_id.get(self._items[row].id) is self._items[row]:
            del self._by_id[self._items[row].id]
        del self._items[row]
        self.endRemoveRows()

    def _changed(self, row: int) -> None:
        index = self.index(row)
        self.dataChanged.emit(index, index)
