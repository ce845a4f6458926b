"""``mdr rollback`` of a ``spec.modelGroup`` deployment, end to end through the real SDK against the emulator:
it points the deployment back at the previous owned group version (or the one ``--to`` names), the members
answer as they did then, and the next plan moves it forward again. A version holding a model that is gone
is refused before anything changes."""

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


def _tax(world: World) -> float:
    from oci._vendor import requests

    [deployment] = world.deployments(COMPARTMENT)
    answer = requests.post(
        f"{deployment.model_deployment_url}/predict",
        data=json.dumps(INPUT),
        headers={"content-type": "application/json", "model-key": "tax"},
        auth=world.sdk().base_client.signer,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    rate: float = answer.json()["rate"]
    return rate


def _served(world: World) -> Any:
    [deployment] = world.deployments(COMPARTMENT)
    config = world.sdk().get_model_deployment(deployment.id).data.model_deployment_configuration_details
    return world.sdk().get_model_group(config.model_group_configuration_details.model_group_id).data


def _two_versions(world: World, shop: Path) -> tuple[Any, Any]:
    assert world.mdr("apply", "shop", "--auto-approve").returncode == 0
    first = _served(world)
    edit(shop / "models" / "tax" / "score.py", '"DE": 0.19', '"DE": 0.07')
    assert world.mdr("apply", "shop", "--auto-approve").returncode == 0
    return first, _served(world)


def test_rollback_points_a_group_deployment_at_the_previous_group_version(world: World, shop: Path) -> None:
    first, second = _two_versions(world, shop)
    assert _tax(world) == 0.07
    done = world.mdr("rollback", "shop", "pricing")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"model group {second.id} -> {first.id}" in done.stderr, done.stderr
    assert _served(world).id == first.id and _tax(world) == 0.19
    plan = world.mdr("plan", "shop", "--detailed-exitcode")
    assert plan.returncode == 2 and "model.members.tax" in plan.stdout, plan.stdout
    assert "ModelGroup" not in plan.stdout.split("Plan:")[0].replace("model.groupId", ""), plan.stdout
    assert world.mdr("apply", "shop", "--auto-approve").returncode == 0
    assert _served(world).id == second.id and _tax(world) == 0.07


def test_rollback_to_names_a_version_and_refuses_one_not_owned(world: World, shop: Path) -> None:
    first, second = _two_versions(world, shop)
    assert world.mdr("rollback", "shop", "pricing").returncode == 0
    forward = world.mdr("rollback", "shop", "pricing", "--to", second.id)
    assert forward.returncode == 0, forward.stdout + forward.stderr
    assert _served(world).id == second.id
    wrong = world.mdr("rollback", "shop", "pricing", "--to", "ocid1.datasciencemodelgroup.oc1.iad.nothere")
    assert wrong.returncode == 1
    assert "is not an ACTIVE model group owned by ModelDeployment/pricing" in wrong.stdout + wrong.stderr
    assert first.id in wrong.stdout + wrong.stderr


def test_a_first_version_has_nothing_to_roll_back_to(world: World, shop: Path) -> None:
    assert world.mdr("apply", "shop", "--auto-approve").returncode == 0
    done = world.mdr("rollback", "shop", "pricing")
    assert done.returncode == 1
    assert "no previous model group version to roll back to" in done.stdout + done.stderr


def test_a_version_holding_a_deleted_model_is_refused_before_any_change(world: World, shop: Path) -> None:
    first, second = _two_versions(world, shop)
    old_tax = next(
        m.model_id for m in first.member_model_entries.member_model_details if m.inference_key == "tax"
    )
    world.sdk().delete_model(old_tax)
    done = world.mdr("rollback", "shop", "pricing")
    assert done.returncode == 1
    output = done.stdout + done.stderr
    assert "can no longer be served" in output and f"tax ({old_tax}" in output, output
    assert _served(world).id == second.id
