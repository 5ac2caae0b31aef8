"""Full-text search of the history: an SQLite FTS5 index kept and queried off the event loop.

The index lives in its own database file (``search.sqlite3`` beside the history) and is
written only by this module's thread, so it never takes the history's write lock: the event
loop's commits never wait for indexing, and a slow query never stalls a chat. The thread
reads new history rows (the history database is ATTACHed; WAL lets it read while the loop
writes), indexes them, and answers queries, which it joins back to the history rows so that
visibility, edits and deletions are those of the history itself.

Tokenizer: ``unicode61`` over the text with every run of CJK characters cut into
overlapping pairs ("我们去北京" is indexed as "我们 们去 去北 北京 京"). Alone, unicode61
keeps a run of Chinese characters as one token, so "北京" would not find "我们今天去北京";
``trigram`` (present: SQLite >= 3.34, checked 3.40.1) finds substrings but only of three or
more characters, and most Chinese words have two. With pairs, a Chinese word of any length
is a phrase of pairs and one character is a prefix; a Latin word matches the start of a
word ("meet" finds "meeting"). Every word of a query must match; its text is always taken
literally (no FTS5 operators). Measured in docs/bench/search_bench.py.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .protocol import ChatRecord
from .store import COLUMNS, KIND_CHAT, KIND_DELETE, KIND_EDIT, record_from_row, visible_clause

__all__ = ["SearchIndex", "SearchUnavailable"]

log = logging.getLogger(__name__)

SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS message_words USING fts5(body, tokenize = 'unicode61');
CREATE TABLE IF NOT EXISTS progress (
    one INTEGER PRIMARY KEY CHECK (one = 0),
    seq INTEGER NOT NULL
);
"""

INDEX_BATCH = 5000
"""History rows indexed per transaction: a search waiting behind a long catch-up waits one batch."""

PURGE_EVERY = 20_000
"""Rows indexed between purges of index entries whose messages the retention has deleted."""


class SearchUnavailable(RuntimeError):
    """This SQLite has no FTS5 or no trigram tokenizer (needs 3.34 or newer)."""


@dataclass(frozen=True, slots=True)
class _Query:
    room: str
    user: str
    text: str
    private: bool
    limit: int
    done: Callable[[list[ChatRecord] | None], None]


_WAKE = object()
_STOP = object()


_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+")
_ENDS_WITH_CJK_PAIR = re.compile(_CJK_RUN.pattern[:-1] + "{2,}$")


def _pairs(run: str) -> str:
    return " ".join([run[i : i + 2] for i in range(len(run) - 1)] + [run[-1]])


def words_text(text: str) -> str:
    """The text as the index sees it: each CJK run as its overlapping pairs, then its last character."""
    if text.isascii():  # most chat: no CJK run to find, and the regex costs 2 us per 70 characters
        return text
    return _CJK_RUN.sub(lambda m: f" {_pairs(m.group())} ", text)


def match_expression(query: str) -> str | None:
    """FTS5 syntax for "every word of ``query``": each a quoted phrase (nothing in it is an
    operator) whose last token is a prefix; None if no word has anything to look up."""
    phrases = []
    for word in query.split():
        if not re.search(r"\w", word):
            continue  # punctuation only: unicode61 keeps no token of it
        tokens = words_text(word)
        if _ENDS_WITH_CJK_PAIR.search(word):
            # The run may go on in the text (its pairs continue there): drop our run's last character.
            tokens = tokens.rstrip()[:-1]
        phrases.append('"' + " ".join(tokens.split()).replace('"', '""') + '" *')
    return " AND ".join(phrases) or None


