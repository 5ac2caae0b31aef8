"""A test's upload client: the protocol of docs/protocol.md ("Files") on a raw websockets
connection, credit window included. Used by tests/test_files.py and docs/bench/files.py."""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import json
import uuid

from server.file_format import encode_chunk

__all__ = ["Uploader", "UploadRefused", "http_get"]


class UploadRefused(Exception):
    def __init__(self, frame: dict) -> None:
        super().__init__(frame.get("content"))
        self.code = frame.get("code")
        self.frame = frame


class Uploader:
    """Sends files on one connection that has joined a room; reads every frame itself.

    Frames that are not about its uploads land in ``other`` (a test inspects them).
    """

    def __init__(self, connection) -> None:
        self.connection = connection
        self.other: list[dict] = []
        self._waiters: dict[tuple[str, str], asyncio.Future] = {}
        self._acked: dict[str, int] = {}
        self._ack_event = asyncio.Event()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            async for text in self.connection:
                frame = json.loads(text)
                kind = frame.get("type")
                if kind == "file_ack":
                    self._acked[frame["upload"]] = frame["offset"]
                    self._ack_event.set()
                    continue
                key = None
                if kind in ("file_accept", "error") and frame.get("nonce"):
                    key = ("offer", frame["nonce"])
                elif kind == "chat" and frame.get("file") and frame.get("nonce"):
                    key = ("record", frame["nonce"])
                waiter = self._waiters.get(key) if key else None
                if waiter is not None and not waiter.done():
                    waiter.set_result(frame)
                elif kind == "error" and frame.get("nonce") and ("record", frame["nonce"]) in self._waiters:
                    self._waiters[("record", frame["nonce"])].set_result(frame)
                    self._ack_event.set()  # a stream waiting for credit learns it failed
                else:
                    self.other.append(frame)
        except Exception:  # noqa: BLE001 - connection gone: waiters are cancelled below
            pass
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.cancel()

    def _wait(self, kind: str, nonce: str) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self._waiters[(kind, nonce)] = future
        return future

    async def offer(self, name: str, size: int, *, mime: str = "application/octet-stream",
                    to: str | None = None, upload: str | None = None, nonce: str | None = None) -> dict:
        """Send a file_offer; return the file_accept, or raise UploadRefused with the error."""
        nonce = nonce or uuid.uuid4().hex
        message = {"type": "file_offer", "name": name, "size": size, "mime": mime, "nonce": nonce}
        if to is not None:
            message["to"] = to
        if upload is not None:
            message["upload"] = upload
        accepted = self._wait("offer", nonce)
        self._wait("record", nonce)
        await self.connection.send(json.dumps(message))
        frame = await asyncio.wait_for(accepted, 10)
        self._waiters.pop(("offer", nonce), None)
        if frame["type"] == "error":
            self._waiters.pop(("record", nonce), None)
            raise UploadRefused(frame)
        frame["nonce"] = nonce
        return frame

    async def stream(self, accept: dict, data: bytes, *, stop_at: int | None = None,
                     pace: float = 0.0) -> None:
        """Send ``data`` from the accepted offset (to ``stop_at``), never beyond the window."""
        token, handle, window, chunk = accept["upload"], accept["handle"], accept["window"], accept["chunk"]
        offset = accept["offset"]
        self._acked[token] = offset
        end = len(data) if stop_at is None else stop_at
        while offset < end:
            while offset + min(chunk, end - offset) - self._acked.get(token, 0) > window:
                outcome = self._waiters.get(("record", accept["nonce"]))
                if outcome is not None and outcome.done() and outcome.result()["type"] == "error":
                    raise UploadRefused(outcome.result())
                self._ack_event.clear()
                await asyncio.wait_for(self._ack_event.wait(), 30)
            piece = data[offset : min(offset + chunk, end)]
            await self.connection.send(encode_chunk(handle, piece))
            offset += len(piece)
            if pace:
                await asyncio.sleep(pace)

    async def record(self, accept: dict, timeout: float = 30) -> dict:
        """The room's record of the finished upload (the sender's own copy, with its nonce)."""
        key = ("record", accept["nonce"])
        waiter = self._waiters.get(key)
        if waiter is None:
            waiter = self._wait("record", accept["nonce"])
        frame = await asyncio.wait_for(waiter, timeout)
        self._waiters.pop(key, None)
        if frame["type"] == "error":
            raise UploadRefused(frame)
        return frame

    async def send_file(self, name: str, data: bytes, **offer) -> dict:
        accept = await self.offer(name, len(data), **offer)
        await self.stream(accept, data)
        return await self.record(accept)

    async def close(self) -> None:
        self._reader.cancel()
        await self.connection.close()


def http_get(port: int, path: str, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a plain GET on loopback (blocking: call via to_thread)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
