"""plan and apply end to end: mdr as a subprocess, the real oci SDK, the emulator over HTTP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import oci
import pytest
from support.world import EXAMPLE_COMPARTMENT, World, edit

CANARY = "canary-9f3a77d1-secret"


def _apply(
    world: World, *args: str, env: dict[str, str] | None = None, crash_at: str | None = None
) -> subprocess.CompletedProcess[str]:
    return world.mdr("apply", "manifests", "--auto-approve", *args, env=env, crash_at=crash_at)


def test_example_stack_applies_from_empty_cloud_and_second_plan_is_empty(world: World, stack: Path) -> None:
    first = world.mdr("plan", "manifests", "--detailed-exitcode")
    assert first.returncode == 2, first.stderr
    assert "Plan: 8 to create" in first.stdout  # a log group, 3 logs, a model and a deployment per manifest
    result = _apply(world)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Apply complete" in result.stdout
    names = sorted(d.display_name for d in world.deployments())
    assert names == ["Churn API", "Fraud scorer"]
    assert all(d.lifecycle_state == "ACTIVE" for d in world.deployments())
    again = world.mdr("plan", "manifests", "--detailed-exitcode")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes" in again.stdout


def test_three_option_groups_are_applied_as_three_sequential_updates(world: World, stack: Path) -> None:
    assert _apply(world).returncode == 0
    manifest = stack / "fraud-scorer.yaml"
    edit(manifest, "  displayName: Fraud scorer", "  displayName: Fraud scorer v2")
    edit(manifest, "    ocpus: 1", "    ocpus: 2")
    edit(manifest, 'env: {WEB_CONCURRENCY: "2"}', 'env: {WEB_CONCURRENCY: "4"}')
    world.emulator.reset_counters()
    result = _apply(world)
    assert result.returncode == 0, result.stdout + result.stderr
    assert world.emulator.counters().get("UpdateModelDeployment") == 3
    [fraud] = [d for d in world.deployments() if d.display_name == "Fraud scorer v2"]
    config = world.sdk().get_model_deployment(fraud.id).data.model_deployment_configuration_details
    assert (
        config.model_configuration_details.instance_configuration.model_deployment_instance_shape_config_details.ocpus
        == 2
    )
    assert config.environment_configuration_details.environment_variables["WEB_CONCURRENCY"] == "4"
    assert "No changes" in world.mdr("plan", "manifests").stdout


def test_stale_saved_plan_is_refused_and_nothing_applied(world: World, stack: Path) -> None:
    assert _apply(world).returncode == 0
    edit(stack / "fraud-scorer.yaml", "    ocpus: 1", "    ocpus: 2")
    saved = world.mdr("plan", "manifests", "--out", "plan.json")
    assert saved.returncode == 0, saved.stderr
    [fraud] = [d for d in world.deployments() if d.display_name == "Fraud scorer"]
    world.sdk().update_model_deployment(fraud.id, {"displayName": "renamed behind mdr's back"})
    time.sleep(0.5)
    world.emulator.reset_counters()
    result = world.mdr("apply", "plan.json")
    assert result.returncode == 1
    assert "stale" in result.stderr and "ModelDeployment/fraud-scorer" in result.stderr
    assert world.emulator.counters().get("UpdateModelDeployment", 0) == 0


def test_saved_plan_applies_exactly(world: World, stack: Path) -> None:
    assert world.mdr("plan", "manifests", "--out", "plan.json").returncode == 0
    edit(stack / "fraud-scorer.yaml", "    ocpus: 1", "    ocpus: 4")  # not in the saved plan
    result = world.mdr("apply", "plan.json")
    assert result.returncode == 0, result.stdout + result.stderr
    [fraud] = [d for d in world.deployments() if d.display_name == "Fraud scorer"]
    shape = world.sdk().get_model_deployment(fraud.id).data.model_deployment_configuration_details
    assert (
        shape.model_configuration_details.instance_configuration.model_deployment_instance_shape_config_details.ocpus
        == 1
    )


def test_saved_plan_applies_from_another_checkout(world: World, stack: Path, tmp_path: Path) -> None:
    """CI plans in one job and applies in another, often at another workspace path."""
    assert world.mdr("plan", "manifests", "--out", "plan.json").returncode == 0
    assert '"artifactPath": "manifests/models/fraud-scorer"' in (world.workdir / "plan.json").read_text()
    other = tmp_path / "other-runner"
    shutil.copytree(world.workdir, other)
    shutil.rmtree(stack)  # the first checkout is gone
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "apply", "plan.json", *world.target_args()],
        cwd=other,
        env={**os.environ, "MDR_STATE_DIR": str(other / ".mdr")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(world.deployments()) == 2


@pytest.mark.parametrize(
    "point",
    [
        "after:CreateModelDeployment",
        "after:CreateModel",
        "after:CreateLogGroup",
        "waiting:CreateModelDeployment",
    ],
)
def test_crash_after_create_then_rerun_leaves_no_duplicate(world: World, stack: Path, point: str) -> None:
    crashed = _apply(world, crash_at=point)
    assert crashed.returncode == -9, crashed.stdout + crashed.stderr
    rerun = _apply(world)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert sorted(d.display_name for d in world.deployments()) == ["Churn API", "Fraud scorer"]
    assert len(world.models()) == 2
    assert [g.display_name for g in world.log_groups()] == ["risk-logs"]
    assert "No changes" in world.mdr("plan", "manifests").stdout


def test_concurrent_applies_do_not_interleave(world: World, stack: Path) -> None:
    world.emulator.work_request_seconds = 1.0
    world.emulator.reset_counters()
    first = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", "manifests", "--auto-approve", *world.target_args()],
        cwd=world.workdir,
        env={**os.environ, "MDR_STATE_DIR": str(world.workdir / ".mdr")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # the first apply holds the lock once it writes anything (it takes the lock before its first write)
    deadline = time.monotonic() + 60
    while not any(op.startswith("Create") for op in world.emulator.counters()):
        assert first.poll() is None and time.monotonic() < deadline, "the first apply never started writing"
        time.sleep(0.05)
    second = _apply(world, "--lock-timeout", "0.5")
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, out + err
    assert second.returncode == 1
    assert "locked by" in second.stderr
    assert len(world.deployments()) == 2


def test_secret_canary_never_leaks(world: World, stack: Path) -> None:
    edit(
        stack / "fraud-scorer.yaml",
        '    env: {WEB_CONCURRENCY: "2"}',
        '    env: {WEB_CONCURRENCY: "2"}\n    secretEnv: {API_KEY: {fromEnv: FRAUD_API_KEY}}',
    )
    env = {"FRAUD_API_KEY": CANARY}
    outputs = [world.mdr("plan", "manifests", "--out", "plan.json", env=env)]
    outputs.append(world.mdr("plan", "manifests", "--output", "json", env=env))
    outputs.append(world.mdr("plan", "manifests", "--output", "markdown", env=env))
    outputs.append(world.mdr("apply", "plan.json", env=env))
    assert outputs[-1].returncode == 0, outputs[-1].stdout + outputs[-1].stderr
    outputs.append(world.mdr("plan", "manifests", env={"FRAUD_API_KEY": CANARY + "-rotated"}))
    outputs.append(world.mdr("status", "manifests", env=env))
    for result in outputs:
        assert CANARY not in result.stdout and CANARY not in result.stderr
    assert "(sensitive)" in outputs[-2].stdout
    state = world.workdir / ".mdr"
    files = [world.workdir / "plan.json", *state.rglob("*")]
    for path in files:
        if path.is_file():
            assert CANARY not in path.read_text(errors="replace"), path
    [fraud] = [d for d in world.deployments() if d.display_name == "Fraud scorer"]
    live = world.sdk().get_model_deployment(fraud.id).data.model_deployment_configuration_details
    assert live.environment_configuration_details.environment_variables["API_KEY"] == CANARY


def test_unreadable_tree_deletes_nothing_even_with_prune(world: World, stack: Path) -> None:
    assert _apply(world).returncode == 0
    (stack / "churn-container.yaml").write_text("apiVersion: mdr/v1\nkind: ModelDeployment\nspec: [broken\n")
    result = _apply(world, "--prune")
    assert result.returncode == 1
    assert "churn-container.yaml" in result.stderr
    assert len(world.deployments()) == 2


def test_prune_deletes_removed_deployment_within_max_deletes(world: World, stack: Path) -> None:
    assert _apply(world).returncode == 0
    (stack / "churn-container.yaml").unlink()
    without = _apply(world)
    assert without.returncode == 0
    assert len(world.deployments()) == 2, "prune is off: nothing deleted"
    edit(stack / "mdr.yaml", "maxDeletes: 3", "maxDeletes: 0")
    refused = _apply(world, "--prune")
    assert refused.returncode == 1 and "--allow-deletes" in refused.stdout + refused.stderr
    assert len(world.deployments()) == 2
    allowed = _apply(world, "--prune", "--allow-deletes", "2")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert [d.display_name for d in world.deployments()] == ["Fraud scorer"]


def test_unowned_deployment_in_the_same_compartment_is_untouched(world: World, stack: Path) -> None:
    assert _apply(world).returncode == 0
    [fraud] = [d for d in world.deployments() if d.display_name == "Fraud scorer"]
    detail = world.sdk().get_model_deployment(fraud.id).data
    details = oci.data_science.models.CreateModelDeploymentDetails(
        display_name="hand-made",
        project_id=detail.project_id,
        compartment_id=EXAMPLE_COMPARTMENT,
        model_deployment_configuration_details=detail.model_deployment_configuration_details,
    )
    created = world.sdk().create_model_deployment(details).data
    (stack / "churn-container.yaml").unlink()
    result = _apply(world, "--prune", "--allow-deletes", "10")
    assert result.returncode == 0, result.stdout + result.stderr
    remaining = {d.id for d in world.deployments()}
    assert remaining == {created.id, fraud.id}  # churn pruned; the hand-made one, same model, untouched


def test_status_rollback_and_audit(world: World, stack: Path) -> None:
    assert _apply(world).returncode == 0
    (stack / "models" / "fraud-scorer" / "model.json").write_text(
        '{"version": "fraud-v2", "bias": -3.0, "weights": {"amount": 0.004, "foreign": 1.8, "night": 1.1}}'
    )
    assert _apply(world).returncode == 0
    [fraud] = [d for d in world.deployments() if d.display_name == "Fraud scorer"]
    new_model = world.sdk().get_model_deployment(fraud.id).data.model_deployment_configuration_details
    new_model_id = new_model.model_configuration_details.model_id
    status = json.loads(world.mdr("status", "manifests", "--output", "json").stdout)
    assert {s["name"]: (s["sync"], s["health"]) for s in status} == {
        "churn-api": ("Synced", "Healthy"),
        "fraud-scorer": ("Synced", "Healthy"),
    }
    rolled = world.mdr("rollback", "manifests", "fraud-scorer")
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    after = world.sdk().get_model_deployment(fraud.id).data.model_deployment_configuration_details
    assert after.model_configuration_details.model_id != new_model_id
    status = json.loads(world.mdr("status", "manifests", "--output", "json").stdout)
    assert {s["name"]: s["sync"] for s in status}["fraud-scorer"] == "OutOfSync"
    audit = world.mdr("audit", "manifests", "--output", "json")
    records = [json.loads(line) for line in audit.stdout.splitlines()]
    operations = {r["operation"] for r in records}
    assert {
        "CreateModelDeployment",
        "CreateModel",
        "CreateModelArtifact",
        "UpdateModelDeployment",
    } <= operations
    assert all(r["opcRequestId"] and r["stack"] == "risk-prod" for r in records)
    assert any(r["opcWorkRequestId"] for r in records if r["operation"] == "CreateModelDeployment")
