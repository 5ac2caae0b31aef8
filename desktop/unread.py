"""The "New messages" line: above the first message that arrived while the window was not
looked at, or that a reconnect brought in.

The line stays while the person reads; the next time away, the next unseen message moves it
(there is only ever one). :class:`UnreadMarker` decides when; the model holds the line as a
system row (event ``"unread"``) and the bubble delegate draws it.
"""

from __future__ import annotations

from collections.abc import Sequence

from desktop.models import MessageModel
from server.protocol import ChatRecord

__all__ = ["UnreadMarker"]


class UnreadMarker:
    def __init__(self, model: MessageModel) -> None:
        self._model = model
        self._due = False       # an unseen message waits to be inserted: the line goes before it
        self._placed = False    # placed during this time away: later unseen messages follow it
        self.catching_up = False
        """Set on a reconnect's welcome: the history that follows is what was missed."""

    def unseen_arrived(self) -> None:
        """A live message from someone else arrived while the window was not looked at."""
        if not self._placed:
            self._due = True

    def before_live_batch(self) -> None:
        """Called right before live messages are inserted."""
        if self._due:
            self._model.place_unread_marker()
            self._due, self._placed = False, True

    def before_history(self, records: Sequence[ChatRecord], *, attended: bool) -> int:
        """A reconnect's history: the line goes before it if others wrote; returns how many."""
        missed = [r for r in records if r.sender != self._model.own_name] if self.catching_up else []
        self.catching_up = False
        if missed and (attended or not self._placed):
            self._model.place_unread_marker()
            self._placed = not attended
        return len(missed)

    def seen(self) -> None:
        """The window is looked at again: the line stays, the next time away moves it."""
        self._due = self._placed = False
