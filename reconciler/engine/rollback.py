"""``mdr rollback NAME``: point a deployment back at a previous owned model, kept by ``model.keep``, or, for a
``spec.modelGroup`` deployment, at the previous owned model group version.

Group versions are never deleted by mdr (docs/model-groups.md), but the models of their packaged members
beyond ``modelGroup.keep`` are: an old group can hold a model that is gone. Its members are therefore read
(one GetModelGroup, one GetModel per member) before the deployment is pointed at it, and a version missing
one is refused rather than half-deployed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reconciler.adapters.cloud_errors import NotFound
from reconciler.adapters.live_reader import read_live
from reconciler.adapters.lock import held, lock_for
from reconciler.core.errors import MdrError
from reconciler.core.live import GONE_STATES, LiveDeployment, LiveState
from reconciler.core.model_group_desired import GROUP_KIND
from reconciler.core.plan import Action, Change, Kind, Plan, Step, deployment_fingerprint
from reconciler.engine.apply import ApplyOptions
from reconciler.engine.workflows import load_valid_stack


def _deployment(live: LiveState, name: str) -> LiveDeployment:
    key = f"ModelDeployment/{name}"
    deployments = [d for d in live.deployments_by_key().get(key, []) if d.lifecycle_state not in GONE_STATES]
    if len(deployments) != 1:
        raise MdrError(f"{key}: expected one live owned deployment, found {len(deployments)}")
    return deployments[0]


def group_rollback_target(live: LiveState, name: str, to: str | None) -> tuple[str, str, str]:
    """(deployment id, current group id, target group id) of a MODEL_GROUP deployment: the owned ACTIVE
    group version made before the one it serves (newest first), or ``to``; pure."""
    key = f"ModelDeployment/{name}"
    deployment = _deployment(live, name)
    current = deployment.group_id or ""
    groups = [
        g for g in live.model_groups if g.key == f"{GROUP_KIND}/{name}" and g.lifecycle_state == "ACTIVE"
    ]
    groups.sort(
        key=lambda g: (str(g.wire.get("time_created") or ""), g.wire.get("version_id") or 0), reverse=True
    )
    ids = [g.id for g in groups]
    if to is not None:
        if to not in ids:
            raise MdrError(
                f"{to} is not an ACTIVE model group owned by {key}; owned versions: {', '.join(ids) or 'none'}"
            )
        return deployment.id, current, to
    older = ids[ids.index(current) + 1 :] if current in ids else ids
    if not older:
        raise MdrError(f"{key}: no previous model group version to roll back to")
    return deployment.id, current, older[0]


def rollback_target(live: LiveState, name: str, to: str | None) -> tuple[str, str, str]:
    """(deployment id, current model id, target model id); pure, raises MdrError when there is none."""
    key = f"ModelDeployment/{name}"
    deployment = _deployment(live, name)
    current = deployment.model_id or ""
    models = sorted(live.models_by_key().get(f"Model/{name}", []), key=lambda m: m.time_created, reverse=True)
    ids = [m.id for m in models]
    if to is not None:
        if to not in ids:
            raise MdrError(f"{to} is not a model owned by {key}; owned models: {', '.join(ids) or 'none'}")
        return deployment.id, current, to
    older = ids[ids.index(current) + 1 :] if current in ids else ids
    if not older:
        raise MdrError(f"{key}: no previous model to roll back to (raise model.keep to keep more)")
    return deployment.id, current, older[0]


def rollback_change(
    live: LiveState, name: str, to: str | None, group_update: str = "ZDT"
) -> tuple[Change, str, str]:
    """(the change that swaps the model back, current model id, target model id); pure. Also what an
    auto-rollback after a failed health check runs (``engine.health``). A MODEL_GROUP deployment is pointed
    at a previous group version instead, with the manifest's update type (``group_update``)."""
    if _deployment(live, name).group_id:
        return _group_change(live, name, to, group_update)
    deployment_id, current, target = rollback_target(live, name, to)
    change = _swap(live, name, deployment_id, f"rollback from {current} to {target}")
    change.steps = [Step("UpdateModelDeployment", f"swap model to {target}", "model", ("model.id",))]
    change.desired = {"model": {"id": target}, "infrastructure": {}, "runtime": {"type": "conda"}}
    return change, current, target


def _group_change(live: LiveState, name: str, to: str | None, update_type: str) -> tuple[Change, str, str]:
    deployment_id, current, target = group_rollback_target(live, name, to)
    change = _swap(live, name, deployment_id, f"rollback from model group {current} to {target}")
    change.steps = [
        Step("UpdateModelDeployment", f"point at model group {target}", "model", ("model.groupId",))
    ]
    change.desired = {
        "model": {"groupId": target},
        "groupUpdateType": update_type,
        "infrastructure": {},
        "runtime": {"type": "conda"},
    }
    return change, current, target


def _swap(live: LiveState, name: str, deployment_id: str, reason: str) -> Change:
    """The update that points deployment ``name`` at another model (or group): steps and body to fill in."""
    live_deployment = next(d for d in live.deployments if d.id == deployment_id)
    return Change(
        id=f"ModelDeployment/{name}",
        kind=Kind.DEPLOYMENT,
        key=f"ModelDeployment/{name}",
        action=Action.UPDATE,
        name=name,
        live_id=deployment_id,
        fingerprint=deployment_fingerprint(live_deployment),
        reason=reason,
    )


def check_group_members(provider: Any, group_id: str) -> None:
    """Refuse a group version holding a model that is gone (deleted beyond ``modelGroup.keep``)."""
    client = provider.data_science
    group = provider.call("GetModelGroup", client.get_model_group, group_id).data
    entries = getattr(group.member_model_entries, "member_model_details", None) or []
    gone = []
    for entry in entries:
        try:
            state = provider.call("GetModel", client.get_model, entry.model_id).data.lifecycle_state
        except NotFound:
            state = "DELETED"
        if state != "ACTIVE":
            gone.append(f"{entry.inference_key or entry.model_id} ({entry.model_id}: {state})")
    if gone:
        raise MdrError(
            f"model group {group_id} holds models that can no longer be served: {', '.join(gone)}; roll back "
            "to a newer version with --to, or raise modelGroup.keep so that fewer old models are deleted"
        )


def rollback(
    path: Path,
    name: str,
    to: str | None,
    provider_factory: Callable[[str | None], Any],
    lock_timeout: float,
    options: ApplyOptions,
) -> int:
    from reconciler.engine.workflows import execute, report

    stack = load_valid_stack(path)
    assert stack.config is not None
    config = stack.config
    deployment = stack.deployment(name)
    if deployment is None:
        raise MdrError(f"no deployment named {name!r} in {path}")
    with provider_factory(config.region) as provider:
        lock = lock_for(config.stack, config.lock.model_dump() if config.lock else None, provider)
        with held(lock, lock_timeout):
            live = read_live(provider, config.stack, {deployment.compartment_id}, set())
            group = deployment.manifest.spec.modelGroup
            update_type = group.updateType if group is not None else "ZDT"
            change, current, target = rollback_change(live, name, to, update_type)
            what = "model"
            if "groupId" in change.desired["model"]:
                check_group_members(provider, target)
                what = "model group"
            print(f"Rolling back {name}: {what} {current} -> {target}", file=sys.stderr)
            result = execute(Plan(config.stack, config.region, [change]), provider, options)
    report(result, sys.stdout)
    if result.ok:
        print(
            f"note: the manifests still name the current artifact{'s' if what != 'model' else ''}; the next "
            f"apply (or a self-healing controller) moves {name} forward again unless you revert the change "
            "in git."
        )
    return 0 if result.ok else 1
