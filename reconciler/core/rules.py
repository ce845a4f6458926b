"""Planning rules: desired state vs live state -> a ``Plan`` (pure).

Safety rules live here, not in the applier: prune only from a completely read tree and only when asked,
never more deletes than ``maxDeletes`` without an explicit allowance, ``protect`` blocks delete and replace,
``deletion: Orphan`` untags instead of deleting, and resources of other stacks never appear at all.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from reconciler.core.canonical import (
    TAG_DETAILS,
    TAG_POLICY,
    TAG_SECRETS,
    TAG_SPEC,
    UNKNOWN_SECRET,
    deployment_from_wire,
)
from reconciler.core.desired import (
    RECORDED_MODEL_FIELDS,
    SUSPEND_ANNOTATION,
    DesiredDeployment,
    DesiredModel,
    DesiredState,
    model_details_record,
    parse_details_record,
)
from reconciler.core.diff import FieldChange, diff, is_under
from reconciler.core.live import GONE_STATES, LiveDeployment, LiveModel, LiveState
from reconciler.core.manifest import ADOPT_ANNOTATION
from reconciler.core.plan import (
    GROUP_ORDER,
    PRUNE_REASON,
    Action,
    Change,
    Group,
    Kind,
    Plan,
    PlanOptions,
    Step,
    deployment_fingerprint,
    group_of,
    model_fingerprint,
    simple_fingerprint,
)

# --- building -------------------------------------------------------------------------------------------


def policy_tag(desired: DesiredDeployment) -> str:
    return f"protect={str(desired.policy.protect).lower()};deletion={desired.policy.deletion}"


def secrets_tag(desired: DesiredDeployment) -> str:
    return ",".join(sorted(desired.canonical["runtime"]["secretEnv"]))


def build_plan(desired: DesiredState, live: LiveState, region: str, options: PlanOptions) -> Plan:
    live.reindex()
    plan = Plan(desired.stack, region, complete=desired.complete, api_calls=dict(live.api_calls))
    plan.created_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _plan_log_groups(plan, desired, live, options)
    _plan_logs(plan, desired, live, options)
    _plan_models(plan, desired, live)
    live_by_key = live.deployments_by_key()
    adopters: dict[str, str] = {}
    for key, wanted in desired.deployments.items():
        if wanted.adopt_id and adopters.setdefault(wanted.adopt_id, key) != key:
            plan.errors.append(
                f"{key} and {adopters[wanted.adopt_id]} both adopt {wanted.adopt_id}; keep one"
            )
    for key, wanted in desired.deployments.items():
        candidates = [d for d in live_by_key.get(key, []) if d.lifecycle_state not in GONE_STATES]
        if len(candidates) > 1:
            ids = ", ".join(d.id for d in candidates)
            _block(
                plan,
                wanted,
                f"{len(candidates)} live deployments carry this stack's ownership tags ({ids}); "
                "delete the extra one(s) or remove their mdr-* tags, then plan again",
            )
            continue
        if wanted.suspended:
            plan.warnings.append(f"{key}: suspended by the {SUSPEND_ANNOTATION} annotation; not reconciled")
            continue
        if not candidates and wanted.adopt_id is not None:
            adopted = _adoption(plan, wanted, live)
            if adopted is None:
                continue
            change = _plan_deployment(wanted, adopted, options)
            change.drift = False
            change.reason = f"adopt {adopted.id}: tag it as owned by this stack" + (
                f"; {change.reason}" if change.reason else ""
            )
            plan.changes.append(change)
            continue
        plan.changes.append(_plan_deployment(wanted, candidates[0] if candidates else None, options))
    _note_settling(plan, live)
    _plan_prune_deployments(plan, desired, live_by_key, options)
    _plan_model_cleanup(plan, desired, live, options)
    _check_guards(plan, desired, options)
    plan.changes = _ordered(plan.changes)
    return plan


def _plan_log_groups(plan: Plan, desired: DesiredState, live: LiveState, options: PlanOptions) -> None:
    for key, group in desired.log_groups.items():
        if group.live_id is not None:
            continue
        plan.changes.append(
            Change(
                id=key,
                kind=Kind.LOG_GROUP,
                key=key,
                action=Action.CREATE,
                name=group.name,
                fields=[FieldChange("displayName", None, group.name)],
                steps=[Step("CreateLogGroup", f"create log group {group.name}")],
                desired={"displayName": group.name, "compartmentId": group.compartment_id},
            )
        )
    wanted = set(desired.log_groups)
    for found in live.log_groups:
        if found.key and found.key not in wanted:
            _prune(
                plan, desired, options, Kind.LOG_GROUP, found.key, found.display_name, found.id, found.wire
            )


def _plan_logs(plan: Plan, desired: DesiredState, live: LiveState, options: PlanOptions) -> None:
    for key, log in desired.logs.items():
        if log.live_id is not None:
            continue
        depends = [log.group_key] if log.group_id.startswith("ref:") else []
        plan.changes.append(
            Change(
                id=key,
                kind=Kind.LOG,
                key=key,
                action=Action.CREATE,
                name=log.name,
                fields=[FieldChange("displayName", None, log.name)],
                steps=[Step("CreateLog", f"create custom log {log.name}")],
                depends_on=depends,
                desired={
                    "displayName": log.name,
                    "logGroupId": log.group_id,
                    "retentionDays": log.retention_days,
                },
            )
        )
    wanted = set(desired.logs)
    for live_log in live.logs:
        if live_log.key and live_log.key not in wanted:
            _prune(
                plan,
                desired,
                options,
                Kind.LOG,
                live_log.key,
                live_log.display_name,
                live_log.id,
                live_log.wire,
                desired_info={"logGroupId": live_log.log_group_id},
            )


def _suspended_models(desired: DesiredState) -> set[str]:
    """Model keys of suspended deployments: a suspended deployment gets no write at all, models included."""
    return {f"Model/{d.name}" for d in desired.deployments.values() if d.suspended}


def _plan_models(plan: Plan, desired: DesiredState, live: LiveState) -> None:
    suspended = _suspended_models(desired)
    live_models = {m.id: m for m in live.models}
    for model in desired.models.values():
        if model.key in suspended:
            continue
        if model.live_id is not None:
            current = live_models.get(model.live_id)
            if current is not None:
                _plan_model_details(plan, model, current)
            continue
        upload = "ExportModelArtifact" if model.artifact_path is None else "UploadModelArtifact"
        name = model.details["displayName"]
        create = Step("CreateModel", f"create model {name}")
        if model.pending_id is not None:
            create = Step(
                "CreateModel", f"resume model {model.pending_id}, left without its artifact by an earlier run"
            )
        plan.changes.append(
            Change(
                id=model.change_id,
                kind=Kind.MODEL,
                key=model.key,
                action=Action.CREATE,
                name=name,
                fields=[
                    FieldChange("artifact", None, model.artifact),
                    FieldChange("identity", None, model.identity),
                ],
                steps=[create, Step(upload, f"upload artifact {model.artifact} ({model.identity[:19]})")],
                desired=_model_desired(model),
            )
        )


#: the "before" of a catalog detail that list summaries leave out: known to differ (its recorded digest
#: does), not read (a GetModel per model would make every plan cost a call per deployment)
NOT_LISTED = "(not in the list summary)"


def _plan_model_details(plan: Plan, model: DesiredModel, current: LiveModel) -> None:
    """An UpdateModel when the catalog details of the model in use differ from the manifest's.

    A ListModels summary carries ``displayName`` (compared as is) but not ``description``, ``metadata`` or
    ``customMetadata``: those are compared through the ``mdr-details`` tag, the digests of what mdr last
    wrote (``model_details_record``), so no GetModel is needed; their field lines show the new value, the
    old one as ``NOT_LISTED``. A model without the tag (made before mdr recorded it) is updated once if the
    manifest gives it any of those details, so that they are known from then on."""
    fields: list[FieldChange] = []
    before_name = current.wire.get("display_name")
    if before_name != model.details["displayName"]:
        fields.append(FieldChange("displayName", before_name, model.details["displayName"]))
    recorded = parse_details_record((current.wire.get("freeform_tags") or {}).get(TAG_DETAILS))
    wanted = parse_details_record(model_details_record(model.details))
    for name in RECORDED_MODEL_FIELDS:
        value = model.details.get(name)
        if name not in recorded and value in (None, {}, []):
            continue  # nothing recorded, nothing wanted: the create sent nothing either
        if recorded.get(name) != wanted[name]:
            fields.append(FieldChange(name, NOT_LISTED, value))
    if not fields:
        return
    name = model.details["displayName"]
    plan.changes.append(
        Change(
            id=model.change_id,
            kind=Kind.MODEL,
            key=model.key,
            action=Action.UPDATE,
            name=name,
            live_id=current.id,
            live_state=current.lifecycle_state,
            fingerprint=model_fingerprint(current),
            fields=fields,
            steps=[Step("UpdateModel", f"update model {name} in the catalog")],
            desired=_model_desired(model),
        )
    )


def _model_desired(model: DesiredModel) -> dict[str, Any]:
    return {
        **model.details,
        "identity": model.identity,
        "artifact": model.artifact,
        "artifactPath": model.artifact_path,
    }


def _desired_for_apply(wanted: DesiredDeployment) -> dict[str, Any]:
    """The desired canonical dict as stored in a plan: secret digests replaced by their sources."""
    canonical = json.loads(json.dumps(wanted.canonical))
    canonical["runtime"]["secretEnv"] = {
        name: {"fromEnv": source} for name, source in sorted(wanted.secret_sources.items())
    }
    canonical["ownershipTags"] = {
        TAG_POLICY: policy_tag(wanted),
        TAG_SECRETS: secrets_tag(wanted),
        TAG_SPEC: wanted.spec_hash,
    }
    canonical["modelKey"] = wanted.model_key
    return canonical


#: field paths of secret values (their changes come from the environment, not from outside mdr)
SECRET_PATH = "runtime.secretEnv."


def _plan_deployment(
    wanted: DesiredDeployment, current: LiveDeployment | None, options: PlanOptions
) -> Change:
    change = Change(
        id=wanted.key,
        kind=Kind.DEPLOYMENT,
        key=wanted.key,
        action=Action.NOOP,
        name=wanted.name,
        depends_on=list(wanted.depends_on),
        desired=_desired_for_apply(wanted),
    )
    if current is None:
        change.action = Action.CREATE
        change.fields = diff({}, _display_canonical(wanted.canonical))
        change.steps = _create_steps(wanted)
        return change
    change.live_id = current.id
    change.live_state = current.lifecycle_state
    change.drift = current.tags.get(TAG_SPEC) == wanted.spec_hash
    change.fingerprint = deployment_fingerprint(current)
    secret_names = set(wanted.canonical["runtime"]["secretEnv"]) | current.secret_names
    live_canonical = deployment_from_wire(current.wire, secret_names, options.salt)
    target = _resolve_unknown_secrets(wanted.canonical, live_canonical)
    every = diff(live_canonical, target)
    ignore = wanted.policy.ignore
    change.fields = [f for f in every if not is_under(f.path, ignore)]
    change.ignored = [f.redacted() for f in every if is_under(f.path, ignore)]
    paths = {f.path for f in change.fields}
    replace_reason = _replace_reason(current, paths, live_canonical, target, ignore)
    if replace_reason is not None:
        change.action = Action.REPLACE
        change.reason = replace_reason
        change.degraded = current.lifecycle_state == "FAILED"
        change.steps = [
            Step("DeleteModelDeployment", f"delete {current.id} ({current.lifecycle_state})"),
            *_create_steps(wanted),
        ]
        return change
    tags_drifted = current.tags.get(TAG_POLICY) != policy_tag(wanted) or current.tags.get(
        TAG_SECRETS, ""
    ) != secrets_tag(wanted)
    # the manifest changed since the last apply: even when no field differs (model.keep, policy.ignore, ...)
    # the record of what was applied must be brought up to date, or a later hand edit would not be drift
    spec_changed = current.tags.get(TAG_SPEC) != wanted.spec_hash
    if not change.fields and not tags_drifted and not spec_changed:
        change.drift = False  # nothing to do is nobody's drift
        return change
    if not any(not f.path.startswith(SECRET_PATH) for f in change.fields):
        # secret values come from the environment at apply: a rotated value there is a wanted change,
        # even though the manifest (and so the mdr-spec tag) is the same
        change.drift = False
    change.action = Action.UPDATE
    change.steps = _update_steps(wanted, current, change.fields, tags_drifted or spec_changed)
    if current.lifecycle_state == "NEEDS_ATTENTION":
        change.degraded = True
        change.reason = "deployment NEEDS_ATTENTION"
    return change


#: states that end by themselves; a deployment in one does not match its manifest yet
SETTLING_STATES = frozenset({"CREATING", "UPDATING"})


def _note_settling(plan: Plan, live: LiveState) -> None:
    """Deployments with nothing to send but still settling are not "up to date": say so, and let apply wait."""
    planned = {c.key: c for c in plan.changes}
    for deployment in live.deployments:
        change = planned.get(deployment.key or "")
        if (
            change is not None
            and change.action == Action.NOOP
            and deployment.lifecycle_state in SETTLING_STATES
        ):
            plan.settling[deployment.id] = f"{deployment.key} ({deployment.lifecycle_state})"


def _adoption(plan: Plan, wanted: DesiredDeployment, live: LiveState) -> LiveDeployment | None:
    """The unowned deployment a manifest adopts; another stack's, or a missing one, is a plan error."""
    assert wanted.adopt_id is not None
    target = live.adoptable.get(wanted.adopt_id)
    if target is not None and target.lifecycle_state not in GONE_STATES:
        return target
    if wanted.adopt_id in live.foreign:
        _block(
            plan, wanted, f"cannot adopt {wanted.adopt_id}: stack {live.foreign[wanted.adopt_id]!r} owns it"
        )
    else:
        _block(
            plan,
            wanted,
            f"cannot adopt {wanted.adopt_id}: no such live deployment in {wanted.canonical['compartmentId']}; "
            f"remove the {ADOPT_ANNOTATION} annotation to create a new one",
        )
    return None


