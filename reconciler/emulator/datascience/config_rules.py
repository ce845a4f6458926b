"""What the service checks inside a SINGLE_MODEL configuration, field by field (reference §2.3).

Enums (cpuBaseline, networkAccessType, metric types, HTTP methods, predictApiSpecification), ranges (pending
durations PT3M-PT1H, cool-down of at least 300 s, instance counts), and which fields go together (custom
networking needs a subnet; a burstable baseline needs a Flex shape; a predefined rule has thresholds, a
custom one MQL queries; the image is an OCIR path or a service-managed ``dsmc://`` one).
"""

from __future__ import annotations

import re
from typing import Any

from reconciler.emulator.core.errors import invalid, missing

CPU_BASELINES = ("BASELINE_1_8", "BASELINE_1_2", "BASELINE_1_1")
NETWORK_ACCESS_TYPES = (
    "MANAGED_NETWORKING_NO_INTERNET_ACCESS",
    "MANAGED_NETWORKING_INTERNET_ACCESS",
    "CUSTOM_NETWORKING",
)
METRIC_TYPES = ("CPU_UTILIZATION", "MEMORY_UTILIZATION")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
PREDICT_API_SPECIFICATIONS = ("openai",)
MIN_COOL_DOWN_SECONDS = 300
PENDING_RANGE = (180, 3600)
IMAGE_RE = re.compile(
    r"(?:[a-z0-9-]+\.ocir\.io/[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)+|dsmc://[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*)"
    r"(?::[A-Za-z0-9._-]+)?(?:@sha256:[a-f0-9]{64})?"
)
_DURATION_RE = re.compile(r"PT(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?")


def _one_of(value: Any, allowed: tuple[str, ...], name: str) -> None:
    if value is not None and value not in allowed:
        raise invalid(f"{name} {value!r} is not one of {', '.join(allowed)}")


def check_instance(instance: dict[str, Any]) -> None:
    """Networking, burstable baseline and capacity reservations of an ``instanceConfiguration``."""
    access = instance.get("networkAccessType")
    _one_of(access, NETWORK_ACCESS_TYPES, "networkAccessType")
    if access == "CUSTOM_NETWORKING" and not instance.get("subnetId"):
        raise invalid("networkAccessType CUSTOM_NETWORKING needs a subnetId")
    if access is not None and access != "CUSTOM_NETWORKING" and instance.get("subnetId"):
        raise invalid(f"networkAccessType {access} is managed networking; a subnetId is custom networking")
    config = instance.get("modelDeploymentInstanceShapeConfigDetails") or {}
    baseline = config.get("cpuBaseline") if isinstance(config, dict) else None
    _one_of(baseline, CPU_BASELINES, "cpuBaseline")
    if baseline is not None and not str(instance.get("instanceShapeName")).endswith(".Flex"):
        raise invalid("cpuBaseline (burstable instances) needs a Flex shape")
    reservations = instance.get("capacityReservationIds")
    if reservations is not None:
        if not isinstance(reservations, list) or not all(
            isinstance(r, str) and r.startswith("ocid1.capacityreservation.") for r in reservations
        ):
            raise invalid("capacityReservationIds must be capacity reservation OCIDs")
        if len(set(reservations)) != len(reservations):
            raise invalid("capacityReservationIds lists a reservation twice")


def _seconds(duration: Any) -> int | None:
    match = _DURATION_RE.fullmatch(duration) if isinstance(duration, str) else None
    if match is None:
        return None
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def _check_step(step: Any, kind: str, where: str) -> None:
    if not isinstance(step, dict):
        raise missing(where)
    if step.get("scalingConfigurationType") not in (None, kind):
        raise invalid(f"{where}.scalingConfigurationType must be {kind}")
    pending = step.get("pendingDuration")
    if pending is not None:
        seconds = _seconds(pending)
        if seconds is None or not PENDING_RANGE[0] <= seconds <= PENDING_RANGE[1]:
            raise invalid(
                f"{where}.pendingDuration {pending!r} must be an ISO 8601 duration from PT3M to PT1H"
            )
    adjustment = step.get("instanceCountAdjustment")
    if adjustment is not None and (not isinstance(adjustment, int) or adjustment < 1):
        raise invalid(f"{where}.instanceCountAdjustment must be a positive integer")
    if kind == "QUERY" and not step.get("query"):
        raise missing(f"{where}.query")
    if kind == "THRESHOLD":
        threshold = step.get("threshold")
        if not isinstance(threshold, int) or not 0 < threshold <= 100:
            raise invalid(f"{where}.threshold must be a percentage (1-100)")


