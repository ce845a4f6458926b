"""The ``infrastructure`` part of a manifest: shape, scaling (fixed or autoscaling), bandwidth, networking.

Autoscaling has two forms. The short one is one predefined rule (``metric``, ``scaleInThreshold``,
``scaleOutThreshold``) with mdr's fixed pending durations (PT5M to scale in, PT3M to scale out) and steps of
one instance, as every manifest written before ``rules`` existed. ``rules`` is the whole policy the service
takes: several rules, predefined (CPU, MEMORY) or custom (MQL queries), each with its own pending durations
and instance count adjustments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from reconciler.core.manifest_flex import ComputeTarget, compute_target_problems
from reconciler.core.manifest_parts import (
    FLEX_LIMITS,
    FLEX_MAX_MEMORY_PER_OCPU,
    PrivateEndpointId,
    Problem,
    Strict,
    SubnetId,
    _ocid_pattern,
    has,
)

CapacityReservationId = Annotated[str, StringConstraints(pattern=_ocid_pattern("capacityreservation"))]

#: the pending durations the short form always used (and that rules default to)
SCALE_IN_PENDING = "PT5M"
SCALE_OUT_PENDING = "PT3M"
#: the short form's thresholds when not written
SCALE_IN_THRESHOLD = 20
SCALE_OUT_THRESHOLD = 80
#: the service's range for a rule's pending duration, in seconds (PT3M to PT1H)
PENDING_MIN_SECONDS = 180
PENDING_MAX_SECONDS = 3600
MQL_MAX = 4000
CPU_BASELINES = ("BASELINE_1_8", "BASELINE_1_2", "BASELINE_1_1")
NETWORK_ACCESS_TYPES = (
    "MANAGED_NETWORKING_NO_INTERNET_ACCESS",
    "MANAGED_NETWORKING_INTERNET_ACCESS",
    "CUSTOM_NETWORKING",
)

_DURATION_RE = re.compile(r"PT(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?")


def duration_seconds(text: str) -> int | None:
    """Seconds of an ISO 8601 duration of hours, minutes and seconds (``PT5M``, ``PT1H``); None if not one."""
    match = _DURATION_RE.fullmatch(text)
    if match is None:
        return None
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def normal_duration(text: str | None, default: str) -> str:
    """One spelling per duration (``PT60M`` and ``PT1H`` are the same wait), so that a service that
    rewrites a duration does not show as drift; a value that is not a duration is kept as it is."""
    seconds = duration_seconds(text or default)
    if seconds is None:
        return str(text)
    if seconds % 3600 == 0:
        return f"PT{seconds // 3600}H"
    if seconds % 60 == 0:
        return f"PT{seconds // 60}M"
    return f"PT{seconds}S"


# --- autoscaling rules ------------------------------------------------------------------------------


class ScalingStep(Strict):
    """One direction of a rule: when to scale (a threshold or an MQL query), after how long, by how many."""

    threshold: int | None = Field(
        None, ge=1, le=100, description="Percent utilisation (CPU and MEMORY rules)"
    )
    query: Annotated[str, StringConstraints(min_length=1, max_length=MQL_MAX)] | None = Field(
        None, description="Monitoring Query Language expression (CUSTOM rules)"
    )
    pendingDuration: str | None = Field(
        None,
        description="ISO 8601, PT3M to PT1H: how long the condition must hold. Default: PT5M to scale in, "
        "PT3M to scale out",
    )
    instanceCountAdjustment: int = Field(1, ge=1, le=100, description="Instances added or removed per step")

    @field_validator("pendingDuration")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is None:
            return value
        seconds = duration_seconds(value)
        if seconds is None:
            raise ValueError(f"{value!r} is not an ISO 8601 duration such as PT5M or PT1H")
        if not PENDING_MIN_SECONDS <= seconds <= PENDING_MAX_SECONDS:
            raise ValueError(f"pendingDuration {value} is outside PT3M-PT1H")
        return value


def _step_problems(name: str, metric: str, step: ScalingStep) -> list[Problem]:
    if metric == "CUSTOM":
        if step.query is None:
            return [Problem((name, "query"), "a CUSTOM rule scales on an MQL query: set query")]
        if step.threshold is not None:
            return [
                Problem((name, "threshold"), "a CUSTOM rule has a query, not a threshold", step.threshold)
            ]
        return []
    if step.threshold is None:
        return [Problem((name, "threshold"), f"a {metric} rule needs a threshold")]
    if step.query is not None:
        return [Problem((name, "query"), f"a {metric} rule has a threshold, not a query")]
    return []


def _rule_problems(v: Mapping[str, Any]) -> list[Problem]:
    if not has(v, "metric"):
        return []
    problems = [
        problem
        for name in ("scaleIn", "scaleOut")
        if has(v, name) and isinstance(v[name], ScalingStep)
        for problem in _step_problems(name, v["metric"], v[name])
    ]
    if problems or v["metric"] == "CUSTOM" or not has(v, "scaleIn", "scaleOut"):
        return problems
    low, high = v["scaleIn"].threshold, v["scaleOut"].threshold
    if isinstance(low, int) and isinstance(high, int) and low >= high:
        problems.append(
            Problem(
                ("scaleIn", "threshold"), f"scaleIn threshold ({low}) must be below scaleOut ({high})", low
            )
        )
    return problems


class ScalingRule(Strict):
    """A rule of the policy: a predefined metric (CPU, MEMORY) with thresholds, or CUSTOM with MQL queries."""

    metric: Literal["CPU", "MEMORY", "CUSTOM"] = Field(
        description="CPU or MEMORY utilisation (thresholds), or CUSTOM (MQL queries)"
    )
    scaleIn: ScalingStep = Field(description="When and by how much to remove instances")
    scaleOut: ScalingStep = Field(description="When and by how much to add instances")

    cross_checks = (_rule_problems,)


# --- infrastructure -------------------------------------------------------------------------------------


def _rules_problems(v: Mapping[str, Any]) -> list[Problem]:
    """``rules`` replace the short form's keys; at most one rule per predefined metric."""
    problems = [
        Problem((key,), f"set either rules or {key}, not both (rules replace it)", v.get(key))
        for key in ("metric", "scaleInThreshold", "scaleOutThreshold")
        if v.get(key) is not None
    ]
    seen: set[str] = set()
    for index, rule in enumerate(v["rules"]):
        metric = getattr(rule, "metric", None)
        if metric in seen and metric != "CUSTOM":
            problems.append(Problem(("rules", index, "metric"), f"two rules on {metric}; keep one", metric))
        seen.add(str(metric))
    return problems


