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
    TAG_POLICY,
    TAG_SECRETS,
    TAG_SPEC,
    UNKNOWN_SECRET,
    deployment_from_wire,
    ref,
)
from reconciler.core.canonical_flex import is_flex
from reconciler.core.desired import (
    SUSPEND_ANNOTATION,
    DesiredDeployment,
    DesiredState,
)
from reconciler.core.diff import FieldChange, diff, is_under
from reconciler.core.fields import unmodelled_warnings
from reconciler.core.health import held_revision
from reconciler.core.live import GONE_STATES, LiveDeployment, LiveState
from reconciler.core.manifest import ADOPT_ANNOTATION

# --- building -------------------------------------------------------------------------------------------
from reconciler.core.model_group_desired import live_group_section
from reconciler.core.model_group_rules import plan_model_groups
from reconciler.core.model_rules import plan_model_cleanup, plan_models
from reconciler.core.plan import (
    GROUP_ORDER,
    Action,
    Change,
    Group,
    Kind,
    Plan,
    PlanOptions,
    Step,
    deployment_fingerprint,
    group_of,
    simple_fingerprint,
)
from reconciler.core.prune import plan_prune
from reconciler.core.replace import (
    CREATE_BEFORE_DELETE,
    REPLACES,
    URL_PATH,
    Replacement,
    creates_first,
    finishing_reason,
    interrupted,
    replace_steps,
    url_change,
)


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
    plan_models(plan, desired, live)
    plan_model_groups(plan, desired)
    live_by_key = live.deployments_by_key()
    adopters: dict[str, str] = {}
    for key, wanted in desired.deployments.items():
        if wanted.adopt_id and adopters.setdefault(wanted.adopt_id, key) != key:
            plan.errors.append(
                f"{key} and {adopters[wanted.adopt_id]} both adopt {wanted.adopt_id}; keep one"
            )
    for key, wanted in desired.deployments.items():
        candidates = [d for d in live_by_key.get(key, []) if d.lifecycle_state not in GONE_STATES]
        pair = interrupted(candidates)
        if pair is not None and not wanted.suspended:
            plan.changes.append(_finish_replacement(wanted, pair, options))
            continue
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
        plan.changes.append(_plan_deployment(wanted, candidates[0] if candidates else None, options, live))
    _note_settling(plan, live)
    plan.warnings.extend(
        unmodelled_warnings(
            (key, found.wire)
            for key in desired.deployments
            for found in live_by_key.get(key, [])
            if found.lifecycle_state not in GONE_STATES
        )
    )
    _plan_prune_deployments(plan, desired, live_by_key, options)
    plan_model_cleanup(plan, desired, live, options)
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
            plan_prune(
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
    _plan_log_retention(plan, desired, live)
    wanted = set(desired.logs)
    for live_log in live.logs:
        if live_log.key and live_log.key not in wanted:
            plan_prune(
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


def _plan_log_retention(plan: Plan, desired: DesiredState, live: LiveState) -> None:
    """``logging.retentionDays`` changes on a log that exists: an UpdateLog for the stack's own logs; a log
    reused from someone else is left as it is, and the plan says so."""
    by_id = {found.id: found for found in live.logs}
    for key, log in desired.logs.items():
        found = by_id.get(log.live_id or "")
        if found is None:
            continue
        live_days = found.wire.get("retention_duration")
        if live_days is None or int(live_days) == log.retention_days:
            continue
        if found.key is None:
            plan.warnings.append(
                f"{key}: keeps logs {live_days} days, the manifest says {log.retention_days}; it is not this "
                "stack's log, so it is left as it is"
            )
            continue
        plan.changes.append(
            Change(
                id=key,
                kind=Kind.LOG,
                key=key,
                action=Action.UPDATE,
                name=log.name,
                live_id=found.id,
                fingerprint=simple_fingerprint(found.id, found.wire),
                fields=[FieldChange("retentionDays", int(live_days), log.retention_days)],
                steps=[Step("UpdateLog", f"keep {log.name} for {log.retention_days} days")],
                desired={
                    "displayName": log.name,
                    "logGroupId": found.log_group_id,
                    "retentionDays": log.retention_days,
                },
            )
        )


def _desired_for_apply(wanted: DesiredDeployment) -> dict[str, Any]:
    """The desired canonical dict as stored in a plan: secret digests replaced by their sources."""
    canonical = json.loads(json.dumps(wanted.canonical))
    sources = {name: {"fromEnv": env} for name, env in wanted.secret_sources.items()}
    sources |= {name: {"fromVault": ocid} for name, ocid in wanted.vault_sources.items()}
    canonical["runtime"]["secretEnv"] = dict(sorted(sources.items()))
    canonical["ownershipTags"] = {
        TAG_POLICY: policy_tag(wanted),
        TAG_SECRETS: secrets_tag(wanted),
        TAG_SPEC: wanted.spec_hash,
    }
    canonical["modelKey"] = wanted.model_key
    if wanted.health_check is not None:  # mdr's own check, run after apply (never sent to OCI)
        canonical["healthCheck"] = wanted.health_check
    if wanted.group_update_type is not None:
        canonical["groupUpdateType"] = wanted.group_update_type
    return canonical


#: field paths of secret values (their changes come from the environment, not from outside mdr)
SECRET_PATH = "runtime.secretEnv."


def _plan_deployment(
    wanted: DesiredDeployment,
    current: LiveDeployment | None,
    options: PlanOptions,
    live: LiveState | None = None,
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
    if current.group_id and live is not None:  # the members of the group it serves (model_group_desired)
        live_canonical["model"] = live_group_section(current.group_id, live)
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
        change.steps = replace_steps(wanted.policy.replace, current, _create_steps(wanted), wanted.name)
        change.fields.append(url_change(current, change.id))
        if creates_first(change.steps):
            change.desired[REPLACES] = current.id
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
    change.blocked = held_revision(current.tags, wanted.spec_hash)  # an auto-rolled-back revision
    if current.lifecycle_state == "NEEDS_ATTENTION":
        change.degraded = True
        change.reason = "deployment NEEDS_ATTENTION"
        if any(s.op in ("DeactivateModelDeployment", "ActivateModelDeployment") for s in change.steps):
            # the service takes updates (zero downtime) and delete in this state, never (de)activation:
            # sending it would be refused with 409 IncorrectState on every run
            change.blocked = (
                "a deployment in NEEDS_ATTENTION cannot be deactivated or activated; bring it back with an "
                "update (state: ACTIVE and the fix), or delete it"
            )
    return change


def _finish_replacement(wanted: DesiredDeployment, pair: Replacement, options: PlanOptions) -> Change:
    """The rest of a create-before-delete an earlier apply did not finish (see ``core.replace``): whatever
    the manifest says now, the new deployment is kept and the old one deleted; a later plan brings the new
    one up to date if the manifest changed meanwhile."""
    change = _plan_deployment(wanted, pair.new, options)
    change.action = Action.REPLACE
    change.live_id = pair.old.id
    change.live_state = pair.old.lifecycle_state
    change.fingerprint = deployment_fingerprint(pair.old)
    change.drift = False
    change.blocked = None
    change.degraded = pair.new.lifecycle_state == "FAILED"
    change.reason = finishing_reason(pair)
    change.fields = [FieldChange(URL_PATH, pair.old.url, pair.new.url or ref(change.id))]
    change.steps = replace_steps(CREATE_BEFORE_DELETE, pair.old, _create_steps(wanted), wanted.name)
    change.desired[REPLACES] = pair.old.id
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
    if ("groupId" in (live.get("model") or {})) != ("groupId" in (desired.get("model") or {})):
        return "a deployment cannot change between one model and a model group in place (deploymentType)"
    if is_flex(live) != is_flex(desired):
        return "a deployment cannot move between its own instances and a compute target in place (deploymentType)"
    if is_under("infrastructure.subnetId", ignore):
        return None
    if live["infrastructure"].get("subnetId") and not desired["infrastructure"].get("subnetId"):
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
            plan_prune(plan, desired, options, Kind.DEPLOYMENT, key, name, item.id, item.wire, item.policy)
            last = plan.changes[-1] if plan.changes else None
            if last is not None and last.live_id == item.id:
                last.fingerprint = deployment_fingerprint(item)


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


_KIND_ORDER = {Kind.LOG_GROUP: 0, Kind.LOG: 1, Kind.MODEL: 2, Kind.MODEL_GROUP: 3, Kind.DEPLOYMENT: 4}


def _ordered(changes: list[Change]) -> list[Change]:
    """Creates and updates in dependency order (log group -> logs -> model -> deployment), deletes last."""

    def rank(change: Change) -> tuple[int, int, str]:
        if change.action in (Action.DELETE, Action.ORPHAN):
            return (1, -_KIND_ORDER[change.kind], change.id)
        return (0, _KIND_ORDER[change.kind], change.id)

    return sorted(changes, key=rank)
