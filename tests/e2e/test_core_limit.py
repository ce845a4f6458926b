"""A compartment's model deployment cores run out: mdr says which limit and what to do, creates nothing
half-way, and a create-before-delete replacement that cannot fit leaves the old deployment serving."""

from __future__ import annotations

from pathlib import Path

from support.world import World, edit

OTHER_PROJECT = "ocid1.datascienceproject.oc1.iad.aaaaaaaaother"


def test_a_deployment_beyond_the_cores_limit_is_refused_by_name_and_the_rest_applies(
    world: World, stack: Path
) -> None:
    world.emulator.capacity.cores_per_compartment = 4  # fraud needs 1, churn up to 2 x 4 instances
    result = world.mdr("apply", "manifests", "--auto-approve")
    assert result.returncode == 1
    out = result.stdout + result.stderr
    assert "failed: ModelDeployment/churn-api (create): OCI answered 400 LimitExceeded" in out
    assert "needs 8 cores" in out and "ask for a higher limit" in out and "Traceback" not in out
    assert [d.display_name for d in world.deployments()] == ["Fraud scorer"]
    world.emulator.capacity.cores_per_compartment = 16
    assert world.mdr("apply", "manifests", "--auto-approve").returncode == 0
    assert len(world.deployments()) == 2


def test_create_before_delete_that_does_not_fit_leaves_the_old_deployment_serving(
    world: World, stack: Path
) -> None:
    (stack / "churn-container.yaml").unlink()
    fraud = stack / "fraud-scorer.yaml"
    edit(fraud, "    deletion: Delete", "    deletion: Delete\n    replace: CreateBeforeDelete")
    assert world.mdr("apply", "manifests", "--auto-approve").returncode == 0
    [old] = world.deployments()
    world.emulator.capacity.cores_per_compartment = 1  # room for one copy, not two
    edit(fraud, "spec:\n", f"spec:\n  projectId: {OTHER_PROJECT}\n")
    result = world.mdr("apply", "manifests", "--auto-approve")
    assert result.returncode == 1 and "LimitExceeded" in result.stdout + result.stderr
    assert [(d.id, d.lifecycle_state) for d in world.deployments()] == [(old.id, "ACTIVE")]
