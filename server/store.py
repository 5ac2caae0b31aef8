"""Chat history in SQLite: one file per data dir, WAL, written in batches.

The hub hands over every record of an event-loop turn in one :meth:`HistoryStore.append_batch`,
which commits before anyone is told about them. With WAL and ``synchronous=NORMAL`` a commit
is a ``write()`` into the WAL file: it survives ``kill -9`` of the server (the OS has the
bytes), not a power cut; ``durable=True`` adds an fsync per batch for that.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from .protocol import ChatRecord, name_key

__all__ = ["HistoryStore", "StoreError"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    room TEXT NOT NULL,
    id INTEGER NOT NULL,
    sender TEXT NOT NULL,
    sender_key TEXT NOT NULL,
    recipient TEXT,
    recipient_key TEXT,
    content TEXT NOT NULL,
    ts INTEGER NOT NULL,
    nonce TEXT,
    PRIMARY KEY (room, id)
) WITHOUT ROWID;
"""

_COLUMNS = "id, room, sender, content, ts, recipient, nonce"
_VISIBLE = "room = ? AND (recipient_key IS NULL OR recipient_key = ? OR sender_key = ?)"


class StoreError(RuntimeError):
    """The history database cannot be used; the message says why, for a person."""


class HistoryStore:
    """Room history: the hub's only view of persistence (swap it for another backend)."""

    def __init__(self, path: Path, *, retention: int = 10_000, durable: bool = False) -> None:
        self.path = Path(path)
        self.retention = retention
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=2.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._db.executescript(SCHEMA)
            self._db.execute("SELECT count(*) FROM messages WHERE room = ''").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot use the history database {self.path}: {exc}") from exc
        except OSError as exc:
            raise StoreError(f"cannot create the data folder {self.path.parent}: {exc}") from exc

    def last_id(self, room: str) -> int:
        row = self._db.execute("SELECT max(id) FROM messages WHERE room = ?", (room,)).fetchone()
        return row[0] or 0

    def recent(self, room: str, user: str, limit: int) -> list[ChatRecord]:
        """The last ``limit`` messages of ``room`` that ``user`` may see, oldest first.

        Records keep the sender's nonce; the hub shows it to the sender only.
        """
        key = name_key(user)
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM messages WHERE {_VISIBLE} ORDER BY id DESC LIMIT ?",
            (room, key, key, limit),
        ).fetchall()
        return [_record(row) for row in reversed(rows)]

    def since(self, room: str, user: str, after_id: int) -> list[ChatRecord]:
        """Every message of ``room`` after ``after_id`` that ``user`` may see, oldest first."""
        key = name_key(user)
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM messages WHERE {_VISIBLE} AND id > ? ORDER BY id",
            (room, key, key, after_id),
        ).fetchall()
        return [_record(row) for row in rows]

    def append_batch(self, records: Sequence[ChatRecord]) -> None:
        """Store and commit ``records`` at once; raise StoreError if they are not durable."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            r.room,
                            r.id,
                            r.sender,
                            name_key(r.sender),
                            r.to,
                            None if r.to is None else name_key(r.to),
                            r.content,
                            r.timestamp,
                            r.nonce,
                        )
                        for r in records
                    ],
                )
                self._trim({r.room: r.id for r in records})
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"history not written: {exc}") from exc

    def _trim(self, newest: dict[str, int]) -> None:
        if self.retention <= 0:
            return
        self._db.executemany(
            "DELETE FROM messages WHERE room = ? AND id <= ? - ?",
            [(room, last, self.retention) for room, last in newest.items()],
        )

    def close(self) -> None:
        self._db.close()


def _record(row: tuple) -> ChatRecord:
    return ChatRecord(*row)
