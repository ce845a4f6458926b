"""``mdr promote`` of a ``spec.modelGroup`` deployment, end to end: staging's group members (by content) are
written into prod's promotions file, prod's own settings stay, prod's plan shows the member that changes and
its apply serves it; promoting again writes nothing; a deployment that is a group in one environment and a
single model in the other is refused with a reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml
from support.world import REPO, World, edit

STAGING = "ocid1.compartment.oc1..aaaaaaaashopstaging"
PROD = "ocid1.compartment.oc1..aaaaaaaashopprod"
INPUT = {"amount": 100, "country": "DE", "weightKg": 2.5, "customer": "gold"}


def _environment(folder: Path, name: str, compartment: str) -> None:
    folder.mkdir(parents=True)
    (folder / "mdr.yaml").write_text(
        f"stack: shop-{name}\nregion: us-ashburn-1\nbase: ../../base\n"
        f"defaults:\n  compartmentId: {compartment}\n"
        f"  projectId: ocid1.datascienceproject.oc1.iad.aaaaaaaashop{name}\n"
    )


def _tree(world: World) -> Path:
    """base/ (the multi-model example, plus a second tax model) and envs/{staging,prod}: staging serves
    tax-v2, prod the base's tax and its own group display name."""
    tree = world.workdir / "deploy"
    base = tree / "base"
    example = REPO / "examples" / "multi-model"
    shutil.copytree(example / "models", base / "models", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(example / "pricing.yaml", base / "pricing.yaml")
    shutil.copytree(base / "models" / "tax", base / "models" / "tax-v2")
    edit(base / "models" / "tax-v2" / "score.py", '"DE": 0.19', '"DE": 0.07')
    _environment(tree / "envs" / "staging", "staging", STAGING)
    _environment(tree / "envs" / "prod", "prod", PROD)
    members = yaml.safe_load((base / "pricing.yaml").read_text())["spec"]["modelGroup"]["members"]
    for member in members:  # a path in a patch is relative to the patch's own folder
        member["artifact"] = f"../../base/{member['artifact']}"
    members[0]["artifact"] = "../../base/models/tax-v2"
    patch = {
        "apiVersion": "mdr/v1",
        "kind": "ModelDeploymentPatch",
        "metadata": {"name": "pricing"},
        "spec": {"modelGroup": {"members": members}},
    }
    (tree / "envs" / "staging" / "pricing.yaml").write_text(yaml.safe_dump(patch, sort_keys=False))
    prod_patch = {**patch, "spec": {"modelGroup": {"displayName": "pricing-prod-group"}}}
    (tree / "envs" / "prod" / "pricing.yaml").write_text(yaml.safe_dump(prod_patch, sort_keys=False))
    return tree


def _apply(world: World, env: str) -> None:
    done = world.mdr("apply", f"deploy/envs/{env}", "--auto-approve")
    assert done.returncode == 0, done.stdout + done.stderr


def _tax(world: World, compartment: str) -> float:
    from oci._vendor import requests

    [deployment] = world.deployments(compartment)
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


def _promote(world: World) -> object:
    return world.mdr("promote", "pricing", "--from", "staging", "--to", "prod", "--envs", "deploy/envs")


def test_promote_writes_stagings_members_into_prod_which_then_serves_them(world: World) -> None:
    tree = _tree(world)
    _apply(world, "staging")
    _apply(world, "prod")
    assert (_tax(world, STAGING), _tax(world, PROD)) == (0.07, 0.19)
    done = _promote(world)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "model group HOMOGENEOUS" in done.stdout and "review it, commit it" in done.stdout, done.stdout
    [written] = list(yaml.safe_load_all((tree / "envs" / "prod" / "promotions.yaml").read_text()))
    group = written["spec"]["modelGroup"]
    assert [m["inferenceKey"] for m in group["members"]] == ["tax", "shipping", "discount"]
    assert group["members"][0]["artifact"] == "../../base/models/tax-v2"
    assert "displayName" not in group  # prod's own group name is not promoted
    assert _tax(world, PROD) == 0.19  # nothing in the cloud changed yet
    plan = world.mdr("plan", "deploy/envs/prod", "--detailed-exitcode")
    assert plan.returncode == 2 and "model.members.tax" in plan.stdout, plan.stdout
    assert "model.members.shipping" not in plan.stdout, plan.stdout
    _apply(world, "prod")
    assert _tax(world, PROD) == 0.07
    sdk = world.sdk()
    [deployment] = world.deployments(PROD)
    config = sdk.get_model_deployment(deployment.id).data.model_deployment_configuration_details
    served = sdk.get_model_group(config.model_group_configuration_details.model_group_id).data
    assert served.display_name == "pricing-prod-group"
    again = _promote(world)
    assert again.returncode == 0 and "nothing written" in again.stdout, again.stdout
    assert world.mdr("plan", "deploy/envs/prod", "--detailed-exitcode").returncode == 0


def test_promote_refuses_a_group_onto_a_single_model_and_writes_nothing(world: World) -> None:
    tree = _tree(world)
    single = {
        "apiVersion": "mdr/v1",
        "kind": "ModelDeploymentPatch",
        "metadata": {"name": "pricing"},
        "spec": {"modelGroup": None, "model": {"artifact": "../../base/models/tax"}},
    }
    (tree / "envs" / "prod" / "pricing.yaml").write_text(yaml.safe_dump(single, sort_keys=False))
    done = _promote(world)
    assert done.returncode == 1
    assert "cannot switch between the two" in done.stdout + done.stderr, done.stdout + done.stderr
    assert not (tree / "envs" / "prod" / "promotions.yaml").exists()
