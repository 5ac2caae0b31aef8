"""Shared files: uploads over the WebSocket, content-addressed storage, downloads over HTTP.

An upload is a ``file_offer`` (name, size, claimed type, optional private addressee), answered
by ``file_accept`` with a per-connection *handle*, a resume secret and a credit *window*; the
client then sends binary frames (handle + at most ``chunk`` bytes) and never more than
``window`` bytes beyond the last ``file_ack``. Each chunk is appended to a partial file at
once, so a 500 MiB upload holds at most one window in the server's memory, and the room's chat
frames interleave with the chunks on the same event loop.

Nothing is visible before the last byte is on disk: the partial file lives under
``partial/`` (never served), is hashed on a worker thread, moved to ``blobs/<sha256>`` (the same
bytes are stored once) and only then does the room hear of it, through the hub's history path,
as a chat record carrying a :class:`~server.protocol.FileRef`. An upload cut off midway keeps
its partial file and its row in ``files.sqlite3``: the sender re-offers it with the resume
secret and goes on from the offset the server reports; one left alone for ``upload_timeout``
is discarded.

Downloads are ``GET /files/<id>/<name>``: ``id`` is a random capability issued per shared
file (not the hash, which anyone holding the same bytes could compute).
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import http
import logging
import os
import secrets
import shutil
import sqlite3
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from websockets.datastructures import Headers
from websockets.http11 import Response

from . import protocol
from .file_format import IMAGE_TYPES, file_text_v1, format_size, parse_chunk, sniff_image
from .limits import ByteRate, TokenBucket
from .protocol import (
    ErrorCode,
    FileAccept,
    FileAck,
    FileCancel,
    FileOffer,
    FileRef,
    ProtocolError,
    name_key,
)
from .transport import StreamedResponse, http_response

__all__ = ["FileLimits", "FileStore", "FileService", "StorageError"]

log = logging.getLogger(__name__)

MiB = 1024 * 1024

CLOSE_OVER_WINDOW = 1008
"""Close code for a client that sends upload bytes it was given no credit for."""


@dataclass(frozen=True)
class FileLimits:
    """What uploads may cost the server (all configurable with ``roomchat-server`` flags)."""

    max_file: int = 100 * MiB
    max_total: int = 2048 * MiB  # all stored files; the oldest go first to make room
    uploads_per_connection: int = 4  # in flight at once; clients queue the rest
    uploads_per_minute: float = 600  # new uploads per IP address (0 = no limit)
    bandwidth: float = 0  # upload bytes per second per IP address, paced by the window (0 = no limit)
    upload_timeout: float = 900.0  # seconds an interrupted upload waits for its sender
    min_free_disk: int = 64 * MiB  # never fill the disk beyond this: chat history needs room
    window: int = 1 * MiB  # bytes a client may send beyond the last acknowledgement


class StorageError(RuntimeError):
    """The file store cannot be used; the message says why, for a person."""


SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    token TEXT PRIMARY KEY,
    room TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipient TEXT,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    mime TEXT NOT NULL,
    base_url TEXT NOT NULL,
    touched REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blobs (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    stored REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS blobs_by_age ON blobs (stored);
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    room TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipient TEXT,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    mime TEXT NOT NULL,
    stored REAL NOT NULL,
    gone INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS files_by_blob ON files (sha256);
"""


@dataclass(frozen=True, slots=True)
class PendingUpload:
    """An upload's row: who sends what to which room, kept until it completes or expires."""

    token: str
    room: str
    sender: str
    recipient: str | None
    name: str
    size: int
    mime: str
    base_url: str


@dataclass(frozen=True, slots=True)
class StoredFile:
    ref: FileRef
    path: Path
    gone: bool


