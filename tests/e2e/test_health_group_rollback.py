"""``policy.autoRollback`` for a model group deployment, end to end through the real SDK against the
emulator: a new group version whose member answers badly fails the health check, the deployment is pointed
back at the previous group version (the members answer as before), apply exits 1 saying so, and the next
apply holds that revision back instead of serving the bad version again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from support.world import REPO, World, edit

COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaashoppricing"
CHECK = """  healthCheck:
    request:
      body: {model: tax, amount: 100, country: DE}
    expectKeys: [rate, tax]
  policy:
    autoRollback: true
"""
BAD_TAX = """
def load_model():
    return {}


def predict(data, model=None):
    return {"oops": "the new tax model lost its table"}
"""


@pytest.fixture
def shop(world: World) -> Path:
    destination = world.workdir / "shop"
    shutil.copytree(
        REPO / "examples" / "multi-model", destination, ignore=shutil.ignore_patterns("__pycache__")
    )
    manifest = destination / "pricing.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8") + CHECK, encoding="utf-8")
    return destination


def _served_group(world: World) -> str:
    [deployment] = world.deployments(COMPARTMENT)
    config = world.sdk().get_model_deployment(deployment.id).data.model_deployment_configuration_details
    return str(config.model_group_configuration_details.model_group_id)


def _tax_answer(world: World) -> Any:
    from oci._vendor import requests

    [deployment] = world.deployments(COMPARTMENT)
    answer = requests.post(
        f"{deployment.model_deployment_url}/predict",
        data=json.dumps({"model": "tax", "amount": 100, "country": "DE"}),
        headers={"content-type": "application/json"},
        auth=world.sdk().base_client.signer,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_bad_group_version_is_rolled_back_to_the_previous_one_and_held(world: World, shop: Path) -> None:
    first = world.mdr("apply", "shop", "--auto-approve")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "health check failed" not in first.stdout
    good_group = _served_group(world)

    (shop / "models" / "tax" / "score.py").write_text(BAD_TAX, encoding="utf-8")
    swap = world.mdr("apply", "shop", "--auto-approve")

    assert swap.returncode == 1, swap.stdout + swap.stderr
    assert "health check failed" in swap.stdout
    assert f"rolled back automatically to the previous model group {good_group}" in swap.stdout
    assert _served_group(world) == good_group
    assert _tax_answer(world)["rate"] == 0.19  # the members answer as they did before the swap

    again = world.mdr("apply", "shop", "--auto-approve")
    assert "it is not applied again until the manifest changes" in again.stdout, again.stdout
    assert _served_group(world) == good_group

    edit(shop / "models" / "tax" / "score.py", "the new tax model lost its table", "fixed")
    fixed = world.mdr("plan", "shop")
    assert "model.groupId" in fixed.stdout, fixed.stdout  # a new revision is planned again
