"""Canonical dicts -> OCI SDK request models (pure).

The inverse of ``canonical.deployment_from_wire``: the applier uses it to build create and per-group update
bodies. Update bodies carry only the sections of the option group being changed, so that an update never
re-sends (and never needs to know) secret values it is not changing, and never touches another group.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import oci
from oci.data_science import models as ds

from reconciler.adapters.wire_flex import flex_create_config, flex_update_config
from reconciler.core.canonical import AUTO_TAG_NAMESPACES, is_ref, user_defined_tags
from reconciler.core.canonical_flex import is_flex
from reconciler.core.canonical_scaling import CUSTOM, DEFAULT_COOL_DOWN_SECONDS, METRIC_TYPES

#: Canonical top-level sections -> which part of the request body carries them.
SECTION_NAME = "name"
SECTION_ENVIRONMENT = "environment"
SECTION_INSTANCE = "instance"
SECTION_SCALING = "scaling"
SECTION_BANDWIDTH = "bandwidth"
SECTION_MODEL = "model"
SECTION_LOGGING = "logging"
SECTION_TAGS = "tags"


class UnresolvedReference(ValueError):
    """A ``ref:`` placeholder reached the wire: the change it depends on has not been applied."""


def _check(value: Any, what: str) -> Any:
    if is_ref(value):
        raise UnresolvedReference(f"{what} is still {value!r}; its dependency was not applied")
    return value


def sections_for_paths(paths: list[str] | tuple[str, ...]) -> set[str]:
    """Which body sections an update of these canonical paths must send."""
    out: set[str] = set()
    for path in paths:
        top, _, rest = path.partition(".")
        if top in ("displayName", "description"):
            out.add(SECTION_NAME)
        elif top in ("freeformTags", "definedTags"):
            out.add(SECTION_TAGS)
        elif top == "runtime":
            out.add(SECTION_ENVIRONMENT)
        elif top == "logging":
            out.add(SECTION_LOGGING)
        elif top == "model":
            out.add(SECTION_MODEL)
        elif top == "infrastructure":
            field = rest.split(".", 1)[0]
            if field in ("bandwidthMbps", "maximumBandwidthMbps"):
                out.add(SECTION_BANDWIDTH)
            elif field in ("replicas", "autoscaling"):
                out.add(SECTION_SCALING)
            else:
                out.add(SECTION_INSTANCE)
    return out


def instance_configuration(infra: Mapping[str, Any]) -> ds.InstanceConfiguration:
    shape_config = None
    if infra.get("ocpus") is not None or infra.get("memoryInGBs") is not None:
        shape_config = ds.ModelDeploymentInstanceShapeConfigDetails(
            ocpus=infra.get("ocpus"),
            memory_in_gbs=infra.get("memoryInGBs"),
            cpu_baseline=infra.get("cpuBaseline"),
        )
    return ds.InstanceConfiguration(
        instance_shape_name=infra["shape"],
        model_deployment_instance_shape_config_details=shape_config,
        subnet_id=infra.get("subnetId"),
        private_endpoint_id=infra.get("privateEndpointId"),
        network_access_type=infra.get("networkAccessType"),
        capacity_reservation_ids=list(infra.get("capacityReservationIds") or []) or None,
    )


def _scaling_step(step: Mapping[str, Any]) -> Any:
    common = {
        "pending_duration": step.get("pendingDuration"),
        "instance_count_adjustment": step.get("instanceCountAdjustment"),
    }
    if "query" in step:
        return ds.CustomExpressionQueryScalingConfiguration(query=step["query"], **common)
    return ds.PredefinedExpressionThresholdScalingConfiguration(threshold=step["threshold"], **common)


def _scaling_rule(key: str, rule: Mapping[str, Any]) -> ds.MetricExpressionRule:
    steps = {
        "scale_in_configuration": _scaling_step(rule["scaleIn"]),
        "scale_out_configuration": _scaling_step(rule["scaleOut"]),
    }
    if key.startswith(CUSTOM):
        return ds.CustomMetricExpressionRule(**steps)
    return ds.PredefinedMetricExpressionRule(metric_type=METRIC_TYPES[key], **steps)


def scaling_policy(infra: Mapping[str, Any]) -> ds.ScalingPolicy:
    auto = infra.get("autoscaling")
    if not auto:
        return ds.FixedSizeScalingPolicy(instance_count=infra.get("replicas") or 1)
    return ds.AutoScalingPolicy(
        cool_down_in_seconds=auto.get("coolDownSeconds") or DEFAULT_COOL_DOWN_SECONDS,
        is_enabled=auto.get("enabled", True) is not False,
        auto_scaling_policies=[
            ds.ThresholdBasedAutoScalingPolicyDetails(
                rules=[_scaling_rule(key, rule) for key, rule in auto["rules"].items()],
                minimum_instance_count=auto["min"],
                maximum_instance_count=auto["max"],
                initial_instance_count=auto["initial"],
            )
        ],
    )


def environment_variables(runtime: Mapping[str, Any], secret_values: Mapping[str, str]) -> dict[str, str]:
    """Plain env merged with resolved secret values (the only place where secret values meet a body)."""
    variables = dict(runtime.get("env") or {})
    for name in runtime.get("secretEnv") or {}:
        variables[name] = secret_values[name]
    return variables


def environment(
    runtime: Mapping[str, Any], secret_values: Mapping[str, str], update: bool
) -> ds.ModelDeploymentEnvironmentConfigurationDetails | Any:
    variables = environment_variables(runtime, secret_values)
    if runtime["type"] == "container":
        cls = (
            ds.UpdateOcirModelDeploymentEnvironmentConfigurationDetails
            if update
            else (ds.OcirModelDeploymentEnvironmentConfigurationDetails)
        )
        return cls(
            image=runtime["image"],
            image_digest=runtime.get("imageDigest"),
            cmd=list(runtime.get("cmd") or []),
            entrypoint=list(runtime.get("entrypoint") or []),
            server_port=runtime.get("serverPort"),
            health_check_port=runtime.get("healthCheckPort"),
            environment_variables=variables,
            image_signature_id=runtime.get("imageSignatureId"),
            predict_api_specification=runtime.get("predictApiSpecification"),
            custom_http_endpoints=[
                ds.InferenceHttpEndpoint(
                    endpoint_uri_suffix=e["endpointUriSuffix"], http_methods=list(e["httpMethods"])
                )
                for e in runtime.get("customHttpEndpoints") or []
            ]
            or None,
        )
    default_cls = (
        ds.UpdateDefaultModelDeploymentEnvironmentConfigurationDetails
        if update
        else (ds.DefaultModelDeploymentEnvironmentConfigurationDetails)
    )
    return default_cls(environment_variables=variables)


def category_logs(logging: Mapping[str, Any] | None, update: bool) -> Any:
    cls = ds.UpdateCategoryLogDetails if update else ds.CategoryLogDetails
    logging = logging or {}
    parts = {
        category: ds.LogDetails(
            log_group_id=_check(details["logGroupId"], f"logging.{category}.logGroupId"),
            log_id=_check(details["logId"], f"logging.{category}.logId"),
        )
        for category, details in logging.items()
        if details
    }
    return cls(access=parts.get("access"), predict=parts.get("predict"))


def create_deployment_details(
    canonical: Mapping[str, Any],
    secret_values: Mapping[str, str],
    freeform_tags: Mapping[str, str],
) -> ds.CreateModelDeploymentDetails:
    infra = canonical["infrastructure"]
    config: Any
    if is_flex(canonical):
        config = flex_create_config(
            infra,
            _check(canonical["model"]["id"], "model.id"),
            canonical["model"].get("artifactSignatureId"),
            environment(canonical["runtime"], secret_values, update=False),
        )
    else:
        model_config = ds.ModelConfigurationDetails(
            model_id=_check(canonical["model"]["id"], "model.id"),
            model_artifact_signature_id=canonical["model"].get("artifactSignatureId"),
            instance_configuration=instance_configuration(infra),
            scaling_policy=scaling_policy(infra),
            bandwidth_mbps=infra.get("bandwidthMbps"),
            maximum_bandwidth_mbps=infra.get("maximumBandwidthMbps"),
        )
        config = ds.SingleModelDeploymentConfigurationDetails(
            model_configuration_details=model_config,
            environment_configuration_details=environment(canonical["runtime"], secret_values, update=False),
        )
    return ds.CreateModelDeploymentDetails(
        display_name=canonical["displayName"],
        description=canonical.get("description"),
        project_id=canonical["projectId"],
        compartment_id=canonical["compartmentId"],
        model_deployment_configuration_details=config,
        category_log_details=category_logs(canonical.get("logging"), update=False)
        if canonical.get("logging")
        else None,
        freeform_tags=dict(freeform_tags),
        defined_tags=dict(canonical.get("definedTags") or {}) or None,
    )


def update_deployment_details(
    canonical: Mapping[str, Any],
    sections: set[str],
    live_model_id: str,
    secret_values: Mapping[str, str],
    freeform_tags: Mapping[str, str] | None,
    live_defined_tags: Mapping[str, Mapping[str, Any]] | None = None,
) -> ds.UpdateModelDeploymentDetails:
    """An update body carrying only ``sections``; ``modelId`` (always required) stays the live one unless
    the model section is being changed.

    ``freeform_tags`` replace the live ones when given. Defined tags are sent only when the user's differ
    from the live deployment's (``live_defined_tags``; None: never sent): a body's ``definedTags`` replaces
    them all, so the namespaces the service adds by itself (``AUTO_TAG_NAMESPACES``, e.g. Oracle-Tags
    CreatedBy/CreatedOn) are carried over from the live deployment, never wiped."""
    infra = canonical["infrastructure"]
    model_id = _check(canonical["model"]["id"], "model.id") if SECTION_MODEL in sections else live_model_id
    config_sections = {
        SECTION_INSTANCE,
        SECTION_SCALING,
        SECTION_BANDWIDTH,
        SECTION_MODEL,
        SECTION_ENVIRONMENT,
    }
    config: Any = None
    if sections & config_sections and is_flex(canonical):
        config = _flex_update(canonical, sections, model_id, secret_values)
    elif sections & config_sections:
        model_config = ds.UpdateModelConfigurationDetails(model_id=model_id)
        if SECTION_MODEL in sections:  # null, not left out, when it goes: a left-out field is kept
            signature = canonical["model"].get("artifactSignatureId")
            model_config.model_artifact_signature_id = signature or oci.util.NONE_SENTINEL
        if SECTION_INSTANCE in sections:
            model_config.instance_configuration = instance_configuration(infra)
        if SECTION_SCALING in sections:
            model_config.scaling_policy = scaling_policy(infra)
        if SECTION_BANDWIDTH in sections:
            model_config.bandwidth_mbps = infra.get("bandwidthMbps")
            model_config.maximum_bandwidth_mbps = infra.get("maximumBandwidthMbps")
        config = ds.UpdateSingleModelDeploymentConfigurationDetails(model_configuration_details=model_config)
        if SECTION_ENVIRONMENT in sections:
            config.environment_configuration_details = environment(
                canonical["runtime"], secret_values, update=True
            )
    details = ds.UpdateModelDeploymentDetails(model_deployment_configuration_details=config)
    if SECTION_NAME in sections:
        details.display_name = canonical["displayName"]
        details.description = canonical.get("description") or ""
    if SECTION_LOGGING in sections:
        details.category_log_details = category_logs(canonical.get("logging"), update=True)
    if freeform_tags is not None:
        details.freeform_tags = dict(freeform_tags)
    if live_defined_tags is not None:
        wanted = {ns: dict(values) for ns, values in (canonical.get("definedTags") or {}).items()}
        if user_defined_tags(live_defined_tags) != wanted:
            kept = {ns: dict(v) for ns, v in live_defined_tags.items() if ns in AUTO_TAG_NAMESPACES}
            details.defined_tags = {**kept, **wanted}
    return details


def _flex_update(
    canonical: Mapping[str, Any], sections: set[str], model_id: str, secret_values: Mapping[str, str]
) -> ds.UpdateSingleModelDeploymentFlexConfigurationDetails:
    """A SINGLE_MODEL_FLEX update: the model (modelId required whenever it is sent), the infrastructure
    (instance or scaling sections), the environment, each only when its section changes."""
    model = None
    if SECTION_MODEL in sections:
        signature = canonical["model"].get("artifactSignatureId")
        model = ds.UpdateSingleModelConfigurationDetails(
            model_id=model_id, model_artifact_signature_id=signature or oci.util.NONE_SENTINEL
        )
    return flex_update_config(
        canonical["infrastructure"],
        model,
        bool(sections & {SECTION_INSTANCE, SECTION_SCALING, SECTION_BANDWIDTH}),
        environment(canonical["runtime"], secret_values, update=True)
        if SECTION_ENVIRONMENT in sections
        else None,
    )


def metadata_lists(details: Mapping[str, Any]) -> tuple[list[ds.Metadata], list[ds.Metadata]]:
    """(defined, custom) metadata lists of CreateModelDetails from a desired model's details."""
    names = {
        "useCaseType": "UseCaseType",
        "framework": "Framework",
        "frameworkVersion": "FrameworkVersion",
        "algorithm": "Algorithm",
        "hyperparameters": "Hyperparameters",
    }
    defined = [
        ds.Metadata(key=names[key], value=value if isinstance(value, str) else _json(value))
        for key, value in sorted((details.get("metadata") or {}).items())
        if key in names
    ]
    custom = [
        ds.Metadata(
            key=item["key"],
            value=item["value"],
            category=item.get("category"),
            description=item.get("description"),
        )
        for item in details.get("customMetadata") or []
    ]
    return defined, custom


def _json(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True)
