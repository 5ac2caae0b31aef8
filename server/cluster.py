"""Rooms shared by several server processes: the hub's rules over a shared backplane.

:class:`ClusterHub` is the :class:`~server.hub.Hub` for ``roomchat-server --redis``. Routing,
encoding and the slow-member bound stay the hub's; what changes is where the truth lives:

* ids: the backplane assigns them when it stores a batch (dense per room across processes);
* order: every node delivers a room's records from the backplane's one bus, in id order, the
  sender's acknowledgement included (a record's ack is sent when its turn comes, so no client
  ever sees id 7 before id 6). A gap (a room just tracked, a trimmed bus) is filled from the
  room's log before anything after it is delivered;
* presence and names: joins claim the name in the backplane (unique across processes; a resume
  secret takes it over from any process), leaves release it, a dead node's members are reaped
  by the others once its heartbeat expires.

When the backplane is lost, new messages and joins are refused with ``unavailable`` (nothing is
acknowledged that was not stored), a recovery task reconnects with backoff, and writes whose
outcome was in doubt are settled by a marker sent through the bus after reconnecting: those the
bus carried before the marker were stored (and are acknowledged), the rest are refused.

This module knows nothing of Redis: :mod:`server.backplane` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import logging
import secrets
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from . import protocol
from .backplane import (
    BackplaneError,
    BusEvent,
    InDoubt,
    RedisBackplane,
    StoredRecord,
    bus_id_key,
    fold,
    visible_to,
)
from .flood import JoinLimitedHub
from .hub import CLOSE_REPLACED, HISTORY_ON_JOIN, RESUME_MAX, Hub, Member, Room, Session
from .protocol import ChatRecord, ErrorCode, Record, TypingNotice, name_key

__all__ = ["ClusterHub", "LimitedClusterHub"]

log = logging.getLogger(__name__)

BATCH_MAX = 500
"""Records per publish script: a bigger batch would hold Redis (and every node) longer."""

BACKOFF = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
"""Seconds between reconnection attempts; the last repeats."""

MESSAGES_KEPT = 2000
"""Messages per room a node keeps for replies, edits and deletions to name."""

UNAVAILABLE_TEXT = "the chat service is unavailable, try again shortly"


@dataclass(eq=False, slots=True)
class ClusterRoom(Room):
    """A room as one node sees it: its local members plus the room's state across nodes."""

    everyone: dict[str, str] = field(default_factory=dict)  # name key -> name, on every node
    delivered: int | None = None  # last id delivered here (None: first join still loading)
    epoch: str = ""  # changes when the backplane lost the room's history
    waiting: dict[int, StoredRecord] = field(default_factory=dict)  # ahead of a gap
    presence_from: tuple[int, int] = (0, 0)  # bus position the member snapshot reflects
    joining: int = 0
    filling: bool = False
    # Recent messages in their current state: the hub checks replies, edits and deletions
    # against them (a message older than these cannot be answered or changed here).
    messages: OrderedDict[int, ChatRecord] = field(default_factory=OrderedDict)

    def remember(self, record: Record) -> None:
        """Keep ``record``'s effect: a message, or an edit or deletion of one kept here."""
        if isinstance(record, ChatRecord):
            self.messages[record.id] = record
            if len(self.messages) > MESSAGES_KEPT:
                self.messages.popitem(last=False)
        elif (target := self.messages.get(getattr(record, "target", -1))) is not None:
            self.messages[target.id] = fold([record, target])[1]  # type: ignore[assignment]

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self.everyone.values(), key=str.casefold))

    def occupancy(self) -> int:
        return len(self.everyone)

    def find(self, name: str) -> str | None:
        return self.everyone.get(name_key(name))


