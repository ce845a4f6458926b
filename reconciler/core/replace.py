"""How a deployment that cannot change in place is replaced: ``policy.replace`` (pure).

``DeleteBeforeCreate`` (the default) deletes the old deployment, then creates the new one: no moment with two
copies (so no extra capacity is needed), but the deployment serves nothing in between.

``CreateBeforeDelete`` creates the new deployment, waits until it is ACTIVE, then deletes the old one: no
downtime, but twice the capacity for a while, and (as with any replace) the URL changes, since OCI derives a
deployment's URL from its OCID. The new deployment is tagged ``mdr-replaces: <old OCID>`` when it is
created, so an apply killed between the create and the delete leaves a state the next plan recognises
(two owned copies, one naming the other) and finishes: the new one is waited for, the old one deleted.
The tag lives in the cloud, not in a local file, so the next apply may run anywhere (another CI runner, the
controller). Without it two owned copies would stop the plan as duplicates; with it there are never two
owned copies for longer than one apply, and never zero.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.core.canonical import ref
from reconciler.core.diff import FieldChange
from reconciler.core.live import LiveDeployment
from reconciler.core.plan import Step

#: on a deployment created to replace another (create before delete): the OCID of the one it replaces
TAG_REPLACES = "mdr-replaces"
CREATE_BEFORE_DELETE = "CreateBeforeDelete"
DELETE_BEFORE_CREATE = "DeleteBeforeCreate"
#: the key of a change's ``desired`` dict naming the deployment a create-before-delete replaces
REPLACES = "replaces"
#: the canonical-looking path under which a plan shows that the deployment's URL changes
URL_PATH = "modelDeploymentUrl"


@dataclass(frozen=True)
class Replacement:
    """An interrupted create-before-delete: ``new`` was created to replace ``old``, which still exists."""

    new: LiveDeployment
    old: LiveDeployment


def interrupted(candidates: list[LiveDeployment]) -> Replacement | None:
    """The pair left by an apply killed between the create and the delete of a replacement, or None.

    Exactly two owned deployments for one key, one tagged as replacing the other: anything else (three,
    or two unrelated ones) is a real duplicate the user must look at."""
    if len(candidates) != 2:
        return None
    first, second = candidates
    if first.tags.get(TAG_REPLACES) == second.id:
        return Replacement(new=first, old=second)
    if second.tags.get(TAG_REPLACES) == first.id:
        return Replacement(new=second, old=first)
    return None


def url_change(current: LiveDeployment, change_id: str) -> FieldChange:
    """The URL a replace gives up: clients calling the old URL must move to the new one."""
    return FieldChange(URL_PATH, current.url, ref(change_id))


def replace_steps(order: str, current: LiveDeployment, create: list[Step], name: str) -> list[Step]:
    """The steps of a replace in the order ``policy.replace`` asks for. A FAILED deployment serves nothing,
    so it is always deleted first (creating first would only hold twice the capacity for nothing)."""
    delete = Step("DeleteModelDeployment", f"delete {current.id} ({current.lifecycle_state})")
    if order != CREATE_BEFORE_DELETE or current.lifecycle_state == "FAILED":
        return [delete, *create]
    first, *rest = create
    beside = Step(first.op, f"create the new {name} beside the old one, wait until ACTIVE", None, first.paths)
    old = Step("DeleteModelDeployment", f"then delete the old {current.id} (policy.replace: {order})")
    return [beside, *rest, old]


def finishing_reason(pair: Replacement) -> str:
    """Why a plan deletes a deployment the manifest did not ask to replace this time."""
    if pair.new.lifecycle_state == "FAILED":
        return (
            f"an interrupted replacement: the new {pair.new.id} FAILED; it is deleted and created again, "
            f"then the old {pair.old.id} is deleted"
        )
    return (
        f"finishing an interrupted replacement: {pair.new.id} replaces {pair.old.id}; the new one is "
        "waited for until ACTIVE, then the old one is deleted"
    )


def creates_first(steps: list[Step]) -> bool:
    """The steps create the new deployment before deleting the old one."""
    ops = [s.op for s in steps]
    return (
        "CreateModelDeployment" in ops
        and "DeleteModelDeployment" in ops
        and ops.index("CreateModelDeployment") < ops.index("DeleteModelDeployment")
    )
