"""What the service checks inside a SINGLE_MODEL_FLEX configuration (reference §2.4, SDK
``SingleModelDeploymentFlexConfigurationDetails``), and how an update's infrastructure part is merged.

``modelConfigurationDetails {modelId}`` and ``infrastructureConfigurationDetails`` of type
``MANAGED_COMPUTE_CLUSTER``: a ``computeTargetId``, each replica's ``resourceRequestConfiguration`` (OCPUs
and memory required, GPUs optional) and optional ``resourceLimitConfiguration`` (not below the requests),
and a workload scaling policy: ``FIXED_SIZE`` (an instance count) or ``AUTOSCALING`` (one THRESHOLD policy
whose rules keep a metric near a target: ``TARGET_PREDEFINED_EXPRESSION`` on CPU or memory utilisation, or
``TARGET_CUSTOM_EXPRESSION`` with an MQL query; scale-in and scale-out policies with a pending duration of
PT1M-PT30M). The compute target's existence is checked with state (``compute_targets.fits``).
"""

from __future__ import annotations

import re
from typing import Any

from reconciler.emulator.core.errors import invalid, missing
from reconciler.emulator.datascience.config_rules import autoscaling

FLEX = "SINGLE_MODEL_FLEX"
METRIC_TYPES = ("CPU_UTILIZATION", "MEMORY_UTILIZATION")
PENDING_RANGE = (60, 1800)
TARGET_ID_RE = re.compile(r"ocid1\.datasciencecomputetarget\.[a-z0-9-]*\.[a-z0-9-]*\.[a-z0-9]+")
_DURATION_RE = re.compile(r"PT(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?")


def is_flex(config: Any) -> bool:
    return isinstance(config, dict) and config.get("deploymentType") == FLEX


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_resources(resources: Any) -> None:
    if not isinstance(resources, dict):
        raise missing("infrastructureConfigurationDetails.modelDeploymentResourceConfiguration")
    requests = resources.get("resourceRequestConfiguration")
    if not isinstance(requests, dict):
        raise missing("modelDeploymentResourceConfiguration.resourceRequestConfiguration")
    for name in ("ocpus", "memoryInGBs"):
        if not _number(requests.get(name)) or requests[name] <= 0:
            raise missing(f"resourceRequestConfiguration.{name} (a positive number)")
    gpus = requests.get("gpus")
    if gpus is not None and (not isinstance(gpus, int) or isinstance(gpus, bool) or gpus < 0):
        raise invalid("resourceRequestConfiguration.gpus must be a whole number, 0 or more")
    limits = resources.get("resourceLimitConfiguration")
    if limits is None:
        return
    for name in ("ocpus", "memoryInGBs"):
        value = limits.get(name) if isinstance(limits, dict) else None
        if not _number(value):
            raise missing(f"resourceLimitConfiguration.{name}")
        if value < requests[name]:
            raise invalid(
                f"resourceLimitConfiguration.{name} ({value}) is below the request ({requests[name]})"
            )


def _check_step(step: Any, where: str) -> None:
    if step is None:
        return
    if not isinstance(step, dict):
        raise invalid(f"{where} must be an object")
    pending = step.get("pendingDuration")
    if pending is not None:
        match = _DURATION_RE.fullmatch(pending) if isinstance(pending, str) else None
        hours, minutes, seconds = (int(p or 0) for p in match.groups()) if match else (0, 0, -1)
        total = hours * 3600 + minutes * 60 + seconds
        if match is None or not PENDING_RANGE[0] <= total <= PENDING_RANGE[1]:
            raise invalid(
                f"{where}.pendingDuration {pending!r} must be an ISO 8601 duration from PT1M to PT30M"
            )
    adjustment = step.get("instanceCountAdjustment")
    if adjustment is not None and (not isinstance(adjustment, int) or adjustment < 1):
        raise invalid(f"{where}.instanceCountAdjustment must be a positive integer")
    cool_down = step.get("coolDownInSeconds")
    if cool_down is not None and (not isinstance(cool_down, int) or cool_down < 0):
        raise invalid(f"{where}.coolDownInSeconds must be 0 or more")