def _block(plan: Plan, wanted: DesiredDeployment, message: str) -> None:
    """Hold back this deployment alone, with a reason the plan shows; other deployments still apply."""
    plan.changes.append(
        Change(
            id=wanted.key,
            kind=Kind.DEPLOYMENT,
            key=wanted.key,
            action=Action.NOOP,
            name=wanted.name,
            blocked=message,
        )
    )


def _display_canonical(canonical: dict[str, Any]) -> dict[str, Any]:
    """Creates list every non-empty top-level field; secrets show only as names (values are redacted)."""
    return {k: v for k, v in canonical.items() if v not in (None, {}, [])}


def _resolve_unknown_secrets(desired: dict[str, Any], live: dict[str, Any]) -> dict[str, Any]:
    """A secret whose source is not available now (e.g. plan in CI) is assumed unchanged if it exists live."""
    secrets = desired["runtime"]["secretEnv"]
    if UNKNOWN_SECRET not in secrets.values():
        return desired
    target = json.loads(json.dumps(desired))
    live_secrets = live["runtime"]["secretEnv"]
    for name, value in secrets.items():
        if value == UNKNOWN_SECRET and name in live_secrets:
            target["runtime"]["secretEnv"][name] = live_secrets[name]
    return target


def _replace_reason(
    current: LiveDeployment,
    paths: set[str],
    live: dict[str, Any],
    desired: dict[str, Any],
    ignore: list[str],
) -> str | None:
    """Why the deployment must be deleted and created again, or None; ``policy.ignore`` applies here too."""
    if current.lifecycle_state == "FAILED":
        return "the live deployment is FAILED; it is deleted and created again"
    if "projectId" in paths:
        return "projectId cannot be changed in place"
    if is_under("infrastructure.subnetId", ignore):
        return None
    if live["infrastructure"]["subnetId"] and not desired["infrastructure"]["subnetId"]:
        return "custom networking (subnetId) cannot be changed back to default networking in place"
    return None


