"""Re-checks of a saved plan at apply time, against what cannot be edited in the plan file (pure).

A saved plan is applied exactly as reviewed (Terraform's semantics), but its JSON is just a file: a
desired value could be changed, or a guard's block deleted, after review. ``adapters.planfile`` refuses a
file whose digest does not match; these checks go further and hold whatever the file says against the
manifests of the checkout and the live tags, so that no edit can bypass protect, ignore, prune or
maxDeletes, and a change whose parts disagree is refused.
"""

from __future__ import annotations

from typing import Any

from reconciler.core.canonical import is_ref
from reconciler.core.diff import is_under
from reconciler.core.live import LiveState
from reconciler.core.plan import Action, Change, Kind, Plan
from reconciler.core.stack import Stack

_DESTRUCTIVE = (Action.DELETE, Action.REPLACE)


def guard_violations(plan: Plan, stack: Stack, live: LiveState) -> list[str]:
    """Every guard the saved plan would break today (empty: it may be applied)."""
    assert stack.config is not None
    manifests = {d.key: d for d in stack.deployments}
    live_by_id = {d.id: d for d in live.deployments}
    problems: list[str] = []
    for change in plan.changes:
        if change.blocked and change.action != Action.NOOP:
            continue  # held back at apply anyway
        problems.extend(_inconsistent(change))
        if change.kind != Kind.DEPLOYMENT:
            continue
        manifest = manifests.get(change.key)
        policy = manifest.manifest.spec.policy if manifest else None
        if change.action in _DESTRUCTIVE and policy is not None and policy.protect:
            problems.append(
                f"{change.key}: {change.action.value} of a deployment whose manifest says protect: true"
            )
        current = live_by_id.get(change.live_id or "")
        if change.action in _DESTRUCTIVE and current is not None and current.policy.get("protect") == "true":
            problems.append(f"{change.key}: {change.action.value} of a deployment tagged protect=true")
        if change.action == Action.DELETE and manifest is not None:
            problems.append(f"{change.key}: the plan deletes it, but a manifest still names it")
        if change.is_prune and not (plan.context.get("prune") or stack.config.prune):
            problems.append(f"{change.key}: a prune in a plan made without --prune")
        ignored = policy.ignore if policy is not None else []
        touched = [f.path for f in change.fields if is_under(f.path, ignored)]
        if change.action == Action.UPDATE and touched:
            problems.append(f"{change.key}: changes {', '.join(touched)}, which policy.ignore excludes")
    destructive = [
        c for c in plan.changes if c.kind != Kind.MODEL and c.action in _DESTRUCTIVE and not c.blocked
    ]
    allowed = plan.context.get("allowDeletes")
    limit = allowed if allowed is not None else stack.config.maxDeletes
    if len(destructive) > limit:
        problems.append(
            f"the plan deletes or replaces {len(destructive)} resources, more than maxDeletes {limit}"
        )
    return problems


def _inconsistent(change: Change) -> list[str]:
    """Field lines (what was reviewed) and desired values (what apply sends) must say the same."""
    if change.kind != Kind.DEPLOYMENT or change.action not in (Action.CREATE, Action.UPDATE):
        return []
    problems = []
    for field in change.fields:
        if field.sensitive or is_ref(field.after) or field.after is None:
            continue
        sent = _at(change.desired, field.path)
        if sent != field.after:
            problems.append(
                f"{change.key}: {field.path} would be sent as {sent!r}, but the plan shows {field.after!r}"
            )
    return problems


def _at(data: dict[str, Any], path: str) -> Any:
    current: Any = data
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current