def _check_rule(rule: Any, where: str) -> None:
    if not isinstance(rule, dict):
        raise invalid(f"{where} must be an object")
    kind = rule.get("metricExpressionRuleType")
    if kind == "PREDEFINED_EXPRESSION":
        if rule.get("metricType") not in METRIC_TYPES:
            raise invalid(f"{where}.metricType must be one of {', '.join(METRIC_TYPES)}")
        _check_step(rule.get("scaleInConfiguration"), "THRESHOLD", f"{where}.scaleInConfiguration")
        _check_step(rule.get("scaleOutConfiguration"), "THRESHOLD", f"{where}.scaleOutConfiguration")
        if rule["scaleInConfiguration"]["threshold"] >= rule["scaleOutConfiguration"]["threshold"]:
            raise invalid(f"{where}: the scale-in threshold must be below the scale-out threshold")
    elif kind == "CUSTOM_EXPRESSION":
        _check_step(rule.get("scaleInConfiguration"), "QUERY", f"{where}.scaleInConfiguration")
        _check_step(rule.get("scaleOutConfiguration"), "QUERY", f"{where}.scaleOutConfiguration")
    else:
        raise invalid(
            f"{where}.metricExpressionRuleType {kind!r} is not PREDEFINED_EXPRESSION or CUSTOM_EXPRESSION"
        )


def autoscaling(policy: Any) -> bool:
    """True for an AUTOSCALING policy (for the caller to check); None or a valid FIXED_SIZE count is False.
    Both deployment kinds' scaling policies (instance pools, compute targets) start this way."""
    if policy is None:
        return False
    if not isinstance(policy, dict):
        raise invalid("scalingPolicy must be an object")
    kind = policy.get("policyType")
    if kind == "FIXED_SIZE":
        count = policy.get("instanceCount")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise invalid("scalingPolicy.instanceCount must be at least 1")
        return False
    if kind != "AUTOSCALING":
        raise invalid(f"scalingPolicy.policyType {kind!r} is not FIXED_SIZE or AUTOSCALING")
    return True


def check_scaling(policy: Any) -> None:
    """A FIXED_SIZE count, or an AUTOSCALING policy: one THRESHOLD policy, its counts and rules."""
    if not autoscaling(policy):
        return
    cool_down = policy.get("coolDownInSeconds")
    if cool_down is not None and (not isinstance(cool_down, int) or cool_down < MIN_COOL_DOWN_SECONDS):
        raise invalid(f"scalingPolicy.coolDownInSeconds must be at least {MIN_COOL_DOWN_SECONDS}")
    policies = policy.get("autoScalingPolicies")
    if not isinstance(policies, list) or len(policies) != 1:
        raise invalid("scalingPolicy.autoScalingPolicies must hold exactly one THRESHOLD policy")
    details = policies[0]
    if not isinstance(details, dict) or details.get("autoScalingPolicyType") != "THRESHOLD":
        raise invalid("autoScalingPolicies[0].autoScalingPolicyType must be THRESHOLD")
    counts = [
        details.get(k) for k in ("minimumInstanceCount", "initialInstanceCount", "maximumInstanceCount")
    ]
    numbers = [v for v in counts if isinstance(v, int) and not isinstance(v, bool) and v >= 1]
    if len(numbers) != len(counts):
        raise missing(
            "autoScalingPolicies[0] minimumInstanceCount, maximumInstanceCount and initialInstanceCount"
        )
    if numbers != sorted(numbers):
        raise invalid(
            "autoScalingPolicies[0]: need minimumInstanceCount <= initialInstanceCount <= maximumInstanceCount"
        )
    rules = details.get("rules")
    if not isinstance(rules, list) or not rules:
        raise missing("autoScalingPolicies[0].rules")
    metrics = [r.get("metricType") for r in rules if isinstance(r, dict) and r.get("metricType")]
    if len(metrics) != len(set(metrics)):
        raise invalid("autoScalingPolicies[0].rules has two rules on one metric")
    for index, rule in enumerate(rules):
        _check_rule(rule, f"autoScalingPolicies[0].rules[{index}]")


def check_container(environment: dict[str, Any]) -> None:
    """The image reference, the predict API specification and the custom HTTP endpoints of a BYOC runtime."""
    image = environment.get("image")
    if not isinstance(image, str) or not IMAGE_RE.fullmatch(image):
        raise invalid(
            f"image {image!r} must be <region>.ocir.io/<namespace>/<repository>[:tag][@sha256:digest] or "
            "dsmc://<name>[:tag]"
        )
    if "defaultEnvironmentVariables" in environment:
        raise invalid("defaultEnvironmentVariables are set by the service and cannot be given")
    _one_of(environment.get("predictApiSpecification"), PREDICT_API_SPECIFICATIONS, "predictApiSpecification")
    endpoints = environment.get("customHttpEndpoints")
    if endpoints is None:
        return
    if not isinstance(endpoints, list):
        raise invalid("customHttpEndpoints must be a list")
    suffixes = []
    for index, endpoint in enumerate(endpoints):
        where = f"customHttpEndpoints[{index}]"
        if not isinstance(endpoint, dict) or not endpoint.get("endpointUriSuffix"):
            raise missing(f"{where}.endpointUriSuffix")
        methods = endpoint.get("httpMethods")
        if not isinstance(methods, list) or not methods:
            raise missing(f"{where}.httpMethods")
        for method in methods:
            _one_of(method, HTTP_METHODS, f"{where}.httpMethods")
        suffixes.append(endpoint["endpointUriSuffix"])
    if len(set(suffixes)) != len(suffixes):
        raise invalid("customHttpEndpoints lists an endpointUriSuffix twice")
