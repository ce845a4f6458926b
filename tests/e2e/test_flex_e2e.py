"""SINGLE_MODEL_FLEX deployments end to end, through the real SDK against the emulator: a deployment on a
compute target (a managed compute cluster) is created, answers predict, changes its scaling in place, shows
a hand edit as drift, and one made without mdr imports into a manifest that adopts with an empty plan."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from oci.data_science import models as dm
from support.world import EXAMPLE_COMPARTMENT, EXAMPLE_PROJECT, EXAMPLES, World, edit

FLEX_MANIFEST = """\
apiVersion: mdr/v1
kind: ModelDeployment
metadata:
  name: fraud-flex
spec:
  model:
    artifact: models/fraud-scorer
  infrastructure:
    computeTarget:
      id: {target}
      requests: {{ocpus: 2, memoryInGBs: 16}}
      limits: {{ocpus: 4, memoryInGBs: 32}}
    replicas: 2
  runtime:
    type: conda
    env: {{WEB_CONCURRENCY: "2"}}
"""
TRANSACTIONS = {"transactions": [{"amount": 120.0, "foreign": 1, "night": 0}]}


def _compute_target(world: World, ocpus: float = 8.0, memory: float = 64.0) -> str:
    """A managed compute cluster, made as a platform team makes one (the SDK's CreateComputeTarget)."""
    details = dm.CreateComputeTargetDetails(
        compartment_id=EXAMPLE_COMPARTMENT,
        display_name="gpu-pool",
        compute_configuration_details=dm.ManagedComputeClusterComputeConfigurationDetails(
            instance_configuration=dm.ManagedComputeClusterInstanceConfigurationDetails(
                instance_shape="VM.Standard.E4.Flex",
                instance_shape_details=dm.ManagedComputeClusterInstanceShapeDetails(
                    ocpus=ocpus, memory_in_gbs=memory
                ),
            ),
            scaling_policy=dm.ManagedComputeClusterFixedSizeScalingPolicy(instance_count=3),
        ),
    )
    return str(world.sdk().create_compute_target(details).data.id)


@pytest.fixture
def flex_stack(world: World) -> Path:
    folder = world.workdir / "flex"
    (folder / "models").mkdir(parents=True)
    shutil.copy(EXAMPLES / "mdr.yaml", folder / "mdr.yaml")
    shutil.copytree(EXAMPLES / "models" / "fraud-scorer", folder / "models" / "fraud-scorer")
    (folder / "flex.yaml").write_text(FLEX_MANIFEST.format(target=_compute_target(world)))
    return folder


def _config(world: World) -> Any:
    [deployment] = world.deployments()
    return world.sdk().get_model_deployment(deployment.id).data.model_deployment_configuration_details


def _predict(world: World) -> dict[str, Any]:
    from oci._vendor import requests

    [deployment] = world.deployments()
    answer = requests.post(
        f"{deployment.model_deployment_url}/predict",
        data=json.dumps(TRANSACTIONS),
        headers={"content-type": "application/json"},
        auth=world.sdk().base_client.signer,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_a_flex_deployment_is_created_on_its_compute_target_and_answers(
    world: World, flex_stack: Path
) -> None:
    done = world.mdr("apply", "flex", "--auto-approve")
    assert done.returncode == 0, done.stdout + done.stderr
    config = _config(world)
    assert config.deployment_type == "SINGLE_MODEL_FLEX"
    infrastructure = config.infrastructure_configuration_details
    assert infrastructure.infrastructure_type == "MANAGED_COMPUTE_CLUSTER"
    resources = infrastructure.model_deployment_resource_configuration
    assert (resources.resource_request_configuration.ocpus, resources.resource_limit_configuration.ocpus) == (
        2.0,
        4.0,
    )
    assert infrastructure.scaling_policy.instance_count == 2
    assert _predict(world)["prediction"][0] > 0
    empty = world.mdr("plan", "flex", "--detailed-exitcode")
    assert empty.returncode == 0, empty.stdout + empty.stderr
    status = world.mdr("status", "flex")
    assert status.returncode == 0 and "fraud-flex" in status.stdout, status.stdout + status.stderr


def test_scaling_changes_in_place_and_a_hand_edit_shows_as_drift(world: World, flex_stack: Path) -> None:
    assert world.mdr("apply", "flex", "--auto-approve").returncode == 0
    [before] = world.deployments()
    edit(
        flex_stack / "flex.yaml",
        "    replicas: 2\n",
        "",
    )
    edit(
        flex_stack / "flex.yaml",
        "      limits: {ocpus: 4, memoryInGBs: 32}\n",
        "      limits: {ocpus: 4, memoryInGBs: 32}\n"
        "      autoscaling:\n"
        "        min: 0\n        max: 4\n"
        "        rules: [{metric: CPU, threshold: 70}]\n"
        "        scaleIn: {pendingDuration: PT10M}\n",
    )
    plan = world.mdr("plan", "flex")
    assert "infrastructure.computeTarget.autoscaling" in plan.stdout, plan.stdout
    assert "0 to create, 1 to update" in plan.stdout, plan.stdout  # in place, not a replace
    assert world.mdr("apply", "flex", "--auto-approve").returncode == 0
    [after] = world.deployments()
    assert after.id == before.id  # updated in place, same endpoint
    policy = _config(world).infrastructure_configuration_details.scaling_policy
    details = policy.auto_scaling_policies[0]
    assert (policy.policy_type, details.minimum_instance_count, details.initial_instance_count) == (
        "AUTOSCALING",
        0,
        1,
    )
    assert details.scale_in_policy.pending_duration == "PT10M"
    assert world.mdr("plan", "flex", "--detailed-exitcode").returncode == 0

    # someone gives each replica more memory with the SDK: the plan shows it and puts it back
    infrastructure = _config(world).infrastructure_configuration_details
    resources = infrastructure.model_deployment_resource_configuration
    resources.resource_request_configuration.memory_in_gbs = 24.0
    world.sdk().update_model_deployment(
        after.id,
        dm.UpdateModelDeploymentDetails(
            model_deployment_configuration_details=dm.UpdateSingleModelDeploymentFlexConfigurationDetails(
                infrastructure_configuration_details=dm.UpdateManagedComputeClusterModelDeployInfrastructureConfigDetails(
                    model_deployment_resource_configuration=resources
                )
            )
        ),
    )
    _wait_active(world, after.id)
    drift = world.mdr("plan", "flex", "--detailed-exitcode")
    assert drift.returncode == 2, drift.stdout + drift.stderr
    assert "infrastructure.computeTarget.requests.memoryInGBs" in drift.stdout, drift.stdout
    assert world.mdr("apply", "flex", "--auto-approve").returncode == 0
    requests = _config(world).infrastructure_configuration_details.model_deployment_resource_configuration
    assert requests.resource_request_configuration.memory_in_gbs == 16.0


def test_a_compute_target_that_does_not_exist_or_is_too_small_is_refused(world: World) -> None:
    small = _compute_target(world, ocpus=1.0, memory=8.0)
    model = (
        world.sdk()
        .create_model(dm.CreateModelDetails(compartment_id=EXAMPLE_COMPARTMENT, project_id=EXAMPLE_PROJECT))
        .data
    )
    _upload_artifact(world, model.id)
    for target, message in (
        (small, "does not fit on a node"),
        ("ocid1.datasciencecomputetarget.oc1.iad.aaaaaaaanothere", "does not exist"),
    ):
        with pytest.raises(Exception, match=message):
            world.sdk().create_model_deployment(_flex_details(model.id, target))


def _upload_artifact(world: World, model_id: str) -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in (EXAMPLES / "models" / "fraud-scorer").iterdir():
            archive.write(path, path.name)
    world.sdk().create_model_artifact(
        model_id, buffer.getvalue(), content_disposition='attachment; filename="m.zip"'
    )


def _flex_details(model_id: str, target: str) -> dm.CreateModelDeploymentDetails:
    return dm.CreateModelDeploymentDetails(
        compartment_id=EXAMPLE_COMPARTMENT,
        project_id=EXAMPLE_PROJECT,
        display_name="scorer on the cluster",
        model_deployment_configuration_details=dm.SingleModelDeploymentFlexConfigurationDetails(
            model_configuration_details=dm.SingleModelConfigurationDetails(model_id=model_id),
            infrastructure_configuration_details=dm.ManagedComputeClusterModelDeployInfrastructureConfigDetails(
                compute_target_id=target,
                model_deployment_resource_configuration=dm.ManagedComputeClusterModelDeploymentResourceConfiguration(
                    resource_request_configuration=dm.ResourceRequestConfiguration(
                        ocpus=2.0, memory_in_gbs=12.0
                    )
                ),
                scaling_policy=dm.ManagedComputeClusterWorkloadAutoScalingPolicy(
                    auto_scaling_policies=[
                        dm.ManagedComputeClusterWorkloadThresholdBasedPolicyDetails(
                            minimum_instance_count=1,
                            maximum_instance_count=3,
                            initial_instance_count=1,
                            rules=[
                                dm.TargetCustomMetricExpressionRule(
                                    scale_configuration=dm.TargetCustomExpressionQueryScalingConfiguration(
                                        query="PredictRequestCount[1m].sum()", threshold=50.0
                                    )
                                )
                            ],
                        )
                    ]
                ),
            ),
        ),
    )


def _wait_active(world: World, deployment_id: str) -> None:
    deadline = time.monotonic() + 10
    while world.sdk().get_model_deployment(deployment_id).data.lifecycle_state != "ACTIVE":
        assert time.monotonic() < deadline, "the deployment did not become ACTIVE"
        time.sleep(0.05)


def test_import_of_a_flex_deployment_adopts_with_an_empty_plan(world: World) -> None:
    target = _compute_target(world)
    model = (
        world.sdk()
        .create_model(dm.CreateModelDetails(compartment_id=EXAMPLE_COMPARTMENT, project_id=EXAMPLE_PROJECT))
        .data
    )
    _upload_artifact(world, model.id)
    created = world.sdk().create_model_deployment(_flex_details(model.id, target)).data
    _wait_active(world, created.id)

    args = ("import", "--compartment", EXAMPLE_COMPARTMENT, "--out", "imported", "--stack", "imported")
    done = world.mdr(*args, *world.target_args())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "does not manage" not in done.stderr and "cannot write" not in done.stderr, done.stderr
    [written] = (world.workdir / "imported").glob("scorer-on-the-cluster.yaml")
    manifest = yaml.safe_load(written.read_text())
    assert manifest["spec"]["infrastructure"] == {
        "computeTarget": {
            "id": target,
            "requests": {"ocpus": 2, "memoryInGBs": 12},
            "autoscaling": {
                "min": 1,
                "max": 3,
                "rules": [{"metric": "CUSTOM", "threshold": 50, "query": "PredictRequestCount[1m].sum()"}],
            },
        }
    }
    plan = world.mdr("plan", "imported", "--detailed-exitcode")
    assert plan.returncode == 2 and "0 to create, 1 to update" in plan.stdout, plan.stdout + plan.stderr
    adopt = world.mdr("apply", "imported", "--auto-approve")
    assert adopt.returncode == 0, adopt.stdout + adopt.stderr
    after = world.mdr("plan", "imported", "--detailed-exitcode")
    assert after.returncode == 0, after.stdout + after.stderr
    [live] = world.deployments()
    assert live.id == created.id and live.freeform_tags["mdr-stack"] == "imported"
    assert _predict(world)["prediction"][0] > 0
