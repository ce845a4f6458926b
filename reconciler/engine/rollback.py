"""``mdr rollback NAME``: point a deployment back at a previous owned model, kept by ``model.keep``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reconciler.adapters.live_reader import read_live
from reconciler.adapters.lock import held, lock_for
from reconciler.core.errors import MdrError
from reconciler.core.live import GONE_STATES, LiveState
from reconciler.core.plan import Action, Change, Kind, Plan, Step, deployment_fingerprint
from reconciler.engine.apply import ApplyOptions
from reconciler.engine.workflows import load_valid_stack


def rollback_target(live: LiveState, name: str, to: str | None) -> tuple[str, str, str]:
    """(deployment id, current model id, target model id); pure, raises MdrError when there is none."""
    key = f"ModelDeployment/{name}"
    deployments = [d for d in live.deployments_by_key().get(key, []) if d.lifecycle_state not in GONE_STATES]
    if len(deployments) != 1:
        raise MdrError(f"{key}: expected one live owned deployment, found {len(deployments)}")
    deployment = deployments[0]
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


def rollback_change(live: LiveState, name: str, to: str | None) -> tuple[Change, str, str]:
    """(the change that swaps the model back, current model id, target model id); pure. Also what an
    auto-rollback after a failed health check runs (``engine.health``)."""
    deployment_id, current, target = rollback_target(live, name, to)
    live_deployment = next(d for d in live.deployments if d.id == deployment_id)
    change = Change(
        id=f"ModelDeployment/{name}",
        kind=Kind.DEPLOYMENT,
        key=f"ModelDeployment/{name}",
        action=Action.UPDATE,
        name=name,
        live_id=deployment_id,
        fingerprint=deployment_fingerprint(live_deployment),
        reason=f"rollback from {current} to {target}",
        steps=[Step("UpdateModelDeployment", f"swap model to {target}", "model", ("model.id",))],
        desired={"model": {"id": target}, "infrastructure": {}, "runtime": {"type": "conda"}},
    )
    return change, current, target


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
            change, current, target = rollback_change(live, name, to)
            print(f"Rolling back {name}: model {current} -> {target}", file=sys.stderr)
            result = execute(Plan(config.stack, config.region, [change]), provider, options)
    report(result, sys.stdout)
    if result.ok:
        print(
            f"note: the manifests still name the current artifact; the next apply (or a self-healing "
            f"controller) moves {name} forward again unless you revert the change in git."
        )
    return 0 if result.ok else 1
