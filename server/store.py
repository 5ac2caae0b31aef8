"""Chat history in SQLite: one file per data dir, WAL, written in batches.

The hub hands over every record of an event-loop turn in one :meth:`HistoryStore.append_batch`,
which commits before anyone is told about them. With WAL and ``synchronous=NORMAL`` a commit
is a ``write()`` into the WAL file: it survives ``kill -9`` of the server (the OS has the
bytes), not a power cut; ``durable=True`` adds an fsync per batch for that.

Checkpoints (copying the WAL into the database, with an fsync) would stall a commit for
milliseconds every thousand pages, so the writer never runs them: a :class:`Checkpointer`
thread does, on its own connection, while the event loop goes on committing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from .protocol import ChatRecord, DeleteRecord, EditRecord, Quote, Record, file_ref, file_ref_obj, name_key

__all__ = ["HistoryStore", "StoreError", "COLUMNS", "visible_clause", "record_from_row"]

# Rows are appended in rowid order (cheap); only the compact (room, id) index is written
# out of order. A WITHOUT ROWID table keyed by (room, id) scatters whole rows across pages
# per room and cost 40 % more per message in a 200-room benchmark.
SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
    room TEXT NOT NULL,
    id INTEGER NOT NULL,
    sender TEXT NOT NULL,
    sender_key TEXT NOT NULL,
    recipient TEXT,
    recipient_key TEXT,
    content TEXT NOT NULL,
    ts INTEGER NOT NULL,
    nonce TEXT,
    kind INTEGER NOT NULL DEFAULT 0,
    target INTEGER,
    reply_to INTEGER,
    quote_sender TEXT,
    quote_text TEXT,
    edited INTEGER,
    deleted INTEGER NOT NULL DEFAULT 0,
    file TEXT  -- JSON of a shared file (protocol.file_ref_obj), NULL for a chat line
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_room ON messages (room, id);
CREATE TABLE IF NOT EXISTS identities (
    room TEXT NOT NULL,
    name_key TEXT NOT NULL,
    secret TEXT NOT NULL,
    PRIMARY KEY (room, name_key)
) WITHOUT ROWID;
"""

# Partial indexes: only replies and edit events pay for them, and a deletion finds the quotes
# and earlier versions of the text it must wipe without scanning the room.
INDEXES = """
CREATE INDEX IF NOT EXISTS replies ON messages (room, reply_to) WHERE reply_to IS NOT NULL;
CREATE INDEX IF NOT EXISTS amendments ON messages (room, target) WHERE target IS NOT NULL;
"""

# Columns added after the first release, for databases made by it.
ADDED_COLUMNS = {
    "kind": "INTEGER NOT NULL DEFAULT 0",
    "target": "INTEGER",
    "reply_to": "INTEGER",
    "quote_sender": "TEXT",
    "quote_text": "TEXT",
    "edited": "INTEGER",
    "deleted": "INTEGER NOT NULL DEFAULT 0",
    "file": "TEXT",
}

KIND_CHAT, KIND_EDIT, KIND_DELETE = 0, 1, 2
"""``messages.kind``: a message, or an event that changed an earlier one (``target``)."""

COLUMNS = "id, room, sender, content, ts, recipient, nonce, kind, target, reply_to, quote_sender, quote_text, edited, deleted, file"


def visible_clause(room: str, user: str, private: bool) -> tuple[str, tuple[str, ...]]:
    """WHERE clause and parameters for the messages of ``room`` that ``user`` may see."""
    if not private:
        return "room = ? AND recipient_key IS NULL", (room,)
    key = name_key(user)
    return "room = ? AND (recipient_key IS NULL OR recipient_key = ? OR sender_key = ?)", (room, key, key)


class StoreError(RuntimeError):
    """The history database cannot be used; the message says why, for a person."""


