"""The Redis backplane: what several ``roomchat-server`` processes share to act as one.

Only this module speaks Redis (``redis.asyncio``); :mod:`server.cluster` drives it and knows
nothing of keys or scripts. The design follows Centrifugo's Redis engine:

========================  ===========  ===================================================
key                       type         holds
========================  ===========  ===================================================
``rc:{room}:meta``        hash         ``last`` (the room's last id), ``epoch``
``rc:{room}:log``         stream       the room's records, entry id ``<id>-0``, trimmed to
                                       the retention
``rc:{room}:members``     hash         name key -> ``[name, node, resume secret]``
``rc:{room}:secrets``     hash         name key -> the last resume secret issued
``rc:bus``                stream       every event for every node, in one order
``rc:node:<id>``          string+TTL   the node's heartbeat
``rc:node:<id>:rooms``    set          rooms where the node has had members
``rc:nodes``              set          nodes that may need reaping
========================  ===========  ===================================================

Publishing is one ``EVALSHA`` per batch: for each record HINCRBY the room's counter, XADD the
record to the room's log and to the bus, atomically, so ids are dense and ordered per room
whichever process wrote them, and the bus carries them in id order. The caller acknowledges a
message only after the script returned (an error or a lost connection is never an ack).

Records are stored generically: the record's dataclass fields as JSON (whatever kinds and
fields :mod:`server.protocol` defines), the id beside them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import protocol
from .protocol import name_key
from .store import StoreError

__all__ = [
    "RedisBackplane",
    "BackplaneError",
    "InDoubt",
    "JoinResult",
    "BusEvent",
    "StoredRecord",
    "bus_id_key",
    "visible_to",
]

log = logging.getLogger(__name__)

BUS = "rc:bus"
NODES = "rc:nodes"
BUS_MAXLEN = 100_000
"""Bus entries kept (approximately). A node away longer than the bus holds finds gaps in
rooms' ids and fills them from the rooms' logs, and re-reads member lists."""

READ_BLOCK_MS = 2000
READ_COUNT = 2000


class BackplaneError(StoreError):
    """Redis (the history store of this mode) refused or could not be reached: nothing was stored."""


class InDoubt(BackplaneError):
    """The connection broke while a write was in flight: it may or may not be stored."""


def _meta(room: str) -> str:
    return f"rc:{{{room}}}:meta"


def _log(room: str) -> str:
    return f"rc:{{{room}}}:log"


def _members(room: str) -> str:
    return f"rc:{{{room}}}:members"


def _secrets(room: str) -> str:
    return f"rc:{{{room}}}:secrets"


def _node(node: str) -> str:
    return f"rc:node:{node}"


def _node_rooms(node: str) -> str:
    return f"rc:node:{node}:rooms"


def bus_id_key(entry_id: str) -> tuple[int, int]:
    """Stream ids compare as (milliseconds, sequence)."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


# Scripts ---------------------------------------------------------------------------------

# KEYS: bus, then (meta, log) per record. ARGV: node, retention, bus maxlen, then
# (record json, token, room) per record. Returns {id, epoch} per record.
PUBLISH = """#!lua
local node, retention, busmax = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local out = {}
local now = redis.call('TIME')
for i = 1, (#KEYS - 1) / 2 do
  local meta, log = KEYS[2 * i], KEYS[2 * i + 1]
  local rec, token, room = ARGV[3 * i + 1], ARGV[3 * i + 2], ARGV[3 * i + 3]
  redis.call('HSETNX', meta, 'epoch', node .. '.' .. now[1] .. '.' .. now[2])
  local epoch = redis.call('HGET', meta, 'epoch')
  local id = redis.call('HINCRBY', meta, 'last', 1)
  if retention > 0 then
    redis.call('XADD', log, 'MAXLEN', '~', retention, id .. '-0', 'r', rec, 'n', node, 't', token)
  else
    redis.call('XADD', log, id .. '-0', 'r', rec, 'n', node, 't', token)
  end
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', busmax, '*', 'k', 'rec', 'room', room, 'id', id,
             'e', epoch, 'r', rec, 'n', node, 't', token)
  out[i] = {id, epoch}
end
return out
"""

