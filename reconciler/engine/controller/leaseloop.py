"""A sharded fleet's look at its leases, on a thread and cadence of its own.

Claiming the stacks of a dead replica must not wait for anything else the fleet does: a discovery (a walk
of the whole tree, parsing every ``mdr.yaml``) or the start-up of stacks claimed a moment before. So the
look (``Shards.choose``: heartbeat, the live leases, claims and releases) runs here every ``Shards.period``
(a tenth of the TTL), on the stacks the last discovery found, and hands what this replica should serve to
the fleet, which starts and stops stack controllers without waiting for them (each runs in its own thread).
A stack whose lease expired is claimed just after its expiry (the look is timed for it; else within one
period), not after the fleet's next round.

Never two writers for one stack: a lease is a conditional write that only one replica wins, a replica that
releases a stack stops its controller between two reconciles, and each stack's controller also holds the
stack's own lock before it writes anything.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from reconciler.core.errors import MdrError

log = logging.getLogger("mdr.controller")


class Shards(Protocol):
    """Which of the discovered stacks this replica serves (all of them, unless sharded)."""

    #: seconds between two looks
    period: float
    #: when something may change sooner (wall clock: another replica's heartbeat or lease expires), or None
    next_change: float | None

    def choose(self, folders: list[str], serving: set[str]) -> set[str]: ...

    def close(self) -> None: ...


class LeaseLoop:
    """Looks every ``shards.period`` (or at once when woken: a stack appeared or vanished)."""

    def __init__(
        self,
        shards: Shards,
        folders: Callable[[], list[str]],
        serving: Callable[[], set[str]],
        serve: Callable[[set[str]], None],
        stop: threading.Event,
    ) -> None:
        self.shards = shards
        self._folders = folders
        self._serving = serving
        self._serve = serve
        self._stop = stop
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mdr-fleet-leases", daemon=True)
        self.looks = 0

    def start(self) -> LeaseLoop:
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def join(self, timeout: float = 30.0) -> None:
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def look(self) -> None:
        """One look: claim and release leases, then serve what is held."""
        wanted = self.shards.choose(self._folders(), self._serving())
        if not self._stop.is_set():
            self._serve(wanted)
        self.looks += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.look()
            except MdrError as exc:  # a stack that cannot start is reported by the fleet; keep looking
                log.error("shard look failed", extra={"error": str(exc)})
            self._wake.wait(self._pause())
            self._wake.clear()

    def _pause(self) -> float:
        """The period, or less: until just after another replica's heartbeat or lease expires."""
        change = self.shards.next_change
        if change is None:
            return self.shards.period
        return min(self.shards.period, max(0.05, change - time.time() + 0.05))