class HistoryStore:
    """Room history: the hub's only view of persistence (swap it for another backend)."""

    def __init__(
        self,
        path: Path,
        *,
        retention: int = 10_000,
        durable: bool = False,
    ) -> None:
        self.path = Path(path)
        self.retention = retention
        # Told after each commit (e.g. the search index: new rows to read); must not block.
        self.on_commit: Callable[[], None] | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock = _claim(self.path.with_name(self.path.name + ".lock"))
        except OSError as exc:
            raise StoreError(f"cannot use the data folder {self.path.parent}: {exc.strerror or exc}") from exc
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=2.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._db.execute("PRAGMA wal_autocheckpoint=0")
            self._db.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            self._db.executescript(SCHEMA)
            _add_missing_columns(self._db)
            self._db.executescript(INDEXES)
            self._db.execute("SELECT count(*) FROM messages WHERE room = ''").fetchone()
            problems = [row[0] for row in self._db.execute("PRAGMA quick_check(3)")]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError("damaged: " + " ".join(" ".join(problems).split()))
            self._db.execute("BEGIN IMMEDIATE")  # another program holding a write lock fails here
            self._db.execute("ROLLBACK")
        except sqlite3.DatabaseError as exc:
            self._lock.close()
            raise StoreError(f"cannot use the history database {self.path}: {exc}") from exc
        self._checkpointer = Checkpointer(self.path)

    def last_id(self, room: str) -> int:
        row = self._db.execute("SELECT max(id) FROM messages WHERE room = ?", (room,)).fetchone()
        return row[0] or 0

    def recent(self, room: str, user: str, limit: int, *, private: bool = True) -> list[ChatRecord]:
        """The last ``limit`` messages of ``room`` that ``user`` may see, oldest first.

        ``private=False`` leaves out every private message, the user's own included.
        Records keep the sender's nonce; the hub shows it to the sender only.
        """
        where, params = visible_clause(room, user, private)
        rows = self._db.execute(
            f"SELECT {COLUMNS} FROM messages WHERE {where} AND kind = {KIND_CHAT} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [record_from_row(row) for row in reversed(rows)]

    def message(self, room: str, message_id: int) -> ChatRecord | None:
        """Message ``message_id`` of ``room`` as it is now (None: no such message, or an event)."""
        row = self._db.execute(
            f"SELECT {COLUMNS} FROM messages WHERE room = ? AND id = ? AND kind = {KIND_CHAT}", (room, message_id)
        ).fetchone()
        return None if row is None else record_from_row(row)

    def since(
        self, room: str, user: str, after_id: int, limit: int, *, private: bool = True
    ) -> list[Record]:
        """The newest ``limit`` records after ``after_id`` that ``user`` may see, oldest first:
        messages in their current state and the edit/delete events among them."""
        where, params = visible_clause(room, user, private)
        rows = self._db.execute(
            f"SELECT {COLUMNS} FROM messages WHERE {where} AND id > ? ORDER BY id DESC LIMIT ?",
            (*params, after_id, limit),
        ).fetchall()
        return [record_from_row(row) for row in reversed(rows)]

    def secret(self, room: str, user: str) -> str | None:
        """The resume secret last issued to ``user`` in ``room`` (None: never joined)."""
        row = self._db.execute(
            "SELECT secret FROM identities WHERE room = ? AND name_key = ?", (room, name_key(user))
        ).fetchone()
        return row[0] if row else None

    def remember_secret(self, room: str, user: str, secret: str) -> None:
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO identities VALUES (?, ?, ?)", (room, name_key(user), secret)
            )
        except sqlite3.Error as exc:
            raise StoreError(f"resume secret not written: {exc}") from exc

    def append_batch(self, records: Sequence[Record]) -> None:
        """Store and commit ``records`` at once; raise StoreError if they are not durable.

        An edit or delete event is stored as a record of its own and applied to its target in
        the same commit, so history shows the current state and ``since`` the events.
        """
        plain, rich = [], []
        for r in records:
            if type(r) is ChatRecord and r.reply is None and r.file is None:
                plain.append(
                    (r.room, r.id, r.sender, name_key(r.sender), r.to, None if r.to is None else name_key(r.to),
                     r.content, r.timestamp, r.nonce)
                )
            else:
                rich.append(r)
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO messages (room, id, sender, sender_key, recipient, recipient_key, content, ts, nonce)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    plain,
                )
                for record in rich:
                    self._append_rich(record)
                self._trim(records)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # SQLite has already rolled back on a full disk
                    self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"history not written: {exc}") from exc
        self._checkpointer.wake()
        if self.on_commit is not None:
            self.on_commit()

    def _append_rich(self, r: Record) -> None:
        """A reply, or an event together with its effect on the message it changes."""
        db = self._db
        kind, target, content, quote, file = KIND_CHAT, None, "", None, None
        if isinstance(r, ChatRecord):
            content, quote = r.content, r.reply
            file = None if r.file is None else json.dumps(file_ref_obj(r.file), ensure_ascii=False)
        else:
            target = r.target
            if isinstance(r, EditRecord):
                kind, content = KIND_EDIT, r.content
                db.execute(
                    "UPDATE messages SET content = ?, edited = ? WHERE room = ? AND id = ? AND kind = 0 AND deleted = 0",
                    (r.content, r.timestamp, r.room, r.target),
                )
            else:
                kind = KIND_DELETE
                # The text goes everywhere it was kept: the message, its earlier versions, quotes of it.
                db.execute(
                    "UPDATE messages SET content = '', deleted = 1 WHERE room = ? AND id = ? AND kind = 0",
                    (r.room, r.target),
                )
                db.execute(
                    "UPDATE messages SET content = '' WHERE room = ? AND target = ? AND kind = 1", (r.room, r.target)
                )
                db.execute(
                    "UPDATE messages SET quote_text = NULL WHERE room = ? AND reply_to = ?", (r.room, r.target)
                )
        db.execute(
            "INSERT INTO messages (room, id, sender, sender_key, recipient, recipient_key, content, ts, nonce,"
            " kind, target, reply_to, quote_sender, quote_text, file)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                r.room, r.id, r.sender, name_key(r.sender), r.to, None if r.to is None else name_key(r.to),
                content, r.timestamp, r.nonce, kind, target,
                None if quote is None else quote.id,
                None if quote is None else quote.sender,
                None if quote is None else quote.excerpt,
                file,
            ),
        )

    def _trim(self, records: Sequence[Record]) -> None:
        """Keep ``retention`` messages per room, pruning every TRIM_EVERY ids (not per batch)."""
        if self.retention <= 0:
            return
        due = {r.room: r.id for r in records if r.id % TRIM_EVERY == 0}
        self._db.executemany(
            "DELETE FROM messages WHERE room = ? AND id <= ? - ?",
            [(room, last, self.retention) for room, last in due.items()],
        )

    def close(self) -> None:
        self._checkpointer.stop()
        self._db.close()
        self._lock.close()


