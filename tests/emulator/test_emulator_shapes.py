"""ListModelDeploymentShapes, and deployments refused on a shape the service does not offer."""

from __future__ import annotations

from typing import Any

import oci
import pytest
from conftest import COMPARTMENT, wait_for
from oci.data_science import models as dm
from test_emulator_sdk import deployment_details, model_with_artifact, project, service_error

EXAMPLE_SHAPES = {"VM.Standard.E4.Flex", "VM.Standard.E3.Flex", "VM.Standard3.Flex"}


def shapes(ds: Any) -> dict[str, Any]:
    listed = oci.pagination.list_call_get_all_results(ds.list_model_deployment_shapes, COMPARTMENT, limit=4)
    return {shape.name: shape for shape in listed.data}


def with_shape(details: Any, name: str, ocpus: float | None = 1.0, memory: float | None = 16.0) -> Any:
    instance = (
        details.model_deployment_configuration_details.model_configuration_details.instance_configuration
    )
    instance.instance_shape_name = name
    flex = name.endswith(".Flex")
    instance.model_deployment_instance_shape_config_details = (
        dm.ModelDeploymentInstanceShapeConfigDetails(ocpus=ocpus, memory_in_gbs=memory) if flex else None
    )
    return details


def test_shapes_are_listed_with_their_cores_memory_and_series(ds: Any) -> None:
    listed = shapes(ds)
    assert EXAMPLE_SHAPES | {"VM.Standard2.1", "VM.GPU.A10.1"} <= set(listed)
    e4 = listed["VM.Standard.E4.Flex"]
    assert isinstance(e4, dm.ModelDeploymentShapeSummary)
    assert (e4.core_count, e4.memory_in_gbs, e4.shape_series) == (64, 1024, "AMD_ROME")
    assert (listed["VM.Standard2.1"].core_count, listed["VM.Standard2.1"].memory_in_gbs) == (1, 15)
    assert listed["VM.GPU.A10.1"].shape_series == "NVIDIA_GPU"
    assert {s.shape_series for s in listed.values()} <= {
        "AMD_ROME",
        "INTEL_SKYLAKE",
        "NVIDIA_GPU",
        "GENERIC",
        "LEGACY",
        "ARM",
    }


def test_every_listed_shape_can_be_deployed(ds: Any) -> None:
    project_id = project(ds)
    model_id = model_with_artifact(ds, project_id)
    for name in shapes(ds):
        created = ds.create_model_deployment(with_shape(deployment_details(project_id, model_id, name), name))
        assert created.status == 200, name


def test_an_unknown_shape_is_refused_at_create(ds: Any) -> None:
    project_id = project(ds)
    model_id = model_with_artifact(ds, project_id)
    details = with_shape(deployment_details(project_id, model_id), "VM.Standard.E9.Flex")
    error = service_error(lambda: ds.create_model_deployment(details))
    assert (error.status, error.code) == (400, "InvalidParameter")
    assert "VM.Standard.E9.Flex" in error.message
    assert ds.list_model_deployments(COMPARTMENT).data == []


@pytest.mark.parametrize(("ocpus", "memory"), [(65.0, 16.0), (0.5, 16.0), (2.0, 2048.0), (2.0, 1.0)])
def test_flex_ocpus_and_memory_must_be_in_the_shapes_range(ds: Any, ocpus: float, memory: float) -> None:
    project_id = project(ds)
    model_id = model_with_artifact(ds, project_id)
    details = with_shape(deployment_details(project_id, model_id), "VM.Standard.E4.Flex", ocpus, memory)
    assert service_error(lambda: ds.create_model_deployment(details)).status == 400


def test_an_unknown_shape_is_refused_at_update_and_nothing_changes(ds: Any) -> None:
    project_id = project(ds)
    model_id = model_with_artifact(ds, project_id)
    deployment = ds.create_model_deployment(deployment_details(project_id, model_id)).data
    wait_for(lambda: ds.get_model_deployment(deployment.id).data.lifecycle_state == "ACTIVE")
    update = dm.UpdateModelDeploymentDetails(
        model_deployment_configuration_details=dm.UpdateSingleModelDeploymentConfigurationDetails(
            model_configuration_details=dm.UpdateModelConfigurationDetails(
                model_id=model_id,
                instance_configuration=dm.InstanceConfiguration(instance_shape_name="VM.Bogus.1"),
            )
        )
    )
    error = service_error(lambda: ds.update_model_deployment(deployment.id, update))
    assert (error.status, error.code) == (400, "InvalidParameter")
    live = ds.get_model_deployment(deployment.id).data
    instance = live.model_deployment_configuration_details.model_configuration_details.instance_configuration
    assert (live.lifecycle_state, instance.instance_shape_name) == ("ACTIVE", "VM.Standard.E4.Flex")
