"""Model deployment rules that need no state: what a configuration must hold and what an update changes.

Rules enforced (reference §3, §8.3; the fields inside a configuration in ``config_rules``): updates only in ACTIVE, INACTIVE or NEEDS_ATTENTION; while ACTIVE one
option group per update; ``projectId`` not updatable; custom → default networking refused; a deployment
needs an ACTIVE model with an artifact; artifacts are immutable; a model used by a deployment cannot be
deleted; ``list_model_deployments`` accepts one filter besides the compartment; the instance shape is one
of ``SHAPES`` (what ListModelDeploymentShapes answers), and a Flex shape's OCPUs and memory are in its range.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from reconciler.emulator.core.errors import invalid, missing, require
from reconciler.emulator.datascience.config_rules import check_container, check_instance, check_scaling
from reconciler.emulator.datascience.flex_rules import (
    is_flex,
    merge_flex_infrastructure,
    validate_flex_infrastructure,
)

UPDATABLE_STATES = ("ACTIVE", "INACTIVE", "NEEDS_ATTENTION")
ENVIRONMENT_VARIABLES_MAX_BYTES = 2048


@dataclass(frozen=True)
class Shape:
    """A model deployment shape: a fixed one's cores and memory, or a Flex one's maxima (and minima)."""

    name: str
    core_count: int
    memory_in_gbs: int
    series: str  # AMD_ROME | INTEL_SKYLAKE | NVIDIA_GPU | GENERIC | LEGACY | ARM
    min_ocpus: float = 0.0
    min_memory_in_gbs: float = 0.0

    @property
    def flex(self) -> bool:
        return self.name.endswith(".Flex")

    def summary(self) -> dict[str, Any]:
        """A ``ModelDeploymentShapeSummary``."""
        return {
            "name": self.name,
            "coreCount": self.core_count,
            "memoryInGBs": self.memory_in_gbs,
            "shapeSeries": self.series,
        }


#: the shapes the emulator deploys on (Flex limits as documented for each shape)
SHAPES = {
    shape.name: shape
    for shape in (
        Shape("VM.Standard.E3.Flex", 64, 1024, "AMD_ROME", 1, 6),
        Shape("VM.Standard.E4.Flex", 64, 1024, "AMD_ROME", 1, 6),
        Shape("VM.Standard.E5.Flex", 94, 1049, "AMD_ROME", 1, 6),
        Shape("VM.Standard3.Flex", 32, 512, "INTEL_SKYLAKE", 1, 6),
        Shape("VM.Optimized3.Flex", 18, 256, "INTEL_SKYLAKE", 1, 6),
        Shape("VM.Standard.A1.Flex", 80, 512, "ARM", 1, 6),
        Shape("VM.Standard2.1", 1, 15, "INTEL_SKYLAKE"),
        Shape("VM.Standard2.2", 2, 30, "INTEL_SKYLAKE"),
        Shape("VM.Standard2.4", 4, 60, "INTEL_SKYLAKE"),
        Shape("VM.Standard2.8", 8, 120, "INTEL_SKYLAKE"),
        Shape("VM.Standard2.16", 16, 240, "INTEL_SKYLAKE"),
        Shape("VM.Standard2.24", 24, 320, "INTEL_SKYLAKE"),
        Shape("VM.GPU2.1", 12, 72, "NVIDIA_GPU"),
        Shape("VM.GPU3.1", 6, 90, "NVIDIA_GPU"),
        Shape("VM.GPU3.2", 12, 180, "NVIDIA_GPU"),
        Shape("VM.GPU.A10.1", 15, 240, "NVIDIA_GPU"),
        Shape("VM.GPU.A10.2", 30, 480, "NVIDIA_GPU"),
    )
}


def check_shape(instance: dict[str, Any]) -> None:
    """Refuse a shape the service does not offer, and Flex OCPUs or memory outside the shape's range."""
    name = instance.get("instanceShapeName")
    shape = SHAPES.get(str(name))
    if shape is None:
        raise invalid(
            f"instanceShapeName {name!r} is not a supported model deployment shape "
            "(ListModelDeploymentShapes lists them)"
        )
    config = instance.get("modelDeploymentInstanceShapeConfigDetails") or {}
    if not shape.flex or not isinstance(config, dict):
        return
    ocpus, memory = config.get("ocpus"), config.get("memoryInGBs")
    for field_name, value in (("ocpus", ocpus), ("memoryInGBs", memory)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise invalid(f"modelDeploymentInstanceShapeConfigDetails.{field_name} must be a number")
    if ocpus is not None and not shape.min_ocpus <= float(ocpus) <= shape.core_count:
        raise invalid(f"{shape.name} supports {shape.min_ocpus:g}-{shape.core_count} OCPUs, not {ocpus}")
    if memory is not None and not shape.min_memory_in_gbs <= float(memory) <= shape.memory_in_gbs:
        raise invalid(
            f"{shape.name} supports {shape.min_memory_in_gbs:g}-{shape.memory_in_gbs} GB of memory, not {memory}"
        )


def model_of(deployment: dict[str, Any]) -> str:
    config = deployment.get("modelDeploymentConfigurationDetails") or {}
    return str((config.get("modelConfigurationDetails") or {}).get("modelId") or "")


def instance_of(deployment: dict[str, Any]) -> dict[str, Any]:
    config = deployment.get("modelDeploymentConfigurationDetails") or {}
    return (config.get("modelConfigurationDetails") or {}).get("instanceConfiguration") or {}


def validate_config(config: Any) -> None:
    """Refuse a ``modelDeploymentConfigurationDetails`` that the service would refuse."""
    if not isinstance(config, dict):
        raise missing("modelDeploymentConfigurationDetails")
    if config.get("deploymentType") != "SINGLE_MODEL" and not is_flex(config):
        raise invalid(f"deploymentType {config.get('deploymentType')!r} is not supported by the emulator")
    model_config = config.get("modelConfigurationDetails")
    if not isinstance(model_config, dict):
        raise missing("modelDeploymentConfigurationDetails.modelConfigurationDetails")
    require(model_config, "modelId")
    if is_flex(config):  # a share of a compute target's cluster: no instances of its own
        validate_flex_infrastructure(config)
    else:
        instance = model_config.get("instanceConfiguration")
        if not isinstance(instance, dict) or not instance.get("instanceShapeName"):
            raise missing("modelConfigurationDetails.instanceConfiguration.instanceShapeName")
        check_shape(instance)
        check_instance(instance)
        check_scaling(model_config.get("scalingPolicy"))
    environment = config.get("environmentConfigurationDetails")
    if environment is not None:
        kind = environment.get("environmentConfigurationType")
        if kind not in ("DEFAULT", "OCIR_CONTAINER"):
            raise invalid(f"environmentConfigurationType {kind!r} is not valid")
        if kind == "OCIR_CONTAINER" and not environment.get("image"):
            raise missing("environmentConfigurationDetails.image")
        if kind == "OCIR_CONTAINER":
            check_container(environment)
        variables = environment.get("environmentVariables") or {}
        total = sum(len(k) + len(str(v)) for k, v in variables.items())
        if total > ENVIRONMENT_VARIABLES_MAX_BYTES:
            raise invalid("environment variables exceed 2048 bytes")


def merge_update(current: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The deployment as it would be after a (partial) UpdateModelDeploymentDetails body."""
    merged = copy.deepcopy(current)
    for key in ("displayName", "description", "freeformTags", "definedTags", "categoryLogDetails"):
        if key in body:
            merged[key] = body[key]
    config_update = body.get("modelDeploymentConfigurationDetails")
    if config_update:
        config = merged["modelDeploymentConfigurationDetails"]
        if config_update.get("deploymentType") not in (None, config.get("deploymentType")):
            raise invalid("deploymentType cannot be changed")
        model_update = config_update.get("modelConfigurationDetails")
        if model_update:
            if not model_update.get("modelId"):
                raise missing("modelConfigurationDetails.modelId")
            config["modelConfigurationDetails"].update(model_update)
        merge_flex_infrastructure(config, config_update)
        if config_update.get("environmentConfigurationDetails") is not None:
            config["environmentConfigurationDetails"] = config_update["environmentConfigurationDetails"]
    return merged


def changed_groups(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    """The console's option groups that differ between two versions of a deployment."""
    groups: set[str] = set()
    if (before.get("displayName"), before.get("description")) != (
        after.get("displayName"),
        after.get("description"),
    ):
        groups.add("name")
    if (before.get("categoryLogDetails") or None) != (after.get("categoryLogDetails") or None):
        groups.add("logging")
    old_config = before["modelDeploymentConfigurationDetails"]
    new_config = after["modelDeploymentConfigurationDetails"]
    old_model = old_config["modelConfigurationDetails"]
    new_model = new_config["modelConfigurationDetails"]
    signature = "modelArtifactSignatureId"
    if (old_model.get("modelId"), old_model.get(signature)) != (
        new_model.get("modelId"),
        new_model.get(signature),
    ):
        groups.add("model")
    if (old_model.get("instanceConfiguration"), old_model.get("scalingPolicy")) != (
        new_model.get("instanceConfiguration"),
        new_model.get("scalingPolicy"),
    ) or old_config.get("infrastructureConfigurationDetails") != new_config.get(
        "infrastructureConfigurationDetails"
    ):
        groups.add("compute")
    old_env = old_config.get("environmentConfigurationDetails") or {}
    new_env = new_config.get("environmentConfigurationDetails") or {}
    container = "OCIR_CONTAINER" in (
        old_env.get("environmentConfigurationType"),
        new_env.get("environmentConfigurationType"),
    )
    bandwidth = (old_model.get("bandwidthMbps"), old_model.get("maximumBandwidthMbps")) != (
        new_model.get("bandwidthMbps"),
        new_model.get("maximumBandwidthMbps"),
    )
    if bandwidth or (container and old_env != new_env):
        groups.add("loadBalancerByoc")
    if not container and old_env != new_env:
        groups.add("environment")
    return groups


def check_update(deployment: dict[str, Any], updated: dict[str, Any]) -> None:
    """The rules on an update: one option group at a time while live, no way back to default networking."""
    validate_config(updated["modelDeploymentConfigurationDetails"])
    groups = changed_groups(deployment, updated)
    if deployment["lifecycleState"] != "INACTIVE" and len(groups) > 1:
        raise invalid(
            "while the model deployment is ACTIVE only one option group can be changed per update; "
            f"this update changes: {', '.join(sorted(groups))}"
        )
    old_subnet = instance_of(deployment).get("subnetId")
    if old_subnet and not instance_of(updated).get("subnetId"):
        raise invalid("custom networking cannot be changed back to default networking")
