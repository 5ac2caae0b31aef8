"""RoomChat wire protocol: message types, parsing, validation and encoding.

No I/O here: the server and the desktop client both feed text frames to
:func:`parse_client` / :func:`parse_server` and send what :func:`encode`
returns, the way ``websockets`` keeps its framing in a sans-I/O core.

Two versions share one port:

* **v1** is the seed tutorial's protocol, unchanged, for its browser page.
* **v2** is chosen by offering the WebSocket subprotocol ``roomchat.v2``; it
  adds message ids, acknowledgements, history, members, private messages,
  typing, replies, edits, deletions, search and errors. docs/protocol.md
  describes every message.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import unicodedata
from dataclasses import dataclass
from typing import Any, Union

from .file_format import IMAGE_TYPES, file_path, safe_file_name, valid_mime

__all__ = [
    "SUBPROTOCOL",
    "HOST_CLOSED_REASON",
    "SHUTDOWN_REASON",
    "Version",
    "ErrorCode",
    "ProtocolError",
    "Limits",
    "Join",
    "Chat",
    "Edit",
    "Delete",
    "Search",
    "Typing",
    "Leave",
    "Ping",
    "FileOffer",
    "FileCancel",
    "ClientMessage",
    "FileRef",
    "Quote",
    "ChatRecord",
    "EditRecord",
    "DeleteRecord",
    "Record",
    "SearchResults",
    "Welcome",
    "History",
    "Members",
    "Notice",
    "TypingNotice",
    "Error",
    "Pong",
    "FileAccept",
    "FileAck",
    "ServerMessage",
    "parse_client",
    "parse_server",
    "encode",
    "encode_v1",
    "encode_record",
    "quote_of",
    "normalize_name",
    "name_key",
    "validate_room",
    "with_nonce",
    "presence_notices",
    "history_reset_notice",
    "welcome_text_v1",
    "name_taken_text_v1",
    "file_ref",
    "file_ref_obj",
]

SUBPROTOCOL = "roomchat.v2"

SHUTDOWN_REASON = "server shutting down"
"""Close reason (code 1001) when a headless server stops."""

HOST_CLOSED_REASON = "host closed the room"
"""Close reason (code 1001) when a desktop host stops hosting: guests say so, and keep trying."""
"""WebSocket subprotocol a client offers to speak v2; without it a connection is v1."""


class Version(enum.IntEnum):
    V1 = 1
    V2 = 2


class ErrorCode(str, enum.Enum):
    """Why the server refused something; clients translate these for people."""

    BAD_JSON = "bad_json"
    BAD_MESSAGE = "bad_message"
    UNKNOWN_TYPE = "unknown_type"
    NOT_JOINED = "not_joined"
    BAD_NAME = "bad_name"
    NAME_TAKEN = "name_taken"
    BAD_ROOM = "bad_room"
    BAD_KEY = "bad_key"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    RATE_LIMITED = "rate_limited"
    NO_SUCH_MEMBER = "no_such_member"
    UNAVAILABLE = "unavailable"
    NO_SUCH_MESSAGE = "no_such_message"
    NOT_ALLOWED = "not_allowed"
    TOO_LATE = "too_late"
    FILE_TOO_BIG = "file_too_big"
    STORAGE_FULL = "storage_full"
    TOO_MANY_UPLOADS = "too_many_uploads"
    UPLOAD_UNKNOWN = "upload_unknown"


class ProtocolError(ValueError):
    """A frame that cannot be accepted; ``code`` says why, ``nonce`` echoes the chat's."""

    def __init__(self, code: ErrorCode, message: str, nonce: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.nonce = nonce


@dataclass(frozen=True)
class Limits:
    """Bounds on what a client may send (frame size is the transport's)."""

    # Names
    name_max: int = 32
    room_max: int = 64
    # Content
    content_max: int = 4000
    nonce_max: int = 64
    key_max: int = 256
    # Search
    query_max: int = 200
    query_terms_max: int = 8
    # Files
    file_name_max: int = 255  # characters of a file name, after sanitising


DEFAULT_LIMITS = Limits()


# Client -> server ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Join:
    user_id: str
    room: str
    since: int | None = None
    resume: str | None = None
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Chat:
    content: str
    nonce: str | None = None
    to: str | None = None
    reply_to: int | None = None  # id of the message this one answers


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace the text of one's own message ``target``."""

    target: int
    content: str
    nonce: str | None = None


@dataclass(frozen=True, slots=True)
class Delete:
    """Delete one's own message ``target``."""

    target: int
    nonce: str | None = None


@dataclass(frozen=True, slots=True)
class Search:
    """Find messages of the current room (and one's own private ones) containing ``query``."""

    query: str
    nonce: str | None = None


@dataclass(frozen=True, slots=True)
class Typing:
    active: bool = True


@dataclass(frozen=True, slots=True)
class Leave:
    pass


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class FileOffer:
    """Start an upload of ``size`` bytes, or resume the one the server issued ``upload`` for."""

    name: str
    size: int
    mime: str = "application/octet-stream"
    nonce: str | None = None
    to: str | None = None
    upload: str | None = None


@dataclass(frozen=True, slots=True)
class FileCancel:
    """Stop an upload and let the server discard its bytes."""

    upload: str


ClientMessage = Union[Join, Chat, Edit, Delete, Search, Typing, Leave, Ping, FileOffer, FileCancel]
"""Everything a client may send."""


# Server -> client ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Quote:
    """What a reply shows of the message it answers; ``excerpt`` None: that one was deleted."""

    id: int
    sender: str
    excerpt: str | None


@dataclass(frozen=True, slots=True)
class FileRef:
    """A stored file as a message carries it. ``id`` is the download capability (random, not
    the hash); ``mime`` is one of IMAGE_TYPES only if the server found that type in the bytes."""

    id: str
    name: str
    size: int
    mime: str
    sha256: str

    @property
    def is_image(self) -> bool:
        return self.mime in IMAGE_TYPES


@dataclass(frozen=True, slots=True)
class ChatRecord:
    """One chat message as stored and delivered; ``to`` marks a private message.

    ``edited`` (time of the last edit) and ``deleted`` give the message's current state:
    history shows it as it is now, the events that changed it follow as their own records.
    A shared file is a message whose ``file`` is set; its ``content`` is the line a v1 page
    shows (name, size, download link).
    """

    id: int
    room: str
    sender: str
    content: str
    timestamp: int
    to: str | None = None
    nonce: str | None = None
    reply: Quote | None = None
    edited: int | None = None
    deleted: bool = False
    file: FileRef | None = None


@dataclass(frozen=True, slots=True)
class EditRecord:
    """The event "``sender`` changed message ``target`` to ``content``": an id of its own,
    so a resume with ``since`` delivers it exactly once."""

    id: int
    room: str
    sender: str
    target: int
    content: str
    timestamp: int
    to: str | None = None
    nonce: str | None = None


@dataclass(frozen=True, slots=True)
class DeleteRecord:
    """The event "``sender`` deleted message ``target``"."""

    id: int
    room: str
    sender: str
    target: int
    timestamp: int
    to: str | None = None
    nonce: str | None = None


Record = Union[ChatRecord, EditRecord, DeleteRecord]
"""Everything with a room id: stored, resumed and delivered in id order."""


@dataclass(frozen=True, slots=True)
class SearchResults:
    """The answer to a :class:`Search`: matching messages in their current state, newest first."""

    query: str
    messages: tuple[ChatRecord, ...]
    nonce: str | None = None


@dataclass(frozen=True, slots=True)
class Welcome:
    room: str
    user_id: str
    members: tuple[str, ...]
    resume: str
    last_id: int
    edit_window: float | None = None
    """Seconds after sending during which a message may still be edited or deleted (None: not said)."""


@dataclass(frozen=True, slots=True)
class History:
    messages: tuple[Record, ...]
    truncated: bool = False  # older messages after ``since`` were left out


@dataclass(frozen=True, slots=True)
class Members:
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Notice:
    """A system line; ``event`` ('join', 'leave', ...) lets v2 clients translate it."""

    content: str
    event: str | None = None
    user_id: str | None = None


@dataclass(frozen=True, slots=True)
class TypingNotice:
    sender: str
    active: bool


@dataclass(frozen=True, slots=True)
class Error:
    code: ErrorCode
    content: str
    nonce: str | None = None


@dataclass(frozen=True, slots=True)
class Pong:
    pass


@dataclass(frozen=True, slots=True)
class FileAccept:
    """The server takes an upload: send binary chunks under ``handle`` from ``offset`` on,
    at most ``chunk`` bytes of data each, never more than ``window`` bytes beyond the last ack.
    ``upload`` is the secret to resume it with after a reconnect."""

    upload: str
    handle: int
    offset: int
    window: int
    chunk: int
    nonce: str | None = None


@dataclass(frozen=True, slots=True)
class FileAck:
    """``offset`` bytes of ``upload`` are on the server's disk (credit for the next window)."""

    upload: str
    offset: int


ServerMessage = Union[
    ChatRecord, EditRecord, DeleteRecord, SearchResults, Welcome, History, Members, Notice, TypingNotice, Error, Pong,
    FileAccept, FileAck,
]
"""Everything the server may send."""


# Validation ---------------------------------------------------------------


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in text)


