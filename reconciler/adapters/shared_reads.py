"""List pages shared by the stacks of one controller process: stacks in one compartment read it once per
resync, not once each.

A fleet reconciles its stacks together at each resync; every one of them lists the deployments, models and
log groups of its compartments and keeps only what it owns. ``SharedReads`` keeps each list call's pages
for ``max_age`` seconds, and a read asked for while the same one is in flight waits for it (single flight).

Never stale after our own writes: every write through a provider that shares the cache drops it, and a
read that was in flight across a write is not kept (a generation counter), so a plan made after an apply
sees the apply. What another writer (CI, a person) changed is seen at most ``max_age`` later, as if the
plan had been made that much earlier; a manual sync's staleness check drops the cache before it reads.

Memory: a reader gets its own copy of the pages (it keeps, and may change, what it gets), made one page
at a time as it iterates, so a hundred stacks reading a compartment of 500 deployments at once hold a page
each beyond what they keep, not the whole compartment each. Pages older than ``max_age`` are dropped soon
after (a timer), not kept until the next resync.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterable, Iterator
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
        self._expiry: threading.Timer | None = None
        #: reads kept for a whole resync of the fleet (``per_resync``): until ``new_resync`` or this age
        self.resync_max_age = max_age
        self._resync_entries: dict[tuple[str, ...], tuple[float, Pages]] = {}
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

    def pages(self, key: tuple[str, ...], read: Callable[[], Pages]) -> Iterable[list[dict[str, Any]]]:
        """The pages of one list call: shared when fresh, else read (once, however many ask at once).

        The read (and its errors) happens here; a shared answer is copied page by page as it is iterated."""
        with self._lock:
            gate = self._inflight.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None and time.monotonic() - entry[0] <= self.max_age:
                    self.hits += 1
                    return _copies(entry[1])  # the readers keep (and may change) what they get
                generation = self._generation
                self.misses += 1
            pages = read()
            with self._lock:
                if generation == self._generation:  # no write since the read began
                    self._entries[key] = (time.monotonic(), copy.deepcopy(pages))
                    self._expire_later()
            return pages

    def _expire_later(self) -> None:
        """Drop pages once they are too old to serve anyone (called with ``_lock`` held)."""
        if self._expiry is None:
            self._expiry = threading.Timer(self.max_age + 0.5, self._expire)
            self._expiry.daemon = True
            self._expiry.start()

    def _expire(self) -> None:
        now = time.monotonic()
        with self._lock:
            self._expiry = None
            for key in [k for k, (at, _) in self._entries.items() if now - at > self.max_age]:
                del self._entries[key]
            if self._entries:
                self._expire_later()

    def held(self) -> int:
        """How many list calls' pages are kept now (fresh ones; old ones are dropped soon after)."""
        with self._lock:
            return len(self._entries)

    def new_resync(self) -> None:
        """The fleet starts a resync of every stack: what ``per_resync`` kept is read afresh, once."""
        with self._lock:
            self._resync_entries.clear()

    def per_resync(self, key: tuple[str, ...], read: Callable[[], Pages]) -> Pages:
        """Pages read once for a whole resync of the fleet, however long it lasts, and not dropped by writes.

        For a read whose answer a plan only uses as a hint our own writes cannot make wrong: the
        tenancy-wide Resource Search for moved deployments (``live_reader.searched_compartments``) names
        compartments where a stack's resources were seen; a plan reads those compartments itself, so a
        search one resync old costs at worst one resync's delay in finding a deployment someone moved.
        Callers keep what they share small (the search keeps only stack and compartment pairs).
        """
        with self._lock:
            gate = self._inflight.setdefault(("per-resync", *key), threading.Lock())
        with gate:
            with self._lock:
                entry = self._resync_entries.get(key)
                if entry is not None and time.monotonic() - entry[0] <= self.resync_max_age:
                    self.hits += 1
                    return copy.deepcopy(entry[1])
                self.misses += 1
            pages = read()
            with self._lock:
                self._resync_entries[key] = (time.monotonic(), copy.deepcopy(pages))
            return pages


def _copies(pages: Pages) -> Iterator[list[dict[str, Any]]]:
    for page in pages:
        yield copy.deepcopy(page)
