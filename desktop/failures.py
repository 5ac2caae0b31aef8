"""Why a connection attempt failed or a connection ended, as a cause people can act on.

:func:`classify` turns what the network stack raised on a connect into a :class:`Failure`;
:func:`close_failure` does the same for a close frame. Each Failure's value is its English
text, which is also the translation source (context "Failures") the window renders in the
current language, so the status line names the cause from the very first failed try.
"""

from __future__ import annotations

import enum
import errno
import socket
import ssl

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication
from websockets.exceptions import InvalidHandshake, InvalidMessage, InvalidStatus

from server.protocol import HOST_CLOSED_REASON

__all__ = ["Failure", "classify", "close_failure", "translated"]

CONTEXT = "Failures"


class Failure(enum.Enum):
    """A cause; the value is the English text (a translation source in context "Failures")."""

    REFUSED = QT_TRANSLATE_NOOP("Failures", "Connection refused: nothing listens at that address and port")
    HOST_NOT_FOUND = QT_TRANSLATE_NOOP("Failures", "Host not found: check the name (DNS)")
    TIMED_OUT = QT_TRANSLATE_NOOP("Failures", "No answer from that address (timed out)")
    NO_ROUTE = QT_TRANSLATE_NOOP("Failures", "No route to that address: another network?")
    NOT_TLS = QT_TRANSLATE_NOOP("Failures", "TLS mismatch: that server does not use TLS (try ws://)")
    NEEDS_TLS = QT_TRANSLATE_NOOP(
        "Failures", "The server hung up without answering: it may need TLS (try wss://)")
    NOT_ROOMCHAT = QT_TRANSLATE_NOOP("Failures", "Not a RoomChat server at that address")
    FULL = QT_TRANSLATE_NOOP("Failures", "The server is full (too many connections)")
    FORBIDDEN = QT_TRANSLATE_NOOP("Failures", "The server refused this connection")
    HOST_CLOSED = QT_TRANSLATE_NOOP("Failures", "The host closed the room")
    SHUTTING_DOWN = QT_TRANSLATE_NOOP("Failures", "The server is shutting down")
    TOO_SLOW = QT_TRANSLATE_NOOP("Failures", "The server dropped us for falling behind")
    SERVER_ERROR = QT_TRANSLATE_NOOP("Failures", "Server error")
    NO_ANSWER = QT_TRANSLATE_NOOP("Failures", "The server stopped answering")
    LOST = QT_TRANSLATE_NOOP("Failures", "Connection lost")
    NETWORK = QT_TRANSLATE_NOOP("Failures", "Network error")


def translated(failure: Failure) -> str:
    """The failure's text in the current language."""
    return QCoreApplication.translate(CONTEXT, failure.value)


_NO_ROUTE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN, errno.EHOSTDOWN,
             errno.EADDRNOTAVAIL}
_TIMED_OUT = {errno.ETIMEDOUT}
_REFUSED = {errno.ECONNREFUSED, 10061}  # 10061: Windows' WSAECONNREFUSED


def _errnos(exc: OSError) -> set[int]:
    """An OSError's code; asyncio's "Multiple exceptions" join several attempts in its text."""
    codes = {exc.errno} if exc.errno is not None else set()
    winerror = getattr(exc, "winerror", None)
    if winerror is not None:
        codes.add(winerror)
    return codes


def classify(exc: BaseException, *, tls: bool) -> Failure:
    """The cause of a failed connect (``tls``: the URL was wss://)."""
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        if status == 429:
            return Failure.FULL
        if status in (401, 403):
            return Failure.FORBIDDEN
        return Failure.NOT_ROOMCHAT
    if isinstance(exc, InvalidMessage) and isinstance(exc.__cause__, EOFError):
        return Failure.NOT_ROOMCHAT if tls else Failure.NEEDS_TLS
    if isinstance(exc, InvalidHandshake):
        return Failure.NOT_ROOMCHAT
    if tls and isinstance(exc, (ssl.SSLError, ConnectionResetError)):
        return Failure.NOT_TLS  # a plain server hangs up on a TLS greeting
    if isinstance(exc, socket.gaierror):
        return Failure.HOST_NOT_FOUND
    if isinstance(exc, TimeoutError):
        return Failure.TIMED_OUT
    if isinstance(exc, ConnectionRefusedError):
        return Failure.REFUSED
    if isinstance(exc, OSError):
        codes = _errnos(exc)
        text = str(exc).lower()
        if codes & _REFUSED or "refused" in text or "connect call failed" in text:
            return Failure.REFUSED
        if codes & _NO_ROUTE or "unreachable" in text:
            return Failure.NO_ROUTE
        if codes & _TIMED_OUT:
            return Failure.TIMED_OUT
        return Failure.NETWORK
    return Failure.NETWORK


def close_failure(code: int | None, reason: str) -> Failure:
    """The cause of a connection the server (or the network) closed after we were in."""
    if code == 1001:
        return Failure.HOST_CLOSED if reason == HOST_CLOSED_REASON else Failure.SHUTTING_DOWN
    if code == 1008:
        return Failure.TOO_SLOW
    if code == 1011:
        return Failure.SERVER_ERROR
    return Failure.LOST
