"""SINGLE_MODEL_FLEX deployments and compute targets in the emulator, through the real SDK: a target is
created, read and listed; a deployment on it is checked as the service checks it (the target exists and a
replica fits on a node; requests, limits and the workload scaling policy are well formed), serves predict,
and changes one option group at a time while ACTIVE."""

from __future__ import annotations

from typing import Any

import oci
import pytest
from conftest import COMPARTMENT, wait_for
from oci.data_science import models as dm
from test_emulator_sdk import model_with_artifact, project


def compute_target(ds: Any, ocpus: float = 8.0, memory: float = 64.0) -> str:
    details = dm.CreateComputeTargetDetails(
        compartment_id=COMPARTMENT,
        display_name="cluster",
        compute_configuration_details=dm.ManagedComputeClusterComputeConfigurationDetails(
            instance_configuration=dm.ManagedComputeClusterInstanceConfigurationDetails(
                instance_shape="VM.Standard.E4.Flex",
                instance_shape_details=dm.ManagedComputeClusterInstanceShapeDetails(
                    ocpus=ocpus, memory_in_gbs=memory
                ),
            )
        ),
    )
    return str(ds.create_compute_target(details).data.id)


def scaling(**overrides: Any) -> Any:
    details = {
        "minimum_instance_count": 0,
        "initial_instance_count": 1,
        "maximum_instance_count": 3,
        "rules": [
            dm.TargetPredefinedMetricExpressionRule(
                metric_type="CPU_UTILIZATION",
                scale_configuration=dm.TargetPredefinedExpressionThresholdScalingConfiguration(
                    threshold=70.0
                ),
            )
        ],
        "scale_in_policy": dm.ManagedComputeClusterWorkloadScalePolicy(pending_duration="PT5M"),
        **overrides,
    }
    return dm.ManagedComputeClusterWorkloadAutoScalingPolicy(
        auto_scaling_policies=[dm.ManagedComputeClusterWorkloadThresholdBasedPolicyDetails(**details)]
    )


def resources(ocpus: float = 2.0, memory: float = 16.0, limits: tuple[float, float] | None = None) -> Any:
    return dm.ManagedComputeClusterModelDeploymentResourceConfiguration(
        resource_request_configuration=dm.ResourceRequestConfiguration(ocpus=ocpus, memory_in_gbs=memory),
        resource_limit_configuration=dm.ResourceLimitConfiguration(ocpus=limits[0], memory_in_gbs=limits[1])
        if limits
        else None,
    )


def flex_details(project_id: str, model_id: str, target: str, **infrastructure: Any) -> Any:
    config = {
        "model_deployment_resource_configuration": resources(),
        "scaling_policy": scaling(),
        **infrastructure,
    }
    return dm.CreateModelDeploymentDetails(
        compartment_id=COMPARTMENT,
        project_id=project_id,
        model_deployment_configuration_details=dm.SingleModelDeploymentFlexConfigurationDetails(
            model_configuration_details=dm.SingleModelConfigurationDetails(model_id=model_id),
            infrastructure_configuration_details=dm.ManagedComputeClusterModelDeployInfrastructureConfigDetails(
                compute_target_id=target, **config
            ),
        ),
    )


@pytest.fixture
def world(ds: Any) -> dict[str, str]:
    project_id = project(ds)
    return {"project": project_id, "model": model_with_artifact(ds, project_id), "target": compute_target(ds)}


def test_a_compute_target_is_created_read_and_listed(ds: Any, world: dict[str, str]) -> None:
    target = ds.get_compute_target(world["target"]).data
    assert target.lifecycle_state == "ACTIVE"
    assert target.compute_configuration_details.instance_configuration.instance_shape == "VM.Standard.E4.Flex"
    [summary] = ds.list_compute_targets(COMPARTMENT).data
    assert summary.id == world["target"] and summary.display_name == "cluster"


def test_a_flex_deployment_runs_on_its_target_and_answers_predict(ds: Any, world: dict[str, str]) -> None:
    from oci._vendor import requests

    created = ds.create_model_deployment(flex_details(world["project"], world["model"], world["target"])).data
    wait_for(lambda: ds.get_model_deployment(created.id).data.lifecycle_state == "ACTIVE")
    config = ds.get_model_deployment(created.id).data.model_deployment_configuration_details
    assert config.deployment_type == "SINGLE_MODEL_FLEX"
    assert config.infrastructure_configuration_details.compute_target_id == world["target"]
    url = created.model_deployment_url + "/predict"
    answer = requests.post(url, data='{"x": [1, 2]}', auth=ds.base_client.signer, timeout=30)
    assert answer.status_code == 200 and answer.json() == {"prediction": [3, 6]}