def _autoscaling_problems(v: Mapping[str, Any]) -> list[Problem]:
    problems = []
    if has(v, "min", "max") and v["min"] > v["max"]:
        problems.append(Problem(("min",), f"min ({v['min']}) must be <= max ({v['max']})", v["min"]))
    elif has(v, "min", "max", "initial"):
        initial = v["initial"] if v["initial"] is not None else v["min"]
        if not v["min"] <= initial <= v["max"]:
            problems.append(
                Problem(
                    ("initial",),
                    f"initial ({initial}) must be between min ({v['min']}) and max ({v['max']})",
                    initial,
                )
            )
    if has(v, "rules") and v["rules"] is not None:
        problems.extend(_rules_problems(v))
    elif has(v, "scaleInThreshold", "scaleOutThreshold"):
        low = v["scaleInThreshold"] if v["scaleInThreshold"] is not None else SCALE_IN_THRESHOLD
        high = v["scaleOutThreshold"] if v["scaleOutThreshold"] is not None else SCALE_OUT_THRESHOLD
        if low >= high:
            problems.append(
                Problem(
                    ("scaleInThreshold",),
                    f"scaleInThreshold ({low}) must be below scaleOutThreshold ({high})",
                    low,
                )
            )
    return problems


class Autoscaling(Strict):
    """Threshold autoscaling (the service's AUTOSCALING policy): one predefined rule, or ``rules``."""

    min: int = Field(ge=1, le=100)
    max: int = Field(ge=1, le=100)
    initial: int | None = Field(None, ge=1, le=100, description="Default: min")
    metric: Literal["CPU", "MEMORY"] | None = Field(None, description="Default: CPU (not with rules)")
    scaleInThreshold: int | None = Field(
        None,
        ge=1,
        le=99,
        description="Percent utilisation below which to scale in. Default: 20 (not with rules)",
    )
    scaleOutThreshold: int | None = Field(
        None, ge=2, le=100, description="Percent above which to scale out. Default: 80 (not with rules)"
    )
    coolDownSeconds: int = Field(300, ge=300, le=3600)
    enabled: bool | None = Field(None, description="false keeps the policy but stops scaling. Default: true")
    rules: list[ScalingRule] | None = Field(
        None,
        min_length=1,
        max_length=10,
        description="Several rules, custom (MQL) rules, pending durations or step sizes; replaces metric, "
        "scaleInThreshold and scaleOutThreshold",
    )

    cross_checks = (_autoscaling_problems,)