class FileStore:
    """The data dir's ``files/`` folder: SQLite metadata, ``blobs/`` by hash, ``partial/`` uploads.

    No asyncio here; every method is quick except none: hashing happens elsewhere.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.blobs = self.folder / "blobs"
        self.partial = self.folder / "partial"
        try:
            self.blobs.mkdir(parents=True, exist_ok=True)
            self.partial.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.folder / "files.sqlite3", isolation_level=None, timeout=2.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot use the file store {self.folder}: {exc}") from exc
        self._forget_orphans()

    def _forget_orphans(self) -> None:
        """Partial files without a row (a crash between the two) are deleted at start."""
        tokens = {row[0] for row in self._db.execute("SELECT token FROM uploads")}
        for entry in self.partial.iterdir():
            if entry.name not in tokens:
                entry.unlink(missing_ok=True)

    # Uploads ------------------------------------------------------------------

    def part_path(self, token: str) -> Path:
        return self.partial / token

    def begin(self, upload: PendingUpload, now: float) -> None:
        self._db.execute(
            "INSERT INTO uploads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (upload.token, upload.room, upload.sender, upload.recipient, upload.name, upload.size,
             upload.mime, upload.base_url, now),
        )
        self.part_path(upload.token).touch()

    def pending(self, token: str) -> PendingUpload | None:
        row = self._db.execute(
            "SELECT token, room, sender, recipient, name, size, mime, base_url FROM uploads WHERE token = ?",
            (token,),
        ).fetchone()
        return PendingUpload(*row) if row else None

    def touch(self, token: str, now: float) -> None:
        self._db.execute("UPDATE uploads SET touched = ? WHERE token = ?", (now, token))

    def touch_all(self, now: float) -> None:
        """At start: interrupted uploads get a whole timeout to be resumed after a restart."""
        self._db.execute("UPDATE uploads SET touched = ?", (now,))

    def idle_since(self, before: float) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT token FROM uploads WHERE touched < ?", (before,))]

    def discard(self, token: str) -> None:
        """Delete the partial file first: on a full disk that frees the room the row needs."""
        self.part_path(token).unlink(missing_ok=True)
        try:
            self._db.execute("DELETE FROM uploads WHERE token = ?", (token,))
        except sqlite3.Error as exc:  # the row expires later; its bytes are gone already
            log.error("upload row not deleted: %s", exc)

    # Stored files ----------------------------------------------------------------

    def blob_path(self, sha256: str) -> Path:
        return self.blobs / sha256[:2] / sha256

    def committed_bytes(self) -> int:
        """Bytes stored plus bytes promised to uploads in progress."""
        stored = self._db.execute("SELECT coalesce(sum(size), 0) FROM blobs").fetchone()[0]
        promised = self._db.execute("SELECT coalesce(sum(size), 0) FROM uploads").fetchone()[0]
        return stored + promised

    def evict_oldest(self) -> bool:
        """Delete the least recently stored blob (its files answer 410 from then on)."""
        row = self._db.execute("SELECT sha256 FROM blobs ORDER BY stored LIMIT 1").fetchone()
        if row is None:
            return False
        sha256 = row[0]
        self._db.execute("BEGIN IMMEDIATE")
        self._db.execute("UPDATE files SET gone = 1 WHERE sha256 = ?", (sha256,))
        self._db.execute("DELETE FROM blobs WHERE sha256 = ?", (sha256,))
        self._db.execute("COMMIT")
        self.blob_path(sha256).unlink(missing_ok=True)
        log.info("removed stored file %s to make room", sha256[:12])
        return True

    def finish(self, upload: PendingUpload, sha256: str, mime: str, file_id: str, now: float) -> FileRef:
        """Move a complete partial file to its blob (or drop it: same bytes stored already) and
        record the shared file, in one transaction with the upload row's removal."""
        blob = self.blob_path(sha256)
        part = self.part_path(upload.token)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            known = self._db.execute("SELECT 1 FROM blobs WHERE sha256 = ?", (sha256,)).fetchone()
            if known and blob.exists():
                part.unlink()
                self._db.execute("UPDATE blobs SET stored = ? WHERE sha256 = ?", (now, sha256))
            else:
                blob.parent.mkdir(exist_ok=True)
                os.replace(part, blob)
                self._db.execute("INSERT OR REPLACE INTO blobs VALUES (?, ?, ?)", (sha256, upload.size, now))
            self._db.execute(
                "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                (file_id, sha256, upload.room, upload.sender, upload.recipient, upload.name, upload.size,
                 mime, now),
            )
            self._db.execute("DELETE FROM uploads WHERE token = ?", (upload.token,))
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        return FileRef(file_id, upload.name, upload.size, mime, sha256)

    def lookup(self, file_id: str) -> StoredFile | None:
        row = self._db.execute(
            "SELECT id, name, size, mime, sha256, gone FROM files WHERE id = ?", (file_id,)
        ).fetchone()
        if row is None:
            return None
        ref = FileRef(*row[:5])
        return StoredFile(ref, self.blob_path(ref.sha256), bool(row[5]))

    def withdraw(self, file_id: str) -> None:
        """A shared file's message was deleted: its link answers 410, and its bytes go unless
        another shared file has the same content."""
        row = self._db.execute("SELECT sha256 FROM files WHERE id = ?", (file_id,)).fetchone()
        if row is None:
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._db.execute("UPDATE files SET gone = 1 WHERE id = ?", (file_id,))
        others = self._db.execute("SELECT 1 FROM files WHERE sha256 = ? AND gone = 0", row).fetchone()
        if others is None:
            self._db.execute("DELETE FROM blobs WHERE sha256 = ?", row)
        self._db.execute("COMMIT")
        if others is None:
            self.blob_path(row[0]).unlink(missing_ok=True)

    def close(self) -> None:
        self._db.close()