def _trimmed_label(value: Any, code: ErrorCode, what: str, maximum: int) -> str:
    """A name-like field: text, 1 to ``maximum`` characters after trimming, no control characters."""
    if not isinstance(value, str):
        raise ProtocolError(code, f"the {what} must be text")
    text = value.strip()
    if not 1 <= len(text) <= maximum:
        raise ProtocolError(code, f"the {what} must be 1 to {maximum} characters")
    if _has_control(text):
        raise ProtocolError(code, f"the {what} contains control characters")
    return text


def normalize_name(value: Any, limits: Limits = DEFAULT_LIMITS) -> str:
    """Return the trimmed user name or raise ProtocolError(BAD_NAME)."""
    return _trimmed_label(value, ErrorCode.BAD_NAME, "name", limits.name_max)


def name_key(name: str) -> str:
    """Names are unique per room without regard to case."""
    return name.casefold()


def validate_room(value: Any, limits: Limits = DEFAULT_LIMITS) -> str:
    """Return the trimmed room name or raise ProtocolError(BAD_ROOM)."""
    return _trimmed_label(value, ErrorCode.BAD_ROOM, "room name", limits.room_max)


def _content(value: Any, limits: Limits, nonce: str | None) -> str:
    if not isinstance(value, str):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "the message must be text", nonce)
    if not value.strip():
        raise ProtocolError(ErrorCode.EMPTY, "the message is empty", nonce)
    if len(value) > limits.content_max:
        raise ProtocolError(
            ErrorCode.TOO_LONG,
            f"the message is longer than {limits.content_max} characters",
            nonce,
        )
    if "\x00" in value:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "the message contains a NUL character", nonce)
    try:
        value.encode()  # lone surrogates from JSON escapes are not text
    except UnicodeEncodeError:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "the message contains invalid characters", nonce) from None
    return value