TRIM_EVERY = 64
"""A room holds at most retention + TRIM_EVERY - 1 messages between prunes."""

WAL_SIZE_LIMIT = 16 * 1024 * 1024
"""Bytes of write-ahead log kept once it is rewound. Under sustained load the WAL cannot be
rewound (there is always a newer commit than the last checkpoint) and grows (244 MB in 4 s of
the 200x10 benchmark); SQLite keeps the file at its peak size unless told this limit."""


def _claim(lock_path: Path):
    """Lock ``lock_path`` for this process (released on close or exit), or raise OSError.

    A second server on the same data folder would interleave message ids with the first.
    """
    handle = open(lock_path, "a+b")  # noqa: SIM115 - held open as long as the store
    try:
        if os.name == "nt":
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.close()
        raise OSError(exc.errno, "another RoomChat server is using this data folder") from exc
    return handle


class Checkpointer:
    """Copies the WAL into the database on its own thread, at most every ``interval`` s."""

    def __init__(self, path: Path, interval: float = 1.0) -> None:
        self._path = path
        self._interval = interval
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="history-checkpoint", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._dirty.set()

    def _run(self) -> None:
        try:  # Linux threads take a nice value: let the event loop have the core first
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except (AttributeError, OSError):
            pass
        db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            while not self._stopping.is_set():
                self._dirty.wait()
                self._dirty.clear()
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    pass  # busy or failing disk: the WAL keeps the data, the next round retries
                self._stopping.wait(self._interval)
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass
        finally:
            db.close()

    def stop(self) -> None:
        self._stopping.set()
        self._dirty.set()
        self._thread.join()


def _add_missing_columns(db: sqlite3.Connection) -> None:
    present = {row[1] for row in db.execute("PRAGMA table_info(messages)")}
    for name, declaration in ADDED_COLUMNS.items():
        if name not in present:
            db.execute(f"ALTER TABLE messages ADD COLUMN {name} {declaration}")


def record_from_row(row: tuple) -> Record:
    """A row of :data:`COLUMNS` as the record it stores."""
    (id_, room, sender, content, ts, to, nonce, kind, target, reply_to, quote_sender, quote_text, edited, deleted,
     file) = row
    if kind == KIND_EDIT:
        return EditRecord(id_, room, sender, target, content, ts, to, nonce)
    if kind == KIND_DELETE:
        return DeleteRecord(id_, room, sender, target, ts, to, nonce)
    quote = None if reply_to is None else Quote(reply_to, quote_sender, quote_text)
    return ChatRecord(id_, room, sender, content, ts, to, nonce, quote, edited, bool(deleted),
                      None if file is None else file_ref(json.loads(file)))
