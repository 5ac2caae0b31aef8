"""Own chats on their way to the server (ChatConnection's outbox).

Delivery (v2) is exactly once as long as the server keeps its promise that the sender's own
copy of a record carries the nonce, history included: a message stays here until a record
with its nonce arrives, live or in the history after a resume; one written to a connection
that dropped before that is written again to the next. Against a server whose history
dropped nonces it would be at least once. A long offline queue is written below the server's
rate limit (20/s, bursts of 40) instead of being refused as ``rate_limited``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from server.protocol import Chat, ChatRecord, encode

__all__ = ["Outbox", "SEND_BURST", "SEND_WINDOW"]

SEND_BURST = 30
SEND_WINDOW = 2.0
"""At most SEND_BURST chats per SEND_WINDOW seconds."""


@dataclasses.dataclass
class _Outgoing:
    """A message of ours the server has not acknowledged yet."""

    record: ChatRecord
    sent_on: int = 0
    """Number of the connection it was last written to; 0 = not written yet."""


class Outbox:
    """Unacknowledged own chats in sending order, and the failed ones a retry may send again."""

    def __init__(self) -> None:
        self._waiting: OrderedDict[str, _Outgoing] = OrderedDict()
        self._failed: dict[str, _Outgoing] = {}
        self._lock = asyncio.Lock()
        self._recent: deque[float] = deque(maxlen=SEND_BURST)

    @property
    def nonces(self) -> tuple[str, ...]:
        return tuple(self._waiting)

    def __contains__(self, nonce: object) -> bool:
        return nonce in self._waiting

    def add(self, record: ChatRecord) -> None:
        assert record.nonce is not None
        self._waiting[record.nonce] = _Outgoing(record)

    def retry(self, nonce: str) -> ChatRecord | None:
        """A failed message waits again, as the newest; None if there is no such one."""
        entry = self._failed.pop(nonce, None)
        if entry is None:
            return None
        self._waiting[nonce] = _Outgoing(entry.record)
        return entry.record

    def settle(self, nonce: str) -> bool:
        """The server stored it (or v1 took it): True if it was waiting here."""
        return self._waiting.pop(nonce, None) is not None

    def fail(self, nonce: str) -> None:
        self._failed[nonce] = self._waiting.pop(nonce)

    async def flush(self, ws: ClientConnection, connection_no: int, current: Callable[[], bool],
                    written: Callable[[str, ChatRecord], None]) -> None:
        """Write every waiting message not yet written to connection ``connection_no``, in
        order, while ``current()`` says ``ws`` is still the connection; ``written`` after each."""
        async with self._lock:
            for nonce in list(self._waiting):
                entry = self._waiting.get(nonce)
                if entry is None or entry.sent_on == connection_no or not current():
                    continue
                await self._pace()
                if not current():
                    return
                if nonce not in self._waiting:
                    continue
                entry.sent_on = connection_no
                record = entry.record
                try:
                    reply_to = None if record.reply is None else record.reply.id
                    await ws.send(encode(Chat(record.content, nonce, record.to, reply_to)))
                except ConnectionClosed:
                    return
                written(nonce, record)

    async def _pace(self) -> None:
        """Wait until one more chat fits in SEND_BURST per SEND_WINDOW seconds."""
        if len(self._recent) == SEND_BURST:
            wait = self._recent[0] + SEND_WINDOW - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        self._recent.append(time.monotonic())
