"""Model deployment rules that need no state: what a configuration must hold and what an update changes.

Rules enforced (reference §3, §8.3): updates only in ACTIVE, INACTIVE or NEEDS_ATTENTION; while ACTIVE one
option group per update; ``projectId`` not updatable; custom → default networking refused; a deployment
needs an ACTIVE model with an artifact; artifacts are immutable; a model used by a deployment cannot be
deleted; ``list_model_deployments`` accepts one filter besides the compartment.
"""

from __future__ import annotations

import copy
from typing import Any

from reconciler.emulator.core.errors import invalid, missing, require

UPDATABLE_STATES = ("ACTIVE", "INACTIVE", "NEEDS_ATTENTION")
ENVIRONMENT_VARIABLES_MAX_BYTES = 2048


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
    if config.get("deploymentType") != "SINGLE_MODEL":
        raise invalid(f"deploymentType {config.get('deploymentType')!r} is not supported by the emulator")
    model_config = config.get("modelConfigurationDetails")
    if not isinstance(model_config, dict):
        raise missing("modelDeploymentConfigurationDetails.modelConfigurationDetails")
    require(model_config, "modelId")
    instance = model_config.get("instanceConfiguration")
    if not isinstance(instance, dict) or not instance.get("instanceShapeName"):
        raise missing("modelConfigurationDetails.instanceConfiguration.instanceShapeName")
    environment = config.get("environmentConfigurationDetails")
    if environment is not None:
        kind = environment.get("environmentConfigurationType")
        if kind not in ("DEFAULT", "OCIR_CONTAINER"):
            raise invalid(f"environmentConfigurationType {kind!r} is not valid")
        if kind == "OCIR_CONTAINER" and not environment.get("image"):
            raise missing("environmentConfigurationDetails.image")
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
    if old_model.get("modelId") != new_model.get("modelId"):
        groups.add("model")
    if (old_model.get("instanceConfiguration"), old_model.get("scalingPolicy")) != (
        new_model.get("instanceConfiguration"),
        new_model.get("scalingPolicy"),
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
