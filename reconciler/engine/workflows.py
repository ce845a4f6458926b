"""Workflows the CLI and the controller run: validate, hash artifacts, read live state, plan; lock and apply.

Validation comes first and is complete before any cloud call: bad input never reaches OCI. Everything here
is the imperative shell around the pure core (``reconciler.core``).
"""

from __future__ import annotations

import copy
import os
import secrets
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from reconciler.adapters.artifact import artifact_identity
from reconciler.adapters.artifact_weights import weights_identity_of
from reconciler.adapters.cloud_errors import NotAuthorized, NotFound
from reconciler.adapters.journal import AuditLog, Journal, KnownCompartments
from reconciler.adapters.live_groups import read_model_groups
from reconciler.adapters.live_reader import (
    read_deployments,
    read_live,
    read_models_and_logs,
    searched_compartments,
)
from reconciler.adapters.lock import held, lock_for
from reconciler.adapters.planfile import read_plan
from reconciler.adapters.provenance import stack_provenance
from reconciler.adapters.vault import VaultReader, value_for_plan
from reconciler.core.desired import DesiredState, DesiredStateError, build_desired
from reconciler.core.errors import MdrError, ValidationFailed
from reconciler.core.live import LiveState, owned_compartments
from reconciler.core.model_rules import attach_provenance
from reconciler.core.plan import Action, Kind, Plan, PlanOptions
from reconciler.core.plancheck import guard_violations
from reconciler.core.render import render, summary_line
from reconciler.core.rules import SETTLING_STATES, build_plan
from reconciler.core.shapes import unknown_shapes
from reconciler.core.stack import LoadedDeployment, Stack
from reconciler.engine.apply import (
    ApplyOptions,
    ApplyResult,
    ChangeResult,
    Executor,
    StalePlan,
    stale_changes,
)
from reconciler.engine.health import after_apply
from reconciler.engine.validate import validate_tree


@dataclass
class PlanResult:
    plan: Plan
    stack: Stack
    desired: DesiredState
    live: LiveState


def offered_shapes(provider: Any, compartment: str) -> set[str]:
    """What the service deploys on here; empty when it cannot be listed (then nothing is judged).

    A fleet's stacks share the list (``shared_reads``): it is the same for every stack of a compartment."""

    def read() -> list[list[dict[str, Any]]]:
        items = provider.list_all(
            "ListModelDeploymentShapes", provider.data_science.list_model_deployment_shapes, compartment
        )
        return [[{"name": str(item.name)} for item in items]]

    shared = getattr(provider, "shared_reads", None)
    try:
        pages = shared.pages(("ListModelDeploymentShapes", compartment), read) if shared else read()
    except (NotFound, NotAuthorized):
        return set()
    return {item["name"] for page in pages for item in page}


def _check_shapes(stack: Stack, offered: Any, strict: bool) -> None:
    """Unknown shapes are input errors: refused before any write (the CLI), or set aside (the controller)."""
    unknown = unknown_shapes(stack, offered)
    if unknown and strict:
        raise ValidationFailed([issue for _, issue in unknown])
    for bad, issue in unknown:  # the deployment itself: a file may hold several documents
        stack.deployments.remove(bad)
        stack.invalid_names.add(bad.name)
        stack.issues.append(issue)


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
        model = deployment.manifest.spec.model
        group = deployment.manifest.spec.modelGroup
        # a model group's packaged members are keyed <deployment>/<inference key> (model_group_desired)
        wanted = [(deployment.name, model.artifact, deployment.artifact_path())] if model is not None else []
        if model is not None and model.weights is not None:  # by reference: listed, never read
            conda = deployment.manifest.spec.runtime.type == "conda"
            ref = f"{model.weights}#{conda}"
            if ref not in seen:
                seen[ref] = weights_identity_of(provider, model.weights, conda)
            identities[deployment.name] = seen[ref]
        wanted += [
            (f"{deployment.name}/{m.inferenceKey}", m.artifact, deployment.member_files.get(m.inferenceKey))
            for m in (group.members if group is not None else [])
        ]
        for key, artifact, path in wanted:
            if artifact is None:
                continue
            source = str(path) if path else artifact
            if source not in seen:
                seen[source] = artifact_identity(path) if path else object_identity(provider, artifact)
            identities[key] = seen[source]
    return identities