# KEYS: members, secrets, meta, bus, node rooms. ARGV: node, name key, name, offered resume,
# new secret, room. Returns {status, issued secret, last id, epoch, bus id, names...}.
JOIN = """
local members, secrets, meta, bus, noderooms = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local node, key, name, offered, secret, room = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local held = redis.call('HGET', members, key)
local replaced = nil
if held then
  local entry = cjson.decode(held)
  if redis.call('EXISTS', 'rc:node:' .. entry[2]) == 1 then
    if offered ~= '' and offered == entry[3] then
      replaced = entry[2]
    else
      return {'taken'}
    end
  end
end
local issued = redis.call('HGET', secrets, key) or ''
redis.call('HSET', members, key, cjson.encode({name, node, secret}))
-- Only the owner's secret is remembered: one who takes a free name without it must not
-- become its owner by rejoining with the secret this join hands out.
if issued == '' or issued == offered then redis.call('HSET', secrets, key, secret) end
redis.call('SADD', noderooms, room)
local now = redis.call('TIME')
redis.call('HSETNX', meta, 'epoch', node .. '.' .. now[1] .. '.' .. now[2])
local last = redis.call('HGET', meta, 'last') or '0'
local epoch = redis.call('HGET', meta, 'epoch')
local busid
if replaced then
  busid = redis.call('XADD', bus, 'MAXLEN', '~', ARGV[7], '*', 'k', 'replace', 'room', room,
                     'u', name, 'n', replaced, 'by', node)
else
  busid = redis.call('XADD', bus, 'MAXLEN', '~', ARGV[7], '*', 'k', 'join', 'room', room,
                     'u', name, 'n', node)
end
local out = {replaced and 'replaced' or 'ok', issued, last, epoch, busid}
local alive = {}
for _, value in ipairs(redis.call('HVALS', members)) do
  local entry = cjson.decode(value)
  if alive[entry[2]] == nil then
    alive[entry[2]] = redis.call('EXISTS', 'rc:node:' .. entry[2]) == 1
  end
  if alive[entry[2]] then out[#out + 1] = entry[1] end
end
return out
"""

# KEYS: members, bus. ARGV: node, name key, resume, room, name, bus maxlen.
# Removes the member only if this node still holds it with this secret (compare and delete).
LEAVE = """
local held = redis.call('HGET', KEYS[1], ARGV[2])
if not held then return 0 end
local entry = cjson.decode(held)
if entry[2] ~= ARGV[1] or entry[3] ~= ARGV[3] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 'k', 'leave', 'room', ARGV[4],
           'u', ARGV[5], 'n', ARGV[1])
return 1
"""

# KEYS: nodes, bus. ARGV: bus maxlen. Every node whose heartbeat expired loses its members:
# a leave event for each, then it is forgotten. Returns the number of members removed.
REAP = """
local removed = 0
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', 'rc:node:' .. node) == 0 then
    local rooms = 'rc:node:' .. node .. ':rooms'
    for _, room in ipairs(redis.call('SMEMBERS', rooms)) do
      local members = 'rc:{' .. room .. '}:members'
      local all = redis.call('HGETALL', members)
      for i = 1, #all, 2 do
        local entry = cjson.decode(all[i + 1])
        if entry[2] == node then
          redis.call('HDEL', members, all[i])
          redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', 'k', 'leave', 'room', room,
                     'u', entry[1], 'n', node)
          removed = removed + 1
        end
      end
    end
    redis.call('DEL', rooms)
    redis.call('SREM', KEYS[1], node)
  end
end
return removed
"""


