"""Manifests -> desired resources (pure).

Every deployment expands into the resources it needs, in dependency order: its log group and logs (when
named), its model (when packaged from an artifact) and the deployment itself. Names are resolved to OCIDs
where the live state already knows them; what does not exist yet is a ``ref:`` to the change that will
create it, shown as "(known after apply)".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.canonical import deployment_from_manifest, logging_from_refs, ref, spec_hash
from reconciler.core.fields import hash_view
from reconciler.core.live import LiveState
from reconciler.core.manifest import ADOPT_ANNOTATION, LogGroupRef, LogRef, Policy
from reconciler.core.manifest_health import health_record
from reconciler.core.model_group_desired import (
    DesiredMember,
    DesiredModelGroup,
    desired_group,
    group_model_section,
    member_identity_key,
    member_model_key,
    served_group,
)
from reconciler.core.model_group_manifest import MemberSpec
from reconciler.core.stack import LoadedDeployment, Stack

SUSPEND_ANNOTATION = "mdr.io/suspend"


@dataclass(frozen=True)
class DesiredLogGroup:
    key: str  # LogGroup/<name>
    name: str
    compartment_id: str
    live_id: str | None


@dataclass(frozen=True)
class DesiredLog:
    key: str  # Log/<group>/<name>
    name: str
    group_key: str
    group_id: str  # OCID or ref:
    retention_days: int
    live_id: str | None


#: catalog details of a model that a ListModels summary leaves out: compared through the ``mdr-details`` tag
RECORDED_MODEL_FIELDS = ("description", "metadata", "customMetadata")


def model_details_record(details: Mapping[str, Any]) -> str:
    """The ``mdr-details`` tag value for a model's desired details: a short digest per field a list summary
    leaves out (``description=…;metadata=…;customMetadata=…``), well under the 256 characters of a tag."""
    return ";".join(f"{name}={spec_hash({'v': details.get(name)})[:12]}" for name in RECORDED_MODEL_FIELDS)


def parse_details_record(text: str | None) -> dict[str, str]:
    """field -> digest from an ``mdr-details`` tag value (empty when there is none)."""
    pairs = (item.split("=", 1) for item in (text or "").split(";") if "=" in item)
    return dict(pairs)


@dataclass(frozen=True)
class DesiredModel:
    key: str  # Model/<deployment name>
    change_id: str  # Model/<deployment name>@<identity prefix>
    deployment: str
    identity: str  # artifact identity (sha256:... for local, oci:...#etag for Object Storage)
    artifact: str  # the manifest's artifact value
    artifact_path: str | None  # resolved local path, None for oci://
    keep: int
    details: dict[str, Any]  # displayName, description, compartmentId, projectId, metadata, customMetadata
    live_id: str | None
    #: an owned model with this artifact whose upload never completed (``mdr-pending``): the create resumes it
    #: (uploads into it) instead of making another, and no cleanup may delete it meanwhile
    pending_id: str | None = None


@dataclass(frozen=True)
class DesiredDeployment:
    key: str  # ModelDeployment/<name>
    name: str
    canonical: dict[str, Any]
    policy: Policy
    source: str  # file:line of the manifest, for messages
    secret_sources: dict[str, str]  # env name -> environment variable read at apply
    suspended: bool
    model_key: str | None
    depends_on: tuple[str, ...] = ()
    #: hash of what the manifest says (spec + artifact identity): equal to the live ``mdr-spec`` tag when
    #: the manifest has not changed since the last apply, so any remaining difference is drift
    spec_hash: str = ""
    #: an existing deployment nobody owns that this manifest takes over (the ``mdr.io/adopt`` annotation)
    adopt_id: str | None = None
    #: env name -> OCI Vault secret OCID read at apply (``secretEnv: {NAME: {fromVault: ...}}``)
    vault_sources: dict[str, str] = field(default_factory=dict)
    #: a MODEL_GROUP deployment's update type (``spec.modelGroup.updateType``: ZDT or LIVE)
    group_update_type: str | None = None
    #: ``spec.healthCheck`` as apply runs it (``manifest_health.health_record``), None when there is none
    health_check: dict[str, Any] | None = None


@dataclass
class DesiredState:
    stack: str
    log_groups: dict[str, DesiredLogGroup] = field(default_factory=dict)
    logs: dict[str, DesiredLog] = field(default_factory=dict)
    models: dict[str, DesiredModel] = field(default_factory=dict)
    deployments: dict[str, DesiredDeployment] = field(default_factory=dict)
    #: the model group each ``spec.modelGroup`` deployment serves, by ``ModelGroup/<name>``
    model_groups: dict[str, DesiredModelGroup] = field(default_factory=dict)
    #: deployment names that exist in the tree but are invalid: never changed, never pruned
    invalid_names: set[str] = field(default_factory=set)
    complete: bool = True


class DesiredStateError(Exception):
    """Manifests that are valid one by one but inconsistent together (e.g. a log group in two compartments)."""


def model_change_id(name: str, identity: str) -> str:
    digest = identity.split(":", 1)[-1]
    return f"Model/{name}@{digest[:12]}"


def build_desired(
    stack: Stack,
    live: LiveState,
    identities: Mapping[str, str],
    secret_values: Mapping[str, Mapping[str, str | None]],
    salt: str,
) -> DesiredState:
    """Expand every valid deployment of ``stack`` into desired resources.

    ``identities`` maps deployment name -> artifact identity (computed by the caller, which does the I/O);
    ``secret_values`` maps deployment name -> {env name: value or None when not available now}.
    """
    assert stack.config is not None, "build_desired needs a stack whose mdr.yaml loaded"
    live.reindex()
    state = DesiredState(stack.config.stack, invalid_names=set(stack.invalid_names), complete=stack.complete)
    for deployment in sorted(stack.deployments, key=lambda d: d.name):
        _add_deployment(state, deployment, live, identities, secret_values.get(deployment.name, {}), salt)
    return state


def _add_deployment(
    state: DesiredState,
    loaded: LoadedDeployment,
    live: LiveState,
    identities: Mapping[str, str],
    secret_values: Mapping[str, str | None],
    salt: str,
) -> None:
    spec = loaded.manifest.spec
    name = loaded.name
    depends: list[str] = []

    model_key: str | None = None
    group: DesiredModelGroup | None = None
    if spec.model is None:
        group = _add_group(state, loaded, live, identities)
        model_id = group.reference
        if group.live_id is None:
            depends.append(group.change_id)
    elif spec.model.id is not None:
        model_id = spec.model.id
    else:
        model = _desired_model(loaded, live, identities[name])
        state.models[model.key] = model
        model_key = model.key
        model_id = model.live_id or ref(model.change_id)
        if model.live_id is None:
            depends.append(model.change_id)

    logging = None
    if spec.logging is not None:
        group_id = _log_group(state, loaded, live, spec.logging.logGroup, depends)
        pairs: dict[str, tuple[str, str] | None] = {}
        for category in ("access", "predict"):
            log_ref: LogRef | None = getattr(spec.logging, category)
            if log_ref is None:
                pairs[category] = None
                continue
            log_id = _log(
                state, spec.logging.logGroup, group_id, log_ref, spec.logging.retentionDays, live, depends
            )
            pairs[category] = (group_id, log_id)
        logging = logging_from_refs(pairs["access"], pairs["predict"])

    canonical = deployment_from_manifest(
        spec,
        display_name=spec.displayName or name,
        compartment_id=loaded.compartment_id,
        project_id=loaded.project_id,
        model_id=model_id,
        logging=logging,
        secret_values=secret_values,
        salt=salt,
    )
    if group is not None:
        canonical["model"] = group_model_section(group)
    line, _ = loaded.document.locate(("metadata", "name"))
    state.deployments[loaded.key] = DesiredDeployment(
        key=loaded.key,
        name=name,
        canonical=canonical,
        policy=spec.policy,
        source=f"{loaded.document.file}:{line}",
        secret_sources={k: v.fromEnv for k, v in spec.runtime.secretEnv.items() if v.fromEnv},
        vault_sources={k: v.fromVault for k, v in spec.runtime.secretEnv.items() if v.fromVault},
        suspended=loaded.manifest.metadata.annotations.get(SUSPEND_ANNOTATION, "").lower() == "true",
        adopt_id=loaded.manifest.metadata.annotations.get(ADOPT_ANNOTATION),
        model_key=model_key,
        depends_on=tuple(dict.fromkeys(depends)),
        spec_hash=spec_hash(
            {
                "spec": hash_view(spec.model_dump(mode="json")),
                "identity": identities.get(name),
                "compartmentId": loaded.compartment_id,
                "projectId": loaded.project_id,
                **({"group": group.digest} if group is not None else {}),
            }
        ),
        group_update_type=spec.modelGroup.updateType if spec.modelGroup is not None else None,
        health_check=health_record(
            spec.healthCheck, loaded.manifest.metadata.annotations, spec.policy.autoRollback
        ),
    )


def _desired_model(loaded: LoadedDeployment, live: LiveState, identity: str) -> DesiredModel:
    spec = loaded.manifest.spec
    model = spec.model
    source = model.artifact or model.weights if model is not None else None  # weights: by reference
    assert model is not None and source is not None
    key = f"Model/{loaded.name}"
    same = sorted(
        (m for m in live.models_by_key().get(key, []) if m.artifact == identity),
        key=lambda m: m.time_created,
        reverse=True,
    )
    existing = [m for m in same if m.ready]
    pending = [m for m in same if m.lifecycle_state == "ACTIVE" and not m.ready]
    metadata = model.metadata.model_dump(exclude_none=True) if model.metadata else {}
    details = {
        "displayName": model.displayName or f"{loaded.name}-model",
        "description": model.description,
        "compartmentId": loaded.compartment_id,
        "projectId": loaded.project_id,
        "metadata": metadata,
        "customMetadata": [item.model_dump() for item in model.customMetadata],
        "versionSet": model.versionSet,
        "versionLabel": model.versionLabel,
    }
    path = loaded.artifact_path()
    return DesiredModel(
        key=key,
        change_id=model_change_id(loaded.name, identity),
        deployment=loaded.name,
        identity=identity,
        artifact=source,
        artifact_path=str(path) if path else None,
        keep=model.keep,
        details=details,
        live_id=existing[0].id if existing else None,
        pending_id=pending[0].id if pending and not existing else None,
    )


def _add_group(
    state: DesiredState, loaded: LoadedDeployment, live: LiveState, identities: Mapping[str, str]
) -> DesiredModelGroup:
    """The models of a group's packaged members (each one a model of its own, as ``spec.model`` makes) and
    the group holding them."""
    group = loaded.manifest.spec.modelGroup
    assert group is not None
    members: list[DesiredMember] = []
    for member in group.members:
        if member.id is not None:
            members.append(DesiredMember(member.inferenceKey, member.id, member.id))
            continue
        identity = identities[member_identity_key(loaded.name, member)]
        model = _desired_member_model(loaded, member, live, identity, group.keep)
        state.models[model.key] = model
        model_id = model.live_id or ref(model.change_id)
        members.append(DesiredMember(member.inferenceKey, model_id, identity, model.key))
    placement = {"compartmentId": loaded.compartment_id, "projectId": loaded.project_id}
    adopt = loaded.manifest.metadata.annotations.get(ADOPT_ANNOTATION)
    serving = served_group(live, loaded.key, adopt)
    desired = desired_group(loaded.name, group, tuple(members), placement, live, serving)
    state.model_groups[desired.key] = desired
    return desired


def _desired_member_model(
    loaded: LoadedDeployment, member: MemberSpec, live: LiveState, identity: str, keep: int
) -> DesiredModel:
    assert member.artifact is not None
    key = member_model_key(loaded.name, member.inferenceKey)
    same = sorted(
        (m for m in live.models_by_key().get(key, []) if m.artifact == identity),
        key=lambda m: m.time_created,
        reverse=True,
    )
    existing = [m for m in same if m.ready]
    pending = [m for m in same if m.lifecycle_state == "ACTIVE" and not m.ready]
    details = {
        "displayName": member.displayName or f"{loaded.name}-{member.inferenceKey}",
        "description": member.description,
        "compartmentId": loaded.compartment_id,
        "projectId": loaded.project_id,
        "metadata": member.metadata.model_dump(exclude_none=True) if member.metadata else {},
        "customMetadata": [item.model_dump() for item in member.customMetadata],
        "versionSet": None,
        "versionLabel": None,
    }
    path = loaded.member_files.get(member.inferenceKey)
    return DesiredModel(
        key=key,
        change_id=model_change_id(f"{loaded.name}/{member.inferenceKey}", identity),
        deployment=loaded.name,
        identity=identity,
        artifact=member.artifact,
        artifact_path=str(path) if path else None,
        keep=keep,
        details=details,
        live_id=existing[0].id if existing else None,
        pending_id=pending[0].id if pending and not existing else None,
    )


def _log_group(
    state: DesiredState, loaded: LoadedDeployment, live: LiveState, group: LogGroupRef, depends: list[str]
) -> str:
    if group.id is not None:
        return group.id
    assert group.name is not None
    key = f"LogGroup/{group.name}"
    existing = state.log_groups.get(key)
    if existing is not None and existing.compartment_id != loaded.compartment_id:
        raise DesiredStateError(
            f"log group {group.name!r} is used in two compartments ({existing.compartment_id} and "
            f"{loaded.compartment_id}); give them different names or reference one by id"
        )
    if existing is None:
        found = live.log_group_named(loaded.compartment_id, group.name)
        existing = DesiredLogGroup(key, group.name, loaded.compartment_id, found.id if found else None)
        state.log_groups[key] = existing
    if existing.live_id is None:
        depends.append(key)
        return ref(key)
    return existing.live_id


def _log(
    state: DesiredState,
    group: LogGroupRef,
    group_id: str,
    log: LogRef,
    retention_days: int,
    live: LiveState,
    depends: list[str],
) -> str:
    if log.id is not None:
        return log.id
    assert log.name is not None
    group_label = group.name or group.id or ""
    key = f"Log/{group_label}/{log.name}"
    existing = state.logs.get(key)
    if existing is None:
        found = None if group_id.startswith("ref:") else live.log_named(group_id, log.name)
        existing = DesiredLog(
            key, log.name, f"LogGroup/{group_label}", group_id, retention_days, found.id if found else None
        )
        state.logs[key] = existing
    if existing.live_id is None:
        depends.append(key)
        return ref(key)
    return existing.live_id