#: the last step of a change whose write records it as applied, when no other update can carry the tags
RECORD_STEP_DESCRIPTION = "update tags (record the manifest as applied)"


def _create_steps(wanted: DesiredDeployment) -> list[Step]:
    steps = [Step("CreateModelDeployment", f"create {wanted.name} and wait until ACTIVE")]
    if wanted.canonical["state"] == "INACTIVE":
        steps.append(Step("DeactivateModelDeployment", f"deactivate {wanted.name}"))
    return _ending_with_record(steps, True, ())


def _ending_with_record(steps: list[Step], record: bool, tag_paths: tuple[str, ...]) -> list[Step]:
    """``steps`` ending with the write that records the change as applied (the ``mdr-spec``, policy and
    secrets tags, and the user's tag changes): the applier sends those tags with a change's last create or
    update only, so that a change cut short is still a manifest change at the next plan, not drift. When the
    last step cannot carry tags (activate, deactivate, move), a tags-only update follows it."""
    if not record and not tag_paths:
        return steps
    last = steps[-1] if steps else None
    if last is not None and last.op in ("CreateModelDeployment", "UpdateModelDeployment"):
        steps[-1] = Step(last.op, last.description, last.group, last.paths + tag_paths)
        return steps
    return [*steps, Step("UpdateModelDeployment", RECORD_STEP_DESCRIPTION, Group.TAGS.value, tag_paths)]