def secret_values(
    deployment: LoadedDeployment, vault: VaultReader, notes: list[str]
) -> dict[str, str | None]:
    """Secret values from the environment or OCI Vault; None where not available now (plan then assumes the
    live value is right; a Vault secret that cannot be read is also noted for the plan's warnings)."""
    values: dict[str, str | None] = {}
    for name, ref in deployment.manifest.spec.runtime.secretEnv.items():
        if ref.fromVault is not None:
            values[name] = value_for_plan(vault, f"{deployment.name}.{name}", ref.fromVault, notes)
        else:
            values[name] = os.environ.get(ref.fromEnv or "")
    return values


#: reads a stack's live deployments into the state (``read_deployments``: its list pages)
DeploymentReader = Callable[[Any, LiveState, list[str]], None]


def read_and_expand(
    provider: Any,
    stack: Stack,
    compartments: set[str],
    log_groups: tuple[set[str], list[str]],
    reader: DeploymentReader,
    expand: Callable[[LiveState], DesiredState],
) -> tuple[LiveState, DesiredState]:
    """Live state and desired state, the second built while the deployment pages are still coming in.

    Deployment pages are chained (each needs the previous one's token), so a plan of N deployments waits
    ceil(N/100) round trips for them. Desired state needs only the models and logs (read meanwhile, in a
    few calls), unless a manifest serves a model group (that reads the live deployments): expanding the
    manifests then costs no wall time."""
    assert stack.config is not None
    live = LiveState(stack.config.stack)
    names, group_ids = log_groups
    early = not any(d.manifest.spec.modelGroup for d in stack.deployments)
    desired: DesiredState | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mdr-deployments") as pool:
        pages = pool.submit(reader, provider, live, sorted(compartments))
        read_models_and_logs(provider, live, compartments, names, set(group_ids))
        if early:
            desired = expand(live)
        pages.result()
    read_model_groups(provider, live, compartments)  # only when a deployment serves one
    live.api_calls = provider.stats.snapshot()
    return live, desired if desired is not None else expand(live)


def compute_plan(
    stack: Stack,
    provider: Any,
    prune: bool | None = None,
    allow_deletes: int | None = None,
    reader: DeploymentReader | None = None,
    strict: bool = True,
) -> PlanResult:
    """Plan a stack against live state. ``reader`` swaps the live-reading strategy (benchmarks compare
    per-resource GETs with our list calls through the very same diff and plan). ``strict``: input the
    service would refuse (an unknown shape) fails the plan; otherwise (the controller) that deployment is
    set aside like an invalid manifest and the rest is planned."""
    assert stack.config is not None
    config = stack.config
    compartments = {d.compartment_id for d in stack.deployments}
    if config.defaults.compartmentId:
        compartments.add(config.defaults.compartmentId)
    known = KnownCompartments(config.stack)
    compartments |= known.read()  # where owned resources were seen: a moved deployment is still found
    # and where the tenancy says they are: that search (a page per 1,000 resources of the stack) runs while
    # the known compartments are read; only a compartment it alone knows of (a deployment moved elsewhere
    # with no local record) costs a second read
    # the shape list too is fetched while the live pages are read; an unknown shape is still refused before
    # any write (only reads happen before that check)
    background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mdr-plan-reads")
    searching = background.submit(searched_compartments, provider, config.stack)
    shapes = background.submit(offered_shapes, provider, sorted(compartments)[0]) if compartments else None
    background.shutdown(wait=False)
    log_groups = {
        d.manifest.spec.logging.logGroup.name
        for d in stack.deployments
        if d.manifest.spec.logging and d.manifest.spec.logging.logGroup.name
    }
    group_ids = sorted(
        {
            d.manifest.spec.logging.logGroup.id
            for d in stack.deployments
            if d.manifest.spec.logging and d.manifest.spec.logging.logGroup.id
        }
    )
    identities = artifact_identities(stack, provider)
    salt = secrets.token_hex(16)
    vault, vault_notes = VaultReader(provider), list[str]()
    values = {d.name: secret_values(d, vault, vault_notes) for d in stack.deployments}

    def expand(live: LiveState) -> DesiredState:
        if shapes is not None:  # sets aside (or refuses) a deployment on a shape the service does not offer
            _check_shapes(stack, shapes.result(), strict)
        try:
            return build_desired(stack, live, identities, values, salt)
        except DesiredStateError as exc:
            raise MdrError(str(exc)) from exc

    wanted_groups = ({g for g in log_groups if g}, group_ids)
    deployments = reader or partial(read_deployments, expected=len(stack.deployments))
    live, desired = read_and_expand(provider, stack, compartments, wanted_groups, deployments, expand)
    found = searching.result() - compartments
    if found:
        compartments |= found
        live, desired = read_and_expand(provider, stack, compartments, wanted_groups, deployments, expand)
    known.write(owned_compartments(live) | {d.compartment_id for d in stack.deployments})
    options = PlanOptions(
        prune=config.prune if prune is None else prune,
        max_deletes=config.maxDeletes,
        allow_deletes=allow_deletes,
        salt=salt,
    )
    plan = build_plan(desired, live, config.region, options)
    plan.warnings.extend(vault_notes)
    attach_provenance(plan, stack_provenance(stack))
    plan.api_calls = provider.stats.snapshot()
    root = os.path.relpath(stack.root)
    plan.context = {
        # where apply of the saved plan re-reads the manifests (relative: CI runners' checkouts differ)
        "root": root if not root.startswith("..") else str(stack.root.resolve()),
        "prune": options.prune,
        "allowDeletes": allow_deletes,
        "compartments": sorted(compartments),
        "logGroupNames": sorted(g for g in log_groups if g),
        "logGroupIds": group_ids,
        "lock": config.lock.model_dump() if config.lock else None,
        "artifacts": config.artifacts.model_dump() if config.artifacts else None,
    }
    return PlanResult(plan, stack, desired, live)