class Hub(Protocol):
    """What uploads need of the hub (server.hub.Hub)."""

    def sender(self, session, nonce: str | None = None): ...

    def addressee(self, member, to: str | None, nonce: str | None) -> str | None: ...

    def share_file(
        self, room_name: str, sender: str, to: str | None, file: FileRef, content: str, nonce: str | None
    ) -> None: ...


class UploadPeer(Protocol):
    """A connection as uploads see it (server.app.ChatPeer)."""

    ip: str
    base_url: str

    def send(self, text: str) -> None: ...

    def close(self, code: int, reason: str) -> None: ...


class Upload:
    """An upload attached to a connection: bytes arrive under ``handle`` into ``fd``."""

    __slots__ = ("row", "handle", "peer", "fd", "offset", "acked", "nonce", "heard", "ack_timer",
                 "paced_until")

    def __init__(self, row: PendingUpload, handle: int, peer: UploadPeer, fd: int, offset: int,
                 nonce: str | None, now: float) -> None:
        self.row = row
        self.handle = handle
        self.peer = peer
        self.fd = fd
        self.offset = offset
        self.acked = offset
        self.nonce = nonce
        self.heard = now
        self.ack_timer: asyncio.TimerHandle | None = None  # a held-back ack (bandwidth limit)
        self.paced_until = 0.0  # monotonic time before which no credit is given