def _update_steps(
    wanted: DesiredDeployment, current: LiveDeployment, fields: list[FieldChange], record: bool
) -> list[Step]:
    """The steps of an in-place update, in the service's rules: while ACTIVE one option group per update
    (cheap, reversible groups first, the model swap last); while INACTIVE everything in one update. ``record``:
    the live record of what was applied is out of date, so the change must end with a write of it."""
    runtime_type = wanted.canonical["runtime"]["type"]
    steps: list[Step] = []
    if "compartmentId" in {f.path for f in fields}:
        steps.append(
            Step(
                "ChangeModelDeploymentCompartment",
                f"move to {wanted.canonical['compartmentId']}",
                None,
                ("compartmentId",),
            )
        )
    by_group: dict[Group, list[str]] = {}
    for change in fields:
        group = group_of(change.path, runtime_type)
        if group is not None:
            by_group.setdefault(group, []).append(change.path)
    tag_paths = tuple(by_group.pop(Group.TAGS, []))
    live_active = current.lifecycle_state not in ("INACTIVE",)
    want_active = wanted.canonical["state"] == "ACTIVE"
    if live_active and want_active:
        for group in (g for g in GROUP_ORDER if g in by_group):
            steps.append(
                Step(
                    "UpdateModelDeployment",
                    f"update {group.value} (zero downtime)",
                    group.value,
                    tuple(by_group[group]),
                )
            )
        return _ending_with_record(steps, record, tag_paths)
    all_paths = tuple(path for group in GROUP_ORDER for path in by_group.get(group, []))
    update = Step("UpdateModelDeployment", "update all changed fields while INACTIVE", "all", all_paths)
    if live_active and not want_active:
        steps.append(Step("DeactivateModelDeployment", f"deactivate {wanted.name}", None, ("state",)))
        if all_paths:
            steps.append(update)
    else:
        if all_paths:
            steps.append(update)
        if want_active:
            steps.append(Step("ActivateModelDeployment", f"activate {wanted.name}", None, ("state",)))
    return _ending_with_record(steps, record, tag_paths)


