"""What a guest accepts from a host: any server a guest joins may be hostile.

:func:`server.protocol.parse_server` turns a frame into a message if it is well formed;
:func:`received` then holds it to what a RoomChat server can send: text as long as the
server's own limits allow (longer is cut), names without control or invisible formatting
characters (a legitimate server refuses those at join), times and ids in range, at most
:data:`MEMBERS_MAX` members. Whatever a host sends, a guest's memory stays bounded (the
message list keeps the newest :data:`MESSAGES_KEPT`, desktop.models) and nothing from the
server is ever more than plain text.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata

from server.file_format import safe_file_name, valid_mime
from server.hub import HISTORY_FRAME_BYTES, HISTORY_FRAME_MAX
from server.protocol import (
    DEFAULT_LIMITS,
    ChatRecord,
    DeleteRecord,
    EditRecord,
    Error,
    FileRef,
    History,
    Members,
    Notice,
    Quote,
    Record,
    SearchResults,
    ServerMessage,
    TypingNotice,
    Welcome,
    parse_server,
)

__all__ = ["MAX_FRAME", "MAX_QUEUE", "MEMBERS_MAX", "MESSAGES_KEPT", "CONTENT_MAX", "label", "received"]

CONTENT_MAX = DEFAULT_LIMITS.content_max
"""Characters of a message or notice kept (the server refuses longer messages)."""

MAX_FRAME = 2 * HISTORY_FRAME_BYTES
"""Bytes of one frame (the client's max_size, 1 MiB): twice what a RoomChat server sends at
most (a history page); a bigger frame closes the connection with 1009. Parsing one frame of
this size takes a few tens of milliseconds at worst, so no frame can freeze the window."""

MAX_QUEUE = 4
"""Frames the websocket client reads ahead of the app (4 x MAX_FRAME at most)."""

MEMBERS_MAX = 1000
"""Names kept of a member list (the server's connection limits make real rooms smaller)."""

MESSAGES_KEPT = 5000
"""Rows the message list keeps; older ones are dropped behind a marker (desktop.models)."""

_TIME_MAX = 253_402_300_799_999  # 9999-12-31 in ms: beyond, Qt's date functions overflow
_ID_MAX = 2**63 - 1
_FILE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_INVISIBLE = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))


