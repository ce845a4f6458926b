"""``mdr import --from-terraform``: the model deployments of a Terraform state into manifests that adopt them.

Pure: a parsed Terraform state (format version 4, what ``terraform.tfstate`` and ``terraform state pull``
hold) in, live records out, in the shape ``oci.util.to_dict`` gives a deployment read from OCI; from there
``from_live.manifest_from_live`` writes the manifest, exactly as ``mdr import --compartment`` does, so an
import from Terraform plans to nothing but the adoption.

Attribute names are those of the ``oci_datascience_model_deployment`` resource of terraform-provider-oci:
the SDK's snake_case names, with every nested block (``model_deployment_configuration_details { ... }``)
stored as a list of one object, ``state`` for the lifecycle state, and defined tags flattened to
``"Namespace.key" = "value"``. Each attribute is either converted, known to be computed by the service (and
left out: it is not configuration), or named in a warning; none is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RESOURCE_TYPE = "oci_datascience_model_deployment"

#: A block stored as a list of one object, a block that repeats (a list of objects), or a leaf (a scalar, a
#: map such as ``freeform_tags``, or a list of strings such as ``cmd``).
LEAF = None
Schema = dict[str, Any]


@dataclass(frozen=True)
class Repeated:
    """A block that may appear several times (``rules { ... } rules { ... }``): it stays a list."""

    schema: Schema


_SCALE_STEP: Schema = {
    "scaling_configuration_type": LEAF,
    "threshold": LEAF,
    "query": LEAF,
    "pending_duration": LEAF,
    "instance_count_adjustment": LEAF,
}
_RULE: Schema = {
    "metric_expression_rule_type": LEAF,
    "metric_type": LEAF,
    "scale_in_configuration": _SCALE_STEP,
    "scale_out_configuration": _SCALE_STEP,
}
_SCALING: Schema = {
    "policy_type": LEAF,
    "instance_count": LEAF,
    "is_enabled": LEAF,
    "cool_down_in_seconds": LEAF,
    "auto_scaling_policies": Repeated(
        {
            "auto_scaling_policy_type": LEAF,
            "initial_instance_count": LEAF,
            "minimum_instance_count": LEAF,
            "maximum_instance_count": LEAF,
            "rules": Repeated(_RULE),
        }
    ),
}
_LOG: Schema = {"log_group_id": LEAF, "log_id": LEAF}
#: the configuration attributes of the resource, as terraform-provider-oci's schema names them
SCHEMA: Schema = {
    "id": LEAF,
    "compartment_id": LEAF,
    "project_id": LEAF,
    "display_name": LEAF,
    "description": LEAF,
    "freeform_tags": LEAF,
    "defined_tags": LEAF,
    "state": LEAF,
    "category_log_details": {"access": _LOG, "predict": _LOG},
    "model_deployment_configuration_details": {
        "deployment_type": LEAF,
        "model_configuration_details": {
            "model_id": LEAF,
            "bandwidth_mbps": LEAF,
            "maximum_bandwidth_mbps": LEAF,
            "instance_configuration": {
                "instance_shape_name": LEAF,
                "subnet_id": LEAF,
                "private_endpoint_id": LEAF,
                "model_deployment_instance_shape_config_details": {
                    "ocpus": LEAF,
                    "memory_in_gbs": LEAF,
                    "cpu_baseline": LEAF,
                },
            },
            "scaling_policy": _SCALING,
        },
        "environment_configuration_details": {
            "environment_configuration_type": LEAF,
            "environment_variables": LEAF,
            "image": LEAF,
            "image_digest": LEAF,
            "cmd": LEAF,
            "entrypoint": LEAF,
            "server_port": LEAF,
            "health_check_port": LEAF,
        },
    },
}
#: attributes the service (or Terraform) computes: state, not configuration, so not converted
COMPUTED = frozenset(
    {
        "created_by",
        "lifecycle_details",
        "model_deployment_url",
        "model_deployment_system_data",
        "time_created",
        "timeouts",
        "opc_parent_rpt_url",
    }
)


class TerraformStateError(ValueError):
    """The file is not a Terraform state mdr can read (not JSON, or not format version 4)."""


@dataclass
class TerraformDeployment:
    """One ``oci_datascience_model_deployment`` instance: its address, its live record, what was left out."""

    address: str  # e.g. module.serving.oci_datascience_model_deployment.fraud["eu"]
    name: str  # the resource's name in the configuration (``fraud``), a hint for the manifest's name
    wire: dict[str, Any]
    unmapped: list[str] = field(default_factory=list)  # attribute paths that could not be converted


def deployments_in_state(state: Any) -> list[TerraformDeployment]:
    """Every managed ``oci_datascience_model_deployment`` instance of a Terraform state (format 4)."""
    if not isinstance(state, dict) or "resources" not in state:
        raise TerraformStateError("not a Terraform state (no resources); expected terraform.tfstate JSON")
    if state.get("version") != 4:
        raise TerraformStateError(
            f"Terraform state format version {state.get('version')!r} is not supported (expected 4, written "
            "by Terraform 0.12 and later); run terraform state pull with a current Terraform"
        )
    found: list[TerraformDeployment] = []
    for resource in state.get("resources") or []:
        if not isinstance(resource, dict) or resource.get("type") != RESOURCE_TYPE:
            continue
        if resource.get("mode") != "managed":
            continue  # a data source reads a deployment someone else manages
        for instance in resource.get("instances") or []:
            found.append(_deployment(resource, instance))
    return found


def _address(resource: dict[str, Any], instance: dict[str, Any]) -> str:
    module = f"{resource['module']}." if resource.get("module") else ""
    key = instance.get("index_key")
    index = "" if key is None else (f"[{key}]" if isinstance(key, int) else f'["{key}"]')
    return f"{module}{RESOURCE_TYPE}.{resource.get('name')}{index}"


def _deployment(resource: dict[str, Any], instance: Any) -> TerraformDeployment:
    address = _address(resource, instance if isinstance(instance, dict) else {})
    attributes = instance.get("attributes") if isinstance(instance, dict) else None
    if not isinstance(attributes, dict) or not attributes.get("id"):
        raise TerraformStateError(f"{address} has no attributes with an id (a tainted or partial instance?)")
    unmapped: list[str] = []
    wire = _convert(attributes, SCHEMA, "", unmapped, top=True)
    wire["lifecycle_state"] = str(wire.pop("state", None) or "ACTIVE").upper()
    wire["defined_tags"] = _nested_defined_tags(wire.get("defined_tags") or {})
    wire["freeform_tags"] = dict(wire.get("freeform_tags") or {})
    return TerraformDeployment(address, str(resource.get("name") or "deployment"), wire, unmapped)


def _convert(node: dict[str, Any], schema: Schema, path: str, unmapped: list[str], top: bool = False) -> Any:
    out: dict[str, Any] = {}
    for key, value in node.items():
        where = f"{path}{key}"
        if key not in schema:
            if not (top and key in COMPUTED) and _set(value):
                unmapped.append(where)
            continue
        shape = schema[key]
        if shape is LEAF:
            if _unset_as_none(value) is not None:  # absent, as in a record read from OCI (a subtype's keys)
                out[key] = value
        elif isinstance(shape, Repeated):
            items = value if isinstance(value, list) else []
            out[key] = [_convert(item, shape.schema, f"{where}[].", unmapped) for item in items]
        else:
            block = _single(value)
            out[key] = None if block is None else _convert(block, shape, f"{where}.", unmapped)
    return out


def _unset_as_none(value: Any) -> Any:
    """Terraform stores an optional attribute nobody set as its type's zero ("" or 0); OCI has no such
    value for any of these attributes (no port, bandwidth, count or threshold is 0), so it means unset."""
    if value == "" or (value == 0 and not isinstance(value, bool)):
        return None
    return value


def _single(value: Any) -> dict[str, Any] | None:
    """A block's one object (state files store ``x { ... }`` as ``"x": [{...}]``); None when absent."""
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, dict) else None


