"""A deployment's ``spec.policy``: protection, what a removal does, drift to leave alone, how to replace."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from reconciler.core.manifest_parts import Strict, field_error

#: Paths (relative to spec) whose drift a manifest may ask mdr to ignore.
IGNORABLE_PATHS = frozenset(
    {
        "displayName",
        "description",
        "state",
        "model",
        "model.id",
        "infrastructure",
        "infrastructure.shape",
        "infrastructure.ocpus",
        "infrastructure.memoryInGBs",
        "infrastructure.replicas",
        "infrastructure.autoscaling",
        "infrastructure.bandwidthMbps",
        "infrastructure.maximumBandwidthMbps",
        "infrastructure.networkAccessType",
        "infrastructure.cpuBaseline",
        "infrastructure.capacityReservationIds",
        "infrastructure.computeTarget",
        "infrastructure.computeTarget.autoscaling",
        "runtime",
        "runtime.env",
        "runtime.image",
        "runtime.imageDigest",
        "runtime.customHttpEndpoints",
        "logging",
        "freeformTags",
        "definedTags",
    }
)


class Policy(Strict):
    protect: bool = Field(False, description="Never delete or replace this deployment, even when pruning")
    deletion: Literal["Delete", "Orphan"] = Field(
        "Delete",
        description="Orphan: when removed from the manifests, drop from management and leave it running",
    )
    ignore: list[str] = Field(default_factory=list, description="spec paths whose drift is not corrected")
    replace: Literal["DeleteBeforeCreate", "CreateBeforeDelete"] = Field(
        "DeleteBeforeCreate",
        description="How a change that cannot be made in place is carried out. CreateBeforeDelete creates "
        "the new deployment, waits until it is ACTIVE, then deletes the old one (no downtime, but twice the "
        "capacity for a while, and the URL changes)",
    )

    @field_validator("ignore")
    @classmethod
    def _known_paths(cls, value: list[str]) -> list[str]:
        for index, path in enumerate(value):
            if path not in IGNORABLE_PATHS:
                known = ", ".join(sorted(IGNORABLE_PATHS))
                raise field_error(index, f"unknown ignore path {path!r}; known paths: {known}", path)
        return value