# Values ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JoinResult:
    status: str  # "ok", "replaced" (a live holder's secret was offered) or "taken"
    issued: str | None = None  # the secret issued before this join (None: never joined)
    last_id: int = 0
    epoch: str = ""
    bus_id: str = "0-0"
    names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record as the log holds it: who wrote it (node, token) and in which epoch."""

    record: protocol.Record
    node: str
    token: str
    epoch: str = ""


@dataclass(frozen=True, slots=True)
class BusEvent:
    bus_id: str
    kind: str  # rec, join, leave, replace, typing, sync
    room: str
    fields: dict
    stored: StoredRecord | None = None


_KINDS: dict[str, type] = {kind.__name__: kind for kind in typing.get_args(protocol.Record)}
"""Every kind of record the hub stores (messages, edits, deletions...), by class name."""


@functools.cache
def _layout(kind: type) -> tuple[tuple[str, ...], dict[str, type]]:
    """A record kind's field names (the id left out) and which fields hold a nested dataclass
    (a reply's quote), worked out once per kind: type hints are slow to resolve."""
    hints = typing.get_type_hints(kind, vars(protocol))
    names = tuple(f.name for f in dataclasses.fields(kind) if f.name != "id")
    nested = {}
    for name in names:
        inner = [t for t in typing.get_args(hints[name]) if dataclasses.is_dataclass(t)]
        if inner:
            nested[name] = inner[0]
    return names, nested


def encode_record(record: protocol.Record) -> str:
    """The record's kind and every field but the id (Redis assigns it), as JSON: new kinds
    and fields of :data:`protocol.Record` travel untouched."""
    names, nested = _layout(type(record))
    fields = {name: getattr(record, name) for name in names}
    for name in nested:
        if fields[name] is not None:
            fields[name] = dataclasses.asdict(fields[name])
    fields["kind"] = type(record).__name__
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def decode_record(record_id: int, text: str) -> protocol.Record:
    obj = json.loads(text)
    kind = _KINDS[obj.pop("kind", "ChatRecord")]
    names, nested = _layout(kind)
    values = {name: obj[name] for name in names if name in obj}
    for name, inner in nested.items():
        if isinstance(values.get(name), dict):
            values[name] = inner(**values[name])
    return kind(record_id, **values)


def fold(records: list[protocol.Record]) -> list[protocol.Record]:
    """Records (newest first, a contiguous stretch up to the newest) in their current state:
    edits and deletions apply to the messages and quotes among them, as the SQLite store
    applies them when it commits. Every event is newer than its target, so the stretch holds
    all events for the messages in it."""
    edits: dict[int, tuple[str, int]] = {}
    deleted: set[int] = set()
    out: list[protocol.Record] = []
    for record in records:
        if isinstance(record, protocol.DeleteRecord):
            deleted.add(record.target)
        elif isinstance(record, protocol.EditRecord):
            edits.setdefault(record.target, (record.content, record.timestamp))
            if record.target in deleted:
                record = dataclasses.replace(record, content="")
        elif isinstance(record, protocol.ChatRecord):
            if record.id in deleted:
                record = dataclasses.replace(record, content="", deleted=True)
            elif record.id in edits:
                content, when = edits[record.id]
                record = dataclasses.replace(record, content=content, edited=when)
            if record.reply is not None and record.reply.id in deleted:
                record = dataclasses.replace(record, reply=dataclasses.replace(record.reply, excerpt=None))
        out.append(record)
    return out


def _stored(entry_id: str, fields: dict) -> StoredRecord:
    return StoredRecord(
        decode_record(int(entry_id.split("-", 1)[0]), fields["r"]),
        fields.get("n", ""),
        fields.get("t", ""),
    )


def visible_to(record: protocol.Record, key: str, *, private: bool) -> bool:
    """Whether the member whose name key is ``key`` may see ``record`` in its history
    (``private=False``: no private messages at all, its own included)."""
    if record.to is None:
        return True
    return private and (name_key(record.to) == key or name_key(record.sender) == key)


# The backplane ---------------------------------------------------------------------------


class RedisBackplane:
    """One node's connections to Redis: commands on one, the bus reader on another."""

    def __init__(
        self, url: str, node: str, *, retention: int = 10_000, presence_ttl: float = 60.0
    ) -> None:
        self.url = url
        self.node = node
        self.retention = retention
        self.presence_ttl = presence_ttl
        # No automatic retries: a script re-sent after a broken connection could be stored
        # twice. A write whose reply was lost is settled by the caller (InDoubt).
        options = {
            "decode_responses": True,
            "socket_connect_timeout": 2.0,
            "socket_keepalive": True,
            "retry": Retry(NoBackoff(), 0),
        }
        # Writes wait out a stall (DEBUG SLEEP, a slow fsync) instead of guessing: a timeout
        # would leave the write in doubt.
        try:
            self._commands = aioredis.Redis.from_url(url, socket_timeout=30.0, **options)
            self._reader = aioredis.Redis.from_url(
                url, socket_timeout=READ_BLOCK_MS / 1000 + 5.0, **options
            )
        except ValueError as exc:
            raise BackplaneError(f"cannot use the Redis address {url!r}: {exc}") from exc
        self._publish = self._commands.register_script(PUBLISH)
        self._join = self._commands.register_script(JOIN)
        self._leave = self._commands.register_script(LEAVE)
        self._reap = self._commands.register_script(REAP)
        self.bus_position = "0-0"

    async def connect(self) -> None:
        """Check that Redis answers and can persist; raise BackplaneError with the reason."""
        try:
            await self._commands.ping()
            await self._reader.ping()
            last = await self._commands.xrevrange(BUS, count=1)
        except RedisError as exc:
            raise BackplaneError(f"cannot reach Redis at {self.url}: {exc}") from exc
        self.bus_position = last[0][0] if last else "0-0"

    async def close(self) -> None:
        await self._commands.aclose()
        await self._reader.aclose()

    # Heartbeat and presence ------------------------------------------------------------

    async def heartbeat(self) -> bool:
        """Refresh this node's heartbeat; False if it had expired or vanished (re-register)."""
        ttl_ms = int(self.presence_ttl * 1000)
        async with self._commands.pipeline(transaction=False) as pipe:
            pipe.set(_node(self.node), "1", px=ttl_ms, get=True)
            pipe.sadd(NODES, self.node)
            previous, _ = await self._call(pipe.execute())
        return previous is not None

    async def register(self) -> None:
        """Start this node: members a previous run under the same name left are reaped now,
        not after their heartbeat expires."""
        await self._call(self._commands.delete(_node(self.node)))
        await self.reap()
        await self.heartbeat()

    async def reap(self) -> int:
        """Remove the members of nodes whose heartbeat expired (any node may do it)."""
        return await self._call(self._reap(keys=[NODES, BUS], args=[BUS_MAXLEN]))

    async def join(self, room: str, name: str, offered: str | None, secret: str) -> JoinResult:
        reply = await self._call(
            self._join(
                keys=[_members(room), _secrets(room), _meta(room), BUS, _node_rooms(self.node)],
                args=[self.node, name_key(name), name, offered or "", secret, room, BUS_MAXLEN],
            )
        )
        if reply[0] == "taken":
            return JoinResult("taken")
        status, issued, last, epoch, bus_id, *names = reply
        return JoinResult(status, issued or None, int(last), epoch, bus_id, tuple(names))

    async def leave(self, room: str, name: str, secret: str) -> None:
        await self._call(
            self._leave(
                keys=[_members(room), BUS],
                args=[self.node, name_key(name), secret, room, name, BUS_MAXLEN],
            )
        )

    async def restore(self, members: Sequence[tuple[str, str, str]]) -> None:
        """Register (room, name, secret) of this node again after Redis forgot or reaped it."""
        async with self._commands.pipeline(transaction=False) as pipe:
            for room, name, secret in members:
                pipe.hset(_members(room), name_key(name), json.dumps([name, self.node, secret]))
                pipe.hset(_secrets(room), name_key(name), secret)
                pipe.sadd(_node_rooms(self.node), room)
                pipe.xadd(
                    BUS, {"k": "join", "room": room, "u": name, "n": self.node}, maxlen=BUS_MAXLEN
                )
            await self._call(pipe.execute())

    async def room_names(self, room: str) -> tuple[str, ...]:
        """Names of the room's members on live nodes."""
        entries = [json.loads(v) for v in (await self._call(self._commands.hvals(_members(room))))]
        nodes = sorted({e[1] for e in entries})
        alive = (
            dict(zip(nodes, await self._call(self._commands.mget([_node(n) for n in nodes]))))
            if nodes
            else {}
        )
        return tuple(e[0] for e in entries if alive.get(e[1]) is not None)

    # Messages ---------------------------------------------------------------------------

    async def publish(
        self, batch: Sequence[tuple[protocol.Record, str]]
    ) -> list[tuple[int, str]]:
        """Store ``(record, token)`` pairs; returns (id, epoch) each. Raises BackplaneError
        (not stored) or InDoubt (the connection broke mid-write)."""
        keys = [BUS]
        args: list = [self.node, self.retention, BUS_MAXLEN]
        for record, token in batch:
            keys += [_meta(record.room), _log(record.room)]
            args += [encode_record(record), token, record.room]
        reply = await self._call(self._publish(keys=keys, args=args))
        return [(int(i), e) for i, e in reply]

    async def signal(self, room: str, kind: str, **fields: str) -> None:
        """An event that is not stored (typing, the sync marker): the bus only."""
        await self._call(
            self._commands.xadd(
                BUS, {"k": kind, "room": room, "n": self.node, **fields}, maxlen=BUS_MAXLEN
            )
        )

    async def room_state(self, room: str) -> tuple[int, str]:
        """(last id, epoch) of the room."""
        last, epoch = await self._call(self._commands.hmget(_meta(room), ["last", "epoch"]))
        return int(last or 0), epoch or ""

    async def records(self, room: str, first: int, last: int | None) -> list[StoredRecord]:
        """The room's stored records with ids first..last (None: to the end), oldest first."""
        entries = await self._call(
            self._commands.xrange(_log(room), f"{first}-0", "+" if last is None else f"{last}-0")
        )
        return [_stored(entry_id, fields) for entry_id, fields in entries]

    async def latest(
        self, room: str, after: int, limit: int, keep: Callable[[protocol.Record], bool]
    ) -> tuple[list[protocol.Record], int]:
        """The newest ``limit`` records after ``after`` that ``keep`` accepts, in their current
        state (see :func:`fold`), oldest first; and the newest id the log holds."""
        found: list[protocol.Record] = []
        scanned: list[protocol.Record] = []
        upper, top = "+", None
        step = max(limit, 64)
        while len(found) < limit:
            entries = await self._call(self._commands.xrevrange(_log(room), upper, f"{after + 1}-0", count=step))
            batch = [_stored(entry_id, fields).record for entry_id, fields in entries]
            if top is None and batch:
                top = batch[0].id
            scanned += batch
            found = [r for r in fold(scanned) if keep(r)]
            if len(entries) < step:
                break
            upper = f"({entries[-1][0]}"
        if top is None:  # nothing after ``after`` (not the counter: it may already be ahead)
            top = after
        found = found[:limit]
        found.reverse()
        return found, top

    # The bus ------------------------------------------------------------------------------

    async def read_bus(self) -> list[BusEvent]:
        """The next events after the last one read (waits up to READ_BLOCK_MS)."""
        reply = await self._call(
            self._reader.xread({BUS: self.bus_position}, count=READ_COUNT, block=READ_BLOCK_MS)
        )
        events: list[BusEvent] = []
        for _, entries in reply or ():
            for entry_id, fields in entries:
                kind = fields.get("k", "")
                stored = None
                if kind == "rec":
                    stored = dataclasses.replace(
                        _stored(f"{fields['id']}-0", fields), epoch=fields.get("e", "")
                    )
                events.append(BusEvent(entry_id, kind, fields.get("room", ""), fields, stored))
                self.bus_position = entry_id
        return events

    async def bus_trimmed_past(self) -> bool:
        """True if entries after our position were trimmed away (we were gone too long)."""
        first = await self._call(self._reader.xrange(BUS, count=1))
        return (
            bool(first)
            and bus_id_key(first[0][0]) > bus_id_key(self.bus_position)
            and self.bus_position != "0-0"
        )

    async def ping(self) -> None:
        await self._call(self._commands.ping())
        await self._call(self._reader.ping())

    @staticmethod
    async def _call(awaitable):
        try:
            return await awaitable
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise InDoubt(f"Redis connection lost: {exc}") from exc
        except ResponseError as exc:
            raise BackplaneError(f"Redis refused: {exc}") from exc
        except RedisError as exc:
            raise BackplaneError(f"Redis error: {exc}") from exc
        except asyncio.CancelledError:
            raise
