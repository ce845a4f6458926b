"""One sink's delivery thread: a bounded queue, the sink's rate limit, and retries with exponential backoff.

The reconcile loop only ever appends to the queue (under a lock held for microseconds), so a sink that hangs,
answers 500 or is down never blocks or slows reconciling: its thread waits, not the loop. When the queue is
full the oldest waiting event is dropped (the newest says more about now) and counted.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from reconciler.core.events import RateLimiter
from reconciler.engine.notify.payload import Envelope, Redactor
from reconciler.engine.notify.sinks import Sender, SinkError

log = logging.getLogger("mdr.notify")

QUEUE_CAPACITY = 100
RETRY_BASE_SECONDS = 1.0
RETRY_MAX_SECONDS = 60.0
#: attempts per event before it is dropped (about two minutes of retrying with the defaults)
MAX_ATTEMPTS = 6


class Counters(Protocol):
    """Where a worker counts what happened to its events (Prometheus counters in the controller)."""

    def sent(self, sink: str) -> None: ...

    def failed(self, sink: str) -> None: ...

    def dropped(self, sink: str, reason: str) -> None: ...


class NoCounters:
    def sent(self, sink: str) -> None:
        pass

    def failed(self, sink: str) -> None:
        pass

    def dropped(self, sink: str, reason: str) -> None:
        pass


def retry_delay(attempt: int, base: float, ceiling: float) -> float:
    """Exponential backoff with ±20% jitter: base, 2×base, 4×base ... up to ``ceiling``."""
    return min(ceiling, base * 2 ** (attempt - 1)) * random.uniform(0.8, 1.2)


class SinkWorker:
    def __init__(
        self,
        sender: Sender,
        redactor: Redactor,
        limiter: RateLimiter,
        counters: Counters | None = None,
        capacity: int = QUEUE_CAPACITY,
        retry_base: float = RETRY_BASE_SECONDS,
        retry_max: float = RETRY_MAX_SECONDS,
        max_attempts: int = MAX_ATTEMPTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sender = sender
        self.redactor = redactor
        self.limiter = limiter
        self.counters = counters or NoCounters()
        self.capacity = capacity
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.max_attempts = max_attempts
        self.clock = clock
        self._queue: deque[Envelope] = deque()
        self._ready = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"mdr-notify-{sender.name}", daemon=True)
        #: events dropped because the queue was full (also counted in metrics)
        self.overflowed = 0

    @property
    def name(self) -> str:
        return self.sender.name

    def start(self) -> SinkWorker:
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop after the send in progress (bounded by the sink's timeout); queued events are abandoned."""
        self.signal_stop()
        self.join(timeout)

    def signal_stop(self) -> None:
        self._stop.set()
        with self._ready:
            self._ready.notify_all()

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` for the thread (a daemon: a send that hangs longer dies with the process)."""
        if self._thread.is_alive():
            self._thread.join(max(0.0, timeout))

    def submit(self, envelope: Envelope) -> None:
        """Queue an event; never blocks. A full queue drops its oldest event."""
        with self._ready:
            if len(self._queue) >= self.capacity:
                self._queue.popleft()
                self.overflowed += 1
                self.counters.dropped(self.name, "overflow")
                log.warning("notification queue full; oldest event dropped", extra={"sink": self.name})
            self._queue.append(envelope)
            self._ready.notify()

    def pending(self) -> int:
        with self._ready:
            return len(self._queue)

    def _next(self) -> Envelope | None:
        with self._ready:
            while not self._queue and not self._stop.is_set():
                self._ready.wait()
            return self._queue.popleft() if self._queue else None

    def _run(self) -> None:
        while not self._stop.is_set():
            envelope = self._next()
            if envelope is None:
                return
            try:
                self._deliver(envelope)
            except Exception:  # a defect in one send must not end this sink's deliveries for good
                self.counters.failed(self.name)
                self.counters.dropped(self.name, "error")
                log.exception("notification dropped: unexpected error", extra={"sink": self.name})

    def _deliver(self, envelope: Envelope) -> None:
        attempt = 0
        while not self._stop.is_set():
            wait = self.limiter.wait(self.clock())
            if wait > 0:
                self._stop.wait(wait)
                continue
            attempt += 1
            self.limiter.record(self.clock())
            try:
                self.sender.send(envelope, self.redactor)
            except SinkError as exc:
                self.counters.failed(self.name)
                message = self.redactor.text(str(exc))
                if not exc.retry or attempt >= self.max_attempts:
                    self.counters.dropped(self.name, "retries" if exc.retry else "rejected")
                    log.error(
                        "notification dropped",
                        extra={"sink": self.name, "event": envelope.event.kind.value, "error": message},
                    )
                    return
                delay = retry_delay(attempt, self.retry_base, self.retry_max)
                log.warning(
                    "notification failed; retrying",
                    extra={"sink": self.name, "error": message, "retry_in": round(delay, 1)},
                )
                self._stop.wait(delay)
                continue
            self.counters.sent(self.name)
            return
