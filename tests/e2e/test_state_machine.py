"""Resources that come and go across applies: what was deleted is created again, what is only half applied
is not mistaken for drift, and what mdr lets go keeps its secrets (the real CLI and SDK, the emulator).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from oci.data_science import models as dm
from support.reliability import wait_until
from support.world import EXAMPLE_COMPARTMENT, World, edit

OTHER_COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaariskother"


def apply(world: World, *args: str, env: dict[str, str] | None = None) -> str:
    done = world.mdr("apply", "manifests", "--auto-approve", *args, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def plan_json(world: World, *args: str) -> dict[str, Any]:
    done = world.mdr("plan", "manifests", "--output", "json", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(json.loads(done.stdout))


def assert_no_changes(world: World, *args: str) -> None:
    done = world.mdr("plan", "manifests", "--detailed-exitcode", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No changes" in done.stdout


def deployment(world: World, display_name: str, compartment: str = EXAMPLE_COMPARTMENT) -> Any:
    [found] = [d for d in world.deployments(compartment) if d.display_name == display_name]
    return world.sdk().get_model_deployment(found.id).data


def model_of(item: Any) -> str:
    return str(item.model_deployment_configuration_details.model_configuration_details.model_id)


# ---------------------------------------------------------------------------- deleted things come back


def test_a_pruned_deployment_can_be_added_back(world: World, stack: Path) -> None:
    edit(stack / "mdr.yaml", "prune: false", "prune: true")
    apply(world)
    aside = world.workdir / "churn-container.yaml"
    shutil.move(stack / "churn-container.yaml", aside)
    apply(world)
    assert [d.display_name for d in world.deployments()] == ["Fraud scorer"]
    shutil.move(aside, stack / "churn-container.yaml")

    apply(world)

    churn = deployment(world, "Churn API")
    assert churn.lifecycle_state == "ACTIVE"
    assert world.sdk().get_model(model_of(churn)).data.lifecycle_state == "ACTIVE"
    assert_no_changes(world)


def test_a_log_deleted_by_hand_is_created_again_and_used(world: World, stack: Path) -> None:
    apply(world)
    logging = world.logging_sdk()
    [group] = world.log_groups()
    [access] = [x for x in logging.list_logs(group.id).data if x.display_name == "fraud-scorer-access"]
    logging.delete_log(group.id, access.id)
    wait_until(lambda: access.id not in {x.id for x in logging.list_logs(group.id).data})

    out = apply(world)

    logs = {x.display_name: x for x in logging.list_logs(group.id).data}
    recreated = logs["fraud-scorer-access"]
    assert recreated.id != access.id and recreated.lifecycle_state == "ACTIVE", out
    fraud = deployment(world, "Fraud scorer")
    assert fraud.category_log_details.access.log_id == recreated.id
    assert_no_changes(world)


def test_reverting_to_an_artifact_whose_model_keep_0_deleted_makes_a_new_model(
    world: World, stack: Path
) -> None:
    edit(stack / "fraud-scorer.yaml", "keep: 3", "keep: 0")
    apply(world)
    first = model_of(deployment(world, "Fraud scorer"))
    score = stack / "models" / "fraud-scorer" / "score.py"
    original = score.read_text()
    score.write_text(original + "\n# v2\n")
    apply(world)
    assert world.sdk().get_model(first).data.lifecycle_state == "DELETED"  # keep: 0 let it go
    score.write_text(original)  # git revert

    apply(world)

    reverted = model_of(deployment(world, "Fraud scorer"))
    assert reverted != first
    model = world.sdk().get_model(reverted).data
    assert model.lifecycle_state == "ACTIVE"
    assert int(world.sdk().head_model_artifact(reverted).headers["content-length"]) > 0
    assert_no_changes(world)


# ---------------------------------------------------------------------------- retry tokens and bodies


def test_moving_deployments_to_another_compartment_with_named_logs(world: World, stack: Path) -> None:
    apply(world)
    for manifest in ("fraud-scorer.yaml", "churn-container.yaml"):
        edit(stack / manifest, "spec:\n", f"spec:\n  compartmentId: {OTHER_COMPARTMENT}\n")

    apply(world)

    moved = {d.display_name for d in world.deployments(OTHER_COMPARTMENT)}
    assert moved == {"Fraud scorer", "Churn API"}
    [group] = world.log_groups(OTHER_COMPARTMENT)
    assert group.display_name == "risk-logs"
    fraud = deployment(world, "Fraud scorer", OTHER_COMPARTMENT)
    assert fraud.category_log_details.access.log_group_id == group.id
    assert_no_changes(world)


# ---------------------------------------------------------------------------- half-applied changes


def test_a_change_killed_between_two_updates_is_not_called_drift(world: World, stack: Path) -> None:
    apply(world)
    edit(stack / "fraud-scorer.yaml", "displayName: Fraud scorer", "displayName: Fraud scorer v2")
    edit(stack / "fraud-scorer.yaml", 'WEB_CONCURRENCY: "2"', 'WEB_CONCURRENCY: "4"')

    killed = world.mdr(
        "apply", "manifests", "--auto-approve", crash_at="recorded:UpdateModelDeployment", timeout=300
    )

    assert killed.returncode != 0
    assert deployment(world, "Fraud scorer v2").lifecycle_state == "ACTIVE"  # the first update went out
    plan = plan_json(world)
    [fraud] = [c for c in plan["changes"] if c["key"] == "ModelDeployment/fraud-scorer"]
    assert [f["path"] for f in fraud["fields"]] == ["runtime.env.WEB_CONCURRENCY"]
    assert fraud["drift"] is False, "the rest of the manifest's change is not a change made outside mdr"
    apply(world)
    assert_no_changes(world)


# ---------------------------------------------------------------------------- what is left behind


def test_an_orphaned_deployment_keeps_its_secrets_out_of_an_import(world: World, stack: Path) -> None:
    canary = "canary-orphan-7d1f0c2e"
    edit(
        stack / "churn-container.yaml",
        "    env: {LOG_LEVEL: info}",
        "    env: {LOG_LEVEL: info}\n    secretEnv: {SESSION_SEED: {fromEnv: CHURN_SEED}}",
    )
    edit(
        stack / "churn-container.yaml",
        "    predict: {name: churn-api-predict}",
        "    predict: {name: churn-api-predict}\n  policy: {deletion: Orphan}",
    )
    apply(world, env={"CHURN_SEED": canary})
    (stack / "churn-container.yaml").unlink()
    apply(world, "--prune")
    churn = deployment(world, "Churn API")
    assert "mdr-stack" not in (churn.freeform_tags or {})  # orphaned

    done = world.mdr(
        "import", "--compartment", EXAMPLE_COMPARTMENT, "--out", "imported", *world.target_args()
    )

    assert done.returncode == 0, done.stdout + done.stderr
    written = list((world.workdir / "imported").rglob("*"))
    assert any(p.suffix == ".yaml" and "SESSION_SEED" in p.read_text() for p in written if p.is_file())
    for path in written:
        if path.is_file():
            assert canary not in path.read_text(), path
    assert canary not in done.stdout + done.stderr


# ---------------------------------------------------------------------------- the model in the catalog


def test_edits_to_the_model_in_the_catalog_are_planned_and_applied(world: World, stack: Path) -> None:
    apply(world)
    manifest = stack / "fraud-scorer.yaml"
    edit(manifest, "displayName: fraud-model", "displayName: fraud-model-renamed")
    edit(manifest, "    keep: 3", "    description: Gradient boosted fraud model\n    keep: 3")
    edit(
        manifest,
        "framework: other}",
        "framework: other, hyperparameters: {depth: 6, eta: 0.3}}",
    )

    planned = world.mdr("plan", "manifests", "--detailed-exitcode")

    assert planned.returncode == 2, planned.stdout + planned.stderr
    assert "Model fraud-model-renamed" in planned.stdout
    assert "will be updated in place" in planned.stdout
    for path in ("displayName", "description", "metadata"):
        assert f" {path}" in planned.stdout, planned.stdout
    out = apply(world)
    assert "Model fraud-model-renamed: update complete" in out  # progress names it as the plan does
    model = world.sdk().get_model(model_of(deployment(world, "Fraud scorer"))).data
    assert model.display_name == "fraud-model-renamed"
    assert model.description == "Gradient boosted fraud model"
    hyper = [m for m in model.defined_metadata_list if m.key == "Hyperparameters"]
    assert [json.loads(m.value) for m in hyper] == [{"depth": 6, "eta": 0.3}]
    assert model.freeform_tags["mdr-stack"] == "risk-prod"  # still owned
    assert_no_changes(world)


def _oracle_tags(world: World, deployment_id: str) -> dict[str, Any]:
    return dict(
        (world.sdk().get_model_deployment(deployment_id).data.defined_tags or {}).get("Oracle-Tags") or {}
    )


def test_defined_tags_the_service_added_survive_a_rename(world: World, stack: Path) -> None:
    apply(world)
    fraud = deployment(world, "Fraud scorer")
    added = {"CreatedBy": "ocid1.user.oc1..alice", "CreatedOn": "2026-01-01T00:00:00Z"}
    response = world.sdk().update_model_deployment(
        fraud.id, dm.UpdateModelDeploymentDetails(defined_tags={"Oracle-Tags": added})
    )
    request = response.headers["opc-work-request-id"]
    wait_until(lambda: world.sdk().get_work_request(request).data.status == "SUCCEEDED")
    wait_until(lambda: world.sdk().get_model_deployment(fraud.id).data.lifecycle_state == "ACTIVE")
    assert _oracle_tags(world, fraud.id) == added
    edit(stack / "fraud-scorer.yaml", "displayName: Fraud scorer", "displayName: Fraud scorer v2")

    apply(world)

    assert deployment(world, "Fraud scorer v2").id == fraud.id
    assert _oracle_tags(world, fraud.id) == added
