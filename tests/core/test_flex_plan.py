"""Planning a deployment on a compute target: a converged one plans nothing, a changed share of the cluster is
one compute update in place, and moving between instances of its own and a compute target is a replace
(the service cannot change a deployment's type)."""

from __future__ import annotations

from pathlib import Path

from support.planning import DEPLOYMENT, converge, load, plan_for, write_stack

from reconciler.core.plan import Action

POOL = "    shape: VM.Standard.E4.Flex\n    ocpus: 1\n    memoryInGBs: 16\n"
TARGET = (
    "    computeTarget:\n"
    "      id: ocid1.datasciencecomputetarget.oc1.iad.aaaaaaaacluster\n"
    "      requests: {ocpus: 2, memoryInGBs: 16}\n"
)


def _stack(tmp_path: Path, infrastructure: str) -> Path:
    manifest = DEPLOYMENT.format(name="fraud").replace(POOL, infrastructure)
    return write_stack(tmp_path / "stack", {"fraud.yaml": manifest})


def _edit(root: Path, old: str, new: str) -> None:
    path = root / "fraud.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_a_converged_flex_deployment_plans_nothing(tmp_path: Path) -> None:
    root = _stack(tmp_path, TARGET)
    assert plan_for(load(root), converge(load(root))).actionable == []


def test_a_new_share_of_the_cluster_is_one_compute_update_in_place(tmp_path: Path) -> None:
    root = _stack(tmp_path, TARGET)
    live = converge(load(root))
    _edit(root, "requests: {ocpus: 2, memoryInGBs: 16}", "requests: {ocpus: 2, memoryInGBs: 24}")
    [change] = plan_for(load(root), live).actionable
    assert change.action == Action.UPDATE
    assert [f.path for f in change.fields] == ["infrastructure.computeTarget.requests.memoryInGBs"]
    [update] = [s for s in change.steps if s.op == "UpdateModelDeployment"]
    assert update.group == "compute" and "infrastructure.computeTarget.requests.memoryInGBs" in update.paths


def test_moving_onto_a_compute_target_is_a_replace_that_says_why(tmp_path: Path) -> None:
    root = _stack(tmp_path, POOL)
    live = converge(load(root))
    _edit(root, POOL, TARGET)
    [change] = plan_for(load(root), live).actionable
    assert change.action == Action.REPLACE
    assert change.reason and "compute target" in change.reason


def test_policy_ignore_leaves_a_compute_target_share_alone(tmp_path: Path) -> None:
    root = _stack(tmp_path, TARGET)
    live = converge(load(root))
    _edit(root, "requests: {ocpus: 2, memoryInGBs: 16}", "requests: {ocpus: 2, memoryInGBs: 24}")
    path = root / "fraud.yaml"
    path.write_text(path.read_text() + "  policy: {ignore: [infrastructure.computeTarget]}\n")
    changes = plan_for(load(root), live).changes
    [change] = [c for c in changes if c.kind.value == "ModelDeployment"]
    assert not any(f.path.startswith("infrastructure.computeTarget") for f in change.fields)
    assert [f.path for f in change.ignored] == ["infrastructure.computeTarget.requests.memoryInGBs"]
