"""The room hub: membership, presence, who receives what, in which order.

The hub knows nothing of sockets or SQLite. It sees connections as :class:`Session` objects
(send a text frame, close), persistence as a :class:`History`, and hands every fan-out to a
:class:`Delivery`, so another transport or a Redis fan-out can replace either side.

Chat messages are committed before anyone hears of them: :meth:`Hub.chat` assigns the id
and queues the record; :meth:`Hub.flush` (scheduled once per event-loop turn) writes the
whole batch in one commit and then delivers it to the members present at that moment. A
joiner reads committed history and receives the batch live, so nothing is missed or doubled.
Edits and deletions take the same path: each is a record with its own id (an event naming
the message it changes), appended and delivered like a message, so any History that stores
records in order (SQLite, a Redis log) carries them. Search runs elsewhere (a
:class:`Searcher`, off the event loop) and answers through a callback.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from . import protocol
from .protocol import (
    ChatRecord,
    DeleteRecord,
    EditRecord,
    Error,
    ErrorCode,
    FileRef,
    History as HistoryMessage,
    Members,
    Notice,
    ProtocolError,
    Record,
    SearchResults,
    TypingNotice,
    Version,
    Welcome,
    name_key,
)

__all__ = [
    "Hub",
    "Session",
    "History",
    "Delivery",
    "Searcher",
    "HISTORY_ON_JOIN",
    "CLOSE_REPLACED",
    "EDIT_WINDOW",
    "SEARCH_RESULTS",
    "history_pages",
]

log = logging.getLogger(__name__)

HISTORY_ON_JOIN = 50
"""How many messages a joiner without ``since`` receives."""

RESUME_MAX = 1000
"""At most this many messages answer a ``since``; older ones are left out and flagged
(``truncated``): one join never queues the whole retention (up to 40 MB) for one socket."""

HISTORY_FRAME_MAX = 200
"""Messages per ``history`` frame, so a long resume never exceeds a client's frame limit."""

HISTORY_FRAME_BYTES = 512 * 1024
"""Bytes per ``history`` frame at most (clients refuse frames over 1 MiB)."""


def history_pages(records: Sequence[Record]) -> Iterator[tuple[Record, ...]]:
    """Consecutive pages of at most HISTORY_FRAME_MAX records and HISTORY_FRAME_BYTES encoded.

    A character takes at most 6 bytes in the JSON (a ``\\u00XX`` escape), so the bound is
    computed from lengths without encoding anything twice.
    """
    page: list[Record] = []
    size = 0
    for record in records:
        quote = getattr(record, "reply", None)  # a reply's quote; a deletion has no content
        quoted = 0 if quote is None else len(quote.sender) + len(quote.excerpt or "")
        bound = 160 + 6 * (len(getattr(record, "content", "")) + len(record.sender) + len(record.room)
                           + len(record.to or "") + len(record.nonce or "") + quoted)
        if page and (len(page) == HISTORY_FRAME_MAX or size + bound > HISTORY_FRAME_BYTES):
            yield tuple(page)
            page, size = [], 0
        page.append(record)
        size += bound
    yield tuple(page)  # an empty history is one empty page

CLOSE_REPLACED = 4000
"""Close code for a stale connection taken over by its owner's new one."""

EDIT_WINDOW = 24 * 3600.0
"""Seconds after sending during which a message may be edited or deleted (``--edit-window``)."""

SEARCH_RESULTS = 50
"""Matches one search answers with, newest first."""


class Session(Protocol):
    """One client connection as the hub sees it."""

    version: Version

    def send(self, text: str) -> None:
        """Queue one text frame; never blocks."""

    def send_history(self, text: str) -> None:
        """Queue a frame of join history: a burst the slow-member bound lets pass once."""

    def close(self, code: int, reason: str) -> None:
        """Start closing the connection; never blocks."""


