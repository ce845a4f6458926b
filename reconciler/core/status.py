"""``mdr status``: sync and health of each managed deployment, like Argo CD's application view."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.fields import unmodelled_fields
from reconciler.core.health import rolled_back_reason
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
    #: live fields this mdr does not model (set by hand or by a newer service): not shown as drift
    unmanaged: list[str] = field(default_factory=list)
    #: why it is Degraded beyond its lifecycle state: a failed health check, an auto-rollback
    reason: str | None = None

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
                unmanaged=unmodelled_fields(current.wire) if current else [],
            )
        )
        rolled_back = rolled_back_reason(current.tags) if current else None
        if rolled_back is not None:
            out[-1].health, out[-1].reason = "Degraded", rolled_back
    return sorted(out, key=lambda s: s.name)


#: ``mdr status`` must fit a 100-column terminal: long values are cut; a URL is never cut (a cut URL does
#: not work), so each predict URL gets a line of its own after the table
WIDTH = 100
#: the two free-text columns share what the others leave of ``WIDTH``; each keeps at least this much
_MIN_FREE = 12


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _share(name: int, model: int, room: int) -> tuple[int, int]:
    """Widths for the NAME and MODEL columns within ``room``: both whole when they fit, else the shorter
    whole (when it takes at most half) and the other cut, else half each."""
    room = max(room, 2 * _MIN_FREE)
    if name + model <= room:
        return name, model
    half = room // 2
    if name <= half:
        return name, room - name
    if model <= half:
        return room - model, model
    return half, room - half


def render_statuses(statuses: list[DeploymentStatus]) -> str:
    header = ("NAME", "SYNC", "HEALTH", "STATE", "MODEL", "LAST CHANGE")
    full = [header] + [
        (
            s.name,
            s.sync,
            s.health,
            s.lifecycle or "-",
            s.model_name or (f"…{s.model[-12:]}" if s.model else "-"),
            (s.last_change or "-")[:16].replace("T", " "),
        )
        for s in statuses
    ]
    widths = [max(len(str(r[i])) for r in full) for i in range(len(header))]
    widths[0], widths[4] = _share(widths[0], widths[4], WIDTH - sum(widths[1:4]) - widths[5] - 2 * 5)
    rows = [(_cut(r[0], widths[0]), *r[1:4], _cut(r[4], widths[4]), r[5]) for r in full]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    for s in statuses:
        if s.drift:
            lines.append(_cut(f"{s.name}: drifted fields: {', '.join(s.drift)}", WIDTH))
        if s.reason:  # why it is Degraded: wrapped, never cut
            lines.extend(textwrap.wrap(f"{s.name}: {s.reason}", WIDTH, subsequent_indent="  "))
        if s.unmanaged:  # every name matters here: wrapped, never cut
            text = f"warning: {s.name}: fields mdr does not manage (not compared): {', '.join(s.unmanaged)}"
            lines.extend(textwrap.wrap(text, WIDTH, subsequent_indent="  ", break_long_words=True))
    urls = [(s.name, predict_url(s.url)) for s in statuses if s.url]
    if urls:
        lines.append("")
        lines.append(
            "predict URLs (POST JSON; `mdr predict PATH NAME --data JSON` signs the request for you):"
        )
        for name, url in urls:
            lines.append(f"  {name}")
            lines.append(f"    {url}")
    return "\n".join(lines) + "\n"


def predict_url(url: str) -> str:
    """A deployment's predict endpoint: ``{modelDeploymentUrl}/predict``."""
    return f"{url.rstrip('/')}/predict"