REFUSED = [
    (
        "limits below the requests",
        {"model_deployment_resource_configuration": resources(limits=(1.0, 32.0))},
        "below",
    ),
    (
        "a replica larger than a node",
        {"model_deployment_resource_configuration": resources(ocpus=16.0)},
        "fit",
    ),
    (
        "a utilisation target above 100",
        {
            "scaling_policy": scaling(
                rules=[
                    dm.TargetPredefinedMetricExpressionRule(
                        metric_type="MEMORY_UTILIZATION",
                        scale_configuration=dm.TargetPredefinedExpressionThresholdScalingConfiguration(
                            threshold=150.0
                        ),
                    )
                ]
            )
        },
        "percentage",
    ),
    (
        "a pending duration above PT30M",
        {
            "scaling_policy": scaling(
                scale_in_policy=dm.ManagedComputeClusterWorkloadScalePolicy(pending_duration="PT45M")
            )
        },
        "PT1M to PT30M",
    ),
    (
        "an initial count below the minimum",
        {"scaling_policy": scaling(minimum_instance_count=2)},
        "minimumInstanceCount",
    ),
    (
        "a custom rule without a query",
        {
            "scaling_policy": scaling(
                rules=[
                    dm.TargetCustomMetricExpressionRule(
                        scale_configuration=dm.TargetCustomExpressionQueryScalingConfiguration(threshold=5.0)
                    )
                ]
            )
        },
        "query",
    ),
]


@pytest.mark.parametrize(("change", "message"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_a_configuration_the_service_would_refuse_is_refused(
    ds: Any, world: dict[str, str], change: dict[str, Any], message: str
) -> None:
    with pytest.raises(oci.exceptions.ServiceError) as refused:
        ds.create_model_deployment(flex_details(world["project"], world["model"], world["target"], **change))
    assert refused.value.status == 400 and message in refused.value.message


def test_a_target_that_does_not_exist_is_refused(ds: Any, world: dict[str, str]) -> None:
    missing = "ocid1.datasciencecomputetarget.oc1.iad.aaaaaaaamissing"
    with pytest.raises(oci.exceptions.ServiceError) as refused:
        ds.create_model_deployment(flex_details(world["project"], world["model"], missing))
    assert refused.value.status == 400 and "does not exist" in refused.value.message


def _update(model_id: str | None = None, infrastructure: Any = None) -> Any:
    model = dm.UpdateSingleModelConfigurationDetails(model_id=model_id) if model_id else None
    return dm.UpdateModelDeploymentDetails(
        model_deployment_configuration_details=dm.UpdateSingleModelDeploymentFlexConfigurationDetails(
            model_configuration_details=model, infrastructure_configuration_details=infrastructure
        )
    )


def test_while_active_one_option_group_changes_at_a_time(ds: Any, world: dict[str, str]) -> None:
    created = ds.create_model_deployment(flex_details(world["project"], world["model"], world["target"])).data
    wait_for(lambda: ds.get_model_deployment(created.id).data.lifecycle_state == "ACTIVE")
    other_model = model_with_artifact(ds, world["project"], "m2")
    fixed = dm.UpdateManagedComputeClusterModelDeployInfrastructureConfigDetails(
        scaling_policy=dm.ManagedComputeClusterWorkloadFixedSizeScalingPolicy(instance_count=2)
    )
    with pytest.raises(oci.exceptions.ServiceError) as refused:
        ds.update_model_deployment(created.id, _update(other_model, fixed))
    assert refused.value.status == 400 and "compute, model" in refused.value.message
    ds.update_model_deployment(created.id, _update(infrastructure=fixed))
    wait_for(lambda: ds.get_model_deployment(created.id).data.lifecycle_state == "ACTIVE")
    infrastructure = ds.get_model_deployment(created.id).data.model_deployment_configuration_details
    infrastructure = infrastructure.infrastructure_configuration_details
    assert infrastructure.scaling_policy.instance_count == 2
    # the parts the update left out are kept
    assert infrastructure.model_deployment_resource_configuration.resource_request_configuration.ocpus == 2.0
    assert infrastructure.compute_target_id == world["target"]
