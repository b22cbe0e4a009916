"""A token bucket: at most `rate` sends per second on average, bursts up to `burst`.

An urgent send (an alert: the outbox marks it with URGENT, in the task that sends it) takes the
next token ahead of every other send waiting: a broadcast's sends queued in the bucket never hold
an alert back for more than one token's wait."""

from __future__ import annotations

import asyncio
import time
from contextvars import ContextVar

URGENT: ContextVar[bool] = ContextVar("urgent_send", default=False)


class RateLimiter:
    def __init__(self, rate: float, burst: int, clock=time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._tokens = float(burst)
        self._at = clock()
        self._lock = asyncio.Lock()  # the other sends, first come first served
        self._urgent_waiting = 0

    def _take(self) -> float:
        """0 when a token was taken; else the seconds until the next one."""
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate

    async def acquire(self) -> None:
        if URGENT.get():
            self._urgent_waiting += 1
            try:
                while (wait := self._take()) > 0:
                    await asyncio.sleep(wait)
            finally:
                self._urgent_waiting -= 1
            return
        async with self._lock:
            while True:
                wait = self._take() if not self._urgent_waiting else 1 / self.rate
                if wait == 0:
                    return
                await asyncio.sleep(wait)
