"""A ``spec.modelGroup`` deployment as desired resources (pure): a model per packaged member, the model group
holding them, and the deployment's canonical ``model`` section naming the group and its members.

An OCI model group is immutable, so a group is identified by what it holds: a digest of its type, its custom
metadata and each member's inference key and source (artifact identity, or catalog OCID), recorded in the
group's ``mdr-artifact`` tag. When an owned ACTIVE group with the digest exists it is used; otherwise the plan
creates one (the next version in the group's version history) and points the deployment at it. The
deployment's canonical ``model`` section, ``{groupId, groupType, members: {inferenceKey: model OCID}}``, makes
a member added, removed or replaced show as a field change of its own (``model.members.<key>``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.canonical import TAG_ARTIFACT, ref, spec_hash
from reconciler.core.live import GONE_STATES, LiveModelGroup, LiveState
from reconciler.core.model_group_manifest import MemberSpec, ModelGroupSpec

GROUP_KIND = "ModelGroup"


@dataclass(frozen=True)
class DesiredMember:
    inference_key: str
    #: the member's model: a catalog OCID, or a ``ref:`` to the change that packages it
    model_id: str
    #: what the member is made of: its artifact identity, or its catalog OCID
    source: str
    #: the key of the packaged model (``Model/<deployment>/<inferenceKey>``), None for a catalog member
    model_key: str | None = None


@dataclass(frozen=True)
class DesiredModelGroup:
    key: str  # ModelGroup/<deployment name>
    change_id: str  # ModelGroup/<deployment name>@<digest prefix>
    deployment: str
    digest: str
    details: dict[str, Any]  # compartmentId, projectId, displayName, description, type, customMetadata, ...
    members: tuple[DesiredMember, ...]
    live_id: str | None
    depends_on: tuple[str, ...] = field(default_factory=tuple)

    @property
    def reference(self) -> str:
        """The group's OCID when it exists, else a reference to the change that creates it."""
        return self.live_id or ref(self.change_id)


def member_identity_key(deployment: str, member: MemberSpec) -> str:
    """The key under which a packaged member's artifact identity is computed (``identities``)."""
    return f"{deployment}/{member.inferenceKey}"


def member_model_key(deployment: str, inference_key: str) -> str:
    return f"Model/{deployment}/{inference_key}"


def group_digest(group: ModelGroupSpec, members: tuple[DesiredMember, ...]) -> str:
    """What a group version holds, as a digest: equal digests are the same group."""
    held: dict[str, Any] = {
        "type": group.type,
        "customMetadata": [item.model_dump() for item in group.customMetadata],
        "members": sorted((m.inference_key, m.source) for m in members),
    }
    if group.baseModel is not None:  # only STACKED groups have one; other groups keep their digests
        held["baseModel"] = group.baseModel
    return spec_hash(held)


def live_group_with(live: LiveState, key: str, digest: str) -> str | None:
    """The newest owned ACTIVE group of ``key`` holding exactly what the digest says."""
    found = [
        g
        for g in live.model_groups
        if g.key == key and g.lifecycle_state == "ACTIVE" and g.tags.get(TAG_ARTIFACT) == digest
    ]
    found.sort(key=lambda g: str(g.wire.get("time_created") or ""), reverse=True)
    return found[0].id if found else None


def served_group(live: LiveState, deployment_key: str, adopt_id: str | None) -> str | None:
    """The group the deployment a manifest manages (or adopts) serves now."""
    owned = [
        d for d in live.deployments_by_key().get(deployment_key, []) if d.lifecycle_state not in GONE_STATES
    ]
    found = owned[0] if owned else live.adoptable.get(adopt_id or "")
    return found.group_id if found is not None else None


