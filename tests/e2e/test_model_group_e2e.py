"""examples/multi-model end to end through the real SDK against the emulator: three members behind one
MODEL_GROUP deployment, each predicted by its inference key; a change of one member is a new group version,
and only that member answers differently; the plan after each apply is empty."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from support.world import REPO, World, edit

COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaashoppricing"
INPUT = {"amount": 100, "country": "DE", "weightKg": 2.5, "customer": "gold"}


@pytest.fixture
def shop(world: World) -> Path:
    destination = world.workdir / "shop"
    shutil.copytree(
        REPO / "examples" / "multi-model", destination, ignore=shutil.ignore_patterns("__pycache__")
    )
    return destination


def _predict(world: World, deployment: Any, key: str) -> dict[str, Any]:
    from oci._vendor import requests

    sdk = world.sdk()
    url = f"{deployment.model_deployment_url}/predict"
    headers = {"content-type": "application/json", "model-key": key}
    answer = requests.post(
        url, data=json.dumps(INPUT), headers=headers, auth=sdk.base_client.signer, timeout=30
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _deployment(world: World) -> Any:
    [deployment] = world.deployments(COMPARTMENT)
    return deployment


def _group(world: World, deployment: Any) -> Any:
    group_id = world.sdk().get_model_deployment(deployment.id).data.model_deployment_configuration_details
    return world.sdk().get_model_group(group_id.model_group_configuration_details.model_group_id).data


@pytest.mark.parametrize("update_type", ["ZDT", "LIVE"])
def test_the_multi_model_example_serves_each_member_and_updates_one(
    world: World, shop: Path, update_type: str
) -> None:
    edit(shop / "pricing.yaml", "updateType: ZDT", f"updateType: {update_type}")
    first = world.mdr("apply", "shop", "--auto-approve")
    assert first.returncode == 0, first.stdout + first.stderr
    deployment = _deployment(world)
    config = world.sdk().get_model_deployment(deployment.id).data.model_deployment_configuration_details
    assert config.deployment_type == "MODEL_GROUP"
    group = _group(world, deployment)
    assert sorted(m.inference_key for m in group.member_model_entries.member_model_details) == [
        "discount",
        "shipping",
        "tax",
    ]
    assert (group.model_group_version_history_name, group.version_id) == ("pricing", 1)
    before = {key: _predict(world, deployment, key) for key in ("tax", "shipping", "discount")}
    assert before["tax"] == {"model": "tax", "rate": 0.19, "tax": 19.0}
    assert before["shipping"] == {"model": "shipping", "cost": 7.5}
    assert before["discount"] == {"model": "discount", "share": 0.1, "discount": 10.0}
    empty = world.mdr("plan", "shop", "--detailed-exitcode")
    assert empty.returncode == 0, empty.stdout + empty.stderr

    edit(shop / "models" / "tax" / "score.py", '"DE": 0.19', '"DE": 0.07')
    plan = world.mdr("plan", "shop")
    assert "model.members.tax" in plan.stdout, plan.stdout
    assert "model.members.shipping" not in plan.stdout and "model.members.discount" not in plan.stdout
    second = world.mdr("apply", "shop", "--auto-approve")
    assert second.returncode == 0, second.stdout + second.stderr
    deployment = _deployment(world)
    after = {key: _predict(world, deployment, key) for key in ("tax", "shipping", "discount")}
    assert after["tax"] == {"model": "tax", "rate": 0.07, "tax": 7.0}
    assert {k: v for k, v in after.items() if k != "tax"} == {k: v for k, v in before.items() if k != "tax"}
    group = _group(world, deployment)
    assert group.version_id == 2
    empty = world.mdr("plan", "shop", "--detailed-exitcode")
    assert empty.returncode == 0, empty.stdout + empty.stderr


def test_a_member_added_and_one_removed_show_one_by_one(world: World, shop: Path) -> None:
    assert world.mdr("apply", "shop", "--auto-approve").returncode == 0
    manifest = shop / "pricing.yaml"
    edit(
        manifest,
        "      - inferenceKey: discount\n        artifact: models/discount\n        metadata: {useCaseType: other, framework: other}\n",
        "      - inferenceKey: rebate\n        artifact: models/discount\n",
    )
    plan = world.mdr("plan", "shop")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "model.members.rebate" in plan.stdout and "model.members.discount" in plan.stdout, plan.stdout
    assert world.mdr("apply", "shop", "--auto-approve").returncode == 0
    deployment = _deployment(world)
    assert _predict(world, deployment, "rebate")["model"] == "discount"
    assert world.mdr("plan", "shop", "--detailed-exitcode").returncode == 0
    with pytest.raises(AssertionError):
        _predict(world, deployment, "discount")


def _by_hand(world: World) -> str:
    """A MODEL_GROUP deployment of two catalog models made with the SDK, as a team without mdr makes one."""
    import io
    import time
    import zipfile

    from oci.data_science import models as dm

    sdk = world.sdk()
    project = "ocid1.datascienceproject.oc1.iad.aaaaaaaashoppricing"
    members = []
    for key, factor in (("double", 2), ("triple", 3)):
        model = sdk.create_model(dm.CreateModelDetails(compartment_id=COMPARTMENT, project_id=project)).data
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(
                "score.py",
                f"def load_model():\n    return None\n\n\ndef predict(data, model=None):\n    return data['amount'] * {factor}\n",
            )
            archive.writestr("runtime.yaml", "MODEL_ARTIFACT_VERSION: '3.0'\n")
        sdk.create_model_artifact(
            model.id, buffer.getvalue(), content_disposition='attachment; filename="m.zip"'
        )
        members.append(dm.MemberModelDetails(inference_key=key, model_id=model.id))
    group = sdk.create_model_group(
        dm.CreateModelGroupDetails(
            compartment_id=COMPARTMENT,
            project_id=project,
            model_group_details=dm.HomogeneousModelGroupDetails(),
            member_model_entries=dm.MemberModelEntries(member_model_details=members),
        )
    ).data
    deadline = time.monotonic() + 10
    while sdk.get_model_group(group.id).data.lifecycle_state != "ACTIVE" and time.monotonic() < deadline:
        time.sleep(0.05)
    infrastructure = dm.InstancePoolInfrastructureConfigurationDetails(
        instance_configuration=dm.InstanceConfiguration(
            instance_shape_name="VM.Standard.E4.Flex",
            model_deployment_instance_shape_config_details=dm.ModelDeploymentInstanceShapeConfigDetails(
                ocpus=1.0, memory_in_gbs=16.0
            ),
        ),
        scaling_policy=dm.FixedSizeScalingPolicy(instance_count=1),
        bandwidth_mbps=10,
    )
    created = sdk.create_model_deployment(
        dm.CreateModelDeploymentDetails(
            compartment_id=COMPARTMENT,
            project_id=project,
            display_name="calculator",
            model_deployment_configuration_details=dm.ModelGroupDeploymentConfigurationDetails(
                model_group_configuration_details=dm.ModelGroupConfigurationDetails(model_group_id=group.id),
                infrastructure_configuration_details=infrastructure,
            ),
        )
    ).data
    while (
        sdk.get_model_deployment(created.id).data.lifecycle_state != "ACTIVE" and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    return str(created.id)


def test_import_writes_a_model_group_manifest_that_adopts_without_a_change(world: World) -> None:
    deployment_id = _by_hand(world)
    args = ("import", "--compartment", COMPARTMENT, "--out", "imported", "--stack", "imported")
    done = world.mdr(*args, *world.target_args())
    assert done.returncode == 0, done.stdout + done.stderr
    import yaml

    manifest = yaml.safe_load((world.workdir / "imported" / "calculator.yaml").read_text())
    members = manifest["spec"]["modelGroup"]["members"]
    assert [m["inferenceKey"] for m in members] == ["double", "triple"]
    assert "model" not in manifest["spec"] and "unmodelled" not in done.stderr
    assert "does not manage" not in done.stderr and "cannot write" not in done.stderr, done.stderr
    plan = world.mdr("plan", "imported", "--detailed-exitcode")
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert "0 to create, 1 to update" in plan.stdout and "ModelGroup" not in plan.stdout, plan.stdout
    adopt = world.mdr("apply", "imported", "--auto-approve")
    assert adopt.returncode == 0, adopt.stdout + adopt.stderr
    after = world.mdr("plan", "imported", "--detailed-exitcode")
    assert after.returncode == 0, after.stdout + after.stderr
    [live] = world.deployments(COMPARTMENT)
    assert live.id == deployment_id and live.freeform_tags["mdr-stack"] == "imported"
