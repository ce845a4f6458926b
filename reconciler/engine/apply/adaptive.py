"""Adaptive concurrency for an apply: one gate per compartment, steered by what the service answers.

Each compartment's gate admits changes up to its ``AimdLimit`` (``reconciler.core.concurrency``). What steers
it, seen from the calls of the change that holds a slot (a thread-local says which gate that is):

- an accepted call that started a work request: ``on_success`` (the limit grows);
- any HTTP 429, including those the SDK retries by itself (seen through a response hook): ``on_throttled``;
- a write refused with **LimitExceeded** while other changes of the compartment are in flight: the service
  has too many work requests at once. The limit is halved, the change gives its slot back, waits until one is
  free under the new limit and sends the same write again (the refused call changed nothing, and it carries
  the same retry token). Alone in its compartment, a LimitExceeded is a real limit (cores, deployments) and
  fails the change as before;
- a 429 that outlived the SDK's own retries: the limit is halved and the call is sent again after a pause,
  a few times, so that throttling slows an apply down instead of failing it.

Work-request polls of one compartment are paced to at most ``initial_concurrency`` per poll interval, what
8 changes would send: as more changes run, each is polled less often, so the request rate does not grow
with the concurrency (and does not throttle the very work it is waiting for).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from reconciler.adapters.cloud_errors import LimitExceeded, Throttled
from reconciler.core.concurrency import AimdLimit

#: a 429 that outlived the SDK's retries is sent again this many times, after growing pauses
THROTTLED_RETRIES = 6
THROTTLED_PAUSE_SECONDS = 0.5
#: the calls that wait for work to finish (paced, see the module docstring)
POLLS = frozenset({"GetWorkRequest"})


class Gate:
    """The changes of one compartment in flight, at most ``limit.limit`` of them; thread-safe."""

    def __init__(
        self,
        limit: AimdLimit,
        on_change: Callable[[str], None] = lambda message: None,
        poll_interval: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.running = 0
        self.waiting = 0
        self._cond = threading.Condition()
        self._on_change = on_change
        self._poll_interval = poll_interval
        self._next_poll = 0.0
        self._clock = clock

    def poll_wait(self) -> float:
        """How long the caller must wait before its work-request poll: polls go out one per interval."""
        with self._cond:
            now = self._clock()
            slot = max(now, self._next_poll)
            self._next_poll = slot + self._poll_interval
            return slot - now

    def try_acquire(self) -> bool:
        """A slot for a new change, if one is free and no requeued change is waiting for it."""
        with self._cond:
            if self.waiting or self.running >= self.limit.limit:
                return False
            self.running += 1
            return True

    def release(self) -> None:
        with self._cond:
            self.running -= 1
            self._cond.notify_all()

    def requeue(self) -> None:
        """Give this change's slot back and wait for one under the (lowered) limit; first in line."""
        with self._cond:
            self.running -= 1
            self.waiting += 1
            self._cond.notify_all()
            while self.running >= self.limit.limit:
                self._cond.wait(timeout=1.0)
            self.waiting -= 1
            self.running += 1

    def others_running(self) -> bool:
        with self._cond:
            return self.running > 1

    def on_success(self) -> None:
        with self._cond:
            self.limit.on_success()
            self._cond.notify_all()

    def on_throttled(self, why: str) -> None:
        with self._cond:
            halved = self.limit.on_throttled()
            limit = self.limit.limit
        if halved:
            self._on_change(f"{why}: at most {limit} changes at once in this compartment now")


class AdaptiveCloud:
    """The apply's cloud: the provider's calls, reported to (and retried for) the current change's gate.

    Everything else (clients, stats, ``namespace``...) is the provider's own.
    """

    def __init__(self, provider: Any, sleep: Callable[[float], None] = time.sleep) -> None:
        self._provider = provider
        self._sleep = sleep
        self._current = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._provider, name)

    @contextmanager
    def holding(self, gate: Gate) -> Iterator[None]:
        """The calls this thread makes meanwhile belong to ``gate``'s compartment."""
        self._current.gate = gate
        try:
            yield
        finally:
            self._current.gate = None

    def gate(self) -> Gate | None:
        return getattr(self._current, "gate", None)

    def call(self, operation: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        throttled = 0
        while True:
            gate = self.gate()
            if gate is not None and operation in POLLS:
                self._sleep(gate.poll_wait())
            try:
                response = self._provider.call(operation, fn, *args, **kwargs)
            except LimitExceeded:
                if gate is None or not gate.others_running():
                    raise
                gate.on_throttled(f"{operation}: the service has too many work requests in progress")
                gate.requeue()
                continue
            except Throttled:
                throttled += 1
                if throttled > THROTTLED_RETRIES:
                    raise
                if gate is not None:
                    gate.on_throttled(f"{operation}: the service is throttling")
                self._sleep(THROTTLED_PAUSE_SECONDS * throttled)
                continue
            headers = getattr(response, "headers", None) or {}
            if gate is not None and headers.get("opc-work-request-id"):
                gate.on_success()
            return response

    def list_all(self, operation: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> list[Any]:
        return list(self._provider.list_all(operation, fn, *args, **kwargs))

    @contextmanager
    def watching_429s(self) -> Iterator[None]:
        """Every HTTP 429 answer (the SDK's own retries included) slows the current change's compartment."""

        def observe(response: Any, *args: Any, **kwargs: Any) -> None:
            gate = self.gate()
            if gate is not None and response.status_code == 429:
                gate.on_throttled("the service answered 429 TooManyRequests")

        sessions = [
            client.base_client.session
            for client in (getattr(self._provider, name, None) for name in ("data_science", "logging"))
            if client is not None and hasattr(client, "base_client")
        ]
        for session in sessions:
            session.hooks["response"].append(observe)
        try:
            yield
        finally:
            for session in sessions:
                with contextlib.suppress(ValueError):  # the SDK may have replaced a session meanwhile
                    session.hooks["response"].remove(observe)
