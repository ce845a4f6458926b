"""What an apply is told (``ApplyOptions``) and what it reports (``ApplyResult``, errors)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler.core.errors import MdrError
from reconciler.engine.apply.hooks import ApplyHooks, ProgressSink


class StalePlan(MdrError):
    """Live resources changed since the saved plan was computed; nothing was applied."""


class ChangeFailed(MdrError):
    """One change could not be completed; the message says what the service reported."""


@dataclass
class ApplyOptions:
    #: changes in flight at most, overall (1: one after the other)
    concurrency: int = 64
    #: changes in flight at most in one compartment: the cap of its adaptive limit (``adaptive``)
    per_compartment: int = 32
    #: where each compartment's adaptive limit starts; it grows while the service accepts work and is halved
    #: on 429 TooManyRequests or LimitExceeded
    initial_concurrency: int = 8
    timeout_seconds: float = 1800.0
    #: polls wait a tenth of the time already waited, within these bounds: at most ~10 % late, and a
    #: 15-minute create costs ~60 polls instead of hundreds
    poll_initial_seconds: float = 0.5
    poll_max_seconds: float = 15.0
    large_artifact_bytes: int = 2 * 1024**3
    artifact_bucket: tuple[str, str | None, str] | None = None  # (bucket, namespace, prefix)
    progress: Callable[[str], None] = lambda message: None
    #: structured progress (a live terminal view, the dashboard); when set, it gets what ``progress`` would
    #: have printed for each change (see ``hooks.announce``)
    events: ProgressSink | None = None
    #: set on shutdown: waits stop at once (the journal lets the next run resume them)
    abort: threading.Event | None = None
    #: set when the stack's lock or lease is lost: no further write may be sent
    fence: threading.Event | None = None
    #: test injection points (see ``hooks``); None: the process-wide default, which does nothing unless a
    #: test entry point installed hooks
    hooks: ApplyHooks | None = None


@dataclass
class ChangeResult:
    change_id: str
    key: str
    action: str
    status: str  # done | failed | skipped
    message: str = ""
    resource_id: str | None = None


@dataclass
class ApplyResult:
    results: list[ChangeResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.status == "done" for r in self.results)

    def counts(self) -> dict[str, int]:
        out = {"done": 0, "failed": 0, "skipped": 0}
        for result in self.results:
            out[result.status] += 1
        return out
