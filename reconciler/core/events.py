"""Notification events: what a reconcile found, which events that makes, and which of them to send again.

Pure: no clock, no I/O. The controller turns each reconcile into an ``Observation``; ``derive_events``
compares it with the previous one. Conditions (drift, a failed change, a degraded deployment, a blocked
prune, a failed reconcile) give an event on every reconcile while they last; ``Deduplicator`` then keeps a
sink from hearing the same one again until it changes or its repeat interval passes. ``Recovered`` is an
edge: a deployment (or the stack) had a problem in the previous reconcile and has none now, or drift was
corrected in this very reconcile (``--self-heal``). ``RateLimiter`` caps messages per minute per sink.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum


class EventKind(StrEnum):
    SYNC_FAILED = "SyncFailed"
    DRIFT_DETECTED = "DriftDetected"
    HEALTH_DEGRADED = "HealthDegraded"
    RECOVERED = "Recovered"
    PRUNE_BLOCKED = "PruneBlocked"
    LOCK_HELD_TOO_LONG = "LockHeldTooLong"


#: how bad each kind is, for sinks that colour or route by severity (Slack colours, OCI titles)
SEVERITY = {
    EventKind.SYNC_FAILED: "error",
    EventKind.DRIFT_DETECTED: "warning",
    EventKind.HEALTH_DEGRADED: "error",
    EventKind.RECOVERED: "info",
    EventKind.PRUNE_BLOCKED: "warning",
    EventKind.LOCK_HELD_TOO_LONG: "warning",
}
#: parts of a message that change on every attempt of the same failure
VOLATILE = (
    (re.compile(r"opc-request-id:? [^\s),;]+"), "opc-request-id"),
    (re.compile(r"ocid1\.[a-z0-9]+\.[^\s),;'\"]*"), "<ocid>"),
    (re.compile(r"\b[0-9a-fA-F-]{16,}\b"), "<id>"),
)
#: the kinds a reconcile produces (a condition that is absent from a reconcile has ended)
RECONCILE_KINDS = frozenset(EventKind) - {EventKind.LOCK_HELD_TOO_LONG}


@dataclass(frozen=True)
class Event:
    kind: EventKind
    stack: str
    #: the resource key (``ModelDeployment/fraud-scorer``), or None for the stack as a whole
    subject: str | None
    message: str

    @property
    def severity(self) -> str:
        return SEVERITY[self.kind]

    @property
    def condition(self) -> tuple[str, str, str | None]:
        """What the event is about; two events with one condition are "the same event" when equal."""
        return (self.kind.value, self.stack, self.subject)

    @property
    def fingerprint(self) -> str:
        """The message without what differs on every attempt (request ids, OCIDs of work requests), so that a
        retry failing the same way is the same event."""
        stable = self.message
        for pattern, placeholder in VOLATILE:
            stable = pattern.sub(placeholder, stable)
        return hashlib.sha256(stable.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Observation:
    """What one reconcile found, by resource key."""

    #: keys the plan found drifted (changed outside mdr)
    drifted: frozenset[str] = frozenset()
    #: drifted keys whose correction applied in this reconcile (``--self-heal``)
    healed: frozenset[str] = frozenset()
    #: key -> why its change failed
    failed: Mapping[str, str] = field(default_factory=dict)
    #: key -> lifecycle state of a deployment whose health is Degraded
    degraded: Mapping[str, str] = field(default_factory=dict)
    #: key -> why a guard kept it from being pruned
    blocked_prunes: Mapping[str, str] = field(default_factory=dict)
    #: the reconcile failed as a whole (bad mdr.yaml, OCI unreachable)
    error: str | None = None

    def errored(self, message: str) -> Observation:
        """A failed reconcile learns nothing about resources: keep what the previous one found."""
        return replace(self, error=message)

    def problems(self) -> dict[str | None, list[str]]:
        """Subject -> its open problems (what ``Recovered`` reports as ended); None is the stack."""
        found: dict[str | None, list[str]] = {}
        for key in sorted(self.drifted - self.healed):
            found.setdefault(key, []).append("drift")
        for key in sorted(self.failed):
            found.setdefault(key, []).append("sync failed")
        for key in sorted(self.degraded):
            found.setdefault(key, []).append("degraded")
        if self.error is not None:
            found.setdefault(None, []).append("reconcile failed")
        return found


def derive_events(stack: str, previous: Observation | None, current: Observation) -> list[Event]:
    """The events a reconcile produces, given what the one before it found (None: the first one)."""
    events = []
    if current.error is not None:
        events.append(Event(EventKind.SYNC_FAILED, stack, None, f"reconcile failed: {current.error}"))
    for key, message in sorted(current.failed.items()):
        events.append(Event(EventKind.SYNC_FAILED, stack, key, message))
    for key in sorted(current.drifted):
        what = "corrected (self-heal)" if key in current.healed else "not corrected (self-heal is off)"
        events.append(Event(EventKind.DRIFT_DETECTED, stack, key, f"changed outside mdr; {what}"))
    for key, state in sorted(current.degraded.items()):
        events.append(Event(EventKind.HEALTH_DEGRADED, stack, key, f"lifecycle state {state}"))
    for key, reason in sorted(current.blocked_prunes.items()):
        events.append(Event(EventKind.PRUNE_BLOCKED, stack, key, reason))
    before = previous.problems() if previous is not None else {}
    now = current.problems()
    for key in sorted(current.healed - set(before)):
        before[key] = ["drift"]
    ended = [s for s in before if s not in now]
    for subject in sorted(ended, key=lambda s: (s is not None, s or "")):
        what = ", ".join(before[subject])
        events.append(Event(EventKind.RECOVERED, stack, subject, f"recovered from: {what}"))
    return events


#: the reason texts of ``core.prune`` and ``core.rules`` that mean a guard stopped a prune
PRUNE_GUARD_MARKERS = ("not pruned", "protected (policy.protect); not deleted")


def blocked_prunes(
    warnings: Iterable[str], errors: Iterable[str], prune_keys: Iterable[str]
) -> dict[str, str]:
    """Prunes a guard stopped: the planner's "not pruned"/protected warnings (``key: reason``) and, when the
    plan is refused (``maxDeletes``), every prune it held."""
    found = {}
    for warning in warnings:
        key, sep, reason = warning.partition(": ")
        if sep and any(marker in reason for marker in PRUNE_GUARD_MARKERS):
            found[key] = reason
    refused = "; ".join(errors)
    if refused:
        for key in prune_keys:
            found[key] = f"plan refused: {refused}"
    return found


@dataclass
class _Sent:
    fingerprint: str
    at: float


class Deduplicator:
    """One sink's memory of what it sent: the same event is sent again only when its message changes or
    ``repeat_interval`` seconds have passed; a condition absent from a reconcile has ended, so its next
    occurrence is news."""

    def __init__(self, repeat_interval: float) -> None:
        self.repeat_interval = repeat_interval
        self._sent: dict[tuple[str, str, str | None], _Sent] = {}

    def admit(self, events: list[Event], now: float, reconcile: bool = True) -> list[Event]:
        """The events to send now. ``reconcile``: ``events`` is everything one reconcile produced."""
        if reconcile:
            current = {e.condition for e in events}
            for condition in list(self._sent):
                if EventKind(condition[0]) in RECONCILE_KINDS and condition not in current:
                    del self._sent[condition]
        admitted = []
        for event in events:
            last = self._sent.get(event.condition)
            repeated = last is not None and last.fingerprint == event.fingerprint
            if repeated and last is not None and now - last.at < self.repeat_interval:
                continue
            self._sent[event.condition] = _Sent(event.fingerprint, now)
            admitted.append(event)
        return admitted

    def forget(self, kind: EventKind, stack: str) -> None:
        """A condition outside reconciles (the lock) ended."""
        for condition in [c for c in self._sent if c[0] == kind.value and c[1] == stack]:
            del self._sent[condition]


class RateLimiter:
    """At most ``per_minute`` sends in any 60 seconds (a sliding window of send times)."""

    WINDOW = 60.0

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._sent: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until a send is allowed (0: now)."""
        while self._sent and now - self._sent[0] >= self.WINDOW:
            self._sent.popleft()
        if len(self._sent) < self.per_minute:
            return 0.0
        return self.WINDOW - (now - self._sent[0])  # > 0 exactly when the oldest send is in the window

    def record(self, now: float) -> None:
        self._sent.append(now)


def failures_now(
    previous: Mapping[str, str], results: Iterable[tuple[str, bool, str]], in_backoff: Iterable[str]
) -> dict[str, str]:
    """Key -> failure still open: this apply's (``(key, ok, message)``), and earlier ones whose resource
    is still in back-off (not retried in this reconcile, so not yet recovered)."""
    failing = dict(previous)
    for key, ok, message in results:
        if ok:
            failing.pop(key, None)
        else:
            failing[key] = message
    waiting = set(in_backoff)
    return {k: v for k, v in failing.items() if k in waiting}
