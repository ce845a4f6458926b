"""``policy.replace: CreateBeforeDelete`` end to end: the new deployment is ACTIVE before the old one goes,
and an apply killed between the two leaves a state the next apply finishes (never two copies, never zero)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.world import World, edit

from reconciler.core.replace import TAG_REPLACES

OTHER_PROJECT = "ocid1.datascienceproject.oc1.iad.aaaaaaaaother"


def _single_stack(world: World, stack: Path, order: str) -> str:
    """The example stack with only the fraud scorer, applied; its deployment's OCID."""
    (stack / "churn-container.yaml").unlink()
    edit(stack / "fraud-scorer.yaml", "    deletion: Delete", f"    deletion: Delete\n    replace: {order}")
    applied = world.mdr("apply", "manifests", "--auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    [old] = world.deployments()
    edit(stack / "fraud-scorer.yaml", "spec:\n", f"spec:\n  projectId: {OTHER_PROJECT}\n")
    return str(old.id)


def test_create_before_delete_replaces_with_the_new_one_active_and_the_old_one_gone(
    world: World, stack: Path
) -> None:
    old_id = _single_stack(world, stack, "CreateBeforeDelete")
    old_url = world.sdk().get_model_deployment(old_id).data.model_deployment_url
    plan = world.mdr("plan", "manifests")
    assert "modelDeploymentUrl" in plan.stdout and old_url in plan.stdout
    assert "CreateModelDeployment" in plan.stdout.split("DeleteModelDeployment")[0]
    result = world.mdr("apply", "manifests", "--auto-approve")
    assert result.returncode == 0, result.stdout + result.stderr
    [new] = world.deployments()
    assert new.id != old_id and new.lifecycle_state == "ACTIVE" and new.project_id == OTHER_PROJECT
    assert world.sdk().get_model_deployment(old_id).data.lifecycle_state == "DELETED"
    assert "No changes" in world.mdr("plan", "manifests").stdout


def test_the_new_deployment_is_active_before_the_old_one_is_deleted(world: World, stack: Path) -> None:
    old_id = _single_stack(world, stack, "CreateBeforeDelete")
    crashed = world.mdr("apply", "manifests", "--auto-approve", crash_at="before:DeleteModelDeployment")
    assert crashed.returncode == -9, crashed.stdout + crashed.stderr
    by_id = {d.id: d for d in world.deployments()}
    assert set(by_id) - {old_id}, "the new deployment exists before the delete"
    [new_id] = set(by_id) - {old_id}
    assert by_id[new_id].lifecycle_state == "ACTIVE" and by_id[old_id].lifecycle_state == "ACTIVE"
    assert by_id[new_id].freeform_tags[TAG_REPLACES] == old_id


@pytest.mark.parametrize("point", ["after:CreateModelDeployment", "before:DeleteModelDeployment"])
def test_a_replacement_killed_between_create_and_delete_is_finished_by_the_next_apply(
    world: World, stack: Path, point: str
) -> None:
    old_id = _single_stack(world, stack, "CreateBeforeDelete")
    crashed = world.mdr("apply", "manifests", "--auto-approve", crash_at=point)
    assert crashed.returncode == -9, crashed.stdout + crashed.stderr
    assert len(world.deployments()) == 2  # the old one still serves
    plan = world.mdr("plan", "manifests", "--detailed-exitcode")
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert "interrupted replacement" in plan.stdout and "blocked" not in plan.stdout
    rerun = world.mdr("apply", "manifests", "--auto-approve")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    [new] = world.deployments()
    assert new.id != old_id and new.lifecycle_state == "ACTIVE"
    assert "No changes" in world.mdr("plan", "manifests").stdout


def test_the_default_still_deletes_first(world: World, stack: Path) -> None:
    old_id = _single_stack(world, stack, "DeleteBeforeCreate")
    crashed = world.mdr("apply", "manifests", "--auto-approve", crash_at="before:DeleteModelDeployment")
    assert crashed.returncode == -9
    assert [d.id for d in world.deployments()] == [old_id]  # nothing created before the delete
