"""The model groups mdr creates, as the oci CLI shows them (issue 14's "done when"): after ``mdr apply`` of a
``spec.modelGroup`` deployment, ``oci data-science model-group list`` finds the group, ``get`` and
``list-model-group-models`` show its members by inference key, and ``model-group-version-history list/get``
show the history the group joined, with the group as its latest version. A STACKED group shows its base."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support.world import REPO, World, edit

pytestmark = pytest.mark.skipif(shutil.which("oci") is None, reason="needs the oci CLI: pip install oci-cli")

COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaashoppricing"


def _oci(world: World, command: str, **flags: str) -> Any:
    """One oci CLI call against the emulator, as a user types it; its JSON ``data``."""
    args = ["oci", "--config-file", str(world.config_file), "--endpoint", world.emulator.url]
    args += ["--output", "json", *command.split()]
    for flag, value in flags.items():
        args += ["--" + flag.replace("_", "-"), value]
    env = {"OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING": "True", "PATH": os.environ["PATH"]}
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stderr}"
    return json.loads(done.stdout).get("data") if done.stdout.strip() else None


@pytest.fixture
def shop(world: World) -> Path:
    destination = world.workdir / "shop"
    shutil.copytree(
        REPO / "examples" / "multi-model", destination, ignore=shutil.ignore_patterns("__pycache__")
    )
    return destination


def _served_group(world: World) -> str:
    [deployment] = world.deployments(COMPARTMENT)
    data = _oci(world, "data-science model-deployment get", model_deployment_id=deployment.id)
    config = data["model-deployment-configuration-details"]
    assert config["deployment-type"] == "MODEL_GROUP"
    return str(config["model-group-configuration-details"]["model-group-id"])


def test_the_cli_lists_and_gets_the_group_mdr_created_with_its_members(world: World, shop: Path) -> None:
    done = world.mdr("apply", "shop", "--auto-approve")
    assert done.returncode == 0, done.stdout + done.stderr
    group_id = _served_group(world)

    listed = _oci(world, "data-science model-group list --all", compartment_id=COMPARTMENT)
    [summary] = [g for g in listed if g["id"] == group_id]
    assert summary["lifecycle-state"] == "ACTIVE" and summary["display-name"] == "pricing-group"
    assert summary["freeform-tags"]["mdr-stack"] == "shop-pricing"

    group = _oci(world, "data-science model-group get", model_group_id=group_id)
    assert group["model-group-details"]["type"] == "HOMOGENEOUS"
    members = group["member-model-entries"]["member-model-details"]
    keys = {m["inference-key"]: m["model-id"] for m in members}
    assert sorted(keys) == ["discount", "shipping", "tax"]
    assert (group["model-group-version-history-name"], group["version-id"]) == ("pricing", 1)

    models = _oci(
        world,
        "data-science model-group list-model-group-models --all",
        model_group_id=group_id,
        compartment_id=COMPARTMENT,
    )
    assert {m["inference-key"]: m["model-id"] for m in models} == keys
    assert {m["display-name"] for m in models} == {"pricing-tax", "pricing-shipping", "pricing-discount"}

    histories = _oci(world, "data-science model-group-version-history list --all", compartment_id=COMPARTMENT)
    [history] = [h for h in histories if h["display-name"] == "pricing"]
    got = _oci(
        world, "data-science model-group-version-history get", model_group_version_history_id=history["id"]
    )
    assert got["latest-model-group-id"] == group_id and got["lifecycle-state"] == "ACTIVE"


def test_a_new_group_version_is_the_history_latest_and_the_old_one_stays_listed(
    world: World, shop: Path
) -> None:
    assert world.mdr("apply", "shop", "--auto-approve").returncode == 0
    first = _served_group(world)
    edit(shop / "models" / "tax" / "score.py", '"DE": 0.19', '"DE": 0.07')
    assert world.mdr("apply", "shop", "--auto-approve").returncode == 0
    second = _served_group(world)
    assert second != first
    listed = _oci(world, "data-science model-group list --all", compartment_id=COMPARTMENT)
    versions = {g["id"]: g.get("version-id") for g in listed}
    assert versions[first] == 1 and versions[second] == 2
    [history] = _oci(
        world,
        "data-science model-group-version-history list",
        compartment_id=COMPARTMENT,
        display_name="pricing",
    )
    assert history["latest-model-group-id"] == second


def test_the_cli_shows_a_stacked_groups_base_model(world: World, shop: Path) -> None:
    edit(shop / "pricing.yaml", "type: HOMOGENEOUS", "type: STACKED\n    baseModel: tax")
    done = world.mdr("apply", "shop", "--auto-approve")
    assert done.returncode == 0, done.stdout + done.stderr
    group = _oci(world, "data-science model-group get", model_group_id=_served_group(world))
    details = group["model-group-details"]
    keys = {m["model-id"]: m["inference-key"] for m in group["member-model-entries"]["member-model-details"]}
    assert details["type"] == "STACKED" and keys[details["base-model-id"]] == "tax"