def _optional_str(obj: dict, key: str, maximum: int) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > maximum:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"'{key}' must be text of at most {maximum} characters")
    return value


def _optional_id(obj: dict, key: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"'{key}' must be a message id")
    return value


def _echoed_nonce(obj: dict, limits: Limits) -> str | None:
    """The nonce to echo in a refusal, if the frame carries a usable one."""
    nonce = obj.get("nonce")
    return nonce if isinstance(nonce, str) and len(nonce) <= limits.nonce_max else None


def _with_nonce(check, obj: dict, key: str, nonce: str | None):
    try:
        return check(obj, key)
    except ProtocolError as exc:
        raise ProtocolError(exc.code, exc.message, nonce) from None


def _required_id(obj: dict, nonce: str | None) -> int:
    """The ``id`` of the message an edit or delete refers to."""
    target = _with_nonce(_optional_id, obj, "id", nonce)
    if target is None:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "'id' must be a message id", nonce)
    return target


def _query(value: Any, limits: Limits, nonce: str | None) -> str:
    """A search query: text, not blank, bounded in length and in words (each costs a lookup)."""
    if not isinstance(value, str):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "the query must be text", nonce)
    query = " ".join(value.split())
    if not query:
        raise ProtocolError(ErrorCode.EMPTY, "the query is empty", nonce)
    if len(query) > limits.query_max or len(query.split()) > limits.query_terms_max:
        raise ProtocolError(
            ErrorCode.TOO_LONG,
            f"the query is longer than {limits.query_max} characters or {limits.query_terms_max} words",
            nonce,
        )
    if _has_control(query):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "the query contains control characters", nonce)
    return query


