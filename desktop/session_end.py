"""How a connection's session ends, as ChatConnection's run loop sees it: for good (stop) or
lost (reconnect), and what the status line adds to the cause."""

from __future__ import annotations

from websockets.exceptions import InvalidStatus

from desktop.failures import Failure

__all__ = ["SessionStop", "SessionLost", "failure_detail"]


class SessionStop(Exception):
    """The connection ended for good: no reconnect (join refused, replaced, bad address)."""

    def __init__(self, reason: str, code: str | None = None, text: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.text = text


class SessionLost(Exception):
    """The connection failed or dropped, for ``failure``; the run loop reconnects."""

    def __init__(self, failure: Failure, detail: str = "", was_online: bool = False) -> None:
        self.reason = f"{failure.value} ({detail})" if detail else failure.value
        super().__init__(self.reason)
        self.failure = failure
        self.detail = detail
        self.was_online = was_online


def failure_detail(exc: BaseException) -> str:
    """What the status line adds to a cause: the HTTP status of a refused upgrade."""
    if isinstance(exc, InvalidStatus):
        return f"HTTP {exc.response.status_code}"
    return ""
