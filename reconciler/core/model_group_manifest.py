"""The ``spec.modelGroup`` section of a ``kind: ModelDeployment``: several models behind one endpoint (pure).

A model group is written inside the deployment that serves it rather than as a ``kind: ModelGroup`` of its
own (docs/model-groups.md says why): OCI model groups are immutable, so a group exists only to be deployed,
and every member change is a new group version that the deployment is pointed at. Each member is packaged
from an artifact or names an existing catalog model, as ``spec.model`` does, and carries the inference key
its callers route with.

Limits from the service (docs.oracle.com, "Model Groups"): up to 500 models in a group; members are unique
by inference key and by model; HETEROGENEOUS groups serve models of different frameworks from a container
the team brings (OCIR_CONTAINER), HOMOGENEOUS ones share the deployment's runtime; a STACKED group is a base
LLM plus fine-tuned weights (SDK ``StackedModelGroupDetails.baseModelId``, one of its members). The base is
named once, at group level (``baseModel: <inferenceKey>``), rather than by a flag on a member: one field
cannot name two bases, and it reads as the SDK's own shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from reconciler.core.manifest_parts import (
    CustomMetadata,
    DefinedMetadata,
    Description,
    DisplayName,
    ModelId,
    Problem,
    Strict,
    has,
)

#: the most members one group holds (the service's documented limit; a shape may allow fewer)
MAX_MEMBERS = 500
InferenceKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")]
VersionHistoryName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,255}$")]


def _member_source_problems(v: Mapping[str, Any]) -> list[Problem]:
    """A member is packaged from an artifact or names a catalog model, never both; catalog details describe
    a packaged model only."""
    if not has(v, "artifact", "id"):
        return []
    if (v["artifact"] is None) == (v["id"] is None):
        return [Problem((), "set exactly one of artifact (to package a model) or id")]
    if v["id"] is None:
        return []
    problems = [
        Problem((name,), f"{name} describes a packaged model; it cannot be set with id")
        for name in ("displayName", "description", "metadata")
        if v.get(name) is not None
    ]
    if v.get("customMetadata"):
        problems.append(Problem(("customMetadata",), "customMetadata cannot be set with id"))
    return problems


def _get(item: Any, name: str) -> Any:
    """A field of a nested object: a model once validated, a plain mapping when the cross-field checks run
    over a document that failed elsewhere (``reconciler.core.cross_checks``)."""
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


def _unique_custom_keys(v: Mapping[str, Any]) -> list[Problem]:
    if not has(v, "customMetadata") or not isinstance(v["customMetadata"], list):
        return []
    seen: set[str] = set()
    problems = []
    for index, item in enumerate(v["customMetadata"]):
        key = _get(item, "key")
        if key in seen:
            problems.append(
                Problem(("customMetadata", index, "key"), f"duplicate custom metadata key {key!r}", key)
            )
        seen.add(key)
    return problems


class MemberSpec(Strict):
    """One model of the group: its inference key, and where the model comes from."""

    inferenceKey: InferenceKey = Field(
        description="The name callers pick this member by (OCI: an alias of the member's model OCID)"
    )
    artifact: Annotated[str, StringConstraints(min_length=1)] | None = Field(
        None, description="Folder or .zip relative to the manifest file, or oci://bucket@namespace/object.zip"
    )
    id: ModelId | None = Field(None, description="An existing model catalog OCID (instead of artifact)")
    displayName: DisplayName | None = Field(None, description="Default: <deployment>-<inferenceKey>")
    description: Description | None = None
    metadata: DefinedMetadata | None = None
    customMetadata: list[CustomMetadata] = Field(default_factory=list)

    cross_checks = (_member_source_problems, _unique_custom_keys)


def _member_problems(v: Mapping[str, Any]) -> list[Problem]:
    """Inference keys and catalog models are unique within a group: the service routes by either."""
    if not has(v, "members") or not isinstance(v["members"], list):
        return []
    problems: list[Problem] = []
    keys: set[str] = set()
    models: set[str] = set()
    for index, member in enumerate(v["members"]):
        key, model_id = _get(member, "inferenceKey"), _get(member, "id")
        if isinstance(key, str) and key.lower() in keys:
            problems.append(
                Problem(
                    ("members", index, "inferenceKey"),
                    f"inference key {key!r} is used by another member",
                    key,
                )
            )
        if isinstance(key, str):
            keys.add(key.lower())
        if model_id is not None and model_id in models:
            problems.append(
                Problem(("members", index, "id"), f"model {model_id} is already a member", model_id)
            )
        models.add(model_id)
    return problems


def _base_model_problems(v: Mapping[str, Any]) -> list[Problem]:
    """A STACKED group serves its fine-tuned weights on one base model, named by a member's inference key;
    no other type has a base."""
    if not has(v, "type", "baseModel"):
        return []
    base, stacked = v["baseModel"], v["type"] == "STACKED"
    if stacked and base is None:
        return [
            Problem(
                ("baseModel",),
                "a STACKED group names its base model: set baseModel to the inferenceKey of the member "
                "holding the base LLM",
            )
        ]
    if not stacked and base is not None:
        return [
            Problem(("baseModel",), "baseModel is for type: STACKED; remove it or set type: STACKED", base)
        ]
    members = v.get("members") if isinstance(v.get("members"), list) else []
    keys = [key for key in (_get(m, "inferenceKey") for m in members or []) if isinstance(key, str)]
    if base is not None and keys and base not in keys:
        return [
            Problem(
                ("baseModel",),
                f"no member has inferenceKey {base!r} (members: {', '.join(keys)})",
                base,
            )
        ]
    return []


def _version_label_problems(v: Mapping[str, Any]) -> list[Problem]:
    if has(v, "versionLabel", "versionHistory") and v["versionLabel"] and v["versionHistory"] is None:
        return [
            Problem(
                ("versionLabel",), "versionLabel labels a version in a version history: set versionHistory"
            )
        ]
    return []


class ModelGroupSpec(Strict):
    """Several models served by one deployment, as an OCI model group (``deploymentType: MODEL_GROUP``)."""

    type: Literal["HOMOGENEOUS", "HETEROGENEOUS", "STACKED"] = Field(
        "HOMOGENEOUS",
        description="HOMOGENEOUS: members share the deployment's runtime (one score.py per member, same "
        "conda pack or container). HETEROGENEOUS: members of different frameworks, served by a container "
        "(runtime type: container). STACKED: a base LLM (baseModel) and fine-tuned weights served on it",
    )
    baseModel: InferenceKey | None = Field(
        None,
        description="STACKED only (and required there): the inferenceKey of the member holding the base "
        "model; the other members are fine-tuned weights served on it",
    )
    displayName: DisplayName | None = Field(None, description="Default: <deployment>-group")
    description: Description | None = None
    updateType: Literal["ZDT", "LIVE"] = Field(
        "ZDT",
        description="How the deployment moves to a new group version: ZDT (zero downtime, new instances "
        "replace the old ones) or LIVE (members swapped on the running instances)",
    )
    versionHistory: VersionHistoryName | None = Field(
        None,
        description="The model group version history (by name) each group version joins; created when "
        "missing, never deleted by mdr",
    )
    versionLabel: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = Field(
        None, description="The label of this group version in its version history; needs versionHistory"
    )
    customMetadata: list[CustomMetadata] = Field(
        default_factory=list, description="Key-value pairs passed to the serving container"
    )
    keep: int = Field(3, ge=0, le=50, description="Previous owned group versions kept for rollback")
    members: list[MemberSpec] = Field(min_length=1, max_length=MAX_MEMBERS)

    cross_checks = (_member_problems, _unique_custom_keys, _version_label_problems, _base_model_problems)


def group_runtime_problems(v: Mapping[str, Any]) -> list[Problem]:
    """A deployment serves one model or one group, and a heterogeneous group needs a container."""
    problems: list[Problem] = []
    if has(v, "model", "modelGroup"):
        if v["model"] is None and v["modelGroup"] is None:
            problems.append(Problem(("model",), "set model (one model) or modelGroup (several models)"))
        elif v["model"] is not None and v["modelGroup"] is not None:
            problems.append(Problem(("modelGroup",), "set either model or modelGroup, not both"))
    if has(v, "modelGroup", "runtime") and v["modelGroup"] is not None:
        group, runtime = v["modelGroup"], v["runtime"]
        if _get(group, "type") == "HETEROGENEOUS" and _get(runtime, "type") != "container":
            problems.append(
                Problem(
                    ("modelGroup", "type"),
                    "a HETEROGENEOUS group is served by a container: set runtime.type: container, or "
                    "type: HOMOGENEOUS for members sharing the conda runtime",
                )
            )
    return problems
