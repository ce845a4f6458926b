"""Which planned changes a controller run may apply now (the controller's policy, kept apart from its loop)."""

from __future__ import annotations

import logging
import time

from reconciler.core.plan import Action, Plan
from reconciler.engine.controller.config import Backoff

log = logging.getLogger("mdr.controller")


class ChangeGate:
    """Manifest changes always pass; drift only with self-heal; nothing in back-off; prunes once settled."""

    def __init__(self, self_heal: bool, prune_settle: float) -> None:
        self.self_heal = self_heal
        self.prune_settle = prune_settle
        self.backoff: dict[str, Backoff] = {}
        #: prune change key -> when a plan first asked for it (monotonic)
        self.prune_seen: dict[str, float] = {}
        #: when the loop should reconcile again before --interval (a prune waiting, resources settling)
        self.wake_at: float | None = None

    def select(self, plan: Plan) -> Plan:
        """What this run may apply: manifest changes always, drift only with self-heal, nothing in backoff."""
        now = time.monotonic()
        planned = {c.key for c in plan.changes if c.is_prune}
        self.prune_seen = {k: v for k, v in self.prune_seen.items() if k in planned}
        chosen = []
        for change in plan.changes:
            if change.action == Action.NOOP:
                chosen.append(change)
                continue
            if change.is_prune and not self._prune_settled(change.key, now):
                continue
            backoff = self.backoff.get(change.key)
            if backoff is not None and backoff.next_attempt > now:
                log.info(
                    "in backoff", extra={"key": change.key, "seconds": round(backoff.next_attempt - now, 1)}
                )
                continue
            if change.drift and not self.self_heal:
                log.warning("drift detected (not corrected without --self-heal)", extra={"key": change.key})
                continue
            chosen.append(change)
        selected = Plan(
            plan.stack, plan.region, chosen, plan.warnings, plan.errors, plan.complete, plan.created_at
        )
        selected.context = plan.context
        if plan.errors:
            log.error("plan refused", extra={"errors": plan.errors})
            selected.changes = [c for c in chosen if c.action == Action.NOOP]
            selected.errors = []
        return selected

    def _prune_settled(self, key: str, now: float) -> bool:
        """A prune runs only when reads of the tree at least ``prune_settle`` apart agree on it.

        A file an editor truncates and rewrites, or a half-written file, looks removed for a moment; the
        second read sees it again and the prune is forgotten.
        """
        first = self.prune_seen.setdefault(key, now)
        if now - first >= self.prune_settle:
            return True
        due = first + self.prune_settle
        log.info(
            "prune deferred until the tree is stable", extra={"key": key, "seconds": round(due - now, 1)}
        )
        self.wake(due)
        return False

    def wake(self, at: float) -> None:
        self.wake_at = at if self.wake_at is None else min(self.wake_at, at)
