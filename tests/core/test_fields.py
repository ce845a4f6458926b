"""The field table's pure uses: naming live fields mdr does not model, and keeping the ``mdr-spec`` hash of
manifests that do not use the fields added since mdr/v1 shipped."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.canonical import spec_hash
from reconciler.core.fields import hash_view, unmodelled_fields, unmodelled_warnings
from reconciler.core.manifest import ModelDeploymentSpec


def _live(**extra: Any) -> dict[str, Any]:
    """A live deployment as the live reader gives it (snake_case), every modelled part set."""
    wire: dict[str, Any] = {
        "id": "ocid1.datasciencemodeldeployment.oc1.iad.aaaa",
        "display_name": "fraud",
        "lifecycle_state": "ACTIVE",
        "lifecycle_details": "Active",
        "system_tags": {"orcl-cloud": {"free-tier-retained": "true"}},
        "model_deployment_system_data": {"system_infra_type": "INSTANCE_POOL", "current_instance_count": 2},
        "freeform_tags": {"anything": "goes"},
        "model_deployment_configuration_details": {
            "deployment_type": "SINGLE_MODEL",
            "model_configuration_details": {
                "model_id": "m",
                "instance_configuration": {
                    "instance_shape_name": "VM.Standard.E4.Flex",
                    "model_deployment_instance_shape_config_details": {
                        "ocpus": 1.0,
                        "cpu_baseline": "BASELINE_1_2",
                    },
                    "capacity_reservation_ids": ["r1", "r2"],
                },
                "scaling_policy": {
                    "policy_type": "AUTOSCALING",
                    "auto_scaling_policies": [
                        {
                            "auto_scaling_policy_type": "THRESHOLD",
                            "rules": [
                                {
                                    "metric_expression_rule_type": "CUSTOM_EXPRESSION",
                                    "scale_in_configuration": {"query": "q", "pending_duration": "PT5M"},
                                }
                            ],
                        }
                    ],
                },
            },
            "environment_configuration_details": {
                "environment_configuration_type": "OCIR_CONTAINER",
                "environment_variables": {"ANY_NAME": "x"},
                "default_environment_variables": {"SERVICE_SET": "y"},
                "custom_http_endpoints": [{"endpoint_uri_suffix": "/a", "http_methods": ["GET"]}],
            },
        },
    }
    wire.update(extra)
    return wire


def test_a_deployment_mdr_fully_models_has_no_unmodelled_fields() -> None:
    assert unmodelled_fields(_live()) == []


def test_a_field_mdr_does_not_know_is_named_as_the_api_spells_it() -> None:
    wire = _live(warm_pool={"size": 2})
    config = wire["model_deployment_configuration_details"]
    config["model_configuration_details"]["instance_configuration"]["gpu_partition"] = "1g"
    rule = config["model_configuration_details"]["scaling_policy"]["auto_scaling_policies"][0]["rules"][0]
    rule["scale_in_configuration"]["evaluation_window"] = "PT1M"

    assert unmodelled_fields(wire) == [
        "modelDeploymentConfigurationDetails.modelConfigurationDetails.instanceConfiguration.gpuPartition",
        "modelDeploymentConfigurationDetails.modelConfigurationDetails.scalingPolicy.autoScalingPolicies[]"
        ".rules[].scaleInConfiguration.evaluationWindow",
        "warmPool",  # an unknown object is named once, not by each of its keys
    ]


@pytest.mark.parametrize("unset", [None, [], {}])
def test_an_unknown_field_left_unset_is_not_reported(unset: Any) -> None:
    assert unmodelled_fields(_live(warm_pool=unset)) == []


def test_model_group_and_flex_deployments_are_managed_and_an_unknown_flex_field_is_named() -> None:
    wire = _live()
    wire["model_deployment_configuration_details"] = {
        "deployment_type": "MODEL_GROUP",
        "model_group_configuration_details": {"model_group_id": "g"},
        "infrastructure_configuration_details": {
            "infrastructure_type": "INSTANCE_POOL",
            "instance_configuration": {"instance_shape_name": "VM.Standard.E4.Flex"},
            "bandwidth_mbps": 10,
        },
    }
    assert unmodelled_fields(wire) == []
    wire["model_deployment_configuration_details"] = {
        "deployment_type": "SINGLE_MODEL_FLEX",
        "infrastructure_configuration_details": {
            "infrastructure_type": "MANAGED_COMPUTE_CLUSTER",
            "compute_target_id": "ocid1.datasciencecomputetarget.oc1..x",
            "model_deployment_resource_configuration": {
                "resource_request_configuration": {"ocpus": 1.0, "memory_in_gbs": 8.0}
            },
        },
    }
    assert unmodelled_fields(wire) == []
    wire["model_deployment_configuration_details"]["infrastructure_configuration_details"]["node_pool"] = "p"
    assert unmodelled_fields(wire) == [
        "modelDeploymentConfigurationDetails.infrastructureConfigurationDetails.nodePool"
    ]


def test_warnings_name_the_deployment_and_every_field() -> None:
    warnings = unmodelled_warnings([("ModelDeployment/a", _live(new_knob=1)), ("ModelDeployment/b", _live())])
    assert len(warnings) == 1
    assert warnings[0].startswith(
        "ModelDeployment/a: the live deployment sets newKnob, which this mdr does not"
    )


# --- the mdr-spec hash ----------------------------------------------------------------------------------

#: hashes mdr computed before the fields of issue 13 existed (taken from the code of that commit)
PINNED = [
    (
        {
            "model": {"artifact": "models/fraud"},
            "infrastructure": {"shape": "VM.Standard.E4.Flex", "ocpus": 1, "memoryInGBs": 16, "replicas": 2},
            "runtime": {"type": "conda", "env": {"WEB_CONCURRENCY": "2"}},
        },
        "7c2d2476d3b9c5f0",
    ),
    (
        {
            "model": {"id": "ocid1.datasciencemodel.oc1.iad.aaaa"},
            "infrastructure": {
                "shape": "VM.Standard.E4.Flex",
                "ocpus": 2,
                "memoryInGBs": 32,
                "autoscaling": {"min": 1, "max": 4, "scaleOutThreshold": 75},
                "subnetId": "ocid1.subnet.oc1.iad.aaaa",
            },
            "runtime": {
                "type": "container",
                "image": "iad.ocir.io/ns/repo:1",
                "imageDigest": "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
                "entrypoint": ["python", "serve.py"],
            },
            "logging": {"logGroup": {"name": "g"}, "predict": {"name": "p"}},
            "policy": {"protect": True},
        },
        "e183ca0fff5f436b",
    ),
]


def _hash(raw: dict[str, Any]) -> str:
    spec = ModelDeploymentSpec.model_validate(raw)
    view = hash_view(spec.model_dump(mode="json"))
    return spec_hash({"spec": view, "identity": "sha256:abc", "compartmentId": "c", "projectId": "p"})


@pytest.mark.parametrize(("raw", "expected"), PINNED)
def test_a_manifest_without_the_new_fields_keeps_its_hash(raw: dict[str, Any], expected: str) -> None:
    assert _hash(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), PINNED)
def test_the_hash_view_leaves_the_dump_it_is_given_unchanged(raw: dict[str, Any], expected: str) -> None:
    dump = ModelDeploymentSpec.model_validate(raw).model_dump(mode="json")
    before = copy.deepcopy(dump)
    view = hash_view(dump)
    assert dump == before
    assert view != dump  # fields at their new defaults were left out of the view, not of the dump


@given(
    st.sampled_from(
        [
            {"infrastructure": {"cpuBaseline": "BASELINE_1_8"}},
            {"infrastructure": {"networkAccessType": "MANAGED_NETWORKING_NO_INTERNET_ACCESS"}},
            {"infrastructure": {"capacityReservationIds": ["ocid1.capacityreservation.oc1.iad.aaaa"]}},
            {"model": {"artifactSignatureId": "ocid1.datasciencemodelartifactsignature.oc1.iad.aaaa"}},
        ]
    )
)
def test_setting_a_new_field_changes_the_hash(patch: dict[str, Any]) -> None:
    raw, before = PINNED[0]
    changed = {key: {**raw[key], **patch.get(key, {})} for key in raw}
    assert _hash(changed) != before


def test_writing_the_short_forms_defaults_out_keeps_the_hash() -> None:
    raw, before = PINNED[1]
    auto = {"min": 1, "max": 4, "metric": "CPU", "scaleInThreshold": 20, "scaleOutThreshold": 75}
    explicit = {**raw, "infrastructure": {**raw["infrastructure"], "autoscaling": auto}}
    assert _hash(explicit) == before
