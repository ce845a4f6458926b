"""Stale-plan detection (pure): has anything a saved plan touches changed since it was computed?"""

from __future__ import annotations

from reconciler.core.live import GONE_STATES, LiveState
from reconciler.core.plan import (
    Action,
    Kind,
    Plan,
    deployment_fingerprint,
    model_fingerprint,
    simple_fingerprint,
)


def stale_changes(plan: Plan, live: LiveState) -> list[str]:
    """Messages naming every touched resource whose live fingerprint differs from the plan's."""
    deployments = {d.id: d for d in live.deployments} | live.adoptable  # adoptions touch unowned ones
    models = {m.id: m for m in live.models}
    others = {g.id: g.wire for g in live.log_groups} | {x.id: x.wire for x in live.logs}
    by_key = live.deployments_by_key()
    problems: list[str] = []
    for change in plan.actionable:
        if change.live_id is None:
            if change.kind == Kind.DEPLOYMENT and change.action == Action.CREATE:
                existing = [d for d in by_key.get(change.key, []) if d.lifecycle_state not in GONE_STATES]
                if existing:
                    problems.append(f"{change.key}: was created since the plan ({existing[0].id})")
            continue
        if change.kind == Kind.DEPLOYMENT:
            current = deployments.get(change.live_id)
            now = deployment_fingerprint(current) if current else None
        elif change.kind == Kind.MODEL:
            model = models.get(change.live_id)
            now = model_fingerprint(model) if model else None
        else:
            wire = others.get(change.live_id)
            now = simple_fingerprint(change.live_id, wire) if wire is not None else None
        if now is None:
            problems.append(f"{change.key}: {change.live_id} no longer exists")
        elif now != change.fingerprint:
            problems.append(f"{change.key}: {change.live_id} changed since the plan")
    return problems
