"""How many changes an apply runs at once in one compartment: a limit that adapts to the service (AIMD).

A fixed number is wrong both ways: too low and a hundred deployments whose work requests take fifteen minutes
take hours; too high and the service refuses calls. Like TCP's congestion window, the limit starts at a
modest value and grows while the service accepts work: by one for every accepted call until the first refusal
(slow start: it doubles every round), then by one per round (``limit`` accepted calls). A refusal
(429 TooManyRequests, or LimitExceeded for too many work requests at once) halves it. A burst of refusals
from calls that were all sent in the same round halves it once, not once each: a second halving waits for
``cooldown_seconds``. It never goes below ``floor`` nor above ``ceiling`` (the per-compartment cap).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class AimdLimit:
    """Pure arithmetic: no threads, no I/O; the clock is injected so tests can drive it."""

    def __init__(
        self,
        start: int = 8,
        ceiling: int = 32,
        floor: int = 1,
        cooldown_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if floor < 1 or ceiling < floor:
            raise ValueError(f"need 1 <= floor <= ceiling; got floor {floor}, ceiling {ceiling}")
        self.floor = floor
        self.ceiling = ceiling
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._limit = float(min(max(start, floor), ceiling))
        #: slow start until the first refusal: below this, each accepted call adds one
        self._threshold = float(ceiling)
        self._last_decrease: float | None = None
        self._credit = 0
        self.decreases = 0

    @property
    def limit(self) -> int:
        """Changes that may run at once now."""
        return int(self._limit)

    def on_success(self) -> None:
        """The service accepted a call that started work: there is room for more."""
        if self._limit < self._threshold:
            self._limit = min(float(self.ceiling), self._limit + 1)
            return
        self._credit += 1  # one more once a whole round (``limit`` accepted calls) has gone through
        if self._credit >= self.limit:
            self._credit = 0
            self._limit = min(float(self.ceiling), self._limit + 1)

    def on_throttled(self) -> bool:
        """The service refused a call for load; returns whether the limit was halved (not in cooldown)."""
        now = self._clock()
        if self._last_decrease is not None and now - self._last_decrease < self.cooldown_seconds:
            return False
        self._last_decrease = now
        self._limit = float(max(self.floor, self.limit // 2))
        self._threshold = self._limit
        self._credit = 0
        self.decreases += 1
        return True
