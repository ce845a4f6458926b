"""The canonical form of a deployment on a compute target: for every valid ``computeTarget`` block, the body
mdr sends reads back as the same canonical form (no phantom drift), and the manifest ``mdr import`` writes
for it describes exactly that form (an adopted deployment plans to nothing)."""

from __future__ import annotations

from typing import Any

import oci
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.adapters.wire_flex import flex_create_config
from reconciler.core.canonical_flex import (
    flex_infrastructure_from_manifest,
    flex_infrastructure_from_wire,
    manifest_flex_infrastructure,
)
from reconciler.core.manifest_infra import Infrastructure

TARGET = "ocid1.datasciencecomputetarget.oc1.iad.aaaaaaaatarget"

sizes = st.integers(min_value=1, max_value=64).map(float) | st.sampled_from([0.5, 1.5, 12.25])
steps = st.fixed_dictionaries(
    {},
    optional={
        "pendingDuration": st.sampled_from(["PT1M", "PT3M", "PT180S", "PT10M", "PT30M", "PT1800S"]),
        "instanceCountAdjustment": st.integers(min_value=1, max_value=5),
        "coolDownSeconds": st.sampled_from([0, 60, 300, 900]),
    },
)
predefined = st.fixed_dictionaries(
    {"metric": st.sampled_from(["CPU", "MEMORY"]), "threshold": st.integers(min_value=1, max_value=100)}
)
custom = st.fixed_dictionaries(
    {
        "metric": st.just("CUSTOM"),
        "threshold": st.floats(min_value=0.5, max_value=1000, allow_nan=False).map(lambda x: round(x, 2)),
        "query": st.sampled_from(["PredictRequestCount[1m].sum()", "PredictLatency[1m].mean()"]),
    },
    optional={"namespace": st.sampled_from(["oci_datascience_modeldeploy", "custom"])},
)


@st.composite
def autoscaling(draw: st.DrawFn) -> dict[str, Any]:
    low = draw(st.integers(min_value=0, max_value=5))
    high = draw(st.integers(min_value=max(low, 1), max_value=10))
    rules = draw(st.lists(custom, max_size=2)) + draw(
        st.lists(predefined, max_size=2, unique_by=lambda r: r["metric"])
    )
    out: dict[str, Any] = {"min": low, "max": high, "rules": rules or [{"metric": "CPU", "threshold": 70}]}
    if draw(st.booleans()):
        out["initial"] = draw(st.integers(min_value=low, max_value=high))
    if draw(st.booleans()):
        out["enabled"] = draw(st.booleans())
    for name in ("scaleIn", "scaleOut"):
        if step := draw(steps):
            out[name] = step
    return out


@st.composite
def infrastructures(draw: st.DrawFn) -> dict[str, Any]:
    ocpus, memory = draw(sizes), draw(sizes)
    target: dict[str, Any] = {"id": TARGET, "requests": {"ocpus": ocpus, "memoryInGBs": memory}}
    if gpus := draw(st.integers(min_value=0, max_value=4)):
        target["requests"]["gpus"] = gpus
    if draw(st.booleans()):
        target["limits"] = {"ocpus": ocpus * 2, "memoryInGBs": memory + draw(sizes)}
    if draw(st.booleans()):
        target["autoscaling"] = draw(autoscaling())
        return {"computeTarget": target}
    return {"computeTarget": target, "replicas": draw(st.integers(min_value=1, max_value=10))}


def _canonical(raw: dict[str, Any]) -> dict[str, Any]:
    infra = Infrastructure.model_validate(raw)
    assert infra.computeTarget is not None
    return flex_infrastructure_from_manifest(infra.computeTarget, infra.replicas)


@settings(max_examples=150, deadline=None)
@given(infrastructures())
def test_what_is_sent_reads_back_as_what_was_asked_for(raw: dict[str, Any]) -> None:
    canonical = _canonical(raw)
    body = oci.util.to_dict(flex_create_config(canonical, "m", None, None))
    assert flex_infrastructure_from_wire(body["infrastructure_configuration_details"]) == canonical


@settings(max_examples=150, deadline=None)
@given(infrastructures())
def test_the_imported_manifest_describes_the_live_deployment_exactly(raw: dict[str, Any]) -> None:
    canonical = _canonical(raw)
    assert _canonical(manifest_flex_infrastructure(canonical)) == canonical


def test_the_service_defaults_are_left_out_of_an_imported_manifest() -> None:
    wire = {
        "compute_target_id": TARGET,
        "model_deployment_resource_configuration": {
            "resource_request_configuration": {"ocpus": 2.0, "memory_in_gbs": 16.0}
        },
        "scaling_policy": {
            "policy_type": "AUTOSCALING",
            "auto_scaling_policies": [
                {
                    "minimum_instance_count": 1,
                    "maximum_instance_count": 3,
                    "rules": [
                        {
                            "metric_expression_rule_type": "TARGET_PREDEFINED_EXPRESSION",
                            "metric_type": "CPU_UTILIZATION",
                            "scale_configuration": {"threshold": 70.0},
                        }
                    ],
                    "scale_out_policy": {"pending_duration": "PT180S", "cool_down_in_seconds": 60},
                }
            ],
        },
    }
    manifest = manifest_flex_infrastructure(flex_infrastructure_from_wire(wire))
    assert manifest == {
        "computeTarget": {
            "id": TARGET,
            "requests": {"ocpus": 2, "memoryInGBs": 16},
            "autoscaling": {
                "min": 1,
                "max": 3,
                "rules": [{"metric": "CPU", "threshold": 70}],
                "scaleOut": {"coolDownSeconds": 60},
            },
        }
    }