def _set(value: Any) -> bool:
    """A value that says something (Terraform writes unset optional attributes as null, "" or [])."""
    return value not in (None, "", [], {})


def _nested_defined_tags(flat: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"Operations.CostCenter": "42"}`` (Terraform) -> ``{"Operations": {"CostCenter": "42"}}`` (OCI)."""
    nested: dict[str, dict[str, Any]] = {}
    for key, value in flat.items():
        namespace, _, name = str(key).partition(".")
        nested.setdefault(namespace, {})[name] = value
    return nested


def refusal(deployment: TerraformDeployment) -> str | None:
    """Why a deployment cannot be imported (a MODEL_GROUP one), or None."""
    config = deployment.wire.get("model_deployment_configuration_details") or {}
    kind = str(config.get("deployment_type") or "SINGLE_MODEL").upper()
    if kind != "SINGLE_MODEL":
        return (
            f"{deployment.address} is a {kind} deployment: mdr manages SINGLE_MODEL deployments only; "
            "it was not imported"
        )
    return None


def chosen_for_import(state: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """The live records of the state's deployments that can be imported, and a note for every attribute
    left out and every deployment refused (a MODEL_GROUP one, one a stack owns already)."""
    chosen: list[dict[str, Any]] = []
    notes: list[str] = []
    for deployment in deployments_in_state(state):
        why = refusal(deployment)
        owner = deployment.wire["freeform_tags"].get("mdr-stack")
        if why is None and owner:
            why = f"{deployment.address} is already managed by mdr stack {owner!r}; it was not imported"
        if why is not None:
            notes.append(why)
            continue
        notes.extend(
            f"{deployment.address}: attribute {path} has no mdr equivalent; it is not in the manifest"
            for path in deployment.unmapped
        )
        chosen.append(deployment.wire)
    return sorted(chosen, key=lambda w: (str(w.get("display_name") or ""), str(w["id"]))), notes