def _object(text: str | bytes) -> dict:
    if isinstance(text, bytes):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "frames must be text, not binary")
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError(ErrorCode.BAD_JSON, "the frame is not valid JSON") from None
    if not isinstance(obj, dict):
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "the frame must be a JSON object")
    return obj


# Parsing ------------------------------------------------------------------


def parse_client(text: str | bytes, limits: Limits = DEFAULT_LIMITS) -> ClientMessage:
    """Decode and validate one client frame; raise ProtocolError if it is refused."""
    obj = _object(text)
    kind = obj.get("type")
    if kind == "chat":
        nonce = _echoed_nonce(obj, limits)
        content = _content(obj.get("content"), limits, nonce)
        to = obj.get("to")
        if to is not None:
            try:
                to = normalize_name(to, limits)
            except ProtocolError as exc:
                raise ProtocolError(ErrorCode.NO_SUCH_MEMBER, exc.message, nonce) from None
        reply_to = _with_nonce(_optional_id, obj, "replyTo", nonce)
        return Chat(content, _optional_str(obj, "nonce", limits.nonce_max), to, reply_to)
    if kind == "edit":
        nonce = _echoed_nonce(obj, limits)
        target = _required_id(obj, nonce)
        return Edit(target, _content(obj.get("content"), limits, nonce), _optional_str(obj, "nonce", limits.nonce_max))
    if kind == "delete":
        nonce = _echoed_nonce(obj, limits)
        return Delete(_required_id(obj, nonce), _optional_str(obj, "nonce", limits.nonce_max))
    if kind == "search":
        nonce = _echoed_nonce(obj, limits)
        return Search(_query(obj.get("query"), limits, nonce), _optional_str(obj, "nonce", limits.nonce_max))
    if kind == "ping":
        return Ping()
    if kind == "join":
        return Join(
            normalize_name(obj.get("userId"), limits),
            validate_room(obj.get("room"), limits),
            since=_optional_id(obj, "since"),
            resume=_optional_str(obj, "resume", limits.key_max),
            key=_optional_str(obj, "key", limits.key_max),
        )
    if kind == "typing":
        active = obj.get("active", True)
        if not isinstance(active, bool):
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "'active' must be true or false")
        return Typing(active)
    if kind == "leave":
        return Leave()
    if kind == "file_offer":
        return _file_offer(obj, limits)
    if kind == "file_cancel":
        upload = _optional_str(obj, "upload", limits.key_max)
        if upload is None:
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "'upload' is missing")
        return FileCancel(upload)
    raise ProtocolError(ErrorCode.UNKNOWN_TYPE, "unknown message type")


def _file_offer(obj: dict, limits: Limits) -> FileOffer:
    nonce = _optional_str(obj, "nonce", limits.nonce_max)
    size = obj.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size < 2**63:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "'size' must be a number of bytes", nonce)
    name = obj.get("name")
    if not isinstance(name, str) or len(name) > 4 * limits.file_name_max:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, "'name' must be a file name", nonce)
    mime = obj.get("mime")
    if not isinstance(mime, str) or not valid_mime(mime):
        mime = "application/octet-stream"  # a claim only: the server looks at the bytes
    to = obj.get("to")
    if to is not None:
        try:
            to = normalize_name(to, limits)
        except ProtocolError as exc:
            raise ProtocolError(ErrorCode.NO_SUCH_MEMBER, exc.message, nonce) from None
    return FileOffer(
        safe_file_name(name, limits.file_name_max), size, mime.lower(), nonce, to,
        _optional_str(obj, "upload", limits.key_max),
    )


def _quote(obj: Any) -> Quote | None:
    if obj is None:
        return None
    excerpt = obj.get("excerpt")
    return Quote(int(obj["id"]), str(obj["from"]), None if excerpt is None else str(excerpt))


