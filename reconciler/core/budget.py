"""A global API request budget: a token bucket whose rate adapts to throttling (AIMD).

OCI answers 429 when a tenancy calls too fast. A long-running controller must slow down by itself, like TCP:
on every 429 the rate is halved (multiplicative decrease), on every success it creeps back up by a fixed
step (additive increase), between a floor and the configured ceiling.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(
        self,
        rate: float = 10.0,
        burst: float = 20.0,
        min_rate: float = 0.5,
        increase: float = 0.1,
        decrease: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.max_rate = rate
        self.rate = rate
        self.burst = burst
        self.min_rate = min_rate
        self.increase = increase
        self.decrease = decrease
        self._tokens = burst
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def acquire(self) -> float:
        """Take one token, waiting if the budget is spent; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                self._refill()
                if self._tokens >= 1 - 1e-9:  # tolerate float rounding in the refill arithmetic
                    self._tokens = max(0.0, self._tokens - 1)
                    return waited
                delay = max(0.001, (1 - self._tokens) / self.rate)
            self._sleep(delay)
            waited += delay

    def on_throttled(self) -> None:
        with self._lock:
            self.rate = max(self.min_rate, self.rate * self.decrease)
            self._tokens = min(self._tokens, 0.0)

    def on_success(self) -> None:
        with self._lock:
            self.rate = min(self.max_rate, self.rate + self.increase)