def _same_group(
    live: LiveState, group_id: str | None, group: ModelGroupSpec, members: tuple[DesiredMember, ...]
) -> bool:
    """Whether the live group holds exactly these catalog models under these keys (an imported group)."""
    found = next((g for g in live.model_groups if g.id == group_id), None)
    wanted = {m.inference_key: m.model_id for m in members}
    return (
        found is not None
        and found.group_type == group.type
        and found.members == wanted
        and live_base_key(found.members, _base_model_id(found)) == group.baseModel
    )


def _base_model_id(group: LiveModelGroup) -> str | None:
    """A STACKED group's base model (``StackedModelGroupDetails.baseModelId``), None for other types."""
    return (group.wire.get("model_group_details") or {}).get("base_model_id")


def live_base_key(members: Mapping[str, str] | None, base_model_id: str | None) -> str | None:
    """The inference key of a live STACKED group's base model (None for any other group)."""
    if base_model_id is None:
        return None
    return next(
        (key for key, model_id in (members or {}).items() if model_id == base_model_id), base_model_id
    )


def desired_group(
    name: str,
    group: ModelGroupSpec,
    members: tuple[DesiredMember, ...],
    placement: Mapping[str, str],
    live: LiveState,
    serving: str | None = None,
) -> DesiredModelGroup:
    """``serving``: the group the deployment serves now, kept when it holds exactly the manifest's members
    (a group mdr did not make, such as an imported deployment's, has no digest to be found by)."""
    key = f"{GROUP_KIND}/{name}"
    digest = group_digest(group, members)
    live_id = live_group_with(live, key, digest)
    if live_id is None and _same_group(live, serving, group, members):
        live_id = serving
    details = {
        "compartmentId": placement["compartmentId"],
        "projectId": placement["projectId"],
        "displayName": group.displayName or f"{name}-group",
        "description": group.description,
        "type": group.type,
        "customMetadata": [item.model_dump() for item in group.customMetadata],
        "versionHistory": group.versionHistory,
        "versionLabel": group.versionLabel,
        "members": [{"inferenceKey": m.inference_key, "modelId": m.model_id} for m in members],
        "digest": digest,
    }
    if group.baseModel is not None:
        details["baseModel"] = group.baseModel
        details["baseModelId"] = next(m.model_id for m in members if m.inference_key == group.baseModel)
    depends = tuple(m.model_id[len("ref:") :] for m in members if m.model_id.startswith("ref:"))
    return DesiredModelGroup(
        key=key,
        change_id=f"{key}@{digest[:12]}",
        deployment=name,
        digest=digest,
        details=details,
        members=members,
        live_id=live_id,
        depends_on=depends,
    )


def group_model_section(group: DesiredModelGroup) -> dict[str, Any]:
    """The desired canonical ``model`` section of a MODEL_GROUP deployment."""
    section: dict[str, Any] = {
        "groupId": group.reference,
        "groupType": group.details["type"],
        "members": {m.inference_key: m.model_id for m in group.members},
    }
    if group.details.get("baseModel") is not None:  # STACKED: which member is the base is part of it
        section["baseModel"] = group.details["baseModel"]
    return section


def live_group_section(group_id: str | None, live: LiveState) -> dict[str, Any]:
    """The live canonical ``model`` section of a MODEL_GROUP deployment, its members read from its group."""
    found = next((g for g in live.model_groups if g.id == group_id), None)
    if found is None or found.members is None:
        return {"groupId": group_id, "groupType": None, "members": None}
    section: dict[str, Any] = {
        "groupId": group_id,
        "groupType": found.group_type,
        "members": dict(found.members),
    }
    if _base_model_id(found) is not None:
        section["baseModel"] = live_base_key(found.members, _base_model_id(found))
    return section


def in_use_by_groups(live: LiveState) -> set[str]:
    """Models that the groups of live deployments hold: never cleaned up while a deployment serves them."""
    used = {d.group_id for d in live.deployments if d.group_id and d.lifecycle_state not in GONE_STATES}
    return {
        model_id
        for g in live.model_groups
        if g.id in used and g.members is not None
        for model_id in g.members.values()
    }
