"""Starting a fleet's stack controllers: a few at a time, every start-up before any first reconcile.

A start-up is cheap (its manifests, a provider, its lock: ~13 ms of CPU), a first reconcile is not (a plan
of every deployment). When a replica dies, the survivors claim its stacks in a few batches as its leases
expire over a third of the TTL; if each batch reconciled as soon as it had started, fifty plans would share
the interpreter with the start-ups of the next batches and with the lease loop's claims, which wait on the
network: on a loaded machine that delayed the last stacks by seconds. So one starter per fleet starts the
stacks it is given a few at a time and holds every first reconcile (the controller's ``busy`` lock, which
the fleet takes before handing a stack over) until nothing has been waiting to start for ``QUIET_SECONDS``:
every stack leads (its one writer known, the others kept out by its lock) before any of them plans.
``MAX_HOLD_SECONDS`` bounds the hold when stacks keep coming, and ``TURN_SECONDS`` what one stack standing
by for its lock (a CI apply holds it) holds up the others.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol

#: stacks starting at once: enough to keep the CPU busy while some wait on files or the network
AT_ONCE = 8
#: how long one stack's start-up may hold its place
TURN_SECONDS = 1.0
#: first reconciles wait until no stack has been waiting to start for this long (the next batch of a dead
#: replica's leases may expire meanwhile) ...
QUIET_SECONDS = 0.5
#: ... and never longer than this
MAX_HOLD_SECONDS = 10.0


class Startable(Protocol):
    thread: threading.Thread
    controller: Any


class Starter:
    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._lock = threading.Lock()
        self._waiting: deque[Startable] = deque()
        self._held: list[Startable] = []
        self._thread: threading.Thread | None = None

    def add(self, members: Sequence[Startable]) -> None:
        """Start these (their ``busy`` lock already held by the caller; released here once all started)."""
        with self._lock:
            self._waiting.extend(members)
            self._held.extend(members)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="mdr-fleet-startup", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        holding_since = time.monotonic()
        quiet_since = time.monotonic()
        starting: list[tuple[Startable, float]] = []
        while True:
            now = time.monotonic()
            starting = [(m, end) for m, end in starting if now < end and not _started(m)]
            with self._lock:
                while self._waiting and len(starting) < AT_ONCE and not self._stop.is_set():
                    member = self._waiting.popleft()
                    member.thread.start()
                    starting.append((member, now + TURN_SECONDS))
                if self._waiting or starting:
                    quiet_since = now
                quiet = now - quiet_since >= QUIET_SECONDS
                if self._stop.is_set() or quiet or now - holding_since >= MAX_HOLD_SECONDS:
                    held, self._held = self._held, []
                    for member in held:
                        member.controller.busy.release()
                    holding_since = now
                    if self._stop.is_set() or (quiet and not self._waiting):
                        self._waiting.clear()
                        self._thread = None
                        return
            time.sleep(0.005)


def _started(member: Startable) -> bool:
    return bool(member.controller.state.leader) or not member.thread.is_alive()
