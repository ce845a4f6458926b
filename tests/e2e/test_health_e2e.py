"""``spec.healthCheck`` and ``policy.autoRollback`` end to end: real SDK, the emulator, the example stack.

A model swap whose score.py answers without the expected keys (or raises) fails its check; with
autoRollback the deployment goes back to the previous owned model, apply exits 1 saying so, and the next
apply holds that revision back instead of swapping the bad model in again.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.world import World, edit

CHECK = """  healthCheck:
    request: {fromAnnotation: mdr.io/example-input}
    expectStatus: 200
    expectKeys: [prediction, model]
    latencyMs: 20000
"""
BAD_KEYS = """
def load_model():
    return {}


def predict(data, model=None):
    return {"oops": "wrong keys"}
"""
RAISING = """
def load_model():
    return {}


def predict(data, model=None):
    raise RuntimeError("model file is corrupt")
"""


def _configure(stack: Path, auto_rollback: bool) -> None:
    (stack / "churn-container.yaml").unlink()
    manifest = stack / "fraud-scorer.yaml"
    edit(
        manifest,
        "    deletion: Delete\n",
        f"    deletion: Delete\n    autoRollback: {str(auto_rollback).lower()}\n",
    )
    manifest.write_text(manifest.read_text() + CHECK)


def _model_of(world: World) -> str:
    (deployment,) = world.deployments()
    return str(deployment.model_deployment_configuration_details.model_configuration_details.model_id)


def test_a_good_model_passes_its_check(world: World, stack: Path) -> None:
    _configure(stack, auto_rollback=True)
    result = world.mdr("apply", "manifests", "--auto-approve")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "health check failed" not in result.stdout


@pytest.mark.parametrize("score", [BAD_KEYS, RAISING], ids=["wrong-keys", "raising"])
def test_a_bad_model_swap_is_rolled_back_and_not_applied_again(world: World, stack: Path, score: str) -> None:
    _configure(stack, auto_rollback=True)
    first = world.mdr("apply", "manifests", "--auto-approve")
    assert first.returncode == 0, first.stdout + first.stderr
    good_model = _model_of(world)

    (stack / "models" / "fraud-scorer" / "score.py").write_text(score, encoding="utf-8")
    swap = world.mdr("apply", "manifests", "--auto-approve")
    assert swap.returncode == 1, swap.stdout + swap.stderr
    assert "health check failed" in swap.stdout
    assert f"rolled back automatically to the previous model {good_model}" in swap.stdout
    assert _model_of(world) == good_model
    audit = (world.workdir / ".mdr").rglob("*.jsonl")
    assert any('"AutoRollback"' in path.read_text() for path in audit)

    again = world.mdr("apply", "manifests", "--auto-approve")
    assert "rolled back automatically; it is not applied again until the manifest changes" in again.stdout
    assert _model_of(world) == good_model  # the bad revision was not swapped in again

    status = world.mdr("status", "manifests")
    assert "Degraded" in status.stdout, status.stdout


def test_without_auto_rollback_a_failing_check_leaves_it_degraded(world: World, stack: Path) -> None:
    _configure(stack, auto_rollback=False)
    assert world.mdr("apply", "manifests", "--auto-approve").returncode == 0
    (stack / "models" / "fraud-scorer" / "score.py").write_text(BAD_KEYS, encoding="utf-8")
    swap = world.mdr("apply", "manifests", "--auto-approve")
    assert swap.returncode == 1
    assert "health check failed: the answer has no 'prediction'" in swap.stdout
    assert "rolled back" not in swap.stdout
    status = world.mdr("status", "manifests")
    assert "Degraded" in status.stdout, status.stdout
