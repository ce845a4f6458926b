"""A saved plan is applied as reviewed, and no edit of its file can get past a guard (real SDK, emulator)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.world import World, edit

from reconciler.adapters.planfile import plan_digest


def _save(world: World) -> dict[str, Any]:
    saved = world.mdr("plan", "manifests", "--out", "plan.json")
    assert saved.returncode == 0, saved.stdout + saved.stderr
    return dict(json.loads((world.workdir / "plan.json").read_text()))


def _rewrite(world: World, data: dict[str, Any], *, keep_digest_valid: bool) -> None:
    if keep_digest_valid:  # a determined editor recomputes it: the guards below must still hold
        data["digest"] = plan_digest(data)
    (world.workdir / "plan.json").write_text(json.dumps(data))


def _refused_with_no_write(world: World, fragment: str) -> None:
    world.emulator.reset_counters()
    result = world.mdr("apply", "plan.json")
    assert result.returncode == 1, result.stdout + result.stderr
    assert fragment in result.stderr, result.stderr
    assert world.emulator.mutating_calls() == 0


def _deployment(data: dict[str, Any], key: str) -> dict[str, Any]:
    return next(c for c in data["changes"] if c["key"] == key and c["kind"] == "ModelDeployment")


def test_an_edited_plan_file_is_refused(world: World, stack: Path) -> None:
    assert world.mdr("apply", "manifests", "--auto-approve").returncode == 0
    edit(stack / "fraud-scorer.yaml", "    ocpus: 1", "    ocpus: 2")
    data = _save(world)
    _deployment(data, "ModelDeployment/fraud-scorer")["desired"]["infrastructure"]["ocpus"] = 8
    _rewrite(world, data, keep_digest_valid=False)
    _refused_with_no_write(world, "was edited after mdr wrote it")


def test_a_desired_value_that_disagrees_with_the_reviewed_fields_is_refused(
    world: World, stack: Path
) -> None:
    assert world.mdr("apply", "manifests", "--auto-approve").returncode == 0
    edit(stack / "fraud-scorer.yaml", "    ocpus: 1", "    ocpus: 2")
    data = _save(world)
    _deployment(data, "ModelDeployment/fraud-scorer")["desired"]["infrastructure"]["ocpus"] = 8
    _rewrite(world, data, keep_digest_valid=True)
    _refused_with_no_write(world, "infrastructure.ocpus would be sent as 8, but the plan shows 2")


def test_deleting_a_protect_block_from_the_plan_deletes_nothing(world: World, stack: Path) -> None:
    fraud = stack / "fraud-scorer.yaml"
    edit(fraud, "    protect: false", "    protect: true")
    assert world.mdr("apply", "manifests", "--auto-approve").returncode == 0
    edit(fraud, "spec:\n", "spec:\n  projectId: ocid1.datascienceproject.oc1.iad.aaaaaaaaother\n")
    data = _save(world)
    change = _deployment(data, "ModelDeployment/fraud-scorer")
    assert change["action"] == "replace" and change["blocked"]
    change["blocked"] = None
    _rewrite(world, data, keep_digest_valid=True)
    _refused_with_no_write(world, "manifest says protect: true")
    assert len(world.deployments()) == 2


def test_an_artifact_changed_after_the_plan_is_refused_before_any_write(world: World, stack: Path) -> None:
    assert world.mdr("apply", "manifests", "--auto-approve").returncode == 0
    model = stack / "models" / "fraud-scorer" / "model.json"
    model.write_text(model.read_text().replace('"bias"', '"bias2"'))
    _save(world)
    model.write_text(model.read_text().replace('"bias2"', '"bias3"'))
    _refused_with_no_write(world, "changed since the plan")
