"""MODEL_GROUP deployment rules that need no HTTP: what its configuration must hold, what an update may
change, and which member of the group a predict call names.

The configuration (SDK ``ModelGroupDeploymentConfigurationDetails``): ``modelGroupConfigurationDetails``
``{modelGroupId}`` and ``infrastructureConfigurationDetails`` (``infrastructureType: INSTANCE_POOL`` with the
instance configuration, scaling policy and bandwidth a SINGLE_MODEL deployment keeps under
``modelConfigurationDetails``). An update names ``updateType``: ``ZDT`` (new instances replace the old ones,
any change) or ``LIVE`` (the members are swapped on the running instances, so only the model group may
change: ADS documents LIVE as "only if model group id changed").

Routing a predict call (docs: "inference keys are an alias to model OCIDs"): a JSON object body's ``"model"``
names a member by inference key or model OCID, as OCI's LLM containers route (ADS AI Quick Actions serves
group members from vLLM under their inference keys and calls them with the OpenAI body's ``"model"``); the
``model-key`` header does too, for other bodies (mdr's name, UNVERIFIED: neither the docs nor the SDK name a
header). A STACKED group's call naming no member goes to its base model, vLLM's served model.
"""

from __future__ import annotations

import copy
from typing import Any

from reconciler.emulator.core.errors import invalid, missing
from reconciler.emulator.core.store import GONE, Store
from reconciler.emulator.datascience.config_rules import check_container, check_instance, check_scaling
from reconciler.emulator.datascience.rules import check_shape

MODEL_GROUP = "MODEL_GROUP"
UPDATE_TYPES = ("ZDT", "LIVE")
MEMBER_HEADER = "model-key"


def is_group(config: Any) -> bool:
    return isinstance(config, dict) and config.get("deploymentType") == MODEL_GROUP


def group_of(deployment: dict[str, Any]) -> str:
    """The model group a MODEL_GROUP deployment serves ("" for any other deployment)."""
    config = deployment.get("modelDeploymentConfigurationDetails") or {}
    return str((config.get("modelGroupConfigurationDetails") or {}).get("modelGroupId") or "")


def validate_group_config(config: Any) -> None:
    """Refuse a MODEL_GROUP ``modelDeploymentConfigurationDetails`` the service would refuse."""
    if not isinstance(config, dict):
        raise missing("modelDeploymentConfigurationDetails")
    group = config.get("modelGroupConfigurationDetails")
    if not isinstance(group, dict) or not group.get("modelGroupId"):
        raise missing("modelGroupConfigurationDetails.modelGroupId")
    infrastructure = config.get("infrastructureConfigurationDetails")
    if not isinstance(infrastructure, dict):
        raise missing("infrastructureConfigurationDetails")
    if infrastructure.get("infrastructureType") != "INSTANCE_POOL":
        raise invalid(
            f"infrastructureType {infrastructure.get('infrastructureType')!r} is not INSTANCE_POOL "
            "(the one type a MODEL_GROUP deployment has)"
        )
    instance = infrastructure.get("instanceConfiguration")
    if not isinstance(instance, dict) or not instance.get("instanceShapeName"):
        raise missing("infrastructureConfigurationDetails.instanceConfiguration.instanceShapeName")
    check_shape(instance)
    check_instance(instance)
    check_scaling(infrastructure.get("scalingPolicy"))
    environment = config.get("environmentConfigurationDetails")
    if environment is not None:
        kind = environment.get("environmentConfigurationType")
        if kind not in ("DEFAULT", "OCIR_CONTAINER"):
            raise invalid(f"environmentConfigurationType {kind!r} is not valid")
        if kind == "OCIR_CONTAINER":
            if not environment.get("image"):
                raise missing("environmentConfigurationDetails.image")
            check_container(environment)