class History(Protocol):
    """Where messages are kept (server.store.HistoryStore)."""

    def last_id(self, room: str) -> int: ...

    def recent(self, room: str, user: str, limit: int, *, private: bool = True) -> list[ChatRecord]:
        """The newest messages (current state, no events), oldest first."""

    def message(self, room: str, message_id: int) -> ChatRecord | None:
        """One message in its current state, for replies, edits and deletions to check."""

    def since(
        self, room: str, user: str, after_id: int, limit: int, *, private: bool = True
    ) -> list[Record]:
        """Every record after ``after_id``, events included, oldest first."""

    def secret(self, room: str, user: str) -> str | None: ...

    def remember_secret(self, room: str, user: str, secret: str) -> None: ...

    def append_batch(self, records: Sequence[Record]) -> None:
        """Commit messages and events in id order; an event also changes its target."""


class Searcher(Protocol):
    """Full-text search over stored messages (server.search.SearchIndex)."""

    def search(
        self,
        room: str,
        user: str,
        query: str,
        *,
        private: bool,
        limit: int,
        done: Callable[[list[ChatRecord] | None], None],
    ) -> None:
        """Start a search; ``done`` runs later on the hub's thread, with None if it failed."""


class Delivery(Protocol):
    """Fan-out: one encoded frame to many sessions (framed once, not once per session)."""

    def broadcast(self, sessions: Iterable[Session], text: str) -> None: ...


class _Departed:
    """The session of an uploader who left before its file was stored: it hears nothing."""

    version = Version.V2

    def send(self, text: str) -> None:
        pass

    def send_history(self, text: str) -> None:
        pass

    def close(self, code: int, reason: str) -> None:
        pass


DEPARTED = _Departed()


@dataclass(eq=False, slots=True)
class Member:
    session: Session
    name: str
    room: Room
    resume: str
    owner: bool = True  # holds the name's last secret: its private messages and own messages are its


@dataclass(eq=False, slots=True)
class Room:
    name: str
    next_id: int
    members: dict[str, Member] = field(default_factory=dict)  # name_key -> Member
    # Recipients by version, rebuilt on membership change (fan-out reads them per message).
    v1: tuple[Session, ...] = ()
    v2: tuple[Session, ...] = ()

    def reindex(self) -> None:
        sessions = [m.session for m in self.members.values()]
        self.v1 = tuple(s for s in sessions if s.version is Version.V1)
        self.v2 = tuple(s for s in sessions if s.version is Version.V2)

    def names(self) -> tuple[str, ...]:
        return tuple(sorted((m.name for m in self.members.values()), key=str.casefold))

    def occupancy(self) -> int:
        """Members counted in announcements (a cluster room also counts other nodes' members)."""
        return len(self.members)

    def find(self, name: str) -> str | None:
        """The member name ``name`` refers to (any case), or None if nobody of that name is here."""
        member = self.members.get(name_key(name))
        return None if member is None else member.name


