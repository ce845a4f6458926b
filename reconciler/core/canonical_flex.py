"""The canonical form of a SINGLE_MODEL_FLEX deployment's infrastructure (pure): manifest, wire, manifest.

A deployment on a compute target has no shape, networking or bandwidth of its own, so its canonical
``infrastructure`` holds only ``computeTarget`` (the target, each replica's requests and limits, and the
workload autoscaling policy) and ``replicas``. Every default the service fills in (GPUs none, pending
duration PT3M, steps of one, cool-down 300 s, the policy enabled, initial = max(min, 1)) is filled in on
both sides here, so a manifest that leaves them out and the deployment read back compare equal. Rules are
keyed as SINGLE_MODEL autoscaling rules are (``CPU``, ``MEMORY``, ``CUSTOM-1``...), so a plan names them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.core.manifest_flex import (
    FLEX_DEFAULT_COOL_DOWN_SECONDS,
    FLEX_DEFAULT_PENDING,
    ComputeTarget,
    FlexAutoscaling,
    FlexStep,
)
from reconciler.core.manifest_infra import normal_duration

DEPLOYMENT_TYPE = "SINGLE_MODEL_FLEX"
INFRASTRUCTURE_TYPE = "MANAGED_COMPUTE_CLUSTER"
METRIC_TYPES = {"CPU": "CPU_UTILIZATION", "MEMORY": "MEMORY_UTILIZATION"}
METRICS = {wire: metric for metric, wire in METRIC_TYPES.items()}
CUSTOM = "CUSTOM"


def is_flex(canonical: Mapping[str, Any]) -> bool:
    """A canonical deployment that runs on a compute target."""
    return "computeTarget" in (canonical.get("infrastructure") or {})


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _rule_key(metric: str, customs_before: int) -> str:
    return f"{CUSTOM}-{customs_before + 1}" if metric == CUSTOM else metric


# --- manifest -> canonical ------------------------------------------------------------------------------


def _step(step: FlexStep) -> dict[str, Any]:
    return {
        "pendingDuration": normal_duration(step.pendingDuration, FLEX_DEFAULT_PENDING),
        "instanceCountAdjustment": step.instanceCountAdjustment,
        "coolDownSeconds": step.coolDownSeconds,
    }


def _autoscaling(a: FlexAutoscaling) -> dict[str, Any]:
    rules: dict[str, dict[str, Any]] = {}
    customs = 0
    for rule in a.rules:
        body: dict[str, Any] = {"threshold": float(rule.threshold)}
        if rule.metric == CUSTOM:
            body.update(query=rule.query, namespace=rule.namespace)
        rules[_rule_key(rule.metric, customs)] = body
        customs += rule.metric == CUSTOM
    return {
        "min": a.min,
        "max": a.max,
        "initial": a.initial if a.initial is not None else max(a.min, 1),
        "enabled": a.enabled is not False,
        "rules": rules,
        "scaleIn": _step(a.scaleIn),
        "scaleOut": _step(a.scaleOut),
    }


def flex_infrastructure_from_manifest(target: ComputeTarget, replicas: int | None) -> dict[str, Any]:
    """The canonical ``infrastructure`` of a manifest with ``computeTarget``."""
    auto = _autoscaling(target.autoscaling) if target.autoscaling is not None else None
    limits = target.limits
    return {
        "computeTarget": {
            "id": target.id,
            "requests": {
                "ocpus": float(target.requests.ocpus),
                "memoryInGBs": float(target.requests.memoryInGBs),
                "gpus": target.requests.gpus or None,
            },
            "limits": {"ocpus": float(limits.ocpus), "memoryInGBs": float(limits.memoryInGBs)}
            if limits is not None
            else None,
            "autoscaling": auto,
        },
        "replicas": None if auto else (replicas or 1),
    }


# --- wire -> canonical ----------------------------------------------------------------------------------


def _wire_step(step: Mapping[str, Any] | None) -> dict[str, Any]:
    step = step or {}
    cool_down = step.get("cool_down_in_seconds")
    return {
        "pendingDuration": normal_duration(step.get("pending_duration"), FLEX_DEFAULT_PENDING),
        "instanceCountAdjustment": step.get("instance_count_adjustment") or 1,
        "coolDownSeconds": FLEX_DEFAULT_COOL_DOWN_SECONDS if cool_down is None else cool_down,
    }


def _wire_autoscaling(policy: Mapping[str, Any]) -> dict[str, Any] | None:
    details = (policy.get("auto_scaling_policies") or [None])[0]
    if not details:
        return None
    rules: dict[str, dict[str, Any]] = {}
    customs = 0
    for rule in details.get("rules") or []:
        custom = rule.get("metric_expression_rule_type") == "TARGET_CUSTOM_EXPRESSION"
        config = rule.get("scale_configuration") or {}
        metric = (
            CUSTOM if custom else METRICS.get(rule.get("metric_type") or "", str(rule.get("metric_type")))
        )
        body: dict[str, Any] = {"threshold": _num(config.get("threshold"))}
        if custom:
            body.update(query=config.get("query"), namespace=config.get("metric_namespace"))
        rules[_rule_key(metric, customs)] = body
        customs += custom
    minimum = details.get("minimum_instance_count") or 0
    initial = details.get("initial_instance_count")
    return {
        "min": minimum,
        "max": details.get("maximum_instance_count"),
        "initial": initial if initial is not None else max(minimum, 1),
        "enabled": policy.get("is_enabled") is not False,
        "rules": rules,
        "scaleIn": _wire_step(details.get("scale_in_policy")),
        "scaleOut": _wire_step(details.get("scale_out_policy")),
    }


def flex_infrastructure_from_wire(infra: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical ``infrastructure`` of a live ``MANAGED_COMPUTE_CLUSTER`` configuration (snake_case)."""
    resources = infra.get("model_deployment_resource_configuration") or {}
    requests = resources.get("resource_request_configuration") or {}
    limits = resources.get("resource_limit_configuration")
    policy = infra.get("scaling_policy") or {}
    auto = _wire_autoscaling(policy) if policy.get("policy_type") == "AUTOSCALING" else None
    return {
        "computeTarget": {
            "id": infra.get("compute_target_id"),
            "requests": {
                "ocpus": _num(requests.get("ocpus")),
                "memoryInGBs": _num(requests.get("memory_in_gbs")),
                "gpus": requests.get("gpus") or None,
            },
            "limits": {"ocpus": _num(limits.get("ocpus")), "memoryInGBs": _num(limits.get("memory_in_gbs"))}
            if limits
            else None,
            "autoscaling": auto,
        },
        "replicas": None if auto else (policy.get("instance_count") or 1),
    }


