"""The field contract for SINGLE_MODEL_FLEX deployments (``FLEX_DEPLOYMENT_FIELDS``): each settable field of
the FLEX configuration is followed from a manifest that changes it, through the plan's diff, the create body
and the update body, back from the live record to the same canonical form (as ``test_field_contract`` does
for SINGLE_MODEL)."""

from __future__ import annotations

from typing import Any

import oci
import pytest
from test_field_contract import SAMPLES, UPDATE_PATHS, _merge, values_at

from reconciler.adapters.wire import create_deployment_details, sections_for_paths, update_deployment_details
from reconciler.core.canonical import deployment_from_manifest, deployment_from_wire
from reconciler.core.diff import diff, is_under
from reconciler.core.fields import FLEX_DEPLOYMENT_FIELDS, UNSUPPORTED, Mapped, unmodelled_fields
from reconciler.core.manifest import ModelDeploymentSpec

MODEL = "ocid1.datasciencemodel.oc1.iad.aaaaaaaabase"
CT = "infrastructure.computeTarget"
AUTO = f"{CT}.autoscaling"
CPU_RULE = {"metric": "CPU", "threshold": 60}
CUSTOM_RULE = {
    "metric": "CUSTOM",
    "threshold": 10,
    "query": "PredictRequestCount[1m].sum()",
    "namespace": "a",
}

BASE: dict[str, Any] = {
    "compartmentId": "ocid1.compartment.oc1..aaaaaaaabase",
    "projectId": "ocid1.datascienceproject.oc1.iad.aaaaaaaabase",
    "model": {"id": MODEL},
    "infrastructure": {
        "computeTarget": {
            "id": "ocid1.datasciencecomputetarget.oc1.iad.aaaaaaaabase",
            "requests": {"ocpus": 2, "memoryInGBs": 16, "gpus": 1},
            "limits": {"ocpus": 4, "memoryInGBs": 32},
            "autoscaling": {"min": 1, "max": 3, "rules": [CPU_RULE, CUSTOM_RULE]},
        }
    },
    "runtime": {
        "type": "container",
        "image": "iad.ocir.io/ns/repo:1",
        "env": {"A": "1"},
        "customHttpEndpoints": [{"endpointUriSuffix": "/v1/a", "httpMethods": ["POST"]}],
    },
}


def _target(patch: dict[str, Any]) -> dict[str, Any]:
    return {"infrastructure": {"computeTarget": patch}}


def _auto(patch: dict[str, Any]) -> dict[str, Any]:
    return _target({"autoscaling": patch})


def _custom(**changes: Any) -> dict[str, Any]:
    return _auto({"rules": [CPU_RULE, {**CUSTOM_RULE, **changes}]})


FLEX_SAMPLES: dict[str, dict[str, Any]] = {
    "model.id": {"model": {"id": "ocid1.datasciencemodel.oc1.iad.aaaaaaaaother"}},
    "model.artifactSignatureId": {
        "model": {"artifactSignatureId": "ocid1.datasciencemodelartifactsignature.oc1.iad.aaaa"}
    },
    f"{CT}.id": _target({"id": "ocid1.datasciencecomputetarget.oc1.iad.aaaaaaaaother"}),
    f"{CT}.requests.ocpus": _target({"requests": {"ocpus": 3, "memoryInGBs": 16, "gpus": 1}}),
    f"{CT}.requests.memoryInGBs": _target({"requests": {"ocpus": 2, "memoryInGBs": 24, "gpus": 1}}),
    f"{CT}.requests.gpus": _target({"requests": {"ocpus": 2, "memoryInGBs": 16, "gpus": 2}}),
    f"{CT}.limits.ocpus": _target({"limits": {"ocpus": 8, "memoryInGBs": 32}}),
    f"{CT}.limits.memoryInGBs": _target({"limits": {"ocpus": 4, "memoryInGBs": 64}}),
    "infrastructure.replicas": {"infrastructure": {"computeTarget": {"autoscaling": None}, "replicas": 2}},
    f"{AUTO}.enabled": _auto({"enabled": False}),
    f"{AUTO}.min": _auto({"min": 0}),
    f"{AUTO}.max": _auto({"max": 5}),
    f"{AUTO}.initial": _auto({"initial": 2}),
    f"{AUTO}.rules": _auto({"rules": [{**CPU_RULE, "metric": "MEMORY"}, CUSTOM_RULE]}),
    f"{AUTO}.rules.CPU.threshold": _auto({"rules": [{**CPU_RULE, "threshold": 75}, CUSTOM_RULE]}),
    f"{AUTO}.rules.CUSTOM-1.query": _custom(query="PredictRequestCount[5m].sum()"),
    f"{AUTO}.rules.CUSTOM-1.threshold": _custom(threshold=25.5),
    f"{AUTO}.rules.CUSTOM-1.namespace": _custom(namespace="b"),
    **{
        f"{AUTO}.{step}.{name}": _auto({step: {name: value}})
        for step in ("scaleIn", "scaleOut")
        for name, value in (
            ("pendingDuration", "PT10M"),
            ("instanceCountAdjustment", 2),
            ("coolDownSeconds", 60),
        )
    },
}


def _canonical(raw: dict[str, Any]) -> dict[str, Any]:
    spec = ModelDeploymentSpec.model_validate(raw)
    assert spec.compartmentId and spec.projectId and spec.model and spec.model.id
    return deployment_from_manifest(
        spec,
        display_name="x",
        compartment_id=spec.compartmentId,
        project_id=spec.projectId,
        model_id=spec.model.id,
        logging=None,
        secret_values={},
        salt="s",
    )


def _bodies(canonical: dict[str, Any], sections: set[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    create = oci.util.to_dict(create_deployment_details(canonical, {}, {"mdr-stack": "contract"}))
    update = update_deployment_details(canonical, sections, MODEL, {}, None)
    return create, oci.util.to_dict(update)


def test_no_part_of_the_flex_configuration_is_unsupported_but_the_read_only_environment() -> None:
    flex = [path for path in UNSUPPORTED if "SINGLE_MODEL_FLEX" in path]
    assert flex and all(path.endswith("default_environment_variables") for path in flex)


@pytest.mark.parametrize(
    "field", FLEX_DEPLOYMENT_FIELDS, ids=lambda m: m.sdk.split("<SINGLE_MODEL_FLEX>.")[-1]
)
def test_a_flex_field_goes_all_the_way(field: Mapped) -> None:
    conda = "<DEFAULT>" in field.sdk
    base_raw = {**BASE, "runtime": {"type": "conda", "env": {"A": "1"}}} if conda else BASE
    sample_raw = _merge(base_raw, FLEX_SAMPLES.get(field.canonical) or SAMPLES[field.canonical])
    base, sample = _canonical(base_raw), _canonical(sample_raw)

    changes = diff(base, sample)
    assert any(is_under(c.path, [field.canonical]) for c in changes), "the plan would not show it"

    sections = sections_for_paths([c.path for c in changes])
    base_create, _ = _bodies(base, sections)
    create, update = _bodies(sample, sections)
    sent = values_at(create, field.sdk)
    assert sent and sent != values_at(base_create, field.sdk), "the create body does not carry it"
    assert field.sdk in UPDATE_PATHS
    assert values_at(update, field.sdk) == sent, "the update body does not carry it"

    live = deployment_from_wire(create, set(), "s")
    assert live == sample, "reading it back does not give the desired form"
    assert unmodelled_fields(create) == []
