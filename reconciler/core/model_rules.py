"""Planning rules for models: create from artifacts, catalog updates, and cleanup beyond ``keep`` (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.core.canonical import (
    TAG_DETAILS,
)
from reconciler.core.desired import (
    RECORDED_MODEL_FIELDS,
    DesiredModel,
    DesiredState,
    model_details_record,
    parse_details_record,
)
from reconciler.core.diff import FieldChange
from reconciler.core.live import GONE_STATES, LiveModel, LiveState
from reconciler.core.model_group_desired import in_use_by_groups
from reconciler.core.plan import (
    Action,
    Change,
    Kind,
    Plan,
    PlanOptions,
    Step,
    model_fingerprint,
)

# --- building -------------------------------------------------------------------------------------------
from reconciler.core.prune import plan_prune
from reconciler.core.weights import DESCRIPTION_FILE, is_weights_identity


def _suspended_models(desired: DesiredState) -> set[str]:
    """Model keys of suspended deployments: a suspended deployment gets no write at all, models included."""
    return {f"Model/{d.name}" for d in desired.deployments.values() if d.suspended}


def plan_models(plan: Plan, desired: DesiredState, live: LiveState) -> None:
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
        by_reference = is_weights_identity(model.identity)  # uploads a description of the weights
        upload = "UploadModelArtifact" if model.artifact_path or by_reference else "ExportModelArtifact"
        what = f"{DESCRIPTION_FILE} of weights" if by_reference else "artifact"
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
                    *(
                        FieldChange(name, None, model.details[name])
                        for name in ("versionSet", "versionLabel")
                        if model.details.get(name) is not None
                    ),
                ],
                steps=[create, Step(upload, f"upload {what} {model.artifact} ({model.identity[:19]})")],
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
    for name, listed in (("versionSet", "model_version_set_name"), ("versionLabel", "version_label")):
        # a ListModels summary carries both; a model left in a set it was put in by hand is left there
        wanted_value, live_value = model.details.get(name), current.wire.get(listed)
        if wanted_value is not None and wanted_value != live_value:
            fields.append(FieldChange(name, live_value, wanted_value))
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


def attach_provenance(plan: Plan, provenance: Mapping[str, Mapping[str, str | None] | None]) -> None:
    """Record where each model the plan creates comes from (``provenance``: deployment name -> repository,
    branch, commit and manifest path): shown on the create, written with ``CreateModelProvenance``.

    Only creates carry it. A model is immutable and named by its artifact: the commit it was built from is
    the commit of the plan that created it, and a later commit that leaves the artifact alone makes no new
    model and changes nothing about where the existing one came from. So provenance never shows as a change
    of an existing model, and a commit that touches nothing else plans nothing."""
    for change in plan.changes:
        if change.kind != Kind.MODEL or change.action != Action.CREATE:
            continue
        found = provenance.get(change.key.split("/", 1)[-1])
        if not found:
            continue
        change.desired["provenance"] = dict(found)
        change.fields += [FieldChange(f"provenance.{k}", None, v) for k, v in found.items() if v]
        where = (
            f"{str(found.get('gitCommit') or '')[:12]} of {found.get('gitBranch') or 'a detached checkout'}"
        )
        step = Step("CreateModelProvenance", f"record where it came from: {where}")
        change.steps.insert(1, step)


def _model_desired(model: DesiredModel) -> dict[str, Any]:
    return {
        **model.details,
        "identity": model.identity,
        "artifact": model.artifact,
        "artifactPath": model.artifact_path,
    }


def plan_model_cleanup(plan: Plan, desired: DesiredState, live: LiveState, options: PlanOptions) -> None:
    """Delete owned models beyond ``keep`` once the deployment has moved off them (after the swap)."""
    # a deployment deleted by this very plan frees its model (deletes of models wait for deployment changes)
    deleting = {c.live_id for c in plan.changes if c.kind == Kind.DEPLOYMENT and c.action == Action.DELETE}
    in_use = {
        d.model_id for d in live.deployments if d.lifecycle_state not in GONE_STATES and d.id not in deleting
    } | live.models_used_elsewhere  # an orphaned (or anyone's) deployment keeps the model it runs
    in_use |= in_use_by_groups(live)  # and a deployment serving a model group keeps its members
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
                plan_prune(
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