class PlanRefused(MdrError):
    """The plan has errors (protect, maxDeletes, duplicates) and must not be applied."""


@dataclass
class ApplyRequest:
    path: Path
    auto_approve: bool = False
    prune: bool | None = None
    allow_deletes: int | None = None
    lock_timeout: float = 60.0
    output: str = "text"
    options: ApplyOptions | None = None


def apply_options_for(plan: Plan, provider: Any, base: ApplyOptions) -> ApplyOptions:
    artifacts = plan.context.get("artifacts")
    if artifacts:
        base.artifact_bucket = (
            artifacts["bucket"],
            artifacts.get("namespace"),
            artifacts.get("prefix", "mdr/"),
        )
        base.large_artifact_bytes = int(artifacts.get("thresholdBytes", base.large_artifact_bytes))
    if provider.endpoint:  # emulators finish work in milliseconds to seconds: a lower floor for polls
        base.poll_initial_seconds = min(base.poll_initial_seconds, 0.1)
        base.poll_max_seconds = min(base.poll_max_seconds, 1.0)
    return base


def execute(plan: Plan, provider: Any, options: ApplyOptions) -> ApplyResult:
    """Apply a plan: refused whole on a plan-wide error; a blocked change holds back itself and what
    depends on it, and everything else is applied."""
    if plan.errors:
        raise PlanRefused("the plan has errors; nothing was applied:\n  " + "\n  ".join(plan.errors))
    runnable, held = split_blocked(plan)
    executor = Executor(
        provider,
        runnable,
        Journal.for_stack(plan.stack),
        AuditLog.for_stack(plan.stack).for_target(getattr(provider, "label", "") or "unknown"),
        apply_options_for(plan, provider, options),
    )
    result = executor.run()
    result.results.extend(after_apply(plan, result, provider, options))  # spec.healthCheck, auto-rollback
    result.results.extend(held)
    return result


def split_blocked(plan: Plan) -> tuple[Plan, list[ChangeResult]]:
    """The plan without its blocked changes (and their dependents), and a result for each held back."""
    held: dict[str, str] = {c.id: f"blocked: {c.blocked}" for c in plan.changes if c.blocked}
    grew = True
    while grew:  # dependents of held changes are held too, transitively
        grew = False
        for change in plan.changes:
            blocker = next((d for d in change.depends_on if d in held), None)
            if change.id not in held and blocker is not None:
                held[change.id] = f"not attempted: {blocker} is blocked"
                grew = True
    runnable = copy.copy(plan)
    runnable.changes = [c for c in plan.changes if c.id not in held]
    results = [
        ChangeResult(c.id, c.key, c.action.value, "skipped", held[c.id]) for c in plan.changes if c.id in held
    ]
    return runnable, results


def apply_saved_plan(
    plan_path: Path, provider: Any, lock_timeout: float, options: ApplyOptions
) -> ApplyResult:
    """Apply exactly a saved plan, refusing before any write if it was altered, breaks a guard of the
    manifests in this checkout, or any resource or artifact it touches changed since it was computed."""
    plan = read_plan(plan_path)
    context = plan.context
    root = Path(str(context.get("root") or ""))
    if not context.get("root") or not root.exists():
        raise StalePlan(
            f"{plan_path}: the manifests it was made from ({root}) are not here to re-check its guards; "
            "apply it from a checkout of the same repository"
        )
    stack = load_valid_stack(root)
    lock = lock_for(plan.stack, context.get("lock"), provider)
    options.fence = getattr(lock, "lost", None)
    with held(lock, lock_timeout):
        refuse_stale(plan, stack, provider)
        return execute(plan, provider, options)