def _scaling_problems(v: Mapping[str, Any]) -> list[Problem]:
    problems = []
    if has(v, "replicas", "autoscaling") and v["replicas"] is not None and v["autoscaling"] is not None:
        problems.append(Problem(("autoscaling",), "set either replicas or autoscaling, not both"))
    if has(v, "maximumBandwidthMbps", "bandwidthMbps"):
        top, floor = v["maximumBandwidthMbps"], v["bandwidthMbps"]
        if top is not None and top < floor:
            problems.append(
                Problem(
                    ("maximumBandwidthMbps",),
                    f"maximumBandwidthMbps ({top}) must be >= bandwidthMbps ({floor})",
                    top,
                )
            )
    return problems


def _shape_problems(v: Mapping[str, Any]) -> list[Problem]:
    """ocpus and memory against the shape: only Flex shapes take them, within the family's ranges."""
    if not has(v, "shape") or v["shape"] is None or v.get("computeTarget") is not None:
        return []  # with a compute target, a shape is wrong in itself (manifest_flex says so)
    shape = v["shape"]
    sizes = ("ocpus", "memoryInGBs")
    if not shape.endswith(".Flex"):
        return [
            Problem((name,), f"{name} is only valid for Flex shapes, not {shape}")
            for name in sizes
            if v.get(name) is not None
        ]
    problems = [
        Problem((name,), f"Flex shape {shape} needs {name}")
        for name in sizes
        if has(v, name) and v[name] is None
    ]
    ocpus: float | None = v.get("ocpus")
    memory: float | None = v.get("memoryInGBs")
    low_cpu, high_cpu, low_mem, high_mem = FLEX_LIMITS.get(shape, (1, 64, 1, 1024))
    cpu_ok = ocpus is not None and low_cpu <= ocpus <= high_cpu
    mem_ok = memory is not None and low_mem <= memory <= high_mem
    if ocpus is not None and not cpu_ok:
        problems.append(Problem(("ocpus",), f"{shape} supports {low_cpu:g}-{high_cpu:g} ocpus", ocpus))
    if memory is not None and not mem_ok:
        problems.append(
            Problem(("memoryInGBs",), f"{shape} supports {low_mem:g}-{high_mem:g} GB of memory", memory)
        )
    if (
        ocpus is not None
        and memory is not None
        and cpu_ok
        and mem_ok
        and memory / ocpus > FLEX_MAX_MEMORY_PER_OCPU
    ):
        problems.append(
            Problem(
                ("memoryInGBs",),
                f"at most {FLEX_MAX_MEMORY_PER_OCPU:g} GB per ocpu on Flex shapes "
                f"({memory:g} GB for {ocpus:g} ocpus)",
                memory,
            )
        )
    return problems


