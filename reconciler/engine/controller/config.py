"""The controller's settings, its published state, and the back-off it keeps per change."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.core.errors import MdrError

BACKOFF_BASE_SECONDS = 10.0
BACKOFF_MAX_SECONDS = 600.0


@dataclass
class ControllerConfig:
    path: Path | None = None
    git_url: str | None = None
    branch: str = "main"
    git_subdir: str = "."
    git_interval: float = 30.0
    interval: float = 300.0
    jitter: float = 0.1
    self_heal: bool = False
    listen: tuple[str, int] | None = None
    debounce_ms: int = 500
    budget_rate: float = 10.0
    #: a prune runs only once the same prune was planned from a tree read at least this long before, so
    #: an editor's transient save (truncate, then write) never deletes anything
    prune_settle: float = 10.0
    #: while owned resources are CREATING/UPDATING/DELETING, look again this soon instead of at --interval
    settle_poll: float = 15.0
    #: watch the tree for changes (off for a stack in a fleet: the fleet watches the whole tree once)
    watch: bool = True
    #: share a fleet's stacks with other replicas through leases in this bucket (``sharding``)
    shard_bucket: str | None = None
    shard_ttl: float = 30.0


@dataclass
class Backoff:
    failures: int = 0
    next_attempt: float = 0.0

    def fail(self, now: float) -> None:
        self.failures += 1
        delay = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (self.failures - 1))
        self.next_attempt = now + delay * random.uniform(0.8, 1.2)


@dataclass
class ControllerState:
    revision: str | None = None
    last_applied_revision: str | None = None
    last_reconcile: str | None = None
    last_error: str | None = None
    reconciles: int = 0
    leader: bool = False
    holder: str | None = None
    deployments: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)
    backoff: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def parse_duration(text: str) -> float:
    """``90``, ``30s``, ``5m``, ``1h`` -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    cleaned = text.strip()
    scale = units.get(cleaned[-1:], 1)
    number = cleaned[:-1] if cleaned[-1:] in units else cleaned
    try:
        seconds = float(number) * scale
    except ValueError:
        raise MdrError(f"{text!r} is not a duration; write e.g. 90, 30s, 5m or 1h") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise MdrError(f"{text!r} is not a duration; it must be a finite number of seconds, 0 or more")
    return seconds


def parse_listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "0.0.0.0", int(port)
