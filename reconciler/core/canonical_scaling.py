"""The canonical form of an autoscaling policy, from a manifest and from the wire (pure).

Rules are a mapping keyed by what identifies them (``CPU``, ``MEMORY``, ``CUSTOM-1``, ``CUSTOM-2``...), not a
list, so that a changed threshold reads ``infrastructure.autoscaling.rules.CPU.scaleOut.threshold`` in a plan
and the order the console happens to list rules in is not a change. Every default the service fills in
(pending duration, step size, cool-down, enabled) is filled in here on both sides, so that a policy written
without them and the same policy read back from the service compare equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.core.manifest_infra import (
    SCALE_IN_PENDING,
    SCALE_IN_THRESHOLD,
    SCALE_OUT_PENDING,
    SCALE_OUT_THRESHOLD,
    Autoscaling,
    ScalingStep,
    normal_duration,
)

DEFAULT_COOL_DOWN_SECONDS = 300
#: what the service uses for a rule sent without a pending duration (the SDK's documented default)
SERVICE_PENDING = "PT3M"
METRIC_TYPES = {"CPU": "CPU_UTILIZATION", "MEMORY": "MEMORY_UTILIZATION"}
METRICS = {wire: metric for metric, wire in METRIC_TYPES.items()}
CUSTOM = "CUSTOM"


def _step(step: ScalingStep, default_pending: str) -> dict[str, Any]:
    out: dict[str, Any] = {"query": step.query} if step.query is not None else {"threshold": step.threshold}
    out["pendingDuration"] = normal_duration(step.pendingDuration, default_pending)
    out["instanceCountAdjustment"] = step.instanceCountAdjustment
    return out


def _short_form(a: Autoscaling) -> dict[str, dict[str, Any]]:
    """The one predefined rule of the short form, with the durations mdr always sent for it."""
    threshold_in = a.scaleInThreshold if a.scaleInThreshold is not None else SCALE_IN_THRESHOLD
    threshold_out = a.scaleOutThreshold if a.scaleOutThreshold is not None else SCALE_OUT_THRESHOLD
    step_in = {"threshold": threshold_in, "pendingDuration": SCALE_IN_PENDING, "instanceCountAdjustment": 1}
    step_out = {
        "threshold": threshold_out,
        "pendingDuration": SCALE_OUT_PENDING,
        "instanceCountAdjustment": 1,
    }
    return {a.metric or "CPU": {"scaleIn": step_in, "scaleOut": step_out}}


def rule_key(metric: str, customs_before: int) -> str:
    return f"{CUSTOM}-{customs_before + 1}" if metric == CUSTOM else metric


def autoscaling_from_manifest(a: Autoscaling) -> dict[str, Any]:
    rules: dict[str, dict[str, Any]] = {}
    if a.rules is None:
        rules = _short_form(a)
    else:
        customs = 0
        for rule in a.rules:
            rules[rule_key(rule.metric, customs)] = {
                "scaleIn": _step(rule.scaleIn, SCALE_IN_PENDING),
                "scaleOut": _step(rule.scaleOut, SCALE_OUT_PENDING),
            }
            customs += rule.metric == CUSTOM
    return {
        "min": a.min,
        "max": a.max,
        "initial": a.initial if a.initial is not None else a.min,
        "coolDownSeconds": a.coolDownSeconds,
        "enabled": a.enabled is not False,
        "rules": rules,
    }


def _wire_step(step: Mapping[str, Any] | None) -> dict[str, Any]:
    step = step or {}
    kind = "query" if step.get("scaling_configuration_type") == "QUERY" or "query" in step else "threshold"
    return {
        kind: step.get(kind),
        "pendingDuration": normal_duration(step.get("pending_duration"), SERVICE_PENDING),
        "instanceCountAdjustment": step.get("instance_count_adjustment") or 1,
    }


def autoscaling_from_wire(policy: Mapping[str, Any]) -> dict[str, Any] | None:
    """An AUTOSCALING ``scaling_policy`` (snake_case wire) in canonical form; its first threshold policy
    (the service takes one)."""
    details = (policy.get("auto_scaling_policies") or [None])[0]
    if not details:
        return None
    rules: dict[str, dict[str, Any]] = {}
    customs = 0
    for rule in details.get("rules") or []:
        custom = rule.get("metric_expression_rule_type") == "CUSTOM_EXPRESSION"
        metric = (
            CUSTOM if custom else METRICS.get(rule.get("metric_type") or "", str(rule.get("metric_type")))
        )
        rules[rule_key(metric, customs)] = {
            "scaleIn": _wire_step(rule.get("scale_in_configuration")),
            "scaleOut": _wire_step(rule.get("scale_out_configuration")),
        }
        customs += custom
    enabled = policy.get("is_enabled")
    return {
        "min": details.get("minimum_instance_count"),
        "max": details.get("maximum_instance_count"),
        "initial": details.get("initial_instance_count"),
        "coolDownSeconds": policy.get("cool_down_in_seconds") or DEFAULT_COOL_DOWN_SECONDS,
        "enabled": enabled is not False,
        "rules": rules,
    }


def manifest_autoscaling(canonical: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest's ``autoscaling`` for a canonical policy (``mdr import``): the short form when it says
    everything (one predefined rule with mdr's durations and steps of one), else ``rules``."""
    out: dict[str, Any] = {
        key: canonical[key] for key in ("min", "max", "initial") if canonical[key] is not None
    }
    if canonical["coolDownSeconds"] != DEFAULT_COOL_DOWN_SECONDS:
        out["coolDownSeconds"] = canonical["coolDownSeconds"]
    if not canonical["enabled"]:
        out["enabled"] = False
    rules = canonical["rules"]
    if len(rules) == 1 and _is_short_form(next(iter(rules.items()))):
        (metric, rule), *_ = rules.items()
        out.update(
            metric=metric,
            scaleInThreshold=rule["scaleIn"]["threshold"],
            scaleOutThreshold=rule["scaleOut"]["threshold"],
        )
        return out
    out["rules"] = [
        {
            "metric": CUSTOM if key.startswith(CUSTOM) else key,
            "scaleIn": _manifest_step(rule["scaleIn"]),
            "scaleOut": _manifest_step(rule["scaleOut"]),
        }
        for key, rule in rules.items()
    ]
    return out


def _is_short_form(item: tuple[str, Mapping[str, Any]]) -> bool:
    key, rule = item
    return (
        key in METRIC_TYPES
        and rule["scaleIn"]
        == {**rule["scaleIn"], "pendingDuration": SCALE_IN_PENDING, "instanceCountAdjustment": 1}
        and rule["scaleOut"]
        == {**rule["scaleOut"], "pendingDuration": SCALE_OUT_PENDING, "instanceCountAdjustment": 1}
        and "threshold" in rule["scaleIn"]
    )


def _manifest_step(step: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in step.items() if v is not None}
    if out.get("instanceCountAdjustment") == 1:
        del out["instanceCountAdjustment"]
    return out
