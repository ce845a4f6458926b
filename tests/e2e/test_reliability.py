"""Reliability suites: injected faults, SIGKILL at every kind of write, and safety around bystanders.

Every scenario starts with resources a person made by hand in the same compartment (one with the same display
name as a managed deployment) and ends by checking they are byte-for-byte untouched. The full suites are
marked ``slow``; a short form of each runs by default (``python -m pytest -m slow`` runs the full ones).
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.reliability import Bystanders, assert_converged, owned, write_many
from support.world import World, copy_example_stack, edit

from reconciler.emulator import Emulator
from reconciler.emulator.state import FaultConfig

STACK = "risk-prod"
EXAMPLE_NAMES = {"fraud-scorer", "churn-api"}


class RestartableWorld(World):
    """A world whose emulator keeps its state on disk, so it can be restarted mid-scenario."""

    def restart_emulator(self) -> None:
        port, state_dir = self.emulator.port, self.emulator.state_dir
        seconds = self.emulator.work_request_seconds
        self.emulator.stop()
        self.emulator = Emulator(state_dir=state_dir, port=port, work_request_seconds=seconds).start()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[RestartableWorld]:
    emulator = Emulator(state_dir=tmp_path / "emulator", work_request_seconds=0.05).start()
    config = emulator.write_oci_config(tmp_path / "oci")
    workdir = tmp_path / "work"
    workdir.mkdir()
    world = RestartableWorld(emulator, config, workdir)
    try:
        yield world
    finally:
        world.emulator.stop()


def apply(world: World, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    done = world.mdr("apply", "manifests", "--auto-approve", *args, env=env, timeout=300)
    return done.returncode, done.stdout + done.stderr


# --------------------------------------------------------------------------------------------- crashes


@dataclass(frozen=True)
class Crash:
    scenario: str  # create | update | deactivate | delete
    point: str  # where crash_mdr.py kills the apply (see tests/support/crash_mdr.py)
    restart: bool = False  # restart the emulator between the crash and the re-run

    @property
    def id(self) -> str:
        point = self.point.replace(":", "-").replace(" (", "-").replace(")", "")
        return f"{self.scenario}-{point}" + ("-restart" if self.restart else "")


CRASHES = [
    Crash("create", "after:CreateLogGroup"),
    Crash("create", "recorded:CreateLogGroup"),
    Crash("create", "waiting:CreateLogGroup", restart=True),
    Crash("create", "after:CreateLog"),
    Crash("create", "waiting:CreateLog"),
    Crash("create", "after:CreateModel"),
    Crash("create", "recorded:CreateModel", restart=True),
    Crash("create", "during:CreateModelArtifact"),
    Crash("create", "after:CreateModelArtifact"),
    Crash("create", "after:UpdateModel"),
    Crash("create", "after:CreateModelDeployment"),
    Crash("create", "recorded:CreateModelDeployment"),
    Crash("create", "waiting:CreateModelDeployment", restart=True),
    Crash("update", "after:CreateModel"),
    Crash("update", "during:CreateModelArtifact", restart=True),
    Crash("update", "after:UpdateModelDeployment"),
    Crash("update", "waiting:UpdateModelDeployment (compute)", restart=True),
    Crash("deactivate", "after:DeactivateModelDeployment"),
    Crash("deactivate", "waiting:DeactivateModelDeployment"),
    Crash("delete", "after:DeleteModelDeployment"),
    Crash("delete", "waiting:DeleteModelDeployment", restart=True),
    Crash("delete", "after:DeleteModel"),
]
SHORT = {"create-waiting-CreateModelDeployment-restart", "update-during-CreateModelArtifact-restart"}


def _prepare(world: RestartableWorld, scenario: str) -> tuple[set[str], tuple[str, ...]]:
    """Bring the cloud to the scenario's starting point; return the expected names and apply args."""
    stack = copy_example_stack(world.workdir / "manifests")
    if scenario == "create":
        return EXAMPLE_NAMES, ()
    code, out = apply(world)
    assert code == 0, out
    if scenario == "update":  # a new artifact (model swap) plus a compute change: two updates
        (stack / "models" / "fraud-scorer" / "score.py").write_text(
            (stack / "models" / "fraud-scorer" / "score.py").read_text() + "\n# v2\n"
        )
        edit(stack / "fraud-scorer.yaml", "replicas: 1", "replicas: 2")
        return EXAMPLE_NAMES, ()
    if scenario == "deactivate":
        edit(stack / "fraud-scorer.yaml", "state: ACTIVE", "state: INACTIVE")
        return EXAMPLE_NAMES, ()
    assert scenario == "delete"
    (stack / "churn-container.yaml").unlink()
    return {"fraud-scorer"}, ("--prune",)


def _crash_cases(full: bool) -> list[object]:
    cases: list[object] = []
    for crash in CRASHES:
        marks = [] if crash.id in SHORT else [pytest.mark.slow]
        cases.append(pytest.param(crash, id=crash.id, marks=marks))
    return cases


def test_the_crash_suite_covers_twenty_points() -> None:
    assert len({c.point for c in CRASHES} | {c.id for c in CRASHES}) >= 20
    assert len(CRASHES) >= 20 and any(c.restart for c in CRASHES)


