"""Convergence from states made outside mdr: after one apply, the next plan is empty (real SDK, emulator)."""

from __future__ import annotations

import time
from pathlib import Path

import oci
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