def _record(obj: dict) -> Record:
    """A chat, edit or delete object (live, or an item of ``history``)."""
    kind = obj.get("type", "chat")
    common = {
        "id": int(obj.get("id", 0)),
        "room": str(obj.get("room", "")),
        "sender": str(obj["from"]),
        "timestamp": int(obj.get("timestamp", 0)),
        "to": obj.get("to"),
        "nonce": obj.get("nonce"),
    }
    if kind == "edit":
        return EditRecord(target=int(obj["target"]), content=str(obj["content"]), **common)
    if kind == "delete":
        return DeleteRecord(target=int(obj["target"]), **common)
    edited = obj.get("edited")
    file = obj.get("file")
    return ChatRecord(
        content=str(obj["content"]),
        reply=_quote(obj.get("replyTo")),
        edited=None if edited is None else int(edited),
        deleted=bool(obj.get("deleted")),
        file=None if file is None else file_ref(file),
        **common,
    )


def file_ref(obj: dict) -> FileRef:
    """A FileRef from its JSON object (a frame's ``file``, or the store's column)."""
    return FileRef(str(obj["id"]), str(obj["name"]), int(obj["size"]), str(obj["type"]), str(obj["sha256"]))


def file_ref_obj(ref: FileRef) -> dict:
    return {"id": ref.id, "name": ref.name, "size": ref.size, "type": ref.mime, "sha256": ref.sha256,
            "url": file_path(ref)}


def parse_server(text: str | bytes) -> ServerMessage:
    """Decode one server frame (v1 or v2) for a client; raise ProtocolError if malformed."""
    obj = _object(text)
    kind = obj.get("type")
    try:
        if kind in ("chat", "edit", "delete"):
            return _record(obj)
        if kind == "results":
            messages = tuple(_record(m) for m in obj["messages"])
            if not all(isinstance(m, ChatRecord) for m in messages):
                raise ValueError("results hold chat messages only")
            return SearchResults(str(obj.get("query", "")), messages, obj.get("nonce"))
        if kind == "system":
            return Notice(str(obj["content"]), obj.get("event"), obj.get("userId"))
        if kind == "pong":
            return Pong()
        if kind == "welcome":
            return Welcome(
                str(obj["room"]),
                str(obj["userId"]),
                tuple(str(m) for m in obj.get("members", ())),
                str(obj.get("resume", "")),
                int(obj.get("lastId", 0)),
                _edit_window(obj.get("editWindow")),
            )
        if kind == "history":
            return History(tuple(_record(m) for m in obj["messages"]), bool(obj.get("truncated")))
        if kind == "members":
            return Members(tuple(str(m) for m in obj["members"]))
        if kind == "typing":
            return TypingNotice(str(obj["from"]), bool(obj.get("active", True)))
        if kind == "file_accept":
            return FileAccept(
                str(obj["upload"]), int(obj["handle"]), int(obj["offset"]), int(obj["window"]),
                int(obj["chunk"]), obj.get("nonce"),
            )
        if kind == "file_ack":
            return FileAck(str(obj["upload"]), int(obj["offset"]))
        if kind == "error":
            try:
                code = ErrorCode(obj.get("code"))
            except ValueError:
                code = ErrorCode.BAD_MESSAGE
            return Error(code, str(obj.get("content", "")), obj.get("nonce"))
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:  # a hostile host
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"malformed {kind} frame: {exc}") from None
    raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind!r}")


# Encoding -----------------------------------------------------------------


