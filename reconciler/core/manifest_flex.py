"""``spec.infrastructure.computeTarget``: a SINGLE_MODEL_FLEX deployment on a managed compute cluster.

A Data Science *compute target* is a cluster the team already runs (its shape, node count and networking
are the cluster's own); a deployment on it asks for a share of it instead of instances of its own: the
OCPUs, memory and GPUs each replica requests (``requests``), how far a replica may burst (``limits``), and
how many replicas run. The service names this ``deploymentType: SINGLE_MODEL_FLEX`` with an
``infrastructureConfigurationDetails`` of type ``MANAGED_COMPUTE_CLUSTER``.

A fixed replica count stays ``infrastructure.replicas``: it is the same thing on both kinds of
infrastructure. Autoscaling lives under ``computeTarget.autoscaling`` because it is a different policy:
each rule keeps the metric near one *target* value (not a scale-in and a scale-out threshold), the
waiting time and step size are per direction, and a workload may scale to zero replicas.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from reconciler.core.manifest_parts import Problem, Strict, _ocid_pattern, has

ComputeTargetId = Annotated[str, StringConstraints(pattern=_ocid_pattern("datasciencecomputetarget"))]
#: the service's range for a workload scale policy's pending duration, in seconds (PT1M to PT30M)
FLEX_PENDING_MIN_SECONDS = 60
FLEX_PENDING_MAX_SECONDS = 1800
FLEX_DEFAULT_PENDING = "PT3M"
FLEX_DEFAULT_COOL_DOWN_SECONDS = 300
MQL_MAX = 4000

#: infrastructure fields that describe instances of the deployment's own; a compute target's cluster has
#: them instead. Each is an error next to ``computeTarget`` (bandwidthMbps: only when not the default 10)
POOL_ONLY_FIELDS = (
    "shape",
    "ocpus",
    "memoryInGBs",
    "cpuBaseline",
    "autoscaling",
    "maximumBandwidthMbps",
    "subnetId",
    "privateEndpointId",
    "networkAccessType",
)
_POOL_ONLY_WHY = {
    "shape": "the compute target's cluster sets the shape",
    "ocpus": "set computeTarget.requests.ocpus (a share of the cluster) instead",
    "memoryInGBs": "set computeTarget.requests.memoryInGBs (a share of the cluster) instead",
    "cpuBaseline": "the compute target's cluster sets the instances",
    "autoscaling": "a workload on a compute target scales with computeTarget.autoscaling (target values)",
    "maximumBandwidthMbps": "a compute target has no load balancer bandwidth of the deployment's own",
    "subnetId": "the compute target's cluster sets the networking",
    "privateEndpointId": "the compute target's cluster sets the networking",
    "networkAccessType": "the compute target's cluster sets the networking",
    "capacityReservationIds": "the compute target's cluster sets its capacity",
    "bandwidthMbps": "a compute target has no load balancer bandwidth of the deployment's own",
}


class Requests(Strict):
    """What each replica is given of the cluster (the service's ``resourceRequestConfiguration``)."""

    ocpus: float = Field(gt=0, le=512, description="OCPUs each replica is given")
    memoryInGBs: float = Field(gt=0, le=4096, description="Memory (GB) each replica is given")
    gpus: int | None = Field(None, ge=0, le=64, description="GPUs each replica is given. Default: none")


class Limits(Strict):
    """How far a replica may burst above its requests (``resourceLimitConfiguration``)."""

    ocpus: float = Field(gt=0, le=512, description="Burstable OCPU limit; at least requests.ocpus")
    memoryInGBs: float = Field(
        gt=0, le=4096, description="Burstable memory limit; at least requests.memoryInGBs"
    )


def _rule_problems(v: Mapping[str, Any]) -> list[Problem]:
    metric = v.get("metric")
    if metric is None:
        return []
    if metric == "CUSTOM":
        return [] if v.get("query") is not None else [Problem(("query",), "a CUSTOM rule needs an MQL query")]
    problems = [
        Problem(
            (name,), f"a {metric} rule keeps a predefined metric near its threshold; {name} is for CUSTOM"
        )
        for name in ("query", "namespace")
        if v.get(name) is not None
    ]
    threshold = v.get("threshold")
    if isinstance(threshold, int | float) and not 0 < threshold <= 100:
        problems.append(Problem(("threshold",), f"a {metric} threshold is a percentage (1-100)", threshold))
    return problems


class FlexRule(Strict):
    """One metric the workload is scaled on, kept near ``threshold``."""

    metric: Literal["CPU", "MEMORY", "CUSTOM"] = Field(
        description="CPU or MEMORY utilisation (percent), or CUSTOM (an MQL query's value)"
    )
    threshold: float = Field(description="The value at which the workload is scaled")
    query: Annotated[str, StringConstraints(min_length=1, max_length=MQL_MAX)] | None = Field(
        None, description="Monitoring Query Language expression (CUSTOM rules)"
    )
    namespace: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = Field(
        None, description="Metric namespace of a CUSTOM rule's query. Default: the service's namespace"
    )

    cross_checks = (_rule_problems,)


class FlexStep(Strict):
    """How one direction of scaling behaves: after how long, by how many replicas, then how long to wait."""

    pendingDuration: str = Field(
        FLEX_DEFAULT_PENDING, description="ISO 8601, PT1M to PT30M: how long the condition must hold"
    )
    instanceCountAdjustment: int = Field(1, ge=1, le=100, description="Replicas added or removed per step")
    coolDownSeconds: int = Field(
        FLEX_DEFAULT_COOL_DOWN_SECONDS, ge=0, le=3600, description="Quiet time after a step (anti-flapping)"
    )

    @field_validator("pendingDuration")
    @classmethod
    def _duration(cls, value: str) -> str:
        from reconciler.core.manifest_infra import duration_seconds  # manifest_infra imports this module

        seconds = duration_seconds(value)
        if seconds is None:
            raise ValueError(f"{value!r} is not an ISO 8601 duration such as PT3M")
        if not FLEX_PENDING_MIN_SECONDS <= seconds <= FLEX_PENDING_MAX_SECONDS:
            raise ValueError(f"pendingDuration {value} is outside PT1M-PT30M")
        return value


def _autoscaling_problems(v: Mapping[str, Any]) -> list[Problem]:
    problems = []
    if has(v, "min", "max") and v["min"] > v["max"]:
        problems.append(Problem(("min",), f"min ({v['min']}) must be <= max ({v['max']})", v["min"]))
    elif (
        has(v, "min", "max", "initial")
        and v["initial"] is not None
        and not v["min"] <= v["initial"] <= v["max"]
    ):
        problems.append(
            Problem(
                ("initial",),
                f"initial ({v['initial']}) must be between min ({v['min']}) and max ({v['max']})",
                v["initial"],
            )
        )
    seen: set[str] = set()
    for index, rule in enumerate(v.get("rules") or []):
        metric = rule.get("metric") if isinstance(rule, dict) else getattr(rule, "metric", None)
        if metric in seen and metric != "CUSTOM":
            problems.append(Problem(("rules", index, "metric"), f"two rules on {metric}; keep one", metric))
        seen.add(str(metric))
    return problems


class FlexAutoscaling(Strict):
    """The workload's autoscaling policy on the cluster (``ManagedComputeClusterWorkloadAutoScalingPolicy``)."""

    min: int = Field(ge=0, le=100, description="Fewest replicas; 0 scales the workload to zero")
    max: int = Field(ge=1, le=100, description="Most replicas")
    initial: int | None = Field(None, ge=0, le=100, description="Replicas at start. Default: max(min, 1)")
    enabled: bool | None = Field(None, description="false keeps the policy but stops scaling. Default: true")
    rules: list[FlexRule] = Field(min_length=1, max_length=10, description="The metrics scaled on")
    scaleIn: FlexStep = Field(default_factory=FlexStep, description="How replicas are removed")
    scaleOut: FlexStep = Field(default_factory=FlexStep, description="How replicas are added")

    cross_checks = (_autoscaling_problems,)


def _target_problems(v: Mapping[str, Any]) -> list[Problem]:
    """Limits are a ceiling over the requests."""
    if not has(v, "requests", "limits") or v["limits"] is None:
        return []
    requests, limits = v["requests"], v["limits"]
    problems = []
    for name in ("ocpus", "memoryInGBs"):
        low = requests.get(name) if isinstance(requests, dict) else getattr(requests, name, None)
        high = limits.get(name) if isinstance(limits, dict) else getattr(limits, name, None)
        if isinstance(low, int | float) and isinstance(high, int | float) and high < low:
            problems.append(
                Problem(
                    ("limits", name), f"limits.{name} ({high:g}) must be >= requests.{name} ({low:g})", high
                )
            )
    return problems


class ComputeTarget(Strict):
    """A managed compute cluster to run on (SINGLE_MODEL_FLEX): which one, and each replica's share of it."""

    id: ComputeTargetId = Field(
        description="The Data Science compute target (ocid1.datasciencecomputetarget...)"
    )
    requests: Requests = Field(description="OCPUs, memory and GPUs each replica is given")
    limits: Limits | None = Field(
        None, description="Burstable limits per replica. Default: none (no bursting)"
    )
    autoscaling: FlexAutoscaling | None = Field(
        None, description="Scale the workload on metrics; instead of infrastructure.replicas"
    )

    cross_checks = (_target_problems,)


def compute_target_problems(v: Mapping[str, Any]) -> list[Problem]:
    """``infrastructure`` with a compute target: the fields of instances of its own do not apply; without
    one a shape is required."""
    target = v.get("computeTarget")
    if target is None:
        if has(v, "shape") and v["shape"] is None:
            return [
                Problem(
                    ("shape",),
                    "shape is a required field: set shape (instances of the deployment's own) or "
                    "computeTarget (a managed compute cluster)",
                )
            ]
        return []
    problems = [
        Problem((name,), f"{name} does not apply with a computeTarget: {_POOL_ONLY_WHY[name]}", v[name])
        for name in POOL_ONLY_FIELDS
        if v.get(name) is not None
    ]
    if v.get("capacityReservationIds"):
        problems.append(
            Problem(
                ("capacityReservationIds",),
                f"capacityReservationIds does not apply with a computeTarget: {_POOL_ONLY_WHY['capacityReservationIds']}",
            )
        )
    if v.get("bandwidthMbps") not in (None, 10):
        problems.append(
            Problem(
                ("bandwidthMbps",),
                f"bandwidthMbps does not apply with a computeTarget: {_POOL_ONLY_WHY['bandwidthMbps']}",
                v["bandwidthMbps"],
            )
        )
    auto = target.get("autoscaling") if isinstance(target, dict) else getattr(target, "autoscaling", None)
    if auto is not None and v.get("replicas") is not None:
        problems.append(
            Problem(
                ("replicas",), "set either replicas or computeTarget.autoscaling, not both", v["replicas"]
            )
        )
    return problems


def flex_group_problems(v: Mapping[str, Any]) -> list[Problem]:
    """``spec``: a model group deploys on instances of its own (MODEL_GROUP takes INSTANCE_POOL only)."""
    infra = v.get("infrastructure")
    target = infra.get("computeTarget") if isinstance(infra, dict) else getattr(infra, "computeTarget", None)
    if target is None or v.get("modelGroup") is None:
        return []
    return [
        Problem(
            ("infrastructure", "computeTarget"),
            "a modelGroup runs on instances of its own (the service's MODEL_GROUP deployments take no compute "
            "target); set shape instead, or serve one model",
        )
    ]
