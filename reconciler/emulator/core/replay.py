"""Replays: a signature that comes back after its second has passed is a copy, and is refused (401).

An OCI signature covers the request line, ``host``, the date (one-second resolution) and, for JSON, the body,
and RSA PKCS#1 v1.5 signatures are deterministic. So a client that sends the same request twice within one
second (polling a work request, the SDK retrying a throttled call, re-sending a write that failed) sends
byte-identical signatures: those repeats are legitimate and indistinguishable from a copy sent at once. But
no client signing afresh can produce the same signature once its second is over, since the date it signs has
moved on. The emulator therefore remembers when each signature first arrived and refuses it when it arrives
again more than ``REPEAT_GRACE_SECONDS`` later (one second of date resolution plus a second for delivery),
until its signed date leaves the clock-skew window, after which the date check refuses it anyway.

This holds for every method: a replayed read is refused too. The check needs the headers only, so a replay
is refused before its body is read. Signatures of writes are kept in the store (a restarted emulator still
knows them); those of reads only in memory.
"""

from __future__ import annotations

import hashlib
import time

from reconciler.emulator.core.signing import CLOCK_SKEW_SECONDS, Verified
from reconciler.emulator.core.store import Store

#: how long after its first arrival a signature may arrive again: its second, plus time to be delivered
REPEAT_GRACE_SECONDS = 2.0
PRUNE_SECONDS = 1.0


class ReplayGuard:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._reads: dict[str, list[float]] = {}
        self._pruned = 0.0

    @property
    def _writes(self) -> dict[str, list[float]]:
        return self.store.data["signatures"]  # key -> [first arrival, when it may be forgotten] (epoch)

    def admit(self, verified: Verified, write: bool, now: float) -> bool:
        """Record the signature's arrival; False when it is a replay. Takes the store's lock."""
        key = hashlib.sha256(verified.signature.encode()).hexdigest()
        with self.store.lock:
            seen = self._writes.get(key) or self._reads.get(key)
            if seen is not None:
                return now - seen[0] <= REPEAT_GRACE_SECONDS
            forget_at = max(now, verified.signed_at) + CLOCK_SKEW_SECONDS + REPEAT_GRACE_SECONDS
            (self._writes if write else self._reads)[key] = [now, forget_at]
            return True

    def prune(self) -> None:
        """Under the store's lock: forget signatures whose date the clock check refuses by now."""
        now = time.time()
        if now - self._pruned < PRUNE_SECONDS:
            return
        self._pruned = now
        for seen in (self._writes, self._reads):
            for key in [k for k, (_, forget_at) in seen.items() if forget_at <= now]:
                del seen[key]