@pytest.mark.parametrize("crash", _crash_cases(full=True))
def test_sigkill_then_rerun_converges_without_duplicates_or_leaks(
    world: RestartableWorld, crash: Crash
) -> None:
    bystanders = Bystanders.create(world)
    names, args = _prepare(world, crash.scenario)
    crashed = world.mdr("apply", "manifests", "--auto-approve", *args, crash_at=crash.point, timeout=300)
    assert crashed.returncode == -9, f"never reached {crash.point}:\n{crashed.stdout}\n{crashed.stderr}"
    if crash.restart:
        world.restart_emulator()
    code, out = apply(world, *args)
    assert code == 0, out
    inactive = frozenset({"Fraud scorer"}) if crash.scenario == "deactivate" else frozenset()
    assert_converged(world, STACK, names, inactive=inactive)
    bystanders.assert_untouched(world)


@pytest.mark.parametrize(
    "seed", [pytest.param(seed, marks=[] if seed < 2 else [pytest.mark.slow]) for seed in range(16)]
)
def test_sigkill_at_a_random_moment_then_rerun_converges(world: RestartableWorld, seed: int) -> None:
    """Not only at named crash points: anywhere, including between two lines no one thought of."""
    rng = random.Random(seed)
    bystanders = Bystanders.create(world)
    scenario = rng.choice(["create", "update", "deactivate", "delete"])
    names, args = _prepare(world, scenario)
    process = world.start("apply", "manifests", "--auto-approve", *args)
    time.sleep(rng.uniform(0.05, 3.0))
    process.kill()
    process.wait()
    if rng.random() < 0.4:
        world.restart_emulator()
    code, out = apply(world, *args)
    assert code == 0, out
    inactive = frozenset({"Fraud scorer"}) if scenario == "deactivate" else frozenset()
    assert_converged(world, STACK, names, inactive=inactive)
    bystanders.assert_untouched(world)


# --------------------------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    "count", [pytest.param(8, id="short"), pytest.param(50, id="full", marks=pytest.mark.slow)]
)
def test_apply_converges_under_throttling_errors_and_failed_work_requests(
    world: RestartableWorld, count: int
) -> None:
    bystanders = Bystanders.create(world)
    names = write_many(world.workdir / "manifests", count)
    world.emulator.set_faults(
        FaultConfig(
            error_rates={"*": {429: 0.10, 500: 0.05, 503: 0.05}}, fail_work_requests=0.05, seed=20261126
        )
    )
    runs = []
    for _ in range(6):  # bounded: failed work requests only fail their own change, the rest proceed
        # a deployment whose create work request failed is FAILED and must be replaced: allow as many
        code, out = apply(world, "--concurrency", "8", "--allow-deletes", str(count))
        runs.append(code)
        if code == 0:
            break
    world.emulator.set_faults(FaultConfig())
    assert runs[-1] == 0, f"did not converge in {len(runs)} runs: {runs}\n{out[-3000:]}"
    assert sum(world.emulator.faulted().values()) > 0, "no fault was injected: the test proves nothing"
    assert_converged(world, STACK, names, keep=3)
    assert len(owned(world.models(), STACK)) == count  # no orphan model from a failed or retried create
    bystanders.assert_untouched(world)


# --------------------------------------------------------------------------------------------- safety


def test_empty_tree_deletes_nothing_even_with_prune(world: RestartableWorld) -> None:
    bystanders = Bystanders.create(world)
    stack = copy_example_stack(world.workdir / "manifests")
    code, out = apply(world)
    assert code == 0, out
    for manifest in ("fraud-scorer.yaml", "churn-container.yaml"):
        (stack / manifest).unlink()
    shutil.rmtree(stack / "models")
    world.emulator.reset_counters()
    code, out = apply(world, "--prune", "--allow-deletes", "10")
    assert code == 0, out
    assert "names no deployment at all" in out
    assert world.emulator.mutating_calls() == 0
    assert len(owned(world.deployments(), STACK)) == 2
    bystanders.assert_untouched(world)


def test_protect_blocks_prune_and_orphan_leaves_the_deployment_running_untagged(
    world: RestartableWorld,
) -> None:
    bystanders = Bystanders.create(world)
    stack = copy_example_stack(world.workdir / "manifests")
    edit(stack / "fraud-scorer.yaml", "protect: false", "protect: true")
    edit(stack / "churn-container.yaml", "    predict: {name: churn-api-predict}",
         "    predict: {name: churn-api-predict}\n  policy: {deletion: Orphan}")  # fmt: skip
    anchor = (stack / "churn-container.yaml").read_text().replace("name: churn-api", "name: anchor-api")
    anchor = anchor.replace("Churn API", "Anchor API").replace("churn-api-predict", "anchor-api-predict")
    (stack / "anchor.yaml").write_text(anchor.replace("  policy: {deletion: Orphan}\n", ""))
    code, out = apply(world)
    assert code == 0, out
    for manifest in ("fraud-scorer.yaml", "churn-container.yaml"):
        (stack / manifest).unlink()
    code, out = apply(world, "--prune")
    assert code == 0, out
    assert "protected" in out
    deployments = {d.display_name: d for d in world.deployments()}
    assert deployments["Churn API"].lifecycle_state == "ACTIVE"
    assert "mdr-stack" not in (deployments["Churn API"].freeform_tags or {})  # orphaned: no longer ours
    fraud = [d for d in owned(world.deployments(), STACK) if d.display_name == "Fraud scorer"]
    assert len(fraud) == 1 and fraud[0].lifecycle_state == "ACTIVE"  # protected: kept and still owned
    churn_model = deployments["Churn API"].model_deployment_configuration_details.model_configuration_details
    assert churn_model.model_id in {m.id for m in world.models()}  # the orphan's model is not deleted
    plan = world.mdr("plan", "manifests", "--prune", "--detailed-exitcode")
    assert plan.returncode in (0, 2) and "Churn API" not in plan.stdout
    bystanders.assert_untouched(world)