def _dumps(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _record_obj(msg: Record, *, with_nonce: bool) -> dict:
    if isinstance(msg, ChatRecord):
        obj: dict[str, Any] = {
            "type": "chat",
            "id": msg.id,
            "room": msg.room,
            "from": msg.sender,
            "content": msg.content,
            "timestamp": msg.timestamp,
        }
        if msg.reply is not None:
            obj["replyTo"] = {"id": msg.reply.id, "from": msg.reply.sender, "excerpt": msg.reply.excerpt}
        if msg.edited is not None:
            obj["edited"] = msg.edited
        if msg.deleted:
            obj["deleted"] = True
        if msg.file is not None and not msg.deleted:
            obj["file"] = file_ref_obj(msg.file)
    else:
        obj = {
            "type": "edit" if isinstance(msg, EditRecord) else "delete",
            "id": msg.id,
            "room": msg.room,
            "from": msg.sender,
            "target": msg.target,
            "timestamp": msg.timestamp,
        }
        if isinstance(msg, EditRecord):
            obj["content"] = msg.content
    if msg.to is not None:
        obj["to"] = msg.to
    if with_nonce and msg.nonce is not None:
        obj["nonce"] = msg.nonce
    return obj


def _edit_window(value: object) -> float | None:
    """A welcome's ``editWindow``: a number of seconds >= 0; anything else is not said."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
        return None
    return float(value)


def encode_record(record: Record, *, with_nonce: bool) -> str:
    """A v2 chat/edit/delete frame; ``with_nonce`` only for the sender's own copy (its acknowledgement)."""
    return _dumps(_record_obj(record, with_nonce=with_nonce))


def encode(msg: ServerMessage | ClientMessage) -> str:
    """Encode a message as a v2 frame (client messages too, for the desktop client)."""
    if isinstance(msg, (ChatRecord, EditRecord, DeleteRecord)):
        return encode_record(msg, with_nonce=True)
    if isinstance(msg, SearchResults):
        obj: dict[str, Any] = {
            "type": "results",
            "query": msg.query,
            "messages": [_record_obj(m, with_nonce=False) for m in msg.messages],
        }
        if msg.nonce is not None:
            obj["nonce"] = msg.nonce
        return _dumps(obj)
    if isinstance(msg, Notice):
        obj = {"type": "system", "content": msg.content}
        if msg.event is not None:
            obj["event"] = msg.event
        if msg.user_id is not None:
            obj["userId"] = msg.user_id
        return _dumps(obj)
    if isinstance(msg, (Pong, Ping, Leave)):
        return _dumps({"type": {Pong: "pong", Ping: "ping", Leave: "leave"}[type(msg)]})
    if isinstance(msg, Welcome):
        return _dumps(
            {
                "type": "welcome",
                "room": msg.room,
                "userId": msg.user_id,
                "online": len(msg.members),
                "members": list(msg.members),
                "resume": msg.resume,
                "lastId": msg.last_id,
                **({} if msg.edit_window is None else {"editWindow": msg.edit_window}),
            }
        )
    if isinstance(msg, History):
        obj = {"type": "history", "messages": [_record_obj(m, with_nonce=True) for m in msg.messages]}
        if msg.truncated:
            obj["truncated"] = True
        return _dumps(obj)
    if isinstance(msg, Members):
        return _dumps({"type": "members", "members": list(msg.members)})
    if isinstance(msg, TypingNotice):
        return _dumps({"type": "typing", "from": msg.sender, "active": msg.active})
    if isinstance(msg, Error):
        obj = {"type": "error", "code": msg.code.value, "content": msg.content}
        if msg.nonce is not None:
            obj["nonce"] = msg.nonce
        return _dumps(obj)
    if isinstance(msg, Join):
        obj = {"type": "join", "userId": msg.user_id, "room": msg.room}
        for key, value in (("since", msg.since), ("resume", msg.resume), ("key", msg.key)):
            if value is not None:
                obj[key] = value
        return _dumps(obj)
    if isinstance(msg, Chat):
        obj = {"type": "chat", "content": msg.content}
        if msg.nonce is not None:
            obj["nonce"] = msg.nonce
        if msg.to is not None:
            obj["to"] = msg.to
        if msg.reply_to is not None:
            obj["replyTo"] = msg.reply_to
        return _dumps(obj)
    if isinstance(msg, (Edit, Delete, Search)):
        if isinstance(msg, Search):
            obj = {"type": "search", "query": msg.query}
        else:
            obj = {"type": "edit" if isinstance(msg, Edit) else "delete", "id": msg.target}
            if isinstance(msg, Edit):
                obj["content"] = msg.content
        if msg.nonce is not None:
            obj["nonce"] = msg.nonce
        return _dumps(obj)
    if isinstance(msg, Typing):
        return _dumps({"type": "typing", "active": msg.active})
    if isinstance(msg, FileAccept):
        obj = {"type": "file_accept", "upload": msg.upload, "handle": msg.handle, "offset": msg.offset,
               "window": msg.window, "chunk": msg.chunk}
        if msg.nonce is not None:
            obj["nonce"] = msg.nonce
        return _dumps(obj)
    if isinstance(msg, FileAck):
        return _dumps({"type": "file_ack", "upload": msg.upload, "offset": msg.offset})
    if isinstance(msg, FileOffer):
        obj = {"type": "file_offer", "name": msg.name, "size": msg.size, "mime": msg.mime}
        for key, value in (("nonce", msg.nonce), ("to", msg.to), ("upload", msg.upload)):
            if value is not None:
                obj[key] = value
        return _dumps(obj)
    if isinstance(msg, FileCancel):
        return _dumps({"type": "file_cancel", "upload": msg.upload})
    raise TypeError(f"cannot encode {type(msg).__name__}")


PRIVATE_PREFIX_V1 = "[私信] "
"""How a private message reads on a v1 page, which knows no private messages."""


DELETED_TEXT_V1 = "[消息已删除]"
EDITED_PREFIX_V1 = "[已编辑] "


def _text_v1(msg: ChatRecord | EditRecord) -> str:
    """The plain text a v1 page shows for a message, its reply quote and an edit."""
    if isinstance(msg, EditRecord):
        return EDITED_PREFIX_V1 + msg.content
    if msg.deleted:
        return DELETED_TEXT_V1
    content = msg.content if msg.edited is None else EDITED_PREFIX_V1 + msg.content
    if msg.reply is not None:
        quoted = DELETED_TEXT_V1 if msg.reply.excerpt is None else msg.reply.excerpt
        content = f"[↪ {msg.reply.sender}: {quoted}] {content}"
    return content


def encode_v1(msg: ServerMessage) -> str | None:
    """Encode for a seed (v1) client, or None for what a v1 page must never receive."""
    if isinstance(msg, (ChatRecord, EditRecord)):
        content = _text_v1(msg)
        if msg.to is not None:
            content = PRIVATE_PREFIX_V1 + content
        return _dumps(
            {"type": "chat", "from": msg.sender, "content": content, "timestamp": msg.timestamp}
        )
    if isinstance(msg, DeleteRecord):
        return _dumps({"type": "system", "content": f"用户「{msg.sender}」删除了一条消息"})
    if isinstance(msg, Notice):
        return _dumps({"type": "system", "content": msg.content})
    if isinstance(msg, Pong):
        return _dumps({"type": "pong"})
    return None


QUOTE_MAX = 80
"""Characters of the first line a reply quotes."""


def quote_of(record: ChatRecord) -> Quote:
    """The excerpt a reply to ``record`` carries: its sender and first non-blank line."""
    line = next((line.strip() for line in record.content.splitlines() if line.strip()), "")
    if len(line) > QUOTE_MAX:
        line = line[: QUOTE_MAX - 1].rstrip() + "…"
    return Quote(record.id, record.sender, line)


def with_nonce(record: Record, nonce: str | None) -> Record:
    """The sender's copy of a record carries the nonce it sent, as its acknowledgement."""
    return dataclasses.replace(record, nonce=nonce)


def presence_notices(event: str, name: str) -> tuple[Notice, Notice]:
    """The (v1, v2) notices that someone joined or left: v1 keeps the seed's Chinese text."""
    if event == "join":
        return Notice(f"用户「{name}」加入了房间"), Notice(f"{name} joined", event, name)
    return Notice(f"用户「{name}」离开了房间"), Notice(f"{name} left", event, name)


def history_reset_notice() -> Notice:
    """The server's history restarted empty (a store lost its data): ids start again, and a
    client forgets the last id it saw instead of waiting for ids it will never get."""
    return Notice("the room's history was reset on the server", "history_reset")


def welcome_text_v1(room: str, online: int) -> str:
    """The seed's welcome line, counting the members of the room (seed defect 5)."""
    return f"已加入房间「{room}」,当前 {online} 人在线"


def name_taken_text_v1(name: str) -> str:
    return f"用户名「{name}」已被占用,请换一个名字"