def refuse_stale(plan: Plan, stack: Stack, provider: Any) -> None:
    """Raise ``StalePlan`` when a resource or artifact the plan touches changed since it was computed, or
    the plan breaks a guard of ``stack``; the caller holds the stack's lock (a saved plan, a manual sync)."""
    context = plan.context
    live = read_live(
        provider,
        plan.stack,
        context.get("compartments", []),
        set(context.get("logGroupNames", [])),
        context.get("logGroupIds", []),
    )
    problems = stale_changes(plan, live) + _artifacts_changed(plan) + guard_violations(plan, stack, live)
    if problems:
        raise StalePlan(
            "the saved plan is stale or breaks a guard; nothing was applied. Plan again. Found:\n  "
            + "\n  ".join(dict.fromkeys(problems))
        )


def _artifacts_changed(plan: Plan) -> list[str]:
    """Local artifacts of planned models whose bytes changed since the plan (checked before any write)."""
    problems = []
    for change in plan.changes:
        source = change.desired.get("artifactPath")
        if change.kind != Kind.MODEL or change.action != Action.CREATE or not source:
            continue
        try:
            identity = artifact_identity(Path(source))
        except (OSError, MdrError) as exc:
            problems.append(f"{change.key}: artifact {source} cannot be read: {exc}")
            continue
        if identity != change.desired.get("identity"):
            problems.append(f"{change.key}: artifact {source} changed since the plan")
    return problems


def apply_tree(
    request: ApplyRequest,
    provider_factory: Callable[[str], Any],
    confirm: Callable[[Plan], bool],
    out: TextIO = sys.stdout,
) -> tuple[Plan, ApplyResult | None]:
    """Plan under the stack's lock, show it, confirm, then apply it (Terraform's ``apply`` without a plan file)."""
    stack = load_valid_stack(request.path)
    assert stack.config is not None
    config = stack.config
    with provider_factory(config.region) as provider:
        lock = lock_for(config.stack, config.lock.model_dump() if config.lock else None, provider)
        options = request.options or ApplyOptions()
        options.fence = getattr(lock, "lost", None)
        with held(lock, request.lock_timeout):
            plan = compute_plan(
                stack, provider, prune=request.prune, allow_deletes=request.allow_deletes
            ).plan
            out.write(render(plan, request.output, out))
            if plan.errors:
                raise PlanRefused("the plan has errors; nothing was applied")
            if not plan.has_changes:
                return plan, None
            sends = any(not c.blocked for c in plan.actionable)
            if sends and not request.auto_approve and not confirm(plan):
                raise MdrError("apply cancelled; nothing was changed")
            result = execute(plan, provider, options) if plan.actionable or plan.blocked else ApplyResult()
            result.results.extend(wait_settled(plan, provider, options))
            return plan, result


def wait_settled(plan: Plan, provider: Any, options: ApplyOptions) -> list[ChangeResult]:
    """Wait for deployments that were still CREATING/UPDATING when planned (a run in flight elsewhere, or
    one that died): success is reported only once they are where the manifests want them."""
    results = []
    for deployment_id, label in sorted(plan.settling.items(), key=lambda item: item[1]):
        key = label.split(" ", 1)[0]
        options.progress(f"{key}: waiting for it to settle ({label.split(' ', 1)[-1].strip('()')})")
        deadline = time.monotonic() + options.timeout_seconds
        state = "UNKNOWN"
        while time.monotonic() < deadline:
            state = str(
                provider.call(
                    "GetModelDeployment", provider.data_science.get_model_deployment, deployment_id
                ).data.lifecycle_state
            )
            if state not in SETTLING_STATES or (options.abort is not None and options.abort.is_set()):
                break
            time.sleep(options.poll_initial_seconds)
        ok = state in ("ACTIVE", "INACTIVE")
        message = "" if ok else f"ended {state}; plan again to see what is left"
        results.append(
            ChangeResult(deployment_id, key, "wait", "done" if ok else "failed", message, deployment_id)
        )
    return results


def report(result: ApplyResult, out: TextIO) -> None:
    counts = result.counts()
    for item in result.results:
        if item.status != "done":
            out.write(f"  {item.status}: {item.key} ({item.action}): {item.message}\n")
    verdict = "Apply complete" if result.ok else "Apply finished with errors"
    out.write(
        f"{verdict}: {counts['done']} done, {counts['failed']} failed, {counts['skipped']} not attempted.\n"
    )


__all__ = [
    "ApplyRequest",
    "PlanRefused",
    "apply_saved_plan",
    "apply_tree",
    "execute",
    "report",
    "summary_line",
]
