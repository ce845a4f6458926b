"""The imperative shell around planning: validate, hash artifacts, read live state, then the pure plan.

Validation comes first and is complete before any cloud call: bad input never reaches OCI.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.artifact import artifact_identity
from reconciler.desired import DesiredState, DesiredStateError, build_desired
from reconciler.errors import MdrError, ValidationFailed
from reconciler.live import LiveState, read_live
from reconciler.manifest.stack import LoadedDeployment, Stack
from reconciler.plan import Plan, PlanOptions, build_plan
from reconciler.validate import validate_tree


@dataclass
class PlanResult:
    plan: Plan
    stack: Stack
    desired: DesiredState
    live: LiveState


def load_valid_stack(path: Path) -> Stack:
    """The stack, or ValidationFailed with every issue (schema and artifacts) when anything is wrong."""
    stack, issues = validate_tree(path)
    if issues:
        raise ValidationFailed(issues)
    assert stack.config is not None
    return stack


def object_identity(provider: Any, uri: str) -> str:
    """Identity of an ``oci://bucket@namespace/object`` artifact: its URI and the object's ETag."""
    import oci

    rest = uri[len("oci://") :]
    bucket_ns, _, name = rest.partition("/")
    bucket, _, namespace = bucket_ns.partition("@")
    try:
        response = provider.call("HeadObject", provider.object_storage.head_object, namespace, bucket, name)
    except oci.exceptions.ServiceError as exc:
        raise MdrError(f"artifact {uri} cannot be read from Object Storage: {exc.status} {exc.code}") from exc
    etag = response.headers.get("etag") or response.headers.get("content-md5") or ""
    return f"oci:{uri}#{etag}"


def artifact_identities(stack: Stack, provider: Any) -> dict[str, str]:
    identities: dict[str, str] = {}
    seen: dict[str, str] = {}  # several deployments may share one artifact: hash (or HEAD) it once
    for deployment in stack.deployments:
        artifact = deployment.manifest.spec.model.artifact
        if artifact is None:
            continue
        path = deployment.artifact_path()
        source = str(path) if path else artifact
        if source not in seen:
            seen[source] = artifact_identity(path) if path else object_identity(provider, artifact)
        identities[deployment.name] = seen[source]
    return identities


def secret_values(deployment: LoadedDeployment) -> dict[str, str | None]:
    """Secret values from the environment; None where not set (plan then assumes the live value is right)."""
    return {
        name: os.environ.get(ref.fromEnv) for name, ref in deployment.manifest.spec.runtime.secretEnv.items()
    }


LiveReader = Callable[[Any, str, set[str], set[str]], LiveState]


def compute_plan(
    stack: Stack,
    provider: Any,
    prune: bool | None = None,
    allow_deletes: int | None = None,
    reader: LiveReader | None = None,
) -> PlanResult:
    """Plan a stack against live state. ``reader`` swaps the live-reading strategy (benchmarks compare
    per-resource GETs with our list calls through the very same diff and plan)."""
    assert stack.config is not None
    config = stack.config
    compartments = {d.compartment_id for d in stack.deployments}
    if config.defaults.compartmentId:
        compartments.add(config.defaults.compartmentId)
    log_groups = {
        d.manifest.spec.logging.logGroup.name
        for d in stack.deployments
        if d.manifest.spec.logging and d.manifest.spec.logging.logGroup.name
    }
    identities = artifact_identities(stack, provider)
    live = (reader or read_live)(provider, config.stack, compartments, {g for g in log_groups if g})
    salt = secrets.token_hex(16)
    values = {d.name: secret_values(d) for d in stack.deployments}
    try:
        desired = build_desired(stack, live, identities, values, salt)
    except DesiredStateError as exc:
        raise MdrError(str(exc)) from exc
    options = PlanOptions(
        prune=config.prune if prune is None else prune,
        max_deletes=config.maxDeletes,
        allow_deletes=allow_deletes,
        salt=salt,
    )
    plan = build_plan(desired, live, config.region, options)
    plan.api_calls = provider.stats.snapshot()
    plan.context = {
        "compartments": sorted(compartments),
        "logGroupNames": sorted(g for g in log_groups if g),
        "lock": config.lock.model_dump() if config.lock else None,
        "artifacts": config.artifacts.model_dump() if config.artifacts else None,
    }
    return PlanResult(plan, stack, desired, live)


def write_plan(plan: Plan, path: Path) -> None:
    """Saved plans hold no secret values; written atomically so a crash never leaves half a plan.

    Artifact folders inside the working directory are saved relative to it, so that the plan applies from
    another checkout of the same repository (CI runners rarely share a workspace path).
    """
    from reconciler.render import render_json

    for change in plan.changes:
        source = change.desired.get("artifactPath")
        if source and Path(source).is_absolute():
            relative = os.path.relpath(source)
            if not relative.startswith(".."):
                change.desired["artifactPath"] = relative
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(render_json(plan), encoding="utf-8")
    os.replace(tmp, path)


def read_plan(path: Path) -> Plan:
    import json

    try:
        return Plan.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError) as exc:
        raise MdrError(f"{path} is not a readable mdr plan: {exc}") from exc
