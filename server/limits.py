"""Flood limits that need no I/O: a token bucket per connection."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["TokenBucket", "ByteRate"]


class TokenBucket:
    """Allows ``rate`` events per second on average and bursts of ``burst``.

    A rate of 0 (or less) disables the limit: benchmarks send far faster than people type.
    """

    __slots__ = ("rate", "burst", "_tokens", "_stamp", "_clock")

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._clock = clock
        self._stamp = clock()

    def allow(self) -> bool:
        """Take one token if there is one."""
        if self.rate <= 0:
            return True
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


class ByteRate:
    """Spends bytes against ``rate`` bytes per second (bursts of one second's worth) and says
    how long the spender should wait before it is owed more: the upload window's pacing.

    A rate of 0 (or less) disables the limit.
    """

    __slots__ = ("rate", "_balance", "_stamp", "_clock")

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._balance = rate
        self._clock = clock
        self._stamp = clock()

    def spend(self, count: int) -> float:
        """Take ``count`` bytes (the balance may go negative); seconds until it is positive."""
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        self._balance = min(self.rate, self._balance + (now - self._stamp) * self.rate) - count
        self._stamp = now
        return 0.0 if self._balance >= 0 else -self._balance / self.rate