def merge_group_update(current: dict[str, Any], body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The deployment as it would be after an update, and the update type asked for (ZDT by default)."""
    merged = copy.deepcopy(current)
    for key in ("displayName", "description", "freeformTags", "definedTags", "categoryLogDetails"):
        if key in body:
            merged[key] = body[key]
    change = body.get("modelDeploymentConfigurationDetails") or {}
    update_type = str(change.get("updateType") or "ZDT")
    if update_type not in UPDATE_TYPES:
        raise invalid(f"updateType {update_type!r} is not one of {', '.join(UPDATE_TYPES)}")
    if change.get("deploymentType") not in (None, MODEL_GROUP):
        raise invalid("deploymentType cannot be changed")
    config = merged["modelDeploymentConfigurationDetails"]
    for part in ("modelGroupConfigurationDetails", "environmentConfigurationDetails"):
        if change.get(part) is not None:
            config[part] = change[part]
    infrastructure = change.get("infrastructureConfigurationDetails")
    if infrastructure is not None:
        config["infrastructureConfigurationDetails"] = {
            **config["infrastructureConfigurationDetails"],
            **{k: v for k, v in infrastructure.items() if v is not None},
        }
    return merged, update_type


def check_group_update(deployment: dict[str, Any], updated: dict[str, Any], update_type: str) -> None:
    """A LIVE update swaps the model group on running instances and changes nothing else."""
    validate_group_config(updated["modelDeploymentConfigurationDetails"])
    if update_type != "LIVE":
        return
    before = {**deployment["modelDeploymentConfigurationDetails"], "modelGroupConfigurationDetails": None}
    after = {**updated["modelDeploymentConfigurationDetails"], "modelGroupConfigurationDetails": None}
    if before != after or group_of(deployment) == group_of(updated):
        raise invalid(
            "a LIVE update changes the model group only (modelGroupConfigurationDetails.modelGroupId); "
            "use updateType ZDT to change anything else"
        )


def members(store: Store, group_id: str) -> list[dict[str, Any]]:
    """A model group's members (``{modelId, inferenceKey}``), none for an unknown group."""
    group = store.data["model_groups"].get(group_id) or {}
    return list((group.get("memberModelEntries") or {}).get("memberModelDetails") or [])


def base_model(store: Store, group_id: str) -> str | None:
    """A STACKED group's base model OCID (None for other group types)."""
    group = store.data["model_groups"].get(group_id) or {}
    details = group.get("modelGroupDetails") or {}
    return str(details["baseModelId"]) if details.get("type") == "STACKED" else None


def pick_member(store: Store, group_id: str, key: str | None) -> str:
    """The model OCID a predict call names by inference key or model OCID; a group of one needs no key,
    and a STACKED group's call naming none goes to its base model (vLLM serves the base under its
    ``--served-model-name`` and each fine-tuned weight as a LoRA adapter named by its inference key)."""
    entries = members(store, group_id)
    if key is None:
        if len(entries) == 1:
            return str(entries[0]["modelId"])
        base = base_model(store, group_id)
        if base is not None:
            return base
        keys = ", ".join(sorted(str(e.get("inferenceKey") or e["modelId"]) for e in entries))
        raise invalid(
            f"this deployment serves a model group: name a member in the {MEMBER_HEADER} header (or a JSON "
            f'body\'s "model"); its members: {keys}'
        )
    for entry in entries:
        if key in (entry.get("inferenceKey"), entry["modelId"]):
            return str(entry["modelId"])
    raise invalid(f"the model group has no member {key!r}")


def member_key(headers: dict[str, str], payload: Any) -> str | None:
    """The member a predict call names: its ``model-key`` header, or a JSON object body's ``"model"``."""
    named = headers.get(MEMBER_HEADER)
    if named:
        return named
    if isinstance(payload, dict) and isinstance(payload.get("model"), str):
        return str(payload["model"])
    return None


def deployments_using_model(store: Store, model_id: str) -> list[str]:
    """Deployments whose model group holds ``model_id``: the model cannot be deleted under them."""
    return [
        d["id"]
        for d in store.data["deployments"].values()
        if d["lifecycleState"] not in GONE
        and any(m["modelId"] == model_id for m in members(store, group_of(d)))
    ]
