"""List pages shared by the stacks of one controller process: stacks in one compartment read it once per
resync, not once each.

A fleet reconciles its stacks together at each resync; every one of them lists the deployments, models and
log groups of its compartments and keeps only what it owns. ``SharedReads`` keeps each list call's pages
for ``max_age`` seconds, and a read asked for while the same one is in flight waits for it (single flight).

Never stale after our own writes: every write through a provider that shares the cache drops it, and a
read that was in flight across a write is not kept (a generation counter), so a plan made after an apply
sees the apply. What another writer (CI, a person) changed is seen at most ``max_age`` later, as if the
plan had been made that much earlier; a manual sync's staleness check drops the cache before it reads.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from typing import Any

Pages = list[list[dict[str, Any]]]
#: operations that change nothing (everything else drops the cache)
READ_PREFIXES = ("Get", "List", "Head", "Search", "Summarize")


class SharedReads:
    def __init__(self, max_age: float = 5.0) -> None:
        self.max_age = max_age
        self._lock = threading.Lock()
        self._generation = 0
        self._entries: dict[tuple[str, ...], tuple[float, Pages]] = {}
        self._inflight: dict[tuple[str, ...], threading.Lock] = {}
        self.hits = 0
        self.misses = 0

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def after_call(self, operation: str) -> None:
        """Called by a provider after each API call: a write drops every shared page."""
        if not operation.startswith(READ_PREFIXES):
            self.invalidate()

    def pages(self, key: tuple[str, ...], read: Callable[[], Pages]) -> Pages:
        """The pages of one list call: shared when fresh, else read (once, however many ask at once)."""
        with self._lock:
            gate = self._inflight.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None and time.monotonic() - entry[0] <= self.max_age:
                    self.hits += 1
                    return copy.deepcopy(entry[1])  # the readers keep (and may change) what they get
                generation = self._generation
                self.misses += 1
            pages = read()
            with self._lock:
                if generation == self._generation:  # no write since the read began
                    self._entries[key] = (time.monotonic(), copy.deepcopy(pages))
            return pages
