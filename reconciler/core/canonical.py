"""The canonical form of a model deployment: one plain dict shape that both sides of a diff share.

Desired state (from manifests) and live state (from the OCI wire format) are both turned into this shape so
that the diff compares like with like. Keys mirror the manifest's ``spec`` paths (so ``policy.ignore`` paths
and field changes read exactly like the manifest), and every server default, type quirk and auto-added tag is
normalised away here, in one place, rather than special-cased in the diff.

Secret environment values never enter a canonical dict: ``runtime.secretEnv`` maps each name to a digest
computed in memory, which is compared but never printed or serialised.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from reconciler.core.canonical_flex import (
    flex_infrastructure_from_manifest,
    flex_infrastructure_from_wire,
)
from reconciler.core.canonical_scaling import autoscaling_from_manifest, autoscaling_from_wire
from reconciler.core.manifest import (
    CondaRuntime,
    ContainerRuntime,
    Infrastructure,
    ModelDeploymentSpec,
)

# Freeform tags mdr writes; they carry ownership, not configuration, so they are not diffed.
TAG_STACK = "mdr-stack"
TAG_KEY = "mdr-key"
TAG_SPEC = "mdr-spec"
TAG_ARTIFACT = "mdr-artifact"
TAG_POLICY = "mdr-policy"
TAG_SECRETS = "mdr-secrets"
#: on a model whose artifact upload has not completed (a crash between create and upload leaves it set)
TAG_PENDING = "mdr-pending"
#: on a model: digests of the catalog details mdr last wrote that a list summary does not show (see
#: ``desired.model_details_record``), so that an edit of them is planned without a GET per model
TAG_DETAILS = "mdr-details"
OWNERSHIP_PREFIX = "mdr-"
# Defined-tag namespaces the service adds by itself (e.g. Oracle-Tags.CreatedBy / CreatedOn).
AUTO_TAG_NAMESPACES = frozenset({"Oracle-Tags", "Oracle-Recommended-Tags"})

DEFAULT_BANDWIDTH_MBPS = 10
DEFAULT_SERVER_PORT = 8080
#: what the service does for a Flex shape given no cpuBaseline (not burstable)
DEFAULT_CPU_BASELINE = "BASELINE_1_1"
UNKNOWN_SECRET = "(unknown)"
#: Placeholder for a value that only exists after apply (e.g. the OCID of a model still to be created).
REF_PREFIX = "ref:"


def ref(change_id: str) -> str:
    return f"{REF_PREFIX}{change_id}"


def is_ref(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(REF_PREFIX)


def secret_digest(name: str, value: str, salt: str) -> str:
    """A keyed digest of a secret value, for comparing desired and live without keeping the value.

    Keyed (HMAC) with a random salt made afresh for each plan, so that the digest cannot be matched against a table of common
    passwords; it is held in memory only and never written to plans, logs or tags.
    """
    mac = hmac.new(salt.encode(), f"{name}\0{value}".encode(), hashlib.sha256)
    return "hmac:" + mac.hexdigest()


def spec_hash(canonical: Mapping[str, Any]) -> str:
    """The ``mdr-spec`` tag value: a short, stable hash of a desired canonical dict."""
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def user_freeform_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    return {k: v for k, v in (tags or {}).items() if not k.startswith(OWNERSHIP_PREFIX)}


def user_defined_tags(tags: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    return {
        ns: dict(values) for ns, values in (tags or {}).items() if ns not in AUTO_TAG_NAMESPACES and values
    }


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


# --- desired ------------------------------------------------------------------------------------------


def network_access(network_access_type: str | None, subnet_id: str | None) -> str:
    """The network access a deployment has, written or not: custom with a subnet, else the service's
    managed network with internet access (what "default networking" has always been)."""
    if network_access_type:
        return network_access_type
    return "CUSTOM_NETWORKING" if subnet_id else "MANAGED_NETWORKING_INTERNET_ACCESS"


def cpu_baseline(value: str | None, shape: str | None) -> str | None:
    """A Flex shape without a baseline runs whole OCPUs; other shapes have none."""
    if value:
        return value
    return DEFAULT_CPU_BASELINE if str(shape or "").endswith(".Flex") else None


def infrastructure_from_manifest(infra: Infrastructure) -> dict[str, Any]:
    if infra.computeTarget is not None:  # SINGLE_MODEL_FLEX: a share of a managed compute cluster
        return flex_infrastructure_from_manifest(infra.computeTarget, infra.replicas)
    scaling: dict[str, Any]
    if infra.autoscaling is not None:
        scaling = {"autoscaling": autoscaling_from_manifest(infra.autoscaling), "replicas": None}
    else:
        scaling = {"autoscaling": None, "replicas": infra.replicas or 1}
    return {
        "shape": infra.shape,
        "ocpus": _num(infra.ocpus),
        "memoryInGBs": _num(infra.memoryInGBs),
        "cpuBaseline": cpu_baseline(infra.cpuBaseline, infra.shape),
        **scaling,
        "bandwidthMbps": infra.bandwidthMbps,
        "maximumBandwidthMbps": infra.maximumBandwidthMbps,
        "subnetId": infra.subnetId,
        "privateEndpointId": infra.privateEndpointId,
        "networkAccessType": network_access(infra.networkAccessType, infra.subnetId),
        "capacityReservationIds": list(infra.capacityReservationIds),
    }


def runtime_from_manifest(
    runtime: CondaRuntime | ContainerRuntime, secret_values: Mapping[str, str | None], salt: str
) -> dict[str, Any]:
    """``secret_values`` maps each secretEnv name to its resolved value, or None when not resolvable now."""
    secrets = {
        name: secret_digest(name, value, salt)
        if (value := secret_values.get(name)) is not None
        else UNKNOWN_SECRET
        for name in sorted(runtime.secretEnv)
    }
    out: dict[str, Any] = {"type": runtime.type, "env": dict(runtime.env), "secretEnv": secrets}
    if isinstance(runtime, ContainerRuntime):
        out.update(
            image=runtime.image,
            imageDigest=runtime.imageDigest,
            cmd=list(runtime.cmd),
            entrypoint=list(runtime.entrypoint),
            serverPort=runtime.serverPort,
            healthCheckPort=runtime.healthCheckPort or runtime.serverPort,
            imageSignatureId=runtime.imageSignatureId,
            predictApiSpecification=runtime.predictApiSpecification,
            customHttpEndpoints=[e.model_dump() for e in runtime.customHttpEndpoints],
        )
    return out


def deployment_from_manifest(
    spec: ModelDeploymentSpec,
    *,
    display_name: str,
    compartment_id: str,
    project_id: str,
    model_id: str,
    logging: dict[str, Any] | None,
    secret_values: Mapping[str, str | None],
    salt: str,
) -> dict[str, Any]:
    """The desired canonical deployment. References not yet known (model, logs) are ``ref:`` strings."""
    return {
        "displayName": display_name,
        "description": spec.description or None,
        "compartmentId": compartment_id,
        "projectId": project_id,
        "state": spec.state,
        "model": {
            "id": model_id,
            "artifactSignatureId": spec.model.artifactSignatureId if spec.model else None,
        },
        "infrastructure": infrastructure_from_manifest(spec.infrastructure),
        "runtime": runtime_from_manifest(spec.runtime, secret_values, salt),
        "logging": logging,
        "freeformTags": dict(spec.freeformTags),
        "definedTags": user_defined_tags(spec.definedTags),
    }


# --- live ---------------------------------------------------------------------------------------------


def deployment_from_wire(wire: Mapping[str, Any], secret_names: set[str], salt: str) -> dict[str, Any]:
    """Canonical form of a live deployment, from ``oci.util.to_dict`` of a ModelDeployment(Summary).

    ``secret_names`` are the environment variables that are secrets (named by the manifest or by the
    ``mdr-secrets`` tag): their values are replaced by digests here, before anything can print them.
    """
    config = wire.get("model_deployment_configuration_details") or {}
    # a MODEL_GROUP deployment keeps instances, scaling and bandwidth under infrastructureConfigurationDetails
    group = config.get("model_group_configuration_details")
    model_config = (
        config.get("model_configuration_details") or config.get("infrastructure_configuration_details") or {}
    )
    instance = model_config.get("instance_configuration") or {}
    shape_config = instance.get("model_deployment_instance_shape_config_details") or {}
    policy = model_config.get("scaling_policy") or {}
    environment = config.get("environment_configuration_details") or {}
    variables = dict(environment.get("environment_variables") or {})
    secrets = {
        name: secret_digest(name, variables.pop(name), salt)
        for name in sorted(secret_names)
        if name in variables
    }
    container = environment.get("environment_configuration_type") == "OCIR_CONTAINER"
    runtime: dict[str, Any] = {
        "type": "container" if container else "conda",
        "env": variables,
        "secretEnv": secrets,
    }
    if container:
        server_port = environment.get("server_port") or DEFAULT_SERVER_PORT
        runtime.update(
            image=environment.get("image"),
            imageDigest=environment.get("image_digest"),
            cmd=list(environment.get("cmd") or []),
            entrypoint=list(environment.get("entrypoint") or []),
            serverPort=server_port,
            healthCheckPort=environment.get("health_check_port") or server_port,
            imageSignatureId=environment.get("image_signature_id"),
            predictApiSpecification=environment.get("predict_api_specification"),
            customHttpEndpoints=[
                {
                    "endpointUriSuffix": e.get("endpoint_uri_suffix"),
                    "httpMethods": list(e.get("http_methods") or []),
                }
                for e in environment.get("custom_http_endpoints") or []
            ],
        )
    autoscaling = autoscaling_from_wire(policy) if policy.get("policy_type") == "AUTOSCALING" else None
    logs = wire.get("category_log_details") or {}
    logging = {
        category: {"logGroupId": details.get("log_group_id"), "logId": details.get("log_id")}
        for category in ("access", "predict")
        if (details := logs.get(category))
    }
    flex = (config.get("infrastructure_configuration_details") or {}).get("infrastructure_type")
    return {
        "displayName": wire.get("display_name"),
        "description": wire.get("description") or None,
        "compartmentId": wire.get("compartment_id"),
        "projectId": wire.get("project_id"),
        "state": "INACTIVE" if wire.get("lifecycle_state") == "INACTIVE" else "ACTIVE",
        "model": {
            "id": model_config.get("model_id"),
            "artifactSignatureId": model_config.get("model_artifact_signature_id"),
        }
        if group is None
        else {"groupId": group.get("model_group_id"), "groupType": None, "members": None},
        "infrastructure": flex_infrastructure_from_wire(config["infrastructure_configuration_details"])
        if flex == "MANAGED_COMPUTE_CLUSTER"
        else {
            "shape": instance.get("instance_shape_name"),
            "ocpus": _num(shape_config.get("ocpus")),
            "memoryInGBs": _num(shape_config.get("memory_in_gbs")),
            "cpuBaseline": cpu_baseline(
                shape_config.get("cpu_baseline"), instance.get("instance_shape_name")
            ),
            "autoscaling": autoscaling,
            "replicas": None if autoscaling else (policy.get("instance_count") or 1),
            "bandwidthMbps": model_config.get("bandwidth_mbps") or DEFAULT_BANDWIDTH_MBPS,
            "maximumBandwidthMbps": model_config.get("maximum_bandwidth_mbps"),
            "subnetId": instance.get("subnet_id"),
            "privateEndpointId": instance.get("private_endpoint_id"),
            "networkAccessType": network_access(
                instance.get("network_access_type"), instance.get("subnet_id")
            ),
            "capacityReservationIds": list(instance.get("capacity_reservation_ids") or []),
        },
        "runtime": runtime,
        "logging": logging or None,
        "freeformTags": user_freeform_tags(wire.get("freeform_tags")),
        "definedTags": user_defined_tags(wire.get("defined_tags")),
    }


def logging_from_refs(
    access: tuple[str, str] | None, predict: tuple[str, str] | None
) -> dict[str, Any] | None:
    """Canonical logging block from resolved (logGroupId, logId) pairs (either may be a ``ref:``)."""
    out = {
        category: {"logGroupId": pair[0], "logId": pair[1]}
        for category, pair in (("access", access), ("predict", predict))
        if pair is not None
    }
    return out or None
