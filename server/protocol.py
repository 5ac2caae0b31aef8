"""RoomChat wire protocol: message types, parsing, validation and encoding.

No I/O here: the server and the desktop client both feed text frames to
:func:`parse_client` / :func:`parse_server` and send what :func:`encode`
returns, the way ``websockets`` keeps its framing in a sans-I/O core.

Two versions share one port:

* **v1** is the seed tutorial's protocol, unchanged, for its browser page.
* **v2** is chosen by offering the WebSocket subprotocol ``roomchat.v2``; it
  adds message ids, acknowledgements, history, members, private messages,
  typing and errors. docs/protocol.md describes every message.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import unicodedata
from dataclasses import dataclass
from typing import Any, Union

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
    "Typing",
    "Leave",
    "Ping",
    "ClientMessage",
    "ChatRecord",
    "Welcome",
    "History",
    "Members",
    "Notice",
    "TypingNotice",
    "Error",
    "Pong",
    "ServerMessage",
    "parse_client",
    "parse_server",
    "encode",
    "encode_v1",
    "encode_chat",
    "normalize_name",
    "name_key",
    "validate_room",
    "with_nonce",
    "presence_notices",
    "welcome_text_v1",
    "name_taken_text_v1",
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


@dataclass(frozen=True, slots=True)
class Typing:
    active: bool = True


@dataclass(frozen=True, slots=True)
class Leave:
    pass


@dataclass(frozen=True, slots=True)
class Ping:
    pass


ClientMessage = Union[Join, Chat, Typing, Leave, Ping]
"""Everything a client may send."""


# Server -> client ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChatRecord:
    """One chat message as stored and delivered; ``to`` marks a private message."""

    id: int
    room: str
    sender: str
    content: str
    timestamp: int
    to: str | None = None
    nonce: str | None = None


@dataclass(frozen=True, slots=True)
class Welcome:
    room: str
    user_id: str
    members: tuple[str, ...]
    resume: str
    last_id: int


@dataclass(frozen=True, slots=True)
class History:
    messages: tuple[ChatRecord, ...]
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


ServerMessage = Union[ChatRecord, Welcome, History, Members, Notice, TypingNotice, Error, Pong]
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
        nonce = obj.get("nonce")
        nonce = nonce if isinstance(nonce, str) and len(nonce) <= limits.nonce_max else None
        content = _content(obj.get("content"), limits, nonce)
        to = obj.get("to")
        if to is not None:
            try:
                to = normalize_name(to, limits)
            except ProtocolError as exc:
                raise ProtocolError(ErrorCode.NO_SUCH_MEMBER, exc.message, nonce) from None
        return Chat(content, _optional_str(obj, "nonce", limits.nonce_max), to)
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
    raise ProtocolError(ErrorCode.UNKNOWN_TYPE, "unknown message type")


def _record(obj: dict) -> ChatRecord:
    return ChatRecord(
        id=int(obj.get("id", 0)),
        room=str(obj.get("room", "")),
        sender=str(obj["from"]),
        content=str(obj["content"]),
        timestamp=int(obj.get("timestamp", 0)),
        to=obj.get("to"),
        nonce=obj.get("nonce"),
    )


def parse_server(text: str | bytes) -> ServerMessage:
    """Decode one server frame (v1 or v2) for a client; raise ProtocolError if malformed."""
    obj = _object(text)
    kind = obj.get("type")
    try:
        if kind == "chat":
            return _record(obj)
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
            )
        if kind == "history":
            return History(tuple(_record(m) for m in obj["messages"]), bool(obj.get("truncated")))
        if kind == "members":
            return Members(tuple(str(m) for m in obj["members"]))
        if kind == "typing":
            return TypingNotice(str(obj["from"]), bool(obj.get("active", True)))
        if kind == "error":
            try:
                code = ErrorCode(obj.get("code"))
            except ValueError:
                code = ErrorCode.BAD_MESSAGE
            return Error(code, str(obj.get("content", "")), obj.get("nonce"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"malformed {kind} frame: {exc}") from None
    raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind!r}")


# Encoding -----------------------------------------------------------------


def _dumps(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _record_obj(msg: ChatRecord, *, with_nonce: bool) -> dict:
    obj: dict[str, Any] = {
        "type": "chat",
        "id": msg.id,
        "room": msg.room,
        "from": msg.sender,
        "content": msg.content,
        "timestamp": msg.timestamp,
    }
    if msg.to is not None:
        obj["to"] = msg.to
    if with_nonce and msg.nonce is not None:
        obj["nonce"] = msg.nonce
    return obj


def encode_chat(record: ChatRecord, *, with_nonce: bool) -> str:
    """A v2 chat frame; ``with_nonce`` only for the sender's own copy (its acknowledgement)."""
    return _dumps(_record_obj(record, with_nonce=with_nonce))


def encode(msg: ServerMessage | ClientMessage) -> str:
    """Encode a message as a v2 frame (client messages too, for the desktop client)."""
    if isinstance(msg, ChatRecord):
        return encode_chat(msg, with_nonce=True)
    if isinstance(msg, Notice):
        obj: dict[str, Any] = {"type": "system", "content": msg.content}
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
        return _dumps(obj)
    if isinstance(msg, Typing):
        return _dumps({"type": "typing", "active": msg.active})
    raise TypeError(f"cannot encode {type(msg).__name__}")


PRIVATE_PREFIX_V1 = "[私信] "
"""How a private message reads on a v1 page, which knows no private messages."""


def encode_v1(msg: ServerMessage) -> str | None:
    """Encode for a seed (v1) client, or None for what a v1 page must never receive."""
    if isinstance(msg, ChatRecord):
        content = msg.content if msg.to is None else PRIVATE_PREFIX_V1 + msg.content
        return _dumps(
            {"type": "chat", "from": msg.sender, "content": content, "timestamp": msg.timestamp}
        )
    if isinstance(msg, Notice):
        return _dumps({"type": "system", "content": msg.content})
    if isinstance(msg, Pong):
        return _dumps({"type": "pong"})
    return None


def with_nonce(record: ChatRecord, nonce: str | None) -> ChatRecord:
    """The sender's copy of a record carries the nonce it sent, as its acknowledgement."""
    return dataclasses.replace(record, nonce=nonce)


def presence_notices(event: str, name: str) -> tuple[Notice, Notice]:
    """The (v1, v2) notices that someone joined or left: v1 keeps the seed's Chinese text."""
    if event == "join":
        return Notice(f"用户「{name}」加入了房间"), Notice(f"{name} joined", event, name)
    return Notice(f"用户「{name}」离开了房间"), Notice(f"{name} left", event, name)


def welcome_text_v1(room: str, online: int) -> str:
    """The seed's welcome line, counting the members of the room (seed defect 5)."""
    return f"已加入房间「{room}」,当前 {online} 人在线"


def name_taken_text_v1(name: str) -> str:
    return f"用户名「{name}」已被占用,请换一个名字"
