"""Pydantic models of the stack file (``mdr.yaml``) and of ``kind: ModelDeployment`` manifests.

Field names are the YAML keys (camelCase, like Kubernetes and the OCI wire format) so that error paths
printed to users are exactly what they typed. Every model forbids unknown keys: a typo must never be
silently ignored, because an ignored key is a setting the user believes is live and is not.

Limits enforced here come from the OCI service (``shared/reference/oci-api.md`` §2.3) and from the
mistakes ADS users run into (``shared/reference/ads.md``); each is checked where the user wrote it, so
that the error points at the right line.

Input is strict: no value is converted to the type a field wants (``replicas: "2"``, ``protect: "off"`` and
``replicas: true`` are errors), except that a whole number is a number (``ocpus: 1``). A pattern matches the
whole value: pydantic's patterns run on the Rust regex engine, where ``$`` is the end of the text (Python's
``re`` would let a trailing newline through), and the checks written in Python use ``re.fullmatch``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from reconciler.core.manifest_flex import flex_group_problems
from reconciler.core.manifest_health import DeploymentPolicy, HealthCheck, annotation_problems
from reconciler.core.manifest_infra import Infrastructure
from reconciler.core.manifest_notify import Sink, check_unique_names
from reconciler.core.manifest_parts import (
    API_VERSION,
    DNS_LABEL,
    KIND_MODEL_DEPLOYMENT,
    RESERVED_TAG_PREFIX,
    CompartmentId,
    CondaRuntime,
    ContainerRuntime,
    Description,
    DisplayName,
    Logging,
    LogGroupRef,
    LogRef,
    ModelSpec,
    Name,
    ProjectId,
    Runtime,
    Strict,
    _ocid_pattern,
    field_error,
)
from reconciler.core.manifest_policy import Policy
from reconciler.core.model_group_manifest import ModelGroupSpec, group_runtime_problems

__all__ = [
    "API_VERSION",
    "KIND_MODEL_DEPLOYMENT",
    "CondaRuntime",
    "ContainerRuntime",
    "LogGroupRef",
    "LogRef",
    "Policy",
]

# --- the deployment -----------------------------------------------------------------------------------


def _reserved(key: str) -> bool:
    return key.lower().startswith(RESERVED_TAG_PREFIX)


def _reserved_error(loc: tuple[str, ...], key: str) -> ValidationError:
    return field_error(
        loc, f"tag keys starting with {RESERVED_TAG_PREFIX!r} (in any case) are reserved for mdr", key
    )


def _check_freeform_tags(tags: dict[str, str]) -> dict[str, str]:
    for key in tags:
        if _reserved(key):
            raise _reserved_error((key,), key)
        if not 1 <= len(key) <= 100:
            raise field_error(key, "tag keys must be 1-100 characters", key)
    return tags


def _check_defined_tags(tags: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    for namespace, values in tags.items():
        if _reserved(namespace):
            raise _reserved_error((namespace,), namespace)
        for key in values:
            if _reserved(key):
                raise _reserved_error((namespace, key), key)
    return tags


TagValue = Annotated[str, StringConstraints(max_length=256)]


class ModelDeploymentSpec(Strict):
    displayName: DisplayName | None = Field(None, description="Default: metadata.name")
    description: Description | None = None
    compartmentId: CompartmentId | None = Field(None, description="Default: the stack's defaults")
    projectId: ProjectId | None = Field(None, description="Default: the stack's defaults")
    state: Literal["ACTIVE", "INACTIVE"] = "ACTIVE"
    model: ModelSpec | None = Field(None, description="The model served; or modelGroup for several models")
    modelGroup: ModelGroupSpec | None = Field(
        None,
        description="Several models behind this one endpoint (an OCI model group); see docs/model-groups.md",
    )
    infrastructure: Infrastructure
    runtime: Runtime
    logging: Logging | None = None
    policy: DeploymentPolicy = Field(default_factory=DeploymentPolicy)
    healthCheck: HealthCheck | None = Field(
        None,
        description="A sample request to /predict and what a healthy answer looks like; run after every "
        "change and every interval by the controller; see docs/health-checks.md",
    )
    freeformTags: dict[str, TagValue] = Field(
        default_factory=dict, description="Tag values are strings: quote numbers and dates"
    )
    definedTags: dict[str, dict[str, TagValue]] = Field(
        default_factory=dict,
        description="namespace -> key -> value; values are strings (quote numbers and dates), as OCI stores them",
    )

    _tags = field_validator("freeformTags")(classmethod(lambda cls, v: _check_freeform_tags(v)))
    _defined = field_validator("definedTags")(classmethod(lambda cls, v: _check_defined_tags(v)))

    cross_checks = (group_runtime_problems, flex_group_problems)


LabelValue = Annotated[str, StringConstraints(max_length=63)]
ADOPT_ANNOTATION = "mdr.io/adopt"


class Metadata(Strict):
    name: Name = Field(description="Unique within the stack; a lowercase DNS label")
    labels: dict[str, LabelValue] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(
        default_factory=dict,
        description="mdr.io/suspend: 'true' pauses reconciliation of this deployment; mdr.io/adopt: <model "
        "deployment OCID> takes over an existing deployment nobody owns instead of creating one",
    )

    @field_validator("annotations")
    @classmethod
    def _adopt_is_a_deployment(cls, value: dict[str, str]) -> dict[str, str]:
        target = value.get(ADOPT_ANNOTATION)
        if target is not None and not re.fullmatch(_ocid_pattern("datasciencemodeldeployment"), target):
            raise field_error(
                (ADOPT_ANNOTATION,), f"{ADOPT_ANNOTATION} must be a model deployment OCID, not {target!r}"
            )
        return value


class ModelDeploymentManifest(Strict):
    apiVersion: Literal["mdr/v1"]
    kind: Literal["ModelDeployment"]
    metadata: Metadata
    spec: ModelDeploymentSpec

    cross_checks = (annotation_problems,)

    @property
    def key(self) -> str:
        """The ownership key written to the ``mdr-key`` tag."""
        return f"{self.kind}/{self.metadata.name}"


# --- the stack ----------------------------------------------------------------------------------------


class StackDefaults(Strict):
    compartmentId: CompartmentId | None = None
    projectId: ProjectId | None = None


class ObjectLocation(Strict):
    bucket: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,256}$")]
    namespace: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,128}$")] | None = Field(
        None, description="Default: the tenancy's namespace"
    )
    prefix: str = "mdr/"


class LockConfig(ObjectLocation):
    """An Object Storage lease shared by every writer of the stack (CI and controllers)."""

    ttlSeconds: int = Field(120, ge=15, le=3600)


class ArtifactStorage(ObjectLocation):
    """Where artifacts above the threshold are staged for ``export_model_artifact``."""

    thresholdBytes: int = Field(2 * 1024**3, ge=1)


class StackConfig(Strict):
    stack: Annotated[str, StringConstraints(pattern=DNS_LABEL, max_length=63)] = Field(
        description="Ownership scope: only resources tagged with this stack are ever touched"
    )
    region: Annotated[str, StringConstraints(pattern=r"^[a-z]+-[a-z]+-[0-9]+$")] = Field(
        description="An OCI region identifier, e.g. us-ashburn-1. It must be a region the installed OCI SDK "
        "knows (oci.regions.REGIONS), so that a typo fails validation instead of the first API call; for a "
        "region newer than the SDK, upgrade the oci package or set allowUnknownRegion: true"
    )
    allowUnknownRegion: bool = Field(
        False, description="Accept a region the installed OCI SDK does not list (one launched after it)"
    )
    defaults: StackDefaults = Field(default_factory=StackDefaults)
    prune: bool = Field(False, description="Delete owned resources that no manifest names any more")
    maxDeletes: int = Field(
        3, ge=0, description="Refuse a plan deleting more than this without --allow-deletes"
    )
    vars: dict[str, str] = Field(
        default_factory=dict, description="Values for ${VAR} references in manifests"
    )
    lock: LockConfig | None = None
    artifacts: ArtifactStorage | None = None
    syncPolicy: Literal["auto", "manual"] = Field(
        "auto",
        description="auto: the controller applies manifest changes as it sees them. manual: it plans and "
        "shows the pending plan, and applies exactly that plan on `mdr sync STACK` (refused when stale); "
        "see docs/controller.md#manual-sync",
    )
    base: Annotated[str, StringConstraints(min_length=1, pattern=r"^[^/\\]")] | None = Field(
        None,
        description="Makes this tree an environment overlay: a folder of shared ModelDeployment documents, "
        "relative to this mdr.yaml (e.g. ../../base). This tree's kind: ModelDeploymentPatch documents change "
        "them and its kind: ModelDeployment documents add to them; see docs/environments.md",
    )

    notifications: list[Sink] = Field(
        default_factory=list,
        description="Where the controller sends events (sync failed, drift, degraded, recovered, prune "
        "blocked, lock held too long): webhook, slack or oci sinks; see docs/controller.md#notifications",
    )

    _notify = field_validator("notifications")(classmethod(lambda cls, v: check_unique_names(v)))

    @field_validator("base", mode="before")
    @classmethod
    def _relative_base(cls, value: object) -> object:
        """An absolute base ties the stack to one checkout: CI runners and the controller clone elsewhere."""
        if isinstance(value, str) and re.match(r"^([/\\]|[A-Za-z]:)", value):
            raise PydanticCustomError(
                "mdr", f"base must be relative to this mdr.yaml (e.g. ../../base), not {value!r}"
            )
        return value

    @field_validator("vars")
    @classmethod
    def _var_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise field_error(name, f"variable name {name!r} must match [A-Za-z_][A-Za-z0-9_]*", name)
        return value