def _network_problems(v: Mapping[str, Any]) -> list[Problem]:
    """networkAccessType against subnetId, cpuBaseline on Flex shapes only, no reservation twice."""
    problems = []
    if has(v, "networkAccessType", "subnetId") and v["networkAccessType"] is not None:
        custom = v["networkAccessType"] == "CUSTOM_NETWORKING"
        if custom and v["subnetId"] is None:
            problems.append(Problem(("networkAccessType",), "CUSTOM_NETWORKING needs a subnetId"))
        if not custom and v["subnetId"] is not None:
            problems.append(
                Problem(
                    ("networkAccessType",),
                    f"{v['networkAccessType']} is the service-managed network; a subnetId is custom networking",
                )
            )
    if (
        has(v, "cpuBaseline", "shape")
        and v["cpuBaseline"] is not None
        and v["shape"] is not None
        and not v["shape"].endswith(".Flex")
    ):
        problems.append(Problem(("cpuBaseline",), f"cpuBaseline needs a Flex shape, not {v['shape']}"))
    if has(v, "capacityReservationIds"):
        ids = v["capacityReservationIds"]
        problems.extend(
            Problem(("capacityReservationIds", i), f"{item} is listed twice", item)
            for i, item in enumerate(ids)
            if item in ids[:i]
        )
    return problems


class Infrastructure(Strict):
    shape: Annotated[str, StringConstraints(pattern=r"^(VM|BM)\.[A-Za-z0-9.]+$")] | None = Field(
        None, description="The instances' shape; required unless computeTarget"
    )
    computeTarget: ComputeTarget | None = Field(
        None,
        description="Run on a managed compute cluster (SINGLE_MODEL_FLEX) instead of instances of its own; "
        "see docs/flex.md",
    )
    ocpus: float | None = Field(None, gt=0, description="Flex shapes only")
    memoryInGBs: float | None = Field(None, gt=0, description="Flex shapes only")
    replicas: int | None = Field(None, ge=1, le=100, description="Fixed instance count (default 1)")
    autoscaling: Autoscaling | None = None
    bandwidthMbps: int = Field(10, ge=10, le=8000, description="Minimum load balancer bandwidth")
    maximumBandwidthMbps: int | None = Field(None, ge=10, le=8000)
    subnetId: SubnetId | None = Field(None, description="Custom networking; default is service-managed")
    privateEndpointId: PrivateEndpointId | None = None
    networkAccessType: (
        Literal[
            "MANAGED_NETWORKING_NO_INTERNET_ACCESS", "MANAGED_NETWORKING_INTERNET_ACCESS", "CUSTOM_NETWORKING"
        ]
        | None
    ) = Field(
        None,
        description="Default: CUSTOM_NETWORKING with a subnetId, else MANAGED_NETWORKING_INTERNET_ACCESS "
        "(the service-managed network, with internet access)",
    )
    cpuBaseline: Literal["BASELINE_1_8", "BASELINE_1_2", "BASELINE_1_1"] | None = Field(
        None,
        description="Burstable Flex instances: the baseline share of each OCPU. Default: BASELINE_1_1 "
        "(not burstable)",
    )
    capacityReservationIds: list[CapacityReservationId] = Field(
        default_factory=list, max_length=10, description="Customer-managed capacity reservations to launch in"
    )

    cross_checks = (_scaling_problems, _shape_problems, _network_problems, compute_target_problems)

    @property
    def instance_count(self) -> int:
        """The fixed instance count, or the autoscaling initial count."""
        flex = self.computeTarget.autoscaling if self.computeTarget else None
        if flex is not None:
            return flex.initial if flex.initial is not None else max(flex.min, 1)
        if self.autoscaling is not None:
            return self.autoscaling.initial or self.autoscaling.min
        return self.replicas or 1