# --- canonical -> manifest (mdr import) -------------------------------------------------------------------


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _manifest_step(step: Mapping[str, Any]) -> dict[str, Any]:
    defaults = {
        "pendingDuration": FLEX_DEFAULT_PENDING,
        "instanceCountAdjustment": 1,
        "coolDownSeconds": FLEX_DEFAULT_COOL_DOWN_SECONDS,
    }
    return {k: v for k, v in step.items() if v != defaults.get(k)}


def _manifest_autoscaling(auto: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"min": auto["min"], "max": auto["max"]}
    if auto["initial"] != max(auto["min"], 1):
        out["initial"] = auto["initial"]
    if not auto["enabled"]:
        out["enabled"] = False
    out["rules"] = [
        {
            "metric": CUSTOM if key.startswith(CUSTOM) else key,
            "threshold": _number(rule["threshold"]),
            **{k: rule[k] for k in ("query", "namespace") if rule.get(k) is not None},
        }
        for key, rule in auto["rules"].items()
    ]
    for name in ("scaleIn", "scaleOut"):
        if step := _manifest_step(auto[name]):
            out[name] = step
    return out


def manifest_flex_infrastructure(infra: Mapping[str, Any]) -> dict[str, Any]:
    """``spec.infrastructure`` for a canonical FLEX infrastructure (``mdr import``)."""
    target = infra["computeTarget"]
    requests = {k: _number(v) for k, v in target["requests"].items() if v is not None}
    block: dict[str, Any] = {"id": target["id"], "requests": requests}
    if target["limits"]:
        block["limits"] = {k: _number(v) for k, v in target["limits"].items()}
    if target["autoscaling"]:
        block["autoscaling"] = _manifest_autoscaling(target["autoscaling"])
        return {"computeTarget": block}
    return {"computeTarget": block, "replicas": infra["replicas"]}