def _digest(path: Path) -> tuple[str, bytes]:
    """(SHA-256 hex, first 16 bytes) of a file; runs on a worker thread (hashlib frees the GIL)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        head = handle.read(16)
        digest.update(head)
        while block := handle.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest(), head


def _served_type(claimed: str, head: bytes) -> str:
    """The type a record names: an image type only if the bytes are that image, never a
    claim of an image (HTML or SVG saying ``image/png`` stays a plain download)."""
    found = sniff_image(head)
    if found is not None:
        return found
    if claimed.startswith("image/") or claimed in ("text/html", "application/xhtml+xml"):
        return "application/octet-stream"
    return claimed


class FileService:
    """Uploads of every connection, the sweep that expires them, and downloads."""

    def __init__(
        self,
        store: FileStore,
        hub: Hub,
        *,
        limits: FileLimits,
        chunk: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.limits = limits
        self.chunk_size = chunk
        self._hub = hub
        self._clock = clock
        self._attached: dict[UploadPeer, dict[int, Upload]] = {}
        self._issued: dict[UploadPeer, set[int]] = {}  # handles each connection was ever given
        self._by_token: dict[str, Upload] = {}
        self._completing: set[str] = set()
        self._tasks: set[asyncio.Task] = set()
        self._budgets: dict[str, TokenBucket] = {}  # new uploads per IP address
        self._bandwidth: dict[str, ByteRate] = {}  # upload bytes per IP address
        self._next_handle = 1
        store.touch_all(clock())

    # Messages ------------------------------------------------------------------

    def offer(self, peer: UploadPeer, offer: FileOffer) -> None:
        """Accept a new or resumed upload, or raise ProtocolError saying why not."""
        member = self._hub.sender(peer, offer.nonce)
        attached = self._attached.get(peer, {})
        limit = self.limits.uploads_per_connection
        if len(attached) >= limit:
            raise ProtocolError(
                ErrorCode.TOO_MANY_UPLOADS, f"at most {limit} files can be sent at once; wait for one to finish",
                offer.nonce,
            )
        if offer.upload is not None:
            row = self._resumable(member, offer)
            if offer.upload in self._completing:  # all bytes are in; the record follows
                peer.send(protocol.encode(FileAccept(row.token, 0, row.size, self.limits.window, self.chunk_size,
                                                     offer.nonce)))
                return
            stale = self._by_token.get(row.token)
            if stale is not None:  # its old connection has not noticed it is gone
                self._detach(stale)
        else:
            row = self._new_upload(peer, member, offer)
        self._attach(peer, row, offer.nonce)

    def _resumable(self, member, offer: FileOffer) -> PendingUpload:
        row = self.store.pending(offer.upload or "")
        if row is None or row.room != member.room.name or name_key(row.sender) != name_key(member.name):
            raise ProtocolError(
                ErrorCode.UPLOAD_UNKNOWN, "this upload is no longer on the server; send the file again",
                offer.nonce,
            )
        return row

    def _new_upload(self, peer: UploadPeer, member, offer: FileOffer) -> PendingUpload:
        limits = self.limits
        if offer.size > limits.max_file:
            raise ProtocolError(
                ErrorCode.FILE_TOO_BIG,
                f"{offer.name} is {format_size(offer.size)}; files may be at most {format_size(limits.max_file)}",
                offer.nonce,
            )
        to = self._hub.addressee(member, offer.to, offer.nonce)
        budget = self._budgets.get(peer.ip)
        if budget is None:
            rate = limits.uploads_per_minute
            budget = self._budgets[peer.ip] = TokenBucket(rate / 60, max(1.0, rate))
        if not budget.allow():
            raise ProtocolError(
                ErrorCode.RATE_LIMITED,
                f"too many files: at most {limits.uploads_per_minute:g} a minute from one address",
                offer.nonce,
            )
        self._make_room(offer)
        row = PendingUpload(secrets.token_urlsafe(18), member.room.name, member.name, to, offer.name,
                            offer.size, offer.mime, peer.base_url)
        try:
            self.store.begin(row, self._clock())
        except (OSError, sqlite3.Error) as exc:
            log.error("upload not started: %s", exc)
            raise ProtocolError(ErrorCode.STORAGE_FULL, "the server cannot store files right now", offer.nonce) from None
        return row

    def _make_room(self, offer: FileOffer) -> None:
        """Evict the oldest files until this one fits the total; refuse if the disk is full."""
        limits = self.limits
        while self.store.committed_bytes() + offer.size > limits.max_total:
            if not self.store.evict_oldest():
                raise ProtocolError(
                    ErrorCode.STORAGE_FULL,
                    f"the server's file storage ({format_size(limits.max_total)}) is full with uploads "
                    "in progress; try again later",
                    offer.nonce,
                )
        free = shutil.disk_usage(self.store.folder).free
        if free - offer.size < limits.min_free_disk:
            raise ProtocolError(
                ErrorCode.STORAGE_FULL,
                f"the server's disk is full ({format_size(max(free, 0))} free); the file was not sent",
                offer.nonce,
            )

    def _attach(self, peer: UploadPeer, row: PendingUpload, nonce: str | None) -> None:
        path = self.store.part_path(row.token)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0), 0o600)
        except OSError as exc:
            self.store.discard(row.token)
            raise ProtocolError(ErrorCode.STORAGE_FULL, f"the server cannot store files: {exc.strerror}",
                                nonce) from None
        offset = min(os.fstat(fd).st_size, row.size)
        handle = self._next_handle
        self._next_handle = self._next_handle % 0xFFFF_FFFF + 1
        upload = Upload(row, handle, peer, fd, offset, nonce, self._clock())
        self._attached.setdefault(peer, {})[handle] = upload
        self._issued.setdefault(peer, set()).add(handle)
        self._by_token[row.token] = upload
        peer.send(protocol.encode(FileAccept(row.token, handle, offset, self.limits.window, self.chunk_size, nonce)))
        if offset == row.size:
            self._complete(upload)

    def chunk(self, peer: UploadPeer, frame: bytes) -> None:
        """Append one binary frame to its upload; acknowledge each quarter window."""
        parsed = parse_chunk(frame)
        if parsed is None:
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "a binary frame must start with an upload handle")
        handle, data = parsed
        upload = self._attached.get(peer, {}).get(handle)
        if upload is None:
            if handle in self._issued.get(peer, ()):
                return  # cancelled or failed: the chunks already on their way are dropped
            raise ProtocolError(ErrorCode.BAD_MESSAGE, "binary frames carry uploads, and no upload has this handle")
        end = upload.offset + len(data)
        if end > upload.row.size:
            self._fail(upload, ErrorCode.BAD_MESSAGE, "more bytes arrived than the file's size")
            return
        if end - upload.acked > self.limits.window:
            self._fail(upload, ErrorCode.BAD_MESSAGE, "upload bytes beyond the window")
            peer.close(CLOSE_OVER_WINDOW, "upload bytes beyond the window")
            return
        try:
            while data:
                written = os.write(upload.fd, data)
                data = data[written:]
        except OSError as exc:
            full = exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
            log.error("upload %s stopped: %s", upload.row.name, exc)
            self._fail(
                upload,
                ErrorCode.STORAGE_FULL,
                "the server's disk is full; the file was not sent" if full else "the server could not store the file",
            )
            return
        upload.offset = end
        upload.heard = self._clock()
        if end == upload.row.size:
            upload.paced_until = 0.0  # the last ack tells the sender all is in
            self._ack(upload)
            self._complete(upload)
        else:
            rate = self._bandwidth.get(peer.ip)
            if rate is None:
                rate = self._bandwidth[peer.ip] = ByteRate(self.limits.bandwidth)
            wait = rate.spend(len(frame))
            if wait:
                upload.paced_until = max(upload.paced_until, time.monotonic() + wait)
            if end - upload.acked >= self.limits.window // 4 and upload.ack_timer is None:
                self._ack(upload)

    def _ack(self, upload: Upload) -> None:
        """Credit what arrived, unless the address is over its bandwidth: then credit later,
        and the client, out of window, waits."""
        upload.ack_timer = None
        if self._by_token.get(upload.row.token) is not upload or upload.offset == upload.acked:
            return
        wait = upload.paced_until - time.monotonic()
        if wait > 0:
            upload.ack_timer = asyncio.get_running_loop().call_later(wait, self._ack, upload)
            return
        upload.acked = upload.offset
        upload.peer.send(protocol.encode(FileAck(upload.row.token, upload.offset)))

    def withdraw(self, file: FileRef) -> None:
        """The hub's ``file_deleted``: a deleted message takes its file with it."""
        try:
            self.store.withdraw(file.id)
        except (OSError, sqlite3.Error) as exc:
            log.error("deleted file %s not removed: %s", file.name, exc)

    def cancel(self, peer: UploadPeer, request: FileCancel) -> None:
        member = self._hub.sender(peer)
        upload = self._by_token.get(request.upload)
        if request.upload in self._completing:
            return  # too late: every byte is in
        if upload is not None:
            if upload.peer is not peer:
                return
            self._detach(upload)
        row = self.store.pending(request.upload)
        if row is not None and row.room == member.room.name and name_key(row.sender) == name_key(member.name):
            self.store.discard(row.token)

    def disconnected(self, peer: UploadPeer) -> None:
        """The connection's uploads wait for a resume (until ``upload_timeout``)."""
        for upload in list(self._attached.get(peer, {}).values()):
            self._detach(upload)
            self.store.touch(upload.row.token, self._clock())
        self._attached.pop(peer, None)
        self._issued.pop(peer, None)
        self._budgets_prune()

    def _budgets_prune(self) -> None:
        if len(self._budgets) > 4096:  # forget full buckets rather than grow per address
            self._budgets.clear()
            self._bandwidth.clear()

    def sweep(self) -> None:
        """Discard uploads nobody sent a byte of for ``upload_timeout`` seconds."""
        now = self._clock()
        timeout = self.limits.upload_timeout
        for upload in list(self._by_token.values()):
            if now - upload.heard > timeout:
                self._fail(upload, ErrorCode.UPLOAD_UNKNOWN, "the upload stalled and was discarded")
        for token in self.store.idle_since(now - timeout):
            if token not in self._by_token and token not in self._completing:
                log.info("discarding an interrupted upload nobody resumed")
                self.store.discard(token)

    # Completion ------------------------------------------------------------------

    def _detach(self, upload: Upload) -> None:
        if upload.ack_timer is not None:
            upload.ack_timer.cancel()
            upload.ack_timer = None
        self._attached.get(upload.peer, {}).pop(upload.handle, None)
        if self._by_token.get(upload.row.token) is upload:
            del self._by_token[upload.row.token]
        os.close(upload.fd)

    def _fail(self, upload: Upload, code: ErrorCode, text: str) -> None:
        self._detach(upload)
        self.store.discard(upload.row.token)
        upload.peer.send(protocol.encode(protocol.Error(code, text, upload.nonce)))

    def _complete(self, upload: Upload) -> None:
        self._detach(upload)
        self._completing.add(upload.row.token)
        task = asyncio.get_running_loop().create_task(self._store_complete(upload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _store_complete(self, upload: Upload) -> None:
        row = upload.row
        try:
            sha256, head = await asyncio.to_thread(_digest, self.store.part_path(row.token))
            ref = self.store.finish(row, sha256, _served_type(row.mime, head), secrets.token_urlsafe(18),
                                    self._clock())
        except (OSError, sqlite3.Error) as exc:
            log.error("upload %s not stored: %s", row.name, exc)
            self.store.discard(row.token)
            upload.peer.send(protocol.encode(protocol.Error(
                ErrorCode.STORAGE_FULL, "the server could not store the file", upload.nonce)))
            return
        finally:
            self._completing.discard(row.token)
        self._hub.share_file(row.room, row.sender, row.recipient, ref,
                             file_text_v1(ref, row.base_url), upload.nonce)

    async def close(self) -> None:
        """Finish the uploads being stored, release every partial file (the server is stopping;
        the store is closed with the history, after the last records are committed)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for upload in list(self._by_token.values()):
            self._detach(upload)
            self.store.touch(upload.row.token, self._clock())

    # Downloads ---------------------------------------------------------------------

    def respond(self, path: str) -> Response | StreamedResponse:
        """``GET /files/<id>[/<name>]``: the file, with headers that keep a browser from running it."""
        parts = path.split("/")
        stored = self.store.lookup(urllib.parse.unquote(parts[2])) if len(parts) >= 3 else None
        if stored is None:
            return http_response(http.HTTPStatus.NOT_FOUND, b"no such file\n", "text/plain; charset=utf-8")
        if stored.gone:
            return http_response(http.HTTPStatus.GONE,
                                 b"this file was deleted, or removed to make room for newer files\n",
                                 "text/plain; charset=utf-8")
        try:
            body = open(stored.path, "rb")  # noqa: SIM115 - the transport closes it when sent
        except OSError:
            return http_response(http.HTTPStatus.GONE, b"this file is no longer on the server\n",
                                 "text/plain; charset=utf-8")
        ref = stored.ref
        inline = ref.mime in IMAGE_TYPES
        headers = Headers([
            ("Content-Type", ref.mime if inline else "application/octet-stream"),
            ("Content-Length", str(ref.size)),
            ("Content-Disposition", _disposition("inline" if inline else "attachment", ref.name)),
            ("X-Content-Type-Options", "nosniff"),
            ("Content-Security-Policy", "default-src 'none'; sandbox"),
            ("Cross-Origin-Resource-Policy", "same-origin"),
            ("Referrer-Policy", "no-referrer"),
            ("Cache-Control", "private, max-age=31536000, immutable"),  # an id names one content forever
            ("Connection", "close"),
        ])
        return StreamedResponse(Response(200, "OK", headers, b""), body)


def _disposition(kind: str, name: str) -> str:
    """RFC 6266: an ASCII fallback name and the real one, percent-encoded."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\%' else "_" for ch in name)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{urllib.parse.quote(name, safe='')}"
