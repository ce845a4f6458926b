"""Sharding a fleet across replicas: a per-stack lease in Object Storage says which replica serves a stack.

Every replica writes a heartbeat object ``<prefix>replicas/<holder>.json`` every third of the TTL; the live
replicas are those whose heartbeat was written within the TTL. With M stacks and N live replicas, replica
``i`` (in the order of their holder ids) is due ``M // N`` stacks, plus one when ``i < M % N``: shares are
within one of each other and add up to M. A replica under its share claims free stacks (a conditional write
of ``<prefix>shards/locks/<folder>.json``, as ``adapters.lock`` does for the stack lock, so two replicas can
never both win one); a replica over it releases the excess, stopping those stacks' controllers between two
reconciles. A dead replica stops renewing: its heartbeat and leases expire within the TTL and the others
take its stacks. Writes stay safe meanwhile: each stack's controller also holds the stack's own lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.adapters.cloud_errors import cloud_errors, describe_cloud_error
from reconciler.adapters.lock import LockError, ObjectStorageLease, holder_identity

log = logging.getLogger("mdr.controller")
#: conditional writes in flight at once when claiming stacks
CLAIMS_AT_ONCE = 8


def shares(stacks: int, replicas: list[str]) -> dict[str, int]:
    """How many stacks each live replica is due: within one of each other, adding up to ``stacks``."""
    ordered = sorted(replicas)
    base, extra = divmod(stacks, max(1, len(ordered)))
    return {r: base + (1 if i < extra else 0) for i, r in enumerate(ordered)}


def affinity(replica: str, folder: str) -> str:
    """Rendezvous hashing: each replica prefers a different order of the stacks, so claims rarely collide."""
    return hashlib.sha256(f"{replica}\0{folder}".encode()).hexdigest()


@dataclass(frozen=True)
class Decision:
    claim: list[str]
    release: list[str]


def decide(me: str, folders: list[str], mine: set[str], taken: set[str], replicas: list[str]) -> Decision:
    """What ``me`` claims and releases now. ``taken``: stacks leased by other live replicas. Pure."""
    live = sorted(set(replicas) | {me})
    due = shares(len(folders), live)[me]
    held = [f for f in folders if f in mine]
    gone = sorted(mine - set(folders))  # vanished stacks: their leases go at once
    if len(held) > due:
        keep = sorted(held, key=lambda f: affinity(me, f), reverse=True)[:due]
        return Decision([], gone + sorted(set(held) - set(keep)))
    free = [f for f in folders if f not in mine and f not in taken]
    free.sort(key=lambda f: affinity(me, f), reverse=True)
    return Decision(free[: due - len(held)], gone)


class ShardLeases:
    """This replica's heartbeat and stack leases in a bucket (``--shard-bucket``); the fleet asks ``choose``."""

    def __init__(self, provider: Any, bucket: str, ttl: float, prefix: str = "mdr/") -> None:
        self.provider = provider
        self.bucket = bucket
        self.ttl = ttl
        self.prefix = prefix
        self.me = holder_identity()
        #: how often the fleet looks (claims, releases, a lost lease): well inside the TTL
        self.period = max(0.5, min(5.0, ttl / 10))
        self._leases: dict[str, ObjectStorageLease] = {}
        self._beat_at = 0.0
        self._lock = threading.Lock()
        self.replicas: list[str] = [self.me]
        #: when the next heartbeat or lease of another replica expires (wall clock): the next look comes
        #: just after it, so a dead replica's stacks are claimed at once, not up to a period later
        self.next_change: float | None = None

    def _ns(self) -> str:
        return str(self.provider.namespace())

    def choose(self, folders: list[str], serving: set[str]) -> set[str]:
        """The stacks this replica serves from now on (claims and releases made)."""
        try:
            self._beat()
            heartbeats = self._live("replicas/")
            self.replicas = list(heartbeats)
            leases = self._live("shards/locks/")
            taken = set(leases) - set(self._leases)
            others = [at for r, at in heartbeats.items() if r != self.me] + [leases[f] for f in taken]
            self.next_change = min(others, default=None)
        except cloud_errors() as exc:  # the bucket is unreachable: keep what is held, claim nothing
            log.warning("cannot reach the shard bucket", extra={"error": describe_cloud_error(exc)})
            return {f for f, lease in self._leases.items() if not lease.lost.is_set()}
        for folder, lease in list(self._leases.items()):
            if lease.lost.is_set():  # paused past the TTL: another replica may have it now
                log.warning("lost the shard lease", extra={"folder": folder})
                del self._leases[folder]
        decision = decide(self.me, folders, set(self._leases), taken, self.replicas)
        for folder in decision.release:
            log.info(
                "releasing a stack to rebalance", extra={"folder": folder, "replicas": len(self.replicas)}
            )
            self._leases.pop(folder).release()
        # a dead replica's stacks are claimed at once, a few at a time: one after the other, 50 claims of
        # two calls each took seconds on a loaded machine
        if decision.claim:
            with ThreadPoolExecutor(CLAIMS_AT_ONCE, thread_name_prefix="mdr-shard-claim") as pool:
                claimed = list(pool.map(self._claim, decision.claim))
            for folder, won in zip(decision.claim, claimed, strict=True):
                if won is not None:
                    self._leases[folder] = won
                    log.info("claimed a stack", extra={"folder": folder})
        return set(self._leases)

    def _claim(self, folder: str) -> ObjectStorageLease | None:
        lease = ObjectStorageLease(
            self.provider, folder, self.bucket, None, self.prefix + "shards/", self.ttl
        )
        lease.holder = self.me
        try:
            lease.acquire(timeout=0)
        except LockError:
            return None  # another replica won it
        except cloud_errors() as exc:
            log.warning("cannot claim a stack", extra={"folder": folder, "error": describe_cloud_error(exc)})
            return None
        return lease

    def _beat(self) -> None:
        now = time.monotonic()
        if now - self._beat_at < self.ttl / 3:
            return
        client = self.provider.object_storage
        name = f"{self.prefix}replicas/{self.me}.json"
        self.provider.call("PutObject", client.put_object, self._ns(), self.bucket, name, b"{}")
        self._beat_at = now

    def _live(self, folder: str) -> dict[str, float]:
        """Names under ``<prefix><folder>`` written within the TTL (without the prefix and ``.json``), with
        when each expires unless written again."""
        client = self.provider.object_storage
        start = self.prefix + folder
        listed = self.provider.call(
            "ListObjects", client.list_objects, self._ns(), self.bucket, prefix=start, fields="timeModified"
        ).data.objects
        now = time.time()
        names = {}
        for item in listed:
            modified = item.time_modified
            if isinstance(modified, datetime) and now - modified.timestamp() <= self.ttl:
                names[item.name[len(start) : -len(".json")]] = modified.timestamp() + self.ttl
        return names

    def close(self) -> None:
        """Release every lease and the heartbeat, so the others take over at once (not after the TTL)."""
        for lease in self._leases.values():
            with contextlib.suppress(*cloud_errors()):
                lease.release()
        self._leases.clear()
        client = self.provider.object_storage
        with contextlib.suppress(*cloud_errors()):
            name = f"{self.prefix}replicas/{self.me}.json"
            self.provider.call("DeleteObject", client.delete_object, self._ns(), self.bucket, name)
