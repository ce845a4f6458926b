"""The controller runs ``spec.healthCheck`` every ``interval`` and after each change it applies: a model that
starts failing shows Degraded (with the reason) in ``/status`` and recovers, and a bad model swap is rolled
back once and then held, never swapped in again on later resyncs (no flip-flop)."""

from __future__ import annotations

import json
from pathlib import Path

from support.world import World, copy_example_stack, edit
from test_controller_e2e import ControllerProcess, eventually, fraud

#: healthy unless the file named in the request exists (a test makes the model fail by creating it)
FLAGGED = """
import os


def load_model():
    return {"version": "v1"}


def predict(data, model=None):
    if os.path.exists(data["flag"]):
        raise RuntimeError("model file is corrupt")
    return {"prediction": [0.1], "model": model["version"]}
"""
WRONG_KEYS = """
def load_model():
    return {}


def predict(data, model=None):
    return {"oops": "wrong keys"}
"""


def _stack(world: World, flag: Path, auto_rollback: bool) -> Path:
    stack = copy_example_stack(world.workdir / "manifests")
    (stack / "churn-container.yaml").unlink()
    (stack / "models" / "fraud-scorer" / "score.py").write_text(FLAGGED, encoding="utf-8")
    manifest = stack / "fraud-scorer.yaml"
    edit(
        manifest,
        "    deletion: Delete\n",
        f"    deletion: Delete\n    autoRollback: {str(auto_rollback).lower()}\n",
    )
    body = json.dumps({"flag": str(flag)})
    manifest.write_text(
        manifest.read_text()
        + f"  healthCheck:\n    request: {{body: {body}}}\n    expectKeys: [prediction]\n    interval: 1s\n"
    )
    return stack


def _health(controller: ControllerProcess) -> tuple[str, str | None]:
    deployments = controller.status().get("deployments") or [{}]
    return deployments[0].get("health", ""), deployments[0].get("reason")


def _model(world: World) -> str | None:
    found = fraud(world)
    return (
        found.model_deployment_configuration_details.model_configuration_details.model_id if found else None
    )


def test_a_model_that_starts_failing_shows_degraded_and_recovers(world: World, tmp_path: Path) -> None:
    flag = tmp_path / "broken"
    _stack(world, flag, auto_rollback=False)
    controller = ControllerProcess(world, "manifests", "--interval", "1s")
    try:
        eventually(lambda: _health(controller)[0] == "Healthy", what="healthy after the first sync")
        flag.touch()
        eventually(lambda: _health(controller)[0] == "Degraded", what="degraded once predict fails")
        reason = _health(controller)[1] or ""
        assert reason.startswith("health check failed: answered HTTP 500"), reason
        flag.unlink()
        eventually(lambda: _health(controller)[0] == "Healthy", what="healthy again")
    finally:
        assert controller.stop() == 0


def test_a_bad_swap_is_rolled_back_once_and_never_swapped_in_again(world: World, tmp_path: Path) -> None:
    stack = _stack(world, tmp_path / "never", auto_rollback=True)
    controller = ControllerProcess(world, "manifests", "--interval", "1s", "--self-heal")
    try:
        eventually(lambda: _health(controller)[0] == "Healthy", what="healthy after the first sync")
        good = _model(world)
        (stack / "models" / "fraud-scorer" / "score.py").write_text(WRONG_KEYS, encoding="utf-8")
        eventually(
            lambda: "auto-rolled back" in (_health(controller)[1] or ""), timeout=90, what="auto-rollback"
        )
        assert _model(world) == good
        seen = controller.status()["reconciles"]
        eventually(lambda: controller.status()["reconciles"] >= seen + 3, what="three more resyncs")
        assert _model(world) == good  # held: the bad revision is not applied again, even with --self-heal
        assert _health(controller)[0] == "Degraded"
    finally:
        assert controller.stop() == 0
