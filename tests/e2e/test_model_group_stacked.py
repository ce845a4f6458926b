"""STACKED model groups end to end through the real SDK against the emulator: a base model and fine-tuned
weights behind one MODEL_GROUP deployment. The manifest names the base by a member's inference key
(``modelGroup.baseModel``); the group is created as ``StackedModelGroupDetails{baseModelId}``; a call naming
no member is answered by the base, a call naming a member by that member; moving the base is a new group
version; bad manifests are refused offline at their line."""

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
def stack(world: World) -> Path:
    """examples/multi-model as a STACKED group whose base is the tax model."""
    destination = world.workdir / "llm"
    shutil.copytree(
        REPO / "examples" / "multi-model", destination, ignore=shutil.ignore_patterns("__pycache__")
    )
    edit(destination / "pricing.yaml", "type: HOMOGENEOUS", "type: STACKED\n    baseModel: tax")
    return destination


def _post(world: World, deployment: Any, headers: dict[str, str]) -> Any:
    from oci._vendor import requests

    url = f"{deployment.model_deployment_url}/predict"
    return requests.post(
        url,
        data=json.dumps(INPUT),
        headers={"content-type": "application/json", **headers},
        auth=world.sdk().base_client.signer,
        timeout=30,
    )


def _served(world: World) -> tuple[Any, Any]:
    [deployment] = world.deployments(COMPARTMENT)
    config = world.sdk().get_model_deployment(deployment.id).data.model_deployment_configuration_details
    group = world.sdk().get_model_group(config.model_group_configuration_details.model_group_id).data
    return deployment, group


def _key_of(group: Any, model_id: str) -> str:
    return next(
        m.inference_key for m in group.member_model_entries.member_model_details if m.model_id == model_id
    )


def test_a_stacked_group_serves_its_base_by_default_and_each_member_by_key(world: World, stack: Path) -> None:
    plan = world.mdr("plan", "llm")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert '+ baseModel = "tax"' in plan.stdout, plan.stdout
    done = world.mdr("apply", "llm", "--auto-approve")
    assert done.returncode == 0, done.stdout + done.stderr
    deployment, group = _served(world)
    assert group.model_group_details.type == "STACKED"
    assert _key_of(group, group.model_group_details.base_model_id) == "tax"
    base = _post(world, deployment, {})
    assert base.status_code == 200, base.text
    assert base.json()["model"] == "tax"
    shipping = _post(world, deployment, {"model-key": "shipping"})
    assert shipping.json() == {"model": "shipping", "cost": 7.5}
    empty = world.mdr("plan", "llm", "--detailed-exitcode")
    assert empty.returncode == 0, empty.stdout + empty.stderr


def test_moving_the_base_is_a_new_group_version_shown_as_a_change_of_the_base(
    world: World, stack: Path
) -> None:
    assert world.mdr("apply", "llm", "--auto-approve").returncode == 0
    _, first = _served(world)
    edit(stack / "pricing.yaml", "baseModel: tax", "baseModel: shipping")
    plan = world.mdr("plan", "llm")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "model.baseModel" in plan.stdout and "model.members." not in plan.stdout, plan.stdout
    done = world.mdr("apply", "llm", "--auto-approve")
    assert done.returncode == 0, done.stdout + done.stderr
    deployment, second = _served(world)
    assert second.id != first.id and second.version_id == first.version_id + 1
    assert _key_of(second, second.model_group_details.base_model_id) == "shipping"
    assert _post(world, deployment, {}).json()["model"] == "shipping"
    assert world.mdr("plan", "llm", "--detailed-exitcode").returncode == 0


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("\n    baseModel: tax", "", "a STACKED group names its base model"),
        ("baseModel: tax", "baseModel: vat", "no member has inferenceKey 'vat'"),
        ("type: STACKED", "type: HOMOGENEOUS", "baseModel is for type: STACKED"),
    ],
)
def test_a_wrong_base_is_refused_offline_at_its_line(
    world: World, stack: Path, old: str, new: str, message: str
) -> None:
    edit(stack / "pricing.yaml", old, new)
    done = world.mdr("plan", "llm")
    assert done.returncode == 1, done.stdout + done.stderr
    output = done.stdout + done.stderr
    assert message in output and "pricing.yaml:" in output and "modelGroup.baseModel" in output, output
    assert world.deployments(COMPARTMENT) == []


def test_import_writes_a_stacked_group_with_its_base_and_adopts_it_unchanged(
    world: World, stack: Path
) -> None:
    import yaml

    assert world.mdr("apply", "llm", "--auto-approve").returncode == 0
    deployment, _ = _served(world)
    untag = {k: v for k, v in deployment.freeform_tags.items() if not k.startswith("mdr-")}
    from oci.data_science import models as dm

    world.sdk().update_model_deployment(deployment.id, dm.UpdateModelDeploymentDetails(freeform_tags=untag))
    args = ("import", "--compartment", COMPARTMENT, "--out", "imported", "--stack", "imported")
    done = world.mdr(*args, *world.target_args())
    assert done.returncode == 0, done.stdout + done.stderr
    [manifest] = [
        doc
        for written in (world.workdir / "imported").glob("*.yaml")
        for doc in yaml.safe_load_all(written.read_text())
        if doc and doc.get("kind") == "ModelDeployment"
    ]
    block = manifest["spec"]["modelGroup"]
    assert (block["type"], block["baseModel"]) == ("STACKED", "tax"), block
    plan = world.mdr("plan", "imported", "--detailed-exitcode")
    assert "ModelGroup" not in plan.stdout, plan.stdout
