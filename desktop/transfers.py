"""Shared files on the desktop: uploads over the chat's WebSocket, downloads by HTTP GET.

Uploads speak docs/protocol.md "Files (v2)" as the page does (resources/web/files.js):
``file_offer`` -> ``file_accept`` -> binary chunks (4-byte handle + data), never more than the
window beyond the last ``file_ack`` -> the room's record carrying the offer's nonce. A file is
read a chunk at a time as it is sent, so its size never matters to memory. After a reconnect
every unfinished upload is offered again with its secret and goes on from the server's offset.

Downloads are plain GETs on the server's port, streamed into a ``.part`` file next to the
destination, checked against the record's size and SHA-256, then renamed into place.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import hashlib
import mimetypes
import os
import secrets
import ssl
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from PySide6.QtCore import QObject, Signal
from websockets.exceptions import ConnectionClosed

from server.file_format import encode_chunk, file_path, safe_file_name, sniff_image
from server.protocol import ChatRecord, Error, ErrorCode, FileAccept, FileAck, FileCancel, FileOffer, FileRef, encode

__all__ = ["Uploads", "Upload", "UploadState", "HttpTarget", "DownloadError", "download_to", "download_bytes",
           "pasted_name"]

PARALLEL = 2
"""Uploads sent at once (the server allows 4 per connection); the rest wait their turn."""

BUSY_RETRY = 1.0
"""Seconds before offering again after ``too_many_uploads`` (another window of ours is sending)."""

CHUNK_MAX = 64 * 1024 - 4
WINDOW_MAX = 64 * 1024 * 1024
READ_CHUNK = 256 * 1024
HEADERS_MAX = 16 * 1024


class UploadState(enum.Enum):
    QUEUED = "queued"      # waits for a free slot or for the connection
    OFFERED = "offered"    # file_offer sent, no file_accept yet
    SENDING = "sending"    # chunks go out as the window allows
    FAILED = "failed"      # refused; the bubble says why


@dataclasses.dataclass(eq=False)
class Upload:
    """One file on its way to the server."""

    nonce: str
    name: str
    size: int
    mime: str
    to: str | None
    path: Path | None = None
    data: bytes | None = None
    token: str | None = None
    handle: int = 0
    sent: int = 0
    acked: int = 0
    window: int = 0
    chunk: int = 0
    state: UploadState = UploadState.QUEUED
    credit: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    pump: asyncio.Task | None = None
    source: BinaryIO | None = None

    def read(self, offset: int, length: int) -> bytes:
        if self.data is not None:
            return self.data[offset : offset + length]
        if self.source is None:
            self.source = open(self.path, "rb")  # noqa: SIM115 - kept open while sending, closed by close()
        self.source.seek(offset)
        return self.source.read(length)

    def close(self) -> None:
        if self.source is not None:
            self.source.close()
            self.source = None


def pasted_name(extension: str = "png") -> str:
    """``pasted-20260101-120000.png``: the name the page gives a pasted picture, too."""
    return time.strftime(f"pasted-%Y%m%d-%H%M%S.{extension}")


class Uploads(QObject):
    """The uploads of one ChatConnection (which routes file frames here and calls resume()).

    Signals:
        added(nonce, ChatRecord): show an own file at once (its ``file`` has no id yet)
        progress(nonce, bytes on the server's disk)
        failed(nonce, error code, plain-words reason): the server refused it (or it cannot be read)
        finished(nonce): the room's record of it arrived (the model gets it from the connection)
    """

    added = Signal(str, object)
    progress = Signal(str, int)
    failed = Signal(str, str, str)
    finished = Signal(str)

    def __init__(self, connection) -> None:
        super().__init__(connection)
        self._connection = connection
        self._uploads: dict[str, Upload] = {}
        self._cancelled: set[str] = set()  # nonces cancelled before their file_accept came
        connection.messageReceived.connect(self._recorded)
        connection.historyReceived.connect(lambda records: [self._recorded(r) for r in records])

    # Commands ---------------------------------------------------------------

    def add_file(self, path: str | Path, to: str | None = None) -> str:
        """Queue a file from disk; unreadable paths show as failed bubbles saying so."""
        path = Path(path)
        try:
            size = path.stat().st_size if path.is_file() else -1
            with open(path, "rb") as source:
                head = source.read(16)
        except OSError:
            size, head = -1, b""
        mime = sniff_image(head) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        upload = Upload(secrets.token_urlsafe(9), safe_file_name(path.name), max(size, 0), mime, to, path=path)
        self._add(upload)
        if size < 0:
            self._fail(upload, "unreadable", self.tr("This file cannot be read"))
        return upload.nonce

    def add_data(self, name: str, data: bytes, to: str | None = None) -> str:
        """Queue bytes in memory (a pasted picture) under ``name``."""
        mime = sniff_image(data[:16]) or "application/octet-stream"
        upload = Upload(secrets.token_urlsafe(9), safe_file_name(name), len(data), mime, to, data=data)
        self._add(upload)
        return upload.nonce

    def cancel(self, nonce: str) -> None:
        """Stop an upload (its bytes on the server are deleted) or forget a failed one."""
        upload = self._uploads.get(nonce)
        if upload is None:
            return
        if upload.token is not None:
            self._send(FileCancel(upload.token))
        elif upload.state is UploadState.OFFERED:
            self._cancelled.add(nonce)
        self._forget(upload)
        self._start_next()

    def owns(self, nonce: str | None) -> bool:
        return nonce is not None and (nonce in self._uploads or nonce in self._cancelled)

    @property
    def active(self) -> tuple[Upload, ...]:
        return tuple(self._uploads.values())

    # From the connection ------------------------------------------------------

    def resume(self) -> None:
        """After each (re)join: unfinished uploads are offered again (with their secrets)."""
        if self._connection.protocol_version != 2:
            for upload in list(self._uploads.values()):
                self._fail(upload, ErrorCode.UNAVAILABLE.value,
                           self.tr("This server is an old version that does not take files"))
            return
        for upload in self._uploads.values():
            if upload.state in (UploadState.OFFERED, UploadState.SENDING):
                self._stop_pump(upload)
                upload.state = UploadState.QUEUED
        self._cancelled.clear()
        self._start_next()

    def fail_all(self) -> None:
        """We left the room: nothing in flight can finish any more."""
        for upload in list(self._uploads.values()):
            if upload.state is not UploadState.FAILED:
                self._fail(upload, "left", self.tr("Not sent: you left the room"))
            self._forget(upload)

    def received(self, message: FileAccept | FileAck | Error) -> None:
        if isinstance(message, FileAccept):
            self._accepted(message)
        elif isinstance(message, FileAck):
            upload = next((u for u in self._uploads.values() if u.token == message.upload), None)
            if upload is not None and upload.state is UploadState.SENDING:
                upload.acked = max(upload.acked, min(message.offset, upload.size))
                self.progress.emit(upload.nonce, upload.acked)
                upload.credit.set()
        elif isinstance(message, Error):
            self._refused(message)

    # Inside -------------------------------------------------------------------------

    def _add(self, upload: Upload) -> None:
        self._uploads[upload.nonce] = upload
        self.added.emit(upload.nonce, ChatRecord(
            id=0, room=self._connection.room, sender=self._connection.name, content=upload.name,
            timestamp=int(time.time() * 1000), to=upload.to, nonce=upload.nonce,
            file=FileRef("", upload.name, upload.size, upload.mime, ""),
        ))
        self._start_next()

    def _start_next(self) -> None:
        if self._connection.socket is None or self._connection.protocol_version != 2:
            return
        busy = sum(u.state in (UploadState.OFFERED, UploadState.SENDING) for u in self._uploads.values())
        for upload in self._uploads.values():
            if busy >= PARALLEL:
                return
            if upload.state is UploadState.QUEUED:
                upload.state = UploadState.OFFERED
                self._send(FileOffer(upload.name, upload.size, upload.mime, upload.nonce, upload.to, upload.token))
                busy += 1

    def _send(self, message) -> None:
        ws = self._connection.socket
        if ws is not None:
            self._connection.spawn(self._write(ws, encode(message)))

    @staticmethod
    async def _write(ws, frame: str | bytes) -> None:
        try:
            await ws.send(frame)
        except ConnectionClosed:
            pass  # resume() offers it again after the reconnect

    def _accepted(self, accept: FileAccept) -> None:
        if accept.nonce in self._cancelled:
            self._cancelled.discard(accept.nonce)
            self._send(FileCancel(accept.upload))
            return
        upload = self._uploads.get(accept.nonce or "")
        if upload is None or upload.state is not UploadState.OFFERED:
            return
        upload.token, upload.handle = accept.upload, accept.handle
        upload.sent = upload.acked = min(max(accept.offset, 0), upload.size)
        # A hostile host's figures are held to what a RoomChat server grants (frames under 64 KiB).
        upload.window = min(max(accept.window, 1), WINDOW_MAX)
        upload.chunk = min(max(accept.chunk, 1), CHUNK_MAX)
        upload.state = UploadState.SENDING
        self.progress.emit(upload.nonce, upload.acked)
        self._stop_pump(upload)
        upload.pump = self._connection.spawn(self._pump(upload, self._connection.socket))

    async def _pump(self, upload: Upload, ws) -> None:
        """Send chunks while the window has room; each is read from the file only when sent."""
        try:
            while upload.state is UploadState.SENDING and upload.sent < upload.size:
                length = min(upload.chunk, upload.size - upload.sent)
                if upload.sent + length - upload.acked > upload.window:
                    upload.credit.clear()
                    await upload.credit.wait()
                    continue
                try:
                    data = upload.read(upload.sent, length)
                except OSError:
                    data = b""
                if len(data) != length:
                    self._fail(upload, "unreadable", self.tr("The file changed or went away while it was sent"))
                    self._send(FileCancel(upload.token or ""))
                    return
                await ws.send(encode_chunk(upload.handle, data))
                upload.sent += length
        except ConnectionClosed:
            pass  # resume() goes on from the server's offset after the reconnect

    def _stop_pump(self, upload: Upload) -> None:
        if upload.pump is not None and upload.pump is not asyncio.current_task():
            upload.pump.cancel()
        upload.pump = None

    def _refused(self, error: Error) -> None:
        if error.nonce in self._cancelled:
            self._cancelled.discard(error.nonce)
            return
        upload = self._uploads.get(error.nonce or "")
        if upload is None:
            return
        self._stop_pump(upload)
        if error.code is ErrorCode.TOO_MANY_UPLOADS:
            upload.state = UploadState.QUEUED
            asyncio.get_running_loop().call_later(BUSY_RETRY, self._start_next)
        elif error.code is ErrorCode.UPLOAD_UNKNOWN and upload.token is not None:
            upload.token, upload.state = None, UploadState.QUEUED  # discarded meanwhile: from the start
            self._start_next()
            return
        else:
            self._fail(upload, error.code.value, error.content or error.code.value)
        self._start_next()

    def _fail(self, upload: Upload, code: str, text: str) -> None:
        self._stop_pump(upload)
        upload.state = UploadState.FAILED
        upload.close()
        self.failed.emit(upload.nonce, code, text)

    def _forget(self, upload: Upload) -> None:
        self._stop_pump(upload)
        upload.state = UploadState.FAILED
        upload.close()
        self._uploads.pop(upload.nonce, None)

    def _recorded(self, record) -> None:
        """The room's record of one of ours: the upload is over."""
        if not isinstance(record, ChatRecord) or record.file is None or record.nonce not in self._uploads:
            return
        self._forget(self._uploads[record.nonce])
        self.finished.emit(record.nonce)
        self._start_next()


# Downloads ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class HttpTarget:
    """Where a server's HTTP answers come from: the chat address's host and port, TLS or not."""

    host: str
    port: int
    tls: ssl.SSLContext | None = None

    @classmethod
    def of(cls, url: str, tls: ssl.SSLContext | None) -> HttpTarget:
        parts = urllib.parse.urlsplit(url)
        secure = parts.scheme in ("wss", "https")
        return cls(parts.hostname or "127.0.0.1", parts.port or (443 if secure else 80), tls if secure else None)


class DownloadError(Exception):
    """A download that could not be completed; the text says why, for a person."""


async def _get(target: HttpTarget, path: str, timeout: float):
    """Send a GET; return (reader, writer, content length) of a 200 answer, else DownloadError."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(
            target.host, target.port, ssl=target.tls, server_hostname=target.host if target.tls else None,
            limit=HEADERS_MAX), timeout)
    except (OSError, TimeoutError) as exc:
        raise DownloadError(f"cannot reach the server ({exc})") from None
    host = f"[{target.host}]" if ":" in target.host else target.host
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{target.port}\r\nConnection: close\r\n\r\n".encode())
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        writer.close()
        raise DownloadError(f"no answer from the server ({type(exc).__name__})") from None
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split(" ", 2)
    headers = dict((k.strip().lower(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:] if line))
    if len(status) < 2 or status[1] != "200":
        writer.close()
        if len(status) >= 2 and status[1] == "410":
            raise DownloadError("the file is no longer on the server")
        raise DownloadError(f"the server answered {' '.join(status[1:])}")
    try:
        length = int(headers["content-length"])
    except (KeyError, ValueError):
        writer.close()
        raise DownloadError("the server's answer has no length") from None
    return reader, writer, length


async def download_to(target: HttpTarget, ref: FileRef, dest: Path, *, progress: Callable[[int], None] | None = None,
                      timeout: float = 30.0) -> Path:
    """Save a shared file at ``dest``, streamed (never whole in memory) and checked by SHA-256."""
    reader, writer, length = await _get(target, file_path(ref), timeout)
    partial = dest.with_name(dest.name + ".part")
    digest = hashlib.sha256()
    done = 0
    try:
        if length != ref.size:
            raise DownloadError("the server sent another size than the message says")
        with open(partial, "wb") as out:
            while done < length:
                try:
                    data = await asyncio.wait_for(reader.read(min(READ_CHUNK, length - done)), timeout)
                except (OSError, TimeoutError) as exc:
                    raise DownloadError(f"the download broke off ({type(exc).__name__})") from None
                if not data:
                    raise DownloadError("the download broke off")
                out.write(data)
                digest.update(data)
                done += len(data)
                if progress is not None:
                    progress(done)
        if ref.sha256 and digest.hexdigest() != ref.sha256:
            raise DownloadError("the file arrived damaged (its SHA-256 differs)")
        os.replace(partial, dest)
        return dest
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        writer.close()


async def download_bytes(target: HttpTarget, ref: FileRef, limit: int, timeout: float = 30.0) -> bytes:
    """A shared file in memory (a picture to show), at most ``limit`` bytes."""
    if ref.size > limit:
        raise DownloadError("the file is too big to show")
    reader, writer, length = await _get(target, file_path(ref), timeout)
    try:
        if length > limit:
            raise DownloadError("the file is too big to show")
        try:
            return await asyncio.wait_for(reader.readexactly(length), timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            raise DownloadError(f"the download broke off ({type(exc).__name__})") from None
    finally:
        writer.close()