class Hub:
    """All rooms of one server."""

    def __init__(
        self,
        history: History,
        delivery: Delivery,
        schedule: Callable[[Callable[[], None]], object],
        *,
        key: str | None = None,
        clock: Callable[[], float] = time.time,
        edit_window: float = EDIT_WINDOW,
        searcher: Searcher | None = None,
        on_rooms_changed: Callable[[], None] | None = None,
    ) -> None:
        """``on_rooms_changed`` is told (no arguments, so it costs a join nothing) whenever a
        room gains or loses a member; whoever cares reads :meth:`occupancy` when it wants."""
        self._history = history
        self._on_rooms_changed = on_rooms_changed
        self._delivery = delivery
        self._schedule = schedule
        self._key = key
        self._clock = clock
        self._edit_window_ms = edit_window * 1000
        self._searcher = searcher
        # Told when the message of a shared file is deleted (server.files: the file goes too).
        self.file_deleted: Callable[[FileRef], None] | None = None
        self._rooms: dict[str, Room] = {}
        self._members: dict[Session, Member] = {}
        self._pending: list[tuple[Record, Member]] = []
        self._searching: set[Session] = set()  # one search at a time per connection
        self._history_failed = False

    # Queries ----------------------------------------------------------------

    @property
    def room_count(self) -> int:
        return len(self._rooms)

    def _rooms_changed(self) -> None:
        if self._on_rooms_changed is not None:
            self._on_rooms_changed()

    def occupancy(self) -> dict[str, int]:
        """Member count of every room that has members (what discovery announces)."""
        return {name: room.occupancy() for name, room in self._rooms.items() if room.members}

    def member_of(self, session: Session) -> Member | None:
        return self._members.get(session)

    def joining(self, session: Session) -> asyncio.Future | None:
        """A join of ``session`` still being answered (its later frames wait for it), if any.
        Joins here are answered at once; a hub whose rooms live elsewhere may take longer."""
        return None

    # Commands ---------------------------------------------------------------

    def join(self, session: Session, request: protocol.Join) -> None:
        """Join ``request.room``; refusals go back to ``session`` and leave it unjoined."""
        if not self._admitted(session, request):
            return
        old = self._members.get(session)
        if old is not None:
            self.leave(session)
        room = self._rooms.get(request.room)
        if room is None:
            room = Room(request.room, self._history.last_id(request.room) + 1)
        key = name_key(request.user_id)
        holder = room.members.get(key)
        replacing = False
        if holder is not None:
            if request.resume and hmac.compare_digest(request.resume.encode(), holder.resume.encode()):
                self._drop(holder)
                holder.session.close(CLOSE_REPLACED, "replaced by a new connection")
                replacing = True
            else:
                self._refuse(
                    session,
                    ErrorCode.NAME_TAKEN,
                    f"the name {request.user_id!r} is taken in this room",
                    protocol.name_taken_text_v1(request.user_id),
                )
                return
        # Private history belongs to whoever holds the name's last resume secret, not to
        # anyone who takes the name after its owner left.
        issued = self._history.secret(room.name, request.user_id)
        owner = issued is None or (
            request.resume is not None and hmac.compare_digest(request.resume.encode(), issued.encode())
        )
        self._rooms[room.name] = room
        member = Member(session, request.user_id, room, secrets.token_urlsafe(18), owner)
        # Only the owner's secret is remembered: one who takes a free name without it must
        # not become its owner by rejoining with the secret this join hands out.
        if owner:
            try:
                self._history.remember_secret(room.name, member.name, member.resume)
            except Exception as exc:  # noqa: BLE001 - the join goes on; its private history stays hidden later
                log.error("resume secret not stored for %r in %r: %s", member.name, room.name, exc)
        self._seat(member)
        records, truncated = self._join_history(member, request.since, private=owner)
        last_id = room.next_id - 1
        reset = request.since is not None and request.since > last_id
        self._greet(member, records, truncated, last_id, reset=reset)
        if not replacing:
            self._announce(room, "join", member.name, member.session)
            self._rooms_changed()

    def leave(self, session: Session) -> None:
        """Leave the current room (explicitly, by a second join, or on disconnect)."""
        member = self._members.get(session)
        if member is None:
            return
        self._drop(member)
        if member.room.members:
            self._announce(member.room, "leave", member.name, member.session)

    def chat(self, session: Session, request: protocol.Chat) -> None:
        """Queue a message; it is stored and delivered by the next :meth:`flush`."""
        member = self.sender(session, request.nonce)
        v2 = session.version is Version.V2
        to = self.addressee(member, request.to if v2 else None, request.nonce)
        quote = None
        if request.reply_to is not None and v2:
            original = self._visible_message(member, request.reply_to, request.nonce)
            if original.to is not None and (
                to is None or name_key(to) not in (name_key(original.sender), name_key(original.to))
            ):
                raise ProtocolError(
                    ErrorCode.NOT_ALLOWED, "a reply to a private message must go to the same person", request.nonce
                )
            quote = protocol.quote_of(original)
        room = member.room
        self._queue(
            ChatRecord(
                room.next_id, room.name, member.name, request.content, int(self._clock() * 1000), to,
                request.nonce, quote,
            ),
            member,
        )

    def sender(self, session: Session, nonce: str | None = None) -> Member:
        """The member ``session`` speaks as; ProtocolError(NOT_JOINED) if it joined no room."""
        member = self._members.get(session)
        if member is None:
            raise ProtocolError(ErrorCode.NOT_JOINED, "join a room first", nonce)
        return member

    def addressee(self, member: Member, to: str | None, nonce: str | None) -> str | None:
        """The spelling of ``to`` in ``member``'s room, or ProtocolError if nobody has that name."""
        if to is None:
            return None
        addressee = member.room.find(to)
        if addressee is None:
            raise ProtocolError(ErrorCode.NO_SUCH_MEMBER, f"{to!r} is not in this room", nonce)
        return addressee

    def share_file(
        self, room_name: str, sender: str, to: str | None, file: FileRef, content: str, nonce: str | None
    ) -> None:
        """Queue the record of a completely stored upload: a chat message carrying ``file``.

        The uploader may have left (or reconnected) since it began: the record is posted in its
        name all the same, and acknowledged to whoever holds that name now.
        """
        room = self._rooms.get(room_name)
        if room is None:
            room = self._rooms[room_name] = Room(room_name, self._history.last_id(room_name) + 1)
        member = room.members.get(name_key(sender)) or Member(DEPARTED, sender, room, "")
        self._queue(
            ChatRecord(room.next_id, room.name, member.name, content, int(self._clock() * 1000), to, nonce,
                       file=file),
            member,
        )

    def edit(self, session: Session, request: protocol.Edit) -> None:
        """Queue an edit of the member's own message: an event of its own, stored and delivered like one."""
        member = self._member_v2(session, request.nonce)
        original = self._own_message(member, request.target, request.nonce)
        if original.file is not None:
            raise ProtocolError(ErrorCode.NOT_ALLOWED, "a shared file cannot be edited; delete it instead",
                                request.nonce)
        room = member.room
        self._queue(
            EditRecord(
                room.next_id, room.name, member.name, original.id, request.content, int(self._clock() * 1000),
                original.to, request.nonce,
            ),
            member,
        )

    def delete(self, session: Session, request: protocol.Delete) -> None:
        """Queue the deletion of the member's own message."""
        member = self._member_v2(session, request.nonce)
        original = self._own_message(member, request.target, request.nonce)
        room = member.room
        self._queue(
            DeleteRecord(
                room.next_id, room.name, member.name, original.id, int(self._clock() * 1000), original.to,
                request.nonce,
            ),
            member,
        )
        if original.file is not None and self.file_deleted is not None:
            self.file_deleted(original.file)

    def search(self, session: Session, request: protocol.Search) -> None:
        """Search the room's history (and the member's own private messages); answered later."""
        member = self._member_v2(session, request.nonce)
        if self._searcher is None:
            raise ProtocolError(ErrorCode.UNAVAILABLE, "this server cannot search", request.nonce)
        if session in self._searching:
            raise ProtocolError(ErrorCode.RATE_LIMITED, "a search is already running", request.nonce)
        self._searching.add(session)

        def answer(found: list[ChatRecord] | None) -> None:
            self._searching.discard(session)
            if self._members.get(session) is not member:
                return  # left or changed rooms meanwhile
            if found is None:
                reply = Error(ErrorCode.UNAVAILABLE, "the search failed", request.nonce)
            else:
                reply = SearchResults(request.query, tuple(found), request.nonce)
            session.send(protocol.encode(reply))

        self._searcher.search(
            member.room.name, member.name, request.query, private=member.owner, limit=SEARCH_RESULTS, done=answer
        )

    def typing(self, session: Session, request: protocol.Typing) -> None:
        member = self._members.get(session)
        if member is None:
            raise ProtocolError(ErrorCode.NOT_JOINED, "join a room first")
        frame = protocol.encode(TypingNotice(member.name, request.active))
        self._delivery.broadcast((s for s in member.room.v2 if s is not session), frame)

    def flush(self) -> None:
        """Commit the queued messages in one batch, then deliver them in id order."""
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            self._history.append_batch([record for record, _ in batch])
        except Exception as exc:  # noqa: BLE001 - any store failure: refuse, never crash
            log.error("history write failed, %d message(s) refused: %s", len(batch), exc)
            self._history_failed = True
            for record, member in batch:
                self._refuse_unstored(record, member)
            return
        if self._history_failed:
            log.warning("history writes work again")
            self._history_failed = False
        for record, member in batch:
            self._deliver(record, member)
        for room in {member.room for _, member in batch}:
            self._forget_if_idle(room)

    def disconnect(self, session: Session) -> None:
        self._searching.discard(session)
        self.leave(session)

    # Internals --------------------------------------------------------------

    def _queue(self, record: Record, member: Member) -> None:
        member.room.next_id += 1
        if not self._pending:
            self._schedule(self.flush)
        self._pending.append((record, member))

    def _member_v2(self, session: Session, nonce: str | None) -> Member:
        if session.version is not Version.V2:
            raise ProtocolError(ErrorCode.UNKNOWN_TYPE, "unknown message type")
        member = self._members.get(session)
        if member is None:
            raise ProtocolError(ErrorCode.NOT_JOINED, "join a room first", nonce)
        return member

    def _visible_message(self, member: Member, message_id: int, nonce: str | None) -> ChatRecord:
        """Message ``message_id`` of the member's room if the member may see it; otherwise the
        same refusal whether it does not exist, is deleted or is someone else's private one."""
        room = member.room
        try:
            record = self._history.message(room.name, message_id)
        except Exception as exc:  # noqa: BLE001 - a store failure refuses, never crashes
            log.error("message lookup failed: %s", exc)
            raise ProtocolError(ErrorCode.UNAVAILABLE, "the server could not read its history", nonce) from None
        me = name_key(member.name)
        if (
            record is None
            or record.deleted
            or (record.to is not None and not (member.owner and me in (name_key(record.sender), name_key(record.to))))
            or any(
                isinstance(queued, DeleteRecord) and queued.room == room.name and queued.target == message_id
                for queued, _ in self._pending
            )
        ):
            raise ProtocolError(ErrorCode.NO_SUCH_MESSAGE, f"there is no message {message_id} here", nonce)
        return record

    def _own_message(self, member: Member, message_id: int, nonce: str | None) -> ChatRecord:
        """The member's own message, still inside the edit window."""
        record = self._visible_message(member, message_id, nonce)
        if not member.owner or name_key(record.sender) != name_key(member.name):
            raise ProtocolError(ErrorCode.NOT_ALLOWED, "only its sender can change a message", nonce)
        if self._clock() * 1000 - record.timestamp > self._edit_window_ms:
            raise ProtocolError(ErrorCode.TOO_LATE, "this message is too old to change", nonce)
        return record

    def _deliver(self, record: Record, sender: Member) -> None:
        """The sender's copy carries its nonce (the acknowledgement); the others' do not."""
        self._acknowledge(record, sender.session)
        self._fan_out(sender.room, record, sender.session)

    @staticmethod
    def _acknowledge(record: Record, session: Session) -> None:
        if session.version is Version.V2:
            session.send(protocol.encode_record(record, with_nonce=True))

    def _fan_out(self, room: Room, record: Record, skip: Session | None) -> None:
        """Everyone in ``room`` but ``skip`` (or the addressee only); each frame is encoded at
        most once per message, and only if someone needs it."""
        if record.to is not None:
            addressee = room.members.get(name_key(record.to))
            if addressee is not None and addressee.session is not skip:
                if addressee.session.version is Version.V2:
                    addressee.session.send(protocol.encode_record(record, with_nonce=False))
                else:
                    addressee.session.send(protocol.encode_v1(record))
            return
        skipped = self._members.get(skip) if skip is not None else None
        present = skipped is not None and skipped.room is room
        version = skip.version if present else None
        if len(room.v2) > (version is Version.V2):
            self._delivery.broadcast(
                (s for s in room.v2 if s is not skip), protocol.encode_record(record, with_nonce=False)
            )
        if len(room.v1) > (version is Version.V1):
            self._delivery.broadcast((s for s in room.v1 if s is not skip), protocol.encode_v1(record))

    def _seat(self, member: Member) -> None:
        """Make ``member`` part of its room here: it receives what the room receives from now."""
        member.room.members[name_key(member.name)] = member
        member.room.reindex()
        self._members[member.session] = member

    def _join_history(self, member: Member, since: int | None, *, private: bool) -> tuple[list[Record], bool]:
        """What a joiner is sent before live messages: recent history, or what it missed."""
        room = member.room
        if since is None:
            return list(self._history.recent(room.name, member.name, HISTORY_ON_JOIN, private=private)), False
        records = self._history.since(room.name, member.name, since, RESUME_MAX + 1, private=private)
        return records[-RESUME_MAX:], len(records) > RESUME_MAX

    def _greet(
        self, member: Member, records: list[Record], truncated: bool, last_id: int, *, reset: bool
    ) -> None:
        """Welcome, then history in frames. ``reset``: the joiner's ``since`` lies beyond the
        room's last id, so the history it refers to is gone (a store restarted empty)."""
        room, session = member.room, member.session
        # A sender sees its own nonces again (so a resent message is recognised), nobody else's.
        own = name_key(member.name)
        records = [r if name_key(r.sender) == own else protocol.with_nonce(r, None) for r in records]
        if session.version is Version.V1:
            session.send(protocol.encode_v1(Notice(protocol.welcome_text_v1(room.name, len(room.members)))))
            for record in records:
                session.send_history(protocol.encode_v1(record))
            return
        session.send(protocol.encode(Welcome(room.name, member.name, room.names(), member.resume, last_id,
                                             self._edit_window_ms / 1000)))
        if reset:  # after the welcome: a system line first is how a v1 server greets
            session.send(protocol.encode(protocol.history_reset_notice()))
        for number, page in enumerate(history_pages(records)):
            session.send_history(protocol.encode(HistoryMessage(page, truncated and number == 0)))

    def _announce(self, room: Room, event: str, name: str, skip: Session | None) -> None:
        """Tell the rest of the room (all but ``skip``) who came or went, and the member list."""
        notice_v1, notice_v2 = protocol.presence_notices(event, name)
        others_v2 = [s for s in room.v2 if s is not skip]
        self._delivery.broadcast(others_v2, protocol.encode(notice_v2))
        self._delivery.broadcast(others_v2, protocol.encode(Members(room.names())))
        self._delivery.broadcast((s for s in room.v1 if s is not skip), protocol.encode_v1(notice_v1))

    def _drop(self, member: Member) -> None:
        room = member.room
        room.members.pop(name_key(member.name), None)
        room.reindex()
        self._members.pop(member.session, None)
        self._forget_if_idle(room)
        self._rooms_changed()

    def _forget_if_idle(self, room: Room) -> None:
        """Drop an empty room unless queued messages still need its id counter."""
        if room.members or self._rooms.get(room.name) is not room:
            return
        if not any(record.room == room.name for record, _ in self._pending):
            del self._rooms[room.name]

    def _admitted(self, session: Session, request: protocol.Join) -> bool:
        """The room key check; a wrong key is refused here."""
        if self._key is None or hmac.compare_digest((request.key or "").encode(), self._key.encode()):
            return True
        self._refuse(session, ErrorCode.BAD_KEY, "this room needs the right key")
        return False

    def _refuse_unstored(self, record: Record, member: Member) -> None:
        """The sender of a message that was not stored hears so; nobody else hears of it."""
        if member.session.version is Version.V2:
            member.session.send(
                protocol.encode(Error(ErrorCode.UNAVAILABLE, "the server could not store the message", record.nonce))
            )
        else:
            member.session.send(protocol.encode_v1(Notice("消息未能保存,请稍后再试")) or "")

    def _refuse(self, session: Session, code: ErrorCode, text: str, text_v1: str | None = None) -> None:
        if session.version is Version.V2:
            session.send(protocol.encode(Error(code, text)))
        else:
            session.send(protocol.encode_v1(Notice(text_v1 or text)) or "")

    def reply_error(self, session: Session, error: ProtocolError) -> None:
        """v2 clients hear why a frame was refused; v1 clients, like the seed, hear nothing."""
        if session.version is Version.V2:
            session.send(protocol.encode(Error(error.code, error.message, error.nonce)))