def _check_rule(rule: Any, where: str) -> None:
    if not isinstance(rule, dict):
        raise invalid(f"{where} must be an object")
    kind = rule.get("metricExpressionRuleType")
    config = rule.get("scaleConfiguration")
    if not isinstance(config, dict) or not _number(config.get("threshold")):
        raise missing(f"{where}.scaleConfiguration.threshold")
    if kind == "TARGET_PREDEFINED_EXPRESSION":
        if rule.get("metricType") not in METRIC_TYPES:
            raise invalid(f"{where}.metricType must be one of {', '.join(METRIC_TYPES)}")
        if not 0 < config["threshold"] <= 100:
            raise invalid(f"{where}.scaleConfiguration.threshold must be a percentage (1-100)")
    elif kind == "TARGET_CUSTOM_EXPRESSION":
        if not config.get("query"):
            raise missing(f"{where}.scaleConfiguration.query")
    else:
        raise invalid(
            f"{where}.metricExpressionRuleType {kind!r} is not TARGET_PREDEFINED_EXPRESSION or "
            "TARGET_CUSTOM_EXPRESSION"
        )


def _check_scaling(policy: Any) -> None:
    if not autoscaling(policy):
        return
    policies = policy.get("autoScalingPolicies")
    if not isinstance(policies, list) or len(policies) != 1:
        raise invalid("scalingPolicy.autoScalingPolicies must hold exactly one THRESHOLD policy")
    details = policies[0]
    if not isinstance(details, dict) or details.get("autoScalingPolicyType") != "THRESHOLD":
        raise invalid("autoScalingPolicies[0].autoScalingPolicyType must be THRESHOLD")
    names = ("minimumInstanceCount", "initialInstanceCount", "maximumInstanceCount")
    counts = [
        c for name in names if isinstance(c := details.get(name), int) and not isinstance(c, bool) and c >= 0
    ]
    if len(counts) != len(names):
        raise missing("autoScalingPolicies[0] " + ", ".join(names))
    if counts != sorted(counts) or counts[2] < 1:
        raise invalid(
            "autoScalingPolicies[0]: need minimumInstanceCount <= initialInstanceCount <= maximumInstanceCount, "
            "and a maximum of at least 1"
        )
    rules = details.get("rules")
    if not isinstance(rules, list) or not rules:
        raise missing("autoScalingPolicies[0].rules")
    for index, rule in enumerate(rules):
        _check_rule(rule, f"autoScalingPolicies[0].rules[{index}]")
    for name in ("scaleInPolicy", "scaleOutPolicy"):
        _check_step(details.get(name), f"autoScalingPolicies[0].{name}")


def validate_flex_infrastructure(config: dict[str, Any]) -> None:
    """The infrastructure of a SINGLE_MODEL_FLEX configuration (the model and environment are checked as
    SINGLE_MODEL's are)."""
    infrastructure = config.get("infrastructureConfigurationDetails")
    if not isinstance(infrastructure, dict):
        raise missing("infrastructureConfigurationDetails")
    if infrastructure.get("infrastructureType") != "MANAGED_COMPUTE_CLUSTER":
        raise invalid(
            f"infrastructureType {infrastructure.get('infrastructureType')!r} is not MANAGED_COMPUTE_CLUSTER "
            "(the one type a SINGLE_MODEL_FLEX deployment has)"
        )
    target = infrastructure.get("computeTargetId")
    if not target:
        raise missing("infrastructureConfigurationDetails.computeTargetId")
    if not isinstance(target, str) or not TARGET_ID_RE.fullmatch(target):
        raise invalid(f"computeTargetId {target!r} is not a compute target OCID")
    _check_resources(infrastructure.get("modelDeploymentResourceConfiguration"))
    _check_scaling(infrastructure.get("scalingPolicy"))


def merge_flex_infrastructure(config: dict[str, Any], change: dict[str, Any]) -> None:
    """Apply an update's ``infrastructureConfigurationDetails`` (every part optional) to ``config``."""
    update = change.get("infrastructureConfigurationDetails")
    if update is None:
        return
    if not isinstance(update, dict):
        raise invalid("infrastructureConfigurationDetails must be an object")
    if not is_flex(config):
        raise invalid("infrastructureConfigurationDetails is not part of this deployment's type")
    config["infrastructureConfigurationDetails"] = {
        **config["infrastructureConfigurationDetails"],
        **{k: v for k, v in update.items() if v is not None},
    }