class SearchIndex:
    """The search side of one history database: ``start(post)``, ``wake()``, ``search()``, ``stop()``.

    ``post`` hands a callable to the hub's thread (``loop.call_soon_threadsafe``): every
    ``done`` callback runs there, never on the search thread.
    """

    def __init__(
        self,
        path: Path,
        history_path: Path,
        *,
        quiet: float = 0.5,
        max_delay: float = 5.0,
        time_limit: float = 2.0,
    ) -> None:
        self.path = Path(path)
        self._history_path = Path(history_path)
        # New rows are indexed once no commit came for ``quiet`` s, at the latest ``max_delay`` s
        # after the first of them, and always before a query: a burst of chat is not slowed
        # by indexing it while it lasts.
        self._quiet = quiet
        self._max_delay = max_delay
        self._time_limit = time_limit  # a query running longer is interrupted and fails
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._dirty = threading.Event()
        self._last_commit = 0.0
        self._post: Callable[[Callable[[], None]], object] | None = None
        self._thread: threading.Thread | None = None
        self._db = self._open()  # opened here so that a broken SQLite fails at start, in the caller

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5.0)
        try:
            db.executescript(SCHEMA)
        except sqlite3.OperationalError as exc:
            db.close()
            raise SearchUnavailable(f"SQLite {sqlite3.sqlite_version} cannot search: {exc}") from exc
        db.execute("ATTACH DATABASE ? AS hist", (str(self._history_path),))
        db.create_function("words_text", 1, words_text, deterministic=True)
        return db

    def start(self, post: Callable[[Callable[[], None]], object]) -> None:
        self._post = post
        self._dirty.set()  # whatever the history gained while no index was kept
        self._thread = threading.Thread(target=self._run, name="history-search", daemon=True)
        self._thread.start()
        self._jobs.put(_WAKE)

    def wake(self) -> None:
        """New history rows were committed (called on the loop after each batch: no blocking)."""
        self._last_commit = time.monotonic()
        if not self._dirty.is_set():
            self._dirty.set()
            self._jobs.put(_WAKE)

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
        """Queue a query; ``done(records)`` follows on the hub's thread (None: it failed)."""
        self._jobs.put(_Query(room, user, query, private, limit, done))

    def stop(self) -> None:
        if self._thread is not None:
            self._jobs.put(_STOP)
            self._thread.join()
            self._thread = None
        self._db.close()

    # The search thread -------------------------------------------------------------------

    def _run(self) -> None:
        try:  # like the checkpointer: the event loop has the core first (Linux: per thread)
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        except (AttributeError, OSError):
            pass
        indexed_since_purge = 0
        dirty_since: float | None = None
        while True:
            wait = None
            if self._dirty.is_set():
                now = time.monotonic()
                dirty_since = now if dirty_since is None else dirty_since
                wait = max(0.0, min(dirty_since + self._max_delay, self._last_commit + self._quiet) - now)
            try:
                job = self._jobs.get(timeout=wait)
            except queue.Empty:
                job = None  # the delay is over (or new commits moved it: the next turn sees)
            if job is _STOP:
                return
            if job is _WAKE:
                continue
            try:
                if isinstance(job, _Query):
                    indexed_since_purge += self._catch_up()
                    dirty_since = None
                    self._answer(job)
                elif wait is not None and time.monotonic() >= min(
                    (dirty_since or 0.0) + self._max_delay, self._last_commit + self._quiet
                ):
                    indexed_since_purge += self._catch_up()
                    dirty_since = None
                if indexed_since_purge >= PURGE_EVERY:
                    self._purge()
                    indexed_since_purge = 0
            except sqlite3.Error as exc:  # a failing disk: searches fail, the next round retries
                log.error("search index: %s", exc)
                if isinstance(job, _Query):
                    self._reply(job, None)

    def _catch_up(self) -> int:
        """Index every history row committed since the last call; return how many."""
        self._dirty.clear()
        db = self._db
        total = 0
        while True:
            db.execute("BEGIN")  # deferred: IMMEDIATE would take the attached history's write lock too
            try:
                done = db.execute("SELECT seq FROM progress").fetchone()
                done = done[0] if done else 0
                newest = db.execute("SELECT max(seq) FROM hist.messages").fetchone()[0] or 0
                if newest < done:  # a different history file: start over
                    db.execute("DELETE FROM message_words")
                    done = 0
                upto = min(newest, done + INDEX_BATCH)
                if upto > done:
                    db.execute(
                        "INSERT INTO message_words (rowid, body) SELECT seq, words_text(content) FROM hist.messages"
                        f" WHERE seq > ? AND seq <= ? AND kind = {KIND_CHAT} AND deleted = 0",
                        (done, upto),
                    )
                    events = db.execute(
                        "SELECT room, target, kind FROM hist.messages WHERE seq > ? AND seq <= ?"
                        f" AND kind IN ({KIND_EDIT}, {KIND_DELETE}) ORDER BY seq",
                        (done, upto),
                    ).fetchall()
                    for room, target, kind in events:
                        self._reindex(room, target, kind)
                db.execute("INSERT OR REPLACE INTO progress VALUES (0, ?)", (upto,))
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            total += upto - done
            if upto >= newest:
                return total

    def _reindex(self, room: str, target: int, kind: int) -> None:
        """An edited message is indexed with its text as it is now; a deleted one not at all."""
        row = self._db.execute(
            f"SELECT seq, content, deleted FROM hist.messages WHERE room = ? AND id = ? AND kind = {KIND_CHAT}",
            (room, target),
        ).fetchone()
        if row is None:
            return
        seq, content, deleted = row
        self._db.execute("DELETE FROM message_words WHERE rowid = ?", (seq,))
        if kind == KIND_EDIT and not deleted:
            self._db.execute("INSERT INTO message_words (rowid, body) VALUES (?, ?)", (seq, words_text(content)))

    def _purge(self) -> None:
        """Drop index entries of messages the retention limit has deleted from the history."""
        self._db.execute("DELETE FROM message_words WHERE rowid NOT IN (SELECT seq FROM hist.messages)")

    def _answer(self, job: _Query) -> None:
        try:
            found = self.find(job.room, job.user, job.text, private=job.private, limit=job.limit)
        except sqlite3.OperationalError as exc:
            log.warning("search %r in %r failed: %s", job.text, job.room, exc)
            found = None
        self._reply(job, found)

    def find(self, room: str, user: str, text: str, *, private: bool, limit: int) -> list[ChatRecord]:
        """Run one query on the calling thread against the index as it is (the search thread
        does this after catching up; the benchmark times it alone). Raises OperationalError
        when interrupted by the time limit."""
        expression = match_expression(text)
        if expression is None:
            return []
        where, params = visible_clause(room, user, private)
        # The index walks its matches newest first (rowid = history seq) and stops at the limit.
        sql = (
            f"SELECT {COLUMNS} FROM message_words CROSS JOIN hist.messages ON seq = message_words.rowid"
            f" WHERE message_words MATCH ? AND {where} AND kind = {KIND_CHAT} AND deleted = 0"
            " ORDER BY message_words.rowid DESC LIMIT ?"
        )
        deadline = time.monotonic() + self._time_limit
        self._db.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
        try:
            rows = self._db.execute(sql, (expression, *params, limit)).fetchall()
        finally:
            self._db.set_progress_handler(None, 0)
        return [record_from_row(row) for row in rows]

    def _reply(self, job: _Query, records: list[ChatRecord] | None) -> None:
        assert self._post is not None
        self._post(lambda: job.done(records))