class ClusterHub(Hub):
    """The hub of one node of a multi-process service; ``await start()``, ``await aclose()``."""

    def __init__(self, backplane: RedisBackplane, *args: Any, **kwargs: Any) -> None:
        super().__init__(_KnownMessages(self), *args, **kwargs)  # type: ignore[arg-type]
        self._backplane = backplane
        self._node = backplane.node
        self.healthy = False
        self._tokens = (str(n) for n in itertools.count(1))
        self._outbox: list[tuple[Record, Member, str]] = []  # not yet sent to the backplane
        self._inflight: dict[str, tuple[Record, Member]] = {}  # sent, not yet seen on the bus
        self._doubtful: set[str] = set()
        self._markers: dict[str, set[str]] = {}
        self._joins: dict[Session, asyncio.Task] = {}
        self._gone: set[Session] = set()
        self._unreleased: list[tuple[str, str, str]] = []  # (room, name, secret) to release
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._recovery: asyncio.Task | None = None
        self._services: list[asyncio.Task] = []
        self._closing = False

    # Lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect (raises BackplaneError), clear what a previous run of this node left behind,
        then read the bus, commit batches and beat the heart."""
        await self._backplane.connect()
        await self._backplane.register()
        self.healthy = True
        self._services = [
            asyncio.create_task(self._read_forever(), name="bus-reader"),
            asyncio.create_task(self._commit_forever(), name="committer"),
            asyncio.create_task(self._beat_forever(), name="heartbeat"),
        ]

    async def aclose(self, timeout: float = 2.0) -> None:
        """Store and deliver what is queued (for up to ``timeout`` s), then stop."""
        self.flush()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (self._outbox or self._inflight) and self.healthy and loop.time() < deadline:
            await asyncio.sleep(0.01)
        for member in list(self._members.values()):
            with contextlib.suppress(BackplaneError):
                await self._backplane.leave(member.room.name, member.name, member.resume)
        self._closing = True
        tasks = [*self._services, *self._tasks, *([self._recovery] if self._recovery else [])]
        for task in tasks:
            task.cancel()
        # redis-py may turn a cancelled read into a connection error: loops end on _closing,
        # and shutdown never waits on a task that keeps going.
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
        await self._backplane.close()

    def _spawn(self, coro: Coroutine) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # The hub's commands ----------------------------------------------------------------

    def join(self, session: Session, request: protocol.Join) -> None:
        """Joins are answered once the backplane has claimed the name; one at a time per session."""
        previous = self._joins.get(session)
        self._joins[session] = self._spawn(self._join(session, request, previous))

    def joining(self, session: Session) -> asyncio.Future | None:
        return self._joins.get(session)

    def leave(self, session: Session) -> None:
        member = self._members.get(session)
        if member is None:
            return
        room = member.room
        assert isinstance(room, ClusterRoom)
        self._drop(member)
        room.everyone.pop(name_key(member.name), None)
        if room.members:
            self._announce(room, "leave", member.name, session)
        self._spawn(self._release(room.name, member.name, member.resume))

    def disconnect(self, session: Session) -> None:
        if session in self._joins:
            self._gone.add(session)
        super().disconnect(session)

    def typing(self, session: Session, request: protocol.Typing) -> None:
        super().typing(session, request)
        member = self._members[session]
        if self.healthy:
            self._spawn(
                self._signal(
                    member.room.name, "typing", u=member.name, a="1" if request.active else "0"
                )
            )

    def flush(self) -> None:
        """Hand the loop turn's messages to the committer; refuse them if the backplane is down."""
        batch, self._pending = self._pending, []
        if not batch:
            return
        if not self.healthy:
            for record, member in batch:
                self._refuse_unstored(record, member)
            return
        self._outbox.extend((record, member, next(self._tokens)) for record, member in batch)
        self._wake.set()

    @property
    def status(self) -> dict[str, Any]:
        """For /healthz."""
        return {"redis": "ok" if self.healthy else "unavailable", "node": self._node}

    # Joining ------------------------------------------------------------------------------

    def _track(self, name: str) -> ClusterRoom:
        room = self._rooms.get(name)
        if room is None:
            room = self._rooms[name] = ClusterRoom(name, 0)
        assert isinstance(room, ClusterRoom)
        return room

    def _forget_if_idle(self, room: Room) -> None:
        if isinstance(room, ClusterRoom) and room.joining:
            return
        super()._forget_if_idle(room)

    async def _join(
        self, session: Session, request: protocol.Join, previous: asyncio.Task | None
    ) -> None:
        if previous is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await previous
        try:
            if session in self._gone or not self._admitted(session, request):
                return
            if session in self._members:
                self.leave(session)
            if not self.healthy:
                self._refuse(session, ErrorCode.UNAVAILABLE, UNAVAILABLE_TEXT)
                return
            room = self._track(request.room)
            room.joining += 1
            try:
                await self._claim(session, request, room)
            except BackplaneError as exc:
                log.warning("join of %r to %r failed: %s", request.user_id, request.room, exc)
                self._refuse(session, ErrorCode.UNAVAILABLE, UNAVAILABLE_TEXT)
                if isinstance(exc, InDoubt):
                    self._lost(exc)
            finally:
                room.joining -= 1
                self._forget_if_idle(room)
        finally:
            if self._joins.get(session) is asyncio.current_task():
                del self._joins[session]
                self._gone.discard(session)

    async def _claim(self, session: Session, request: protocol.Join, room: ClusterRoom) -> None:
        name, key = request.user_id, name_key(request.user_id)
        secret = secrets.token_urlsafe(18)
        try:
            claim = await self._backplane.join(room.name, name, request.resume, secret)
        except InDoubt:
            self._unreleased.append(
                (room.name, name, secret)
            )  # it may hold the name: free it later
            raise
        if claim.status == "taken":
            self._refuse(
                session,
                ErrorCode.NAME_TAKEN,
                f"the name {name!r} is taken in this room",
                protocol.name_taken_text_v1(name),
            )
            return
        if session in self._gone:
            await self._release(room.name, name, secret)
            return
        if room.epoch and claim.epoch != room.epoch:
            self._reset(room, claim.epoch)
        room.epoch = claim.epoch
        if room.delivered is None and not room.members:
            room.everyone = {name_key(n): n for n in claim.names}
            room.presence_from = bus_id_key(claim.bus_id)
        room.everyone[key] = name
        if claim.status == "replaced":
            holder = room.members.get(key)
            if holder is not None:
                self._drop(holder)
                holder.session.close(CLOSE_REPLACED, "replaced by a new connection")
        owner = claim.issued is None or (
            request.resume is not None
            and hmac.compare_digest(request.resume.encode(), claim.issued.encode())
        )
        reset = request.since is not None and request.since > claim.last_id
        since = None if reset else request.since
        if since is None:  # the recent messages as they are now; a resume gets the events too
            records, top = await self._backplane.latest(
                room.name, 0, HISTORY_ON_JOIN, lambda r: type(r) is ChatRecord and visible_to(r, key, private=owner)
            )
        else:
            records, top = await self._backplane.latest(
                room.name, since, RESUME_MAX + 1, lambda r: visible_to(r, key, private=owner)
            )
        if room.delivered is None and not room.messages:  # what replies, edits and deletions may name
            known, _ = await self._backplane.latest(room.name, 0, MESSAGES_KEPT, lambda r: type(r) is ChatRecord)
            for record in known:
                room.remember(record)
        truncated = since is not None and len(records) > RESUME_MAX
        records = records[-RESUME_MAX:]
        while room.delivered is not None and room.delivered > top:  # delivered here meanwhile
            more = await self._backplane.records(room.name, top + 1, room.delivered)
            records += [s.record for s in more if visible_to(s.record, key, private=owner)]
            top = max([top, room.delivered, *(s.record.id for s in more)])
        if session in self._gone:
            await self._release(room.name, name, secret)
            return
        first_here = room.delivered is None
        if first_here:
            room.delivered = top
        records = [r for r in records if r.id <= room.delivered]
        records = [
            r if name_key(r.sender) == key else protocol.with_nonce(r, None) for r in records
        ]
        member = Member(session, name, room, secret, owner)
        self._seat(member)
        self._greet(member, records, truncated, room.delivered, reset=reset)
        if first_here:  # what came live while the history was read follows it
            self._drain(room)
            if room.waiting and not room.filling:
                self._spawn(self._fill(room))
        if claim.status != "replaced":
            self._announce(room, "join", name, session)
            self._rooms_changed()

    async def _release(self, room: str, name: str, secret: str) -> None:
        try:
            await self._backplane.leave(room, name, secret)
        except BackplaneError as exc:
            self._unreleased.append((room, name, secret))
            if isinstance(exc, InDoubt):
                self._lost(exc)

    async def _signal(self, room: str, kind: str, **fields: str) -> None:
        with contextlib.suppress(BackplaneError):  # typing is a hint: lost when Redis is
            await self._backplane.signal(room, kind, **fields)

    # Committing ---------------------------------------------------------------------------

    async def _commit_forever(self) -> None:
        """One publish at a time; whatever arrives meanwhile makes the next, bigger batch."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox and self.healthy:
                batch, self._outbox = self._outbox[:BATCH_MAX], self._outbox[BATCH_MAX:]
                for record, member, token in batch:
                    self._inflight[token] = (record, member)
                try:
                    await self._backplane.publish([(record, token) for record, _, token in batch])
                except InDoubt as exc:
                    log.error("%d message(s) in doubt: %s", len(batch), exc)
                    self._doubtful.update(token for _, _, token in batch)
                    self._lost(exc)
                except BackplaneError as exc:
                    log.error("%d message(s) refused: %s", len(batch), exc)
                    for record, member, token in batch:
                        self._inflight.pop(token, None)
                        self._refuse_unstored(record, member)

    # The bus ------------------------------------------------------------------------------

    async def _read_forever(self) -> None:
        attempt = 0
        while not self._closing:
            try:
                events = await self._backplane.read_bus()
            except BackplaneError as exc:
                self._lost(exc)
                await asyncio.sleep(BACKOFF[min(attempt, len(BACKOFF) - 1)])
                attempt += 1
                continue
            attempt = 0
            for event in events:
                try:
                    self._on_event(event)
                except Exception:  # one bad entry must not stop the node's fan-out
                    log.exception("bus event %s failed", event.bus_id)

    def _on_event(self, event: BusEvent) -> None:
        fields = event.fields
        if event.kind == "sync":
            if fields.get("n") == self._node:
                self._settle(fields.get("t", ""))
            return
        room = self._rooms.get(event.room)
        if event.kind == "rec":
            assert event.stored is not None
            if isinstance(room, ClusterRoom):
                self._offer(room, event.stored)
            else:  # nobody here is in the room any more; its sender may still await its ack
                self._release_record(None, event.stored)
            return
        if (
            not isinstance(room, ClusterRoom)
            or fields.get("n") == self._node
            and event.kind != "replace"
        ):
            return  # own joins and leaves were announced here when they happened
        name = fields.get("u", "")
        key = name_key(name)
        if event.kind == "typing":
            frame = protocol.encode(TypingNotice(name, fields.get("a") == "1"))
            self._delivery.broadcast((s for s in room.v2 if self._members[s].name != name), frame)
        elif bus_id_key(event.bus_id) <= room.presence_from:
            return  # the join snapshot already holds this change
        elif event.kind == "join":
            if key not in room.everyone:
                room.everyone[key] = name
                self._announce(room, "join", name, None)
                self._rooms_changed()
            room.everyone[key] = name
        elif event.kind == "leave":
            if key in room.everyone and key not in room.members:
                del room.everyone[key]
                self._announce(room, "leave", name, None)
                self._rooms_changed()
        elif (
            event.kind == "replace"
            and fields.get("n") == self._node
            and fields.get("by") != self._node
        ):
            holder = room.members.get(key)
            if holder is not None:
                self._drop(holder)
                holder.session.close(CLOSE_REPLACED, "replaced by a new connection")

    def _offer(self, room: ClusterRoom, stored: StoredRecord) -> None:
        """Deliver in id order: hold what comes after a gap until the gap is filled."""
        if stored.epoch and room.epoch and stored.epoch != room.epoch:
            self._reset(room, stored.epoch)
        if stored.epoch:
            room.epoch = stored.epoch
        record_id = stored.record.id
        if room.delivered is not None and record_id <= room.delivered:
            self._release_record(None, stored)  # already delivered (a fill raced the bus)
            return
        room.waiting[record_id] = stored
        if room.delivered is None:
            return  # the first join's history decides where live delivery starts
        self._drain(room)
        if room.waiting and not room.filling:
            self._spawn(self._fill(room))

    def _drain(self, room: ClusterRoom) -> None:
        assert room.delivered is not None
        for record_id in [i for i in room.waiting if i <= room.delivered]:
            self._release_record(None, room.waiting.pop(record_id))
        while (stored := room.waiting.pop(room.delivered + 1, None)) is not None:
            room.delivered += 1
            self._release_record(room, stored)

    async def _fill(self, room: ClusterRoom) -> None:
        """Fetch a gap's records from the room's log; skip what the log no longer holds."""
        room.filling = True
        try:
            while (
                room.waiting and room.delivered is not None and self._rooms.get(room.name) is room
            ):
                first, last = room.delivered + 1, min(room.waiting) - 1
                try:
                    found = await self._backplane.records(room.name, first, last)
                except BackplaneError:
                    await asyncio.sleep(BACKOFF[2])
                    continue
                for stored in found:
                    if room.delivered is not None and stored.record.id > room.delivered:
                        room.waiting.setdefault(stored.record.id, stored)
                if room.delivered + 1 not in room.waiting and room.waiting:
                    log.warning(
                        "room %r: ids %d..%d are no longer stored",
                        room.name,
                        first,
                        min(room.waiting) - 1,
                    )
                    room.delivered = min(room.waiting) - 1
                self._drain(room)
        finally:
            room.filling = False

    def _release_record(self, room: ClusterRoom | None, stored: StoredRecord) -> None:
        """A stored record's turn: its sender (if here) gets the ack, the room the message."""
        sent = self._inflight.pop(stored.token, None) if stored.node == self._node else None
        if sent is not None:
            self._doubtful.discard(stored.token)
            self._acknowledge(stored.record, sent[1].session)
        if room is not None:
            room.remember(stored.record)
            self._fan_out(
                room,
                protocol.with_nonce(stored.record, None),
                None if sent is None else sent[1].session,
            )

    def _reset(self, room: ClusterRoom, epoch: str) -> None:
        """The backplane lost the room's history: ids start again; members are told."""
        log.warning(
            "room %r: history was reset in Redis (epoch %s -> %s)", room.name, room.epoch, epoch
        )
        room.epoch = epoch
        room.delivered = 0
        room.waiting = {i: s for i, s in room.waiting.items() if s.epoch == epoch}
        room.messages.clear()
        self._delivery.broadcast(room.v2, protocol.encode(protocol.history_reset_notice()))

    # Losing and regaining the backplane ------------------------------------------------

    def _lost(self, reason: Exception) -> None:
        if self._closing:
            return
        if self.healthy:
            log.error("Redis lost (%s): refusing messages until it is back", reason)
            self.healthy = False
        for record, member, _ in self._outbox:
            self._refuse_unstored(record, member)
        self._outbox.clear()
        if self._recovery is None or self._recovery.done():
            self._recovery = asyncio.get_running_loop().create_task(self._recover())

    async def _recover(self) -> None:
        for attempt in itertools.count():
            await asyncio.sleep(BACKOFF[min(attempt, len(BACKOFF) - 1)])
            try:
                await self._backplane.ping()
                await self._beat()
                while self._unreleased:
                    room, name, secret = self._unreleased[-1]
                    await self._backplane.leave(room, name, secret)
                    self._unreleased.pop()
                if await self._backplane.bus_trimmed_past():
                    await self._resync()
                if self._doubtful:
                    marker = f"sync-{next(self._tokens)}"
                    self._markers[marker] = set(self._doubtful)
                    await self._backplane.signal("", "sync", t=marker)
            except BackplaneError:
                continue
            log.warning("Redis is back")
            self.healthy = True
            self._wake.set()
            return

    def _settle(self, marker: str) -> None:
        """Every write in doubt before ``marker`` that the bus did not carry was not stored."""
        for token in self._markers.pop(marker, ()):
            if token in self._doubtful:
                self._doubtful.discard(token)
                sent = self._inflight.pop(token, None)
                if sent is not None:
                    self._refuse_unstored(*sent)

    async def _resync(self) -> None:
        """After missing part of the bus: member lists from the backplane, announced as changes."""
        for room in list(self._rooms.values()):
            assert isinstance(room, ClusterRoom)
            names = await self._backplane.room_names(room.name)
            current = {name_key(n): n for n in names} | {k: m.name for k, m in room.members.items()}
            for key in set(room.everyone) - set(current):
                self._announce(room, "leave", room.everyone.pop(key), None)
            for key in set(current) - set(room.everyone):
                room.everyone[key] = current[key]
                self._announce(room, "join", current[key], None)
            last, epoch = await self._backplane.room_state(room.name)
            if room.epoch and epoch and epoch != room.epoch:
                self._reset(room, epoch)
            elif room.delivered is not None and last > room.delivered:
                self._spawn(self._fill_to(room, last))

    async def _fill_to(self, room: ClusterRoom, last: int) -> None:
        assert room.delivered is not None
        for stored in await self._backplane.records(room.name, room.delivered + 1, last):
            self._offer(room, stored)

    # Heartbeat ----------------------------------------------------------------------------

    async def _beat(self) -> None:
        """Refresh the heartbeat; if Redis forgot this node (restarted empty, or reaped it
        after a long silence), register its members again."""
        if not await self._backplane.heartbeat():
            members = [(m.room.name, m.name, m.resume) for m in self._members.values()]
            log.warning(
                "Redis had forgotten this node: registering %d member(s) again", len(members)
            )
            await self._backplane.restore(members)
        await self._backplane.reap()

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self._backplane.presence_ttl / 4)
            if not self.healthy:
                continue
            try:
                await self._beat()
            except BackplaneError as exc:
                self._lost(exc)


class _KnownMessages:
    """The one History question the hub asks synchronously (which message an edit, deletion
    or reply names), answered from the rooms' recent messages; the rest of the history is
    the backplane's, read asynchronously by the cluster hub itself."""

    def __init__(self, hub: ClusterHub) -> None:
        self._hub = hub

    def message(self, room: str, message_id: int) -> ChatRecord | None:
        tracked = self._hub._rooms.get(room)
        return tracked.messages.get(message_id) if isinstance(tracked, ClusterRoom) else None


class LimitedClusterHub(JoinLimitedHub, ClusterHub):
    """The cluster hub with the per-connection join budget (server.flood)."""