def _prune(
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


def _plan_prune_deployments(
    plan: Plan, desired: DesiredState, live_by_key: dict[str, list[LiveDeployment]], options: PlanOptions
) -> None:
    for key, items in sorted(live_by_key.items()):
        name = key.split("/", 1)[-1]
        if key in desired.deployments or name in desired.invalid_names:
            continue
        for item in items:
            if item.lifecycle_state in GONE_STATES:
                continue
            _prune(plan, desired, options, Kind.DEPLOYMENT, key, name, item.id, item.wire, item.policy)
            last = plan.changes[-1] if plan.changes else None
            if last is not None and last.live_id == item.id:
                last.fingerprint = deployment_fingerprint(item)


def _plan_model_cleanup(plan: Plan, desired: DesiredState, live: LiveState, options: PlanOptions) -> None:
    """Delete owned models beyond ``keep`` once the deployment has moved off them (after the swap)."""
    # a deployment deleted by this very plan frees its model (deletes of models wait for deployment changes)
    deleting = {c.live_id for c in plan.changes if c.kind == Kind.DEPLOYMENT and c.action == Action.DELETE}
    in_use = {
        d.model_id for d in live.deployments if d.lifecycle_state not in GONE_STATES and d.id not in deleting
    } | live.models_used_elsewhere  # an orphaned (or anyone's) deployment keeps the model it runs
    suspended = _suspended_models(desired)
    wanted_by_key = {m.key: m for m in desired.models.values()}
    deployment_keys = {f"Model/{d.name}": d.key for d in desired.deployments.values()}
    for key, models in sorted(live.models_by_key().items()):
        if key in suspended:
            continue
        wanted = wanted_by_key.get(key)
        name = key.split("/", 1)[-1]
        if wanted is None and (
            name in desired.invalid_names or f"ModelDeployment/{name}" in desired.deployments
        ):
            continue  # a model.id deployment or an invalid manifest: leave its history alone
        keep = wanted.keep if wanted else 0
        active = sorted(
            (m for m in models if m.lifecycle_state not in GONE_STATES),
            key=lambda m: m.time_created,
            reverse=True,
        )
        current = wanted.live_id if wanted else None
        resumed = wanted.pending_id if wanted else None  # this plan's create uploads into it: never deleted
        swap = deployment_keys.get(key)
        freed = _freed_by_swap(plan, live, swap, current)
        # the model the deployment leaves in this plan is the newest "previous" one: it counts toward
        # ``keep`` now, so that the plan after this one has nothing left to delete
        previous = [m for m in active if m.id not in (current, resumed)]
        for model in previous[keep:]:
            if model.id in in_use and model.id not in freed:
                continue
            if wanted is None:
                _prune(
                    plan,
                    desired,
                    options,
                    Kind.MODEL,
                    f"{key}#{model.id}",
                    model.wire.get("display_name") or "",
                    model.id,
                    model.wire,
                )
                continue
            swap_change = plan.change(swap) if swap else None
            depends = [swap_change.id] if swap_change and swap_change.action != Action.NOOP else []
            plan.changes.append(
                Change(
                    id=f"{key}#{model.id}",
                    kind=Kind.MODEL,
                    key=key,
                    action=Action.DELETE,
                    name=str(model.wire.get("display_name") or model.id),
                    live_id=model.id,
                    live_state=model.lifecycle_state,
                    fingerprint=model_fingerprint(model),
                    reason=f"older than the {keep} previous model(s) kept for rollback",
                    steps=[Step("DeleteModel", f"delete model {model.id}")],
                    depends_on=depends,
                )
            )


def _freed_by_swap(plan: Plan, live: LiveState, deployment_key: str | None, current: str | None) -> set[str]:
    """The model a deployment stops using when this plan points it at another one (after that change)."""
    change = plan.change(deployment_key) if deployment_key else None
    if change is None or change.action not in (Action.UPDATE, Action.REPLACE):
        return set()
    return {
        d.model_id
        for d in live.deployments_by_key().get(deployment_key or "", [])
        if d.model_id and d.model_id != current
    }


def _check_guards(plan: Plan, desired: DesiredState, options: PlanOptions) -> None:
    for change in plan.changes:
        if change.kind != Kind.DEPLOYMENT or change.action != Action.REPLACE:
            continue
        wanted = desired.deployments.get(change.key)
        if wanted is not None and wanted.policy.protect:
            change.blocked = (
                f"must be replaced ({change.reason}) but policy.protect is true; "
                "set protect: false to allow it, or revert the change"
            )
    destructive = [
        c
        for c in plan.changes
        if c.kind != Kind.MODEL and c.action in (Action.DELETE, Action.REPLACE) and not c.blocked
    ]
    limit = options.allow_deletes if options.allow_deletes is not None else options.max_deletes
    if len(destructive) > limit:
        names = ", ".join(c.key for c in destructive)
        plan.errors.append(
            f"the plan deletes or replaces {len(destructive)} resources ({names}), more than the allowed "
            f"{limit} (maxDeletes in mdr.yaml); review it and pass --allow-deletes {len(destructive)} to proceed"
        )


_KIND_ORDER = {Kind.LOG_GROUP: 0, Kind.LOG: 1, Kind.MODEL: 2, Kind.DEPLOYMENT: 3}


def _ordered(changes: list[Change]) -> list[Change]:
    """Creates and updates in dependency order (log group -> logs -> model -> deployment), deletes last."""

    def rank(change: Change) -> tuple[int, int, str]:
        if change.action in (Action.DELETE, Action.ORPHAN):
            return (1, -_KIND_ORDER[change.kind], change.id)
        return (0, _KIND_ORDER[change.kind], change.id)

    return sorted(changes, key=rank)
