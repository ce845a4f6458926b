"""Planning rules for model groups (pure): a group version is created when no owned ACTIVE group holds what
the manifest's group holds; the deployment is then pointed at it by an update of its ``model`` option group.

A group is immutable: it is never updated, only replaced by a new version, so its change is always a create
whose fields list every member (``members.<inference key>``), while the deployment's change shows what
differs from the group it serves now, member by member.
"""

from __future__ import annotations

from reconciler.core.desired import DesiredState
from reconciler.core.diff import FieldChange
from reconciler.core.plan import Action, Change, Kind, Plan, Step


def plan_model_groups(plan: Plan, desired: DesiredState) -> None:
    """A create per group version that does not exist yet (suspended deployments get none)."""
    suspended = {f"ModelGroup/{d.name}" for d in desired.deployments.values() if d.suspended}
    for group in desired.model_groups.values():
        if group.live_id is not None or group.key in suspended:
            continue
        details = group.details
        history = f" in version history {details['versionHistory']}" if details.get("versionHistory") else ""
        plan.changes.append(
            Change(
                id=group.change_id,
                kind=Kind.MODEL_GROUP,
                key=group.key,
                action=Action.CREATE,
                name=details["displayName"],
                fields=[
                    FieldChange("type", None, details["type"]),
                    *_base_field(details),
                    *(FieldChange(f"members.{m.inference_key}", None, m.model_id) for m in group.members),
                ],
                steps=[
                    Step(
                        "CreateModelGroup",
                        f"create model group {details['displayName']} ({len(group.members)} models){history} "
                        "and wait until ACTIVE",
                    )
                ],
                depends_on=list(group.depends_on),
                desired=dict(details),
            )
        )


def _base_field(details: dict[str, object]) -> list[FieldChange]:
    """A STACKED group's base model, by inference key (no line for other group types)."""
    base = details.get("baseModel")
    return [FieldChange("baseModel", None, base)] if base is not None else []
