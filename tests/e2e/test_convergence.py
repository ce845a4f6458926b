"""Convergence from states made outside mdr: after one apply, the next plan is empty (real SDK, emulator)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import oci
import pytest
from support.world import EXAMPLE_COMPARTMENT, World, edit


def _log_group_by_hand(world: World, name: str) -> str:
    client = world.logging_sdk()
    details = oci.logging.models.CreateLogGroupDetails(compartment_id=EXAMPLE_COMPARTMENT, display_name=name)
    client.create_log_group(details)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        groups = [g for g in client.list_log_groups(EXAMPLE_COMPARTMENT).data if g.display_name == name]
        if groups and groups[0].lifecycle_state == "ACTIVE":
            return str(groups[0].id)
        time.sleep(0.1)
    raise AssertionError("log group not created")


def test_a_log_group_given_by_id_with_logs_given_by_name_converges(world: World, stack: Path) -> None:
    group_id = _log_group_by_hand(world, "platform-logs")
    for manifest in ("fraud-scorer.yaml", "churn-container.yaml"):
        text = (stack / manifest).read_text()
        if "logGroup: {name: risk-logs}" in text:
            edit(stack / manifest, "logGroup: {name: risk-logs}", f"logGroup: {{id: {group_id}}}")
    applied = world.mdr("apply", "manifests", "--auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    again = world.mdr("plan", "manifests", "--detailed-exitcode")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes" in again.stdout
    logs = world.logging_sdk().list_logs(group_id).data
    assert sorted(log.display_name for log in logs) == sorted(
        {log.display_name for log in logs}
    )  # no duplicates


def test_a_blocked_change_holds_back_only_itself(world: World, stack: Path) -> None:
    """A protect-blocked replace on one deployment must not stop an unrelated change on another."""
    assert world.mdr("apply", "manifests", "--auto-approve").returncode == 0
    before = {d.display_name: d.id for d in world.deployments()}
    fraud = stack / "fraud-scorer.yaml"
    edit(fraud, "    protect: false", "    protect: true")
    assert world.mdr("apply", "manifests", "--auto-approve").returncode == 0  # a policy tag update
    edit(fraud, "spec:\n", "spec:\n  projectId: ocid1.datascienceproject.oc1.iad.aaaaaaaaother\n")
    edit(stack / "churn-container.yaml", "env: {LOG_LEVEL: info}", "env: {LOG_LEVEL: debug}")
    result = world.mdr("apply", "manifests", "--auto-approve")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "blocked: must be replaced" in result.stdout
    assert "skipped: ModelDeployment/fraud-scorer" in result.stdout
    after = {d.display_name: d.id for d in world.deployments()}
    assert after == before  # nothing deleted or re-created
    churn = world.sdk().get_model_deployment(after["Churn API"]).data
    variables = (
        churn.model_deployment_configuration_details.environment_configuration_details.environment_variables
    )
    assert variables["LOG_LEVEL"] == "debug"


def test_a_deployment_still_creating_is_not_reported_as_up_to_date(world: World, stack: Path) -> None:
    """An apply killed after its create was accepted leaves a CREATING deployment: the next plan must not
    say "No changes … matches", and apply waits for it instead of exiting 0 at once."""
    (stack / "churn-container.yaml").unlink()  # one deployment: nothing else left to plan after the kill
    world.emulator.work_request_seconds = 3.0
    crashed = world.mdr("apply", "manifests", "--auto-approve", crash_at="after:CreateModelDeployment")
    assert crashed.returncode == -9
    creating = [d for d in world.deployments() if d.lifecycle_state == "CREATING"]
    assert creating, "the create was accepted before the kill"
    plan = world.mdr("plan", "manifests", "--detailed-exitcode")
    assert "matches the manifests" not in plan.stdout
    assert plan.returncode == 2, plan.stdout + plan.stderr
    world.emulator.work_request_seconds = 0.05
    applied = world.mdr("apply", "manifests", "--auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert all(d.lifecycle_state == "ACTIVE" for d in world.deployments())
    assert world.mdr("plan", "manifests", "--detailed-exitcode").returncode == 0


def _owned_everywhere(world: World, compartments: list[str]) -> list[str]:
    found = []
    for compartment in compartments:
        for deployment in world.deployments(compartment):
            if deployment.freeform_tags.get("mdr-key") == "ModelDeployment/fraud-scorer":
                found.append(str(deployment.id))
    return found


@pytest.mark.parametrize("memory", ["local-record", "resource-search-only"])
def test_a_deployment_moved_twice_is_found_where_it_is(world: World, stack: Path, memory: str) -> None:
    """Moving A -> B -> C must move one deployment, never leave a second live one no plan sees: found from
    the local record of compartments, or, on a runner without it, through Resource Search."""
    (stack / "churn-container.yaml").unlink()
    fraud = stack / "fraud-scorer.yaml"
    text = fraud.read_text()
    base = text[: text.index("  logging:")] + text[text.index("  policy:") :]
    fraud.write_text(base)
    compartments = [
        EXAMPLE_COMPARTMENT,
        "ocid1.compartment.oc1..aaaaaaaamoveb",
        "ocid1.compartment.oc1..aaaaaaaamovec",
    ]
    assert world.mdr("apply", "manifests", "--auto-approve").returncode == 0
    [first] = _owned_everywhere(world, compartments)
    for compartment in compartments[1:]:
        fraud.write_text(base.replace("spec:\n", f"spec:\n  compartmentId: {compartment}\n", 1))
        if memory == "resource-search-only":
            shutil.rmtree(world.workdir / ".mdr", ignore_errors=True)  # a fresh CI runner
        result = world.mdr("apply", "manifests", "--auto-approve")
        assert result.returncode == 0, result.stdout + result.stderr
        assert _owned_everywhere(world, compartments) == [first]
        assert world.mdr("plan", "manifests", "--detailed-exitcode").returncode == 0
    assert [d.id for d in world.deployments(compartments[2])] == [first]


def test_a_new_log_retention_is_applied_to_the_stacks_own_logs(world: World, stack: Path) -> None:
    assert world.mdr("apply", "manifests", "--auto-approve").returncode == 0
    edit(
        stack / "fraud-scorer.yaml",
        "    logGroup: {name: risk-logs}",
        "    logGroup: {name: risk-logs}\n    retentionDays: 90",
    )
    plan = world.mdr("plan", "manifests")
    assert "~ retentionDays: 30 -> 90" in plan.stdout, plan.stdout
    applied = world.mdr("apply", "manifests", "--auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    [group] = [g for g in world.log_groups() if g.display_name == "risk-logs"]
    retention = {
        log.display_name: log.retention_duration for log in world.logging_sdk().list_logs(group.id).data
    }
    assert retention["fraud-scorer-access"] == retention["fraud-scorer-predict"] == 90
    assert retention["churn-api-predict"] == 30
    assert world.mdr("plan", "manifests", "--detailed-exitcode").returncode == 0
