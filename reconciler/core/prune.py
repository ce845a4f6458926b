"""The prune rule: when an owned resource no manifest names may be removed, and how (pure)."""

from __future__ import annotations

from typing import Any

from reconciler.core.desired import (
    DesiredState,
)
from reconciler.core.plan import (
    PRUNE_REASON,
    Action,
    Change,
    Kind,
    Plan,
    PlanOptions,
    Step,
    simple_fingerprint,
)

# --- building -------------------------------------------------------------------------------------------


def plan_prune(
    plan: Plan,
    desired: DesiredState,
    options: PlanOptions,
    kind: Kind,
    key: str,
    name: str,
    live_id: str,
    wire: dict[str, Any],
    policy: dict[str, str] | None = None,
    desired_info: dict[str, Any] | None = None,
) -> None:
    """Plan the removal of an owned resource no manifest names any more, if and only if that is safe."""
    if not desired.complete:
        plan.warnings.append(f"{key}: not in the manifests, but the tree was not read completely: not pruned")
        return
    if not desired.deployments:
        plan.warnings.append(
            f"{key}: not pruned: the manifest tree names no deployment at all, which is far more often a wrong "
            "path or branch than an intent"
        )
        return
    if not options.prune:
        plan.warnings.append(
            f"{key}: owned but no longer in the manifests; prune is off (use --prune to delete)"
        )
        return
    policy = policy or {}
    if policy.get("protect") == "true":
        plan.warnings.append(f"{key}: protected (policy.protect); not deleted")
        return
    orphan = policy.get("deletion") == "Orphan"
    plan.changes.append(
        Change(
            id=key,
            kind=kind,
            key=key,
            action=Action.ORPHAN if orphan else Action.DELETE,
            name=name,
            live_id=live_id,
            live_state=str(wire.get("lifecycle_state") or ""),
            fingerprint=simple_fingerprint(live_id, wire),
            reason=PRUNE_REASON,
            desired=dict(desired_info or {}),
            steps=[
                Step(f"Untag{kind.value}", "remove mdr's tags; leave it running")
                if orphan
                else Step(f"Delete{kind.value}", f"delete {live_id}")
            ],
        )
    )