def label(value: object, maximum: int = DEFAULT_LIMITS.room_max) -> str:
    """A name as a guest shows it: text, no control or invisible formatting characters, cut."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > 4 * maximum:
        text = text[: 4 * maximum]
    return "".join(ch for ch in text if unicodedata.category(ch) not in _INVISIBLE)[:maximum].strip()


def _is_label(value: object, maximum: int = DEFAULT_LIMITS.room_max) -> bool:
    return isinstance(value, str) and 0 < len(value) <= maximum and value.isprintable() and value == value.strip()


def _optional_label(value: object, maximum: int = DEFAULT_LIMITS.name_max) -> str | None:
    return None if value is None else label(value, maximum) or None


def _text(value: str) -> str:
    return value if len(value) <= CONTENT_MAX else value[:CONTENT_MAX] + "…"


def _id(value: object) -> int:
    return value if isinstance(value, int) and 0 <= value <= _ID_MAX else 0


def _time(value: object) -> int:
    return value if isinstance(value, int) and 0 <= value <= _TIME_MAX else 0


def _file(ref: FileRef | None) -> FileRef | None:
    """A file as a guest shows and fetches it: a URL-safe id (else no file), a safe name, a valid type."""
    if ref is None or not _FILE_ID.fullmatch(ref.id):
        return None
    return FileRef(ref.id, safe_file_name(ref.name), min(max(ref.size, 0), _ID_MAX),
                   ref.mime if valid_mime(ref.mime) else "application/octet-stream",
                   ref.sha256 if _SHA256.fullmatch(ref.sha256) else "")


def _legitimate(record: Record) -> bool:
    """Everything within what a RoomChat server sends (most records): nothing to change."""
    nonce, content, reply = record.nonce, getattr(record, "content", ""), getattr(record, "reply", None)
    return (0 <= record.id <= _ID_MAX and 0 <= record.timestamp <= _TIME_MAX and len(content) <= CONTENT_MAX
            and (nonce is None or isinstance(nonce, str) and len(nonce) <= DEFAULT_LIMITS.nonce_max)
            and _is_label(record.sender, DEFAULT_LIMITS.name_max) and _is_label(record.room)
            and (record.to is None or _is_label(record.to, DEFAULT_LIMITS.name_max))
            and 0 <= getattr(record, "target", 0) <= _ID_MAX
            and 0 <= (getattr(record, "edited", 0) or 0) <= _TIME_MAX
            and (reply is None or _is_label(reply.sender, DEFAULT_LIMITS.name_max)
                 and len(reply.excerpt or "") <= CONTENT_MAX)
            and _file(getattr(record, "file", None)) == getattr(record, "file", None))


def _record(record: Record) -> Record:
    if _legitimate(record):
        return record
    nonce = record.nonce
    changes: dict = {
        "id": _id(record.id),
        "room": label(record.room),
        "sender": label(record.sender, DEFAULT_LIMITS.name_max) or "?",
        "timestamp": _time(record.timestamp),
        "to": _optional_label(record.to),
        "nonce": nonce if isinstance(nonce, str) and len(nonce) <= DEFAULT_LIMITS.nonce_max else None,
    }
    if not isinstance(record, DeleteRecord):
        changes["content"] = _text(record.content)
    if not isinstance(record, ChatRecord):
        changes["target"] = _id(record.target)
    else:
        changes["file"] = _file(record.file)
        if record.edited is not None:
            changes["edited"] = _time(record.edited)
        if record.reply is not None:
            reply = record.reply
            changes["reply"] = Quote(_id(reply.id), label(reply.sender, DEFAULT_LIMITS.name_max) or "?",
                                     None if reply.excerpt is None else _text(reply.excerpt))
    return dataclasses.replace(record, **changes)


def _members(names: tuple[str, ...]) -> tuple[str, ...]:
    kept = (label(name, DEFAULT_LIMITS.name_max) for name in names[:MEMBERS_MAX])
    return tuple(name for name in kept if name)


def clip(message: ServerMessage) -> ServerMessage:
    """The message held to what a RoomChat server may send."""
    if isinstance(message, (ChatRecord, EditRecord, DeleteRecord)):
        return _record(message)
    if isinstance(message, SearchResults):
        return SearchResults(_text(message.query), tuple(_record(r) for r in message.messages[:HISTORY_FRAME_MAX]),
                             message.nonce if isinstance(message.nonce, str) else None)
    if isinstance(message, History):
        return History(tuple(_record(r) for r in message.messages[-HISTORY_FRAME_MAX:]), message.truncated)
    if isinstance(message, Members):
        return Members(_members(message.members))
    if isinstance(message, Welcome):
        return dataclasses.replace(
            message, room=label(message.room), user_id=label(message.user_id, DEFAULT_LIMITS.name_max),
            members=_members(message.members), resume=message.resume[: DEFAULT_LIMITS.key_max],
            last_id=message.last_id if 0 <= message.last_id <= _ID_MAX else 0,
        )
    if isinstance(message, Notice):
        event = message.event if isinstance(message.event, str) else None
        return Notice(_text(message.content), event and label(event, 32), _optional_label(message.user_id))
    if isinstance(message, TypingNotice):
        return TypingNotice(label(message.sender, DEFAULT_LIMITS.name_max), message.active)
    if isinstance(message, Error):
        nonce = message.nonce if isinstance(message.nonce, str) else None
        return Error(message.code, _text(message.content), nonce)
    return message


def received(text: str | bytes) -> ServerMessage:
    """Parse a frame from the server and hold it to the guest's limits (ProtocolError if bad)."""
    return clip(parse_server(text))
