"""``mdr status``: sync and health of each managed deployment, like Argo CD's application view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconciler.core.live import LiveState
from reconciler.core.plan import Action, Kind, Plan

HEALTH = {
    "ACTIVE": "Healthy",
    "INACTIVE": "Suspended",
    "CREATING": "Progressing",
    "UPDATING": "Progressing",
    "DELETING": "Progressing",
    "FAILED": "Degraded",
    "NEEDS_ATTENTION": "Degraded",
}


@dataclass
class DeploymentStatus:
    name: str
    sync: str  # Synced | OutOfSync | Missing
    health: str
    lifecycle: str | None
    url: str | None
    model: str | None
    drift: list[str]
    last_change: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def deployment_statuses(plan: Plan, live: LiveState, last_changes: dict[str, str]) -> list[DeploymentStatus]:
    """Pure: one status per deployment the plan covers, from its change and the live summary."""
    by_id = {d.id: d for d in live.deployments}
    out = []
    for change in plan.changes:
        if change.kind != Kind.DEPLOYMENT or change.action in (Action.DELETE, Action.ORPHAN):
            continue
        current = by_id.get(change.live_id or "")
        if change.action == Action.CREATE or current is None:
            sync = "Missing"
        elif change.action == Action.NOOP:
            sync = "Synced"
        else:
            sync = "OutOfSync"
        lifecycle = current.lifecycle_state if current else None
        out.append(
            DeploymentStatus(
                name=change.name,
                sync=sync,
                health=HEALTH.get(lifecycle or "", "Missing"),
                lifecycle=lifecycle,
                url=current.url if current else None,
                model=current.model_id if current else None,
                drift=[f.path for f in change.fields] if sync == "OutOfSync" else [],
                last_change=last_changes.get(change.key)
                or (current.wire.get("time_created") if current else None),
            )
        )
    return sorted(out, key=lambda s: s.name)


def render_statuses(statuses: list[DeploymentStatus]) -> str:
    header = ("NAME", "SYNC", "HEALTH", "STATE", "MODEL", "URL", "LAST CHANGE")
    rows = [header] + [
        (
            s.name,
            s.sync,
            s.health,
            s.lifecycle or "-",
            (s.model or "-")[-24:],
            s.url or "-",
            s.last_change or "-",
        )
        for s in statuses
    ]
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    for s in statuses:
        if s.drift:
            lines.append(f"{s.name}: drifted fields: {', '.join(s.drift)}")
    return "\n".join(lines) + "\n"
