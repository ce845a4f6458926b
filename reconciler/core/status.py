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
    #: the model's display name when this stack owns it (else None: a catalog model given by id)
    model_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def deployment_statuses(plan: Plan, live: LiveState, last_changes: dict[str, str]) -> list[DeploymentStatus]:
    """Pure: one status per deployment the plan covers, from its change and the live summary."""
    by_id = {d.id: d for d in live.deployments}
    model_names = {m.id: str(m.wire.get("display_name") or "") or None for m in live.models}
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
                model_name=model_names.get(current.model_id or "") if current else None,
            )
        )
    return sorted(out, key=lambda s: s.name)


#: ``mdr status`` must fit a 100-column terminal: long values are cut, URLs get lines of their own
WIDTH = 100
_CAPS = {"NAME": 28, "MODEL": 26}


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render_statuses(statuses: list[DeploymentStatus]) -> str:
    header = ("NAME", "SYNC", "HEALTH", "STATE", "MODEL", "LAST CHANGE")
    rows = [header] + [
        (
            _cut(s.name, _CAPS["NAME"]),
            s.sync,
            s.health,
            s.lifecycle or "-",
            _cut(s.model_name or (f"…{s.model[-12:]}" if s.model else "-"), _CAPS["MODEL"]),
            (s.last_change or "-")[:16].replace("T", " "),
        )
        for s in statuses
    ]
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    for s in statuses:
        if s.url:
            lines.append(_cut(f"{s.name}: {s.url}", WIDTH))
        if s.drift:
            lines.append(_cut(f"{s.name}: drifted fields: {', '.join(s.drift)}", WIDTH))
    return "\n".join(lines) + "\n"
