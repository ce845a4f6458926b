"""Canonical FLEX infrastructure -> SDK request models for SINGLE_MODEL_FLEX deployments (pure).

The inverse of ``core.canonical_flex.flex_infrastructure_from_wire``. ``reconciler.adapters.wire`` calls
these for a canonical deployment with ``infrastructure.computeTarget``; the model and the environment are
built there, as for SINGLE_MODEL. An update sends the whole infrastructure configuration when any of it
changes (one option group, compute): the service's update shape has every part optional, but a partial
resource configuration would leave the request and the limit out of step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oci.data_science import models as ds

from reconciler.core.canonical_flex import CUSTOM, METRIC_TYPES


def _step(step: Mapping[str, Any]) -> ds.ManagedComputeClusterWorkloadScalePolicy:
    return ds.ManagedComputeClusterWorkloadScalePolicy(
        pending_duration=step["pendingDuration"],
        instance_count_adjustment=step["instanceCountAdjustment"],
        cool_down_in_seconds=step["coolDownSeconds"],
    )


def _rule(key: str, rule: Mapping[str, Any]) -> ds.ManagedComputeClusterWorkloadMetricExpressionRule:
    if key.startswith(CUSTOM):
        return ds.TargetCustomMetricExpressionRule(
            scale_configuration=ds.TargetCustomExpressionQueryScalingConfiguration(
                query=rule["query"], threshold=rule["threshold"], metric_namespace=rule.get("namespace")
            )
        )
    return ds.TargetPredefinedMetricExpressionRule(
        metric_type=METRIC_TYPES[key],
        scale_configuration=ds.TargetPredefinedExpressionThresholdScalingConfiguration(
            threshold=rule["threshold"]
        ),
    )


def flex_scaling_policy(infra: Mapping[str, Any]) -> ds.ManagedComputeClusterWorkloadScalingPolicy:
    auto = infra["computeTarget"].get("autoscaling")
    if not auto:
        return ds.ManagedComputeClusterWorkloadFixedSizeScalingPolicy(
            instance_count=infra.get("replicas") or 1
        )
    return ds.ManagedComputeClusterWorkloadAutoScalingPolicy(
        is_enabled=auto["enabled"] is not False,
        auto_scaling_policies=[
            ds.ManagedComputeClusterWorkloadThresholdBasedPolicyDetails(
                rules=[_rule(key, rule) for key, rule in auto["rules"].items()],
                minimum_instance_count=auto["min"],
                maximum_instance_count=auto["max"],
                initial_instance_count=auto["initial"],
                scale_in_policy=_step(auto["scaleIn"]),
                scale_out_policy=_step(auto["scaleOut"]),
            )
        ],
    )


def _resources(target: Mapping[str, Any]) -> ds.ManagedComputeClusterModelDeploymentResourceConfiguration:
    requests, limits = target["requests"], target.get("limits")
    return ds.ManagedComputeClusterModelDeploymentResourceConfiguration(
        resource_request_configuration=ds.ResourceRequestConfiguration(
            ocpus=requests["ocpus"], memory_in_gbs=requests["memoryInGBs"], gpus=requests.get("gpus")
        ),
        resource_limit_configuration=ds.ResourceLimitConfiguration(
            ocpus=limits["ocpus"], memory_in_gbs=limits["memoryInGBs"]
        )
        if limits
        else None,
    )


def flex_create_config(
    infra: Mapping[str, Any], model_id: str, signature_id: str | None, environment: Any
) -> ds.SingleModelDeploymentFlexConfigurationDetails:
    """The create body's ``modelDeploymentConfigurationDetails`` of a deployment on a compute target."""
    target = infra["computeTarget"]
    return ds.SingleModelDeploymentFlexConfigurationDetails(
        model_configuration_details=ds.SingleModelConfigurationDetails(
            model_id=model_id, model_artifact_signature_id=signature_id
        ),
        infrastructure_configuration_details=ds.ManagedComputeClusterModelDeployInfrastructureConfigDetails(
            compute_target_id=target["id"],
            model_deployment_resource_configuration=_resources(target),
            scaling_policy=flex_scaling_policy(infra),
        ),
        environment_configuration_details=environment,
    )


def flex_update_config(
    infra: Mapping[str, Any],
    model: Any,
    infrastructure: bool,
    environment: Any,
) -> ds.UpdateSingleModelDeploymentFlexConfigurationDetails:
    """An update's configuration: ``model`` (an UpdateSingleModelConfigurationDetails, or None), the whole
    infrastructure configuration when ``infrastructure``, the environment when given."""
    config = ds.UpdateSingleModelDeploymentFlexConfigurationDetails(
        model_configuration_details=model, environment_configuration_details=environment
    )
    if infrastructure:
        target = infra["computeTarget"]
        config.infrastructure_configuration_details = (
            ds.UpdateManagedComputeClusterModelDeployInfrastructureConfigDetails(
                compute_target_id=target["id"],
                model_deployment_resource_configuration=_resources(target),
                scaling_policy=flex_scaling_policy(infra),
            )
        )
    return config
