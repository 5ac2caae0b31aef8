"""Flood limits that need the hub: how often one connection may join.

A join is the most expensive thing a client can ask for: it reads history from SQLite, sends
up to a whole room's backlog and tells every member twice (presence and member list). The
per-connection message rate alone would let one connection join 20 times a second, and not at
all with ``--rate-limit 0``; joins therefore have their own, much smaller, budget.
"""

from __future__ import annotations

from . import protocol
from .hub import Hub, Session
from .limits import TokenBucket
from .protocol import ErrorCode, ProtocolError

__all__ = ["JoinLimitedHub"]


class JoinLimitedHub(Hub):
    """A hub whose connections may join ``join_rate`` times a second, in bursts of ``join_burst``.

    A join over the budget is refused with ``rate_limited`` (v1: silently, as the seed's server
    would) and leaves the connection where it was. A rate of 0 turns the limit off.
    """

    def __init__(self, *args, join_rate: float, join_burst: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._join_rate = join_rate
        self._join_burst = join_burst
        self._join_budgets: dict[Session, TokenBucket] = {}

    def join(self, session: Session, request: protocol.Join) -> None:
        budget = self._join_budgets.get(session)
        if budget is None:
            budget = self._join_budgets[session] = TokenBucket(self._join_rate, self._join_burst)
        if not budget.allow():
            self.reply_error(session, ProtocolError(ErrorCode.RATE_LIMITED, "too many joins, slow down"))
            return
        super().join(session, request)

    def disconnect(self, session: Session) -> None:
        self._join_budgets.pop(session, None)
        super().disconnect(session)
