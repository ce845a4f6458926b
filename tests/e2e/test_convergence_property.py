"""A stateful property test: any sequence of manifest edits, edits made outside mdr, injected faults and
killed applies ends, after a bounded number of applies, in an empty plan, with no duplicate, no half-made
model, bystanders untouched and protected deployments never deleted.

The real ``mdr`` runs as a subprocess against an emulator over HTTP. The default run is a short form; the
``slow`` suite runs a long one.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import oci
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from support.reliability import Bystanders, assert_converged
from support.world import World, copy_example_stack

from reconciler.emulator import Emulator, FaultConfig

STACK = "risk-prod"
CRASH_POINTS = (
    "after:CreateModel",
    "during:CreateModelArtifact",
    "after:CreateModelDeployment",
    "waiting:CreateModelDeployment",
    "after:UpdateModelDeployment",
    "recorded:UpdateModelDeployment",
    "after:DeactivateModelDeployment",
    "after:DeleteModelDeployment",
)


class Convergence(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="mdr-convergence-"))
        emulator = Emulator(work_request_seconds=0.02).start()
        workdir = self.tmp / "work"
        workdir.mkdir()
        self.world = World(emulator, emulator.write_oci_config(self.tmp / "oci"), workdir)
        self.stack = copy_example_stack(workdir / "manifests")
        self._replace("mdr.yaml", "prune: false", "prune: true")
        self._replace("mdr.yaml", "maxDeletes: 3", "maxDeletes: 10")
        self.churn = (self.stack / "churn-container.yaml").read_text()
        self.bystanders = Bystanders.create(self.world)
        self.protect = False
        self.protected_ids: set[str] = set()

    # ------------------------------------------------------------------------------------- helpers

    def _replace(self, name: str, pattern: str, value: str) -> None:
        path = self.stack / name
        path.write_text(re.sub(pattern, value, path.read_text(), count=1, flags=re.M))

    def _fraud(self) -> list[oci.data_science.models.ModelDeploymentSummary]:
        return [
            d
            for d in self.world.deployments()
            if d.freeform_tags.get("mdr-key") == "ModelDeployment/fraud-scorer"
        ]

    def _apply(self) -> int:
        result = self.world.mdr("apply", "manifests", "--auto-approve", timeout=300)
        assert "Traceback" not in result.stderr, result.stderr
        assert result.returncode in (0, 1), result.stdout + result.stderr
        if result.returncode == 0 and self.protect:
            self.protected_ids |= {d.id for d in self._fraud()}
        return result.returncode

    # --------------------------------------------------------------------------------- manifest edits

    @rule(name=st.sampled_from(["Fraud scorer", "Fraud scorer v2", "Fraud scorer v3"]))
    def rename(self, name: str) -> None:
        self._replace("fraud-scorer.yaml", r"^  displayName: .*$", f"  displayName: {name}")

    @rule(replicas=st.integers(1, 3))
    def scale(self, replicas: int) -> None:
        self._replace("fraud-scorer.yaml", r"^    replicas: \d+$", f"    replicas: {replicas}")

    @rule(value=st.sampled_from(["2", "4", "8"]))
    def environment(self, value: str) -> None:
        self._replace("fraud-scorer.yaml", r'WEB_CONCURRENCY: "\d+"', f'WEB_CONCURRENCY: "{value}"')

    @rule(state=st.sampled_from(["ACTIVE", "INACTIVE"]))
    def lifecycle(self, state: str) -> None:
        self._replace("fraud-scorer.yaml", r"^  state: \w+$", f"  state: {state}")

    @rule(bias=st.sampled_from(["-4.0", "-3.0", "-2.5"]))
    def new_artifact(self, bias: str) -> None:
        self._replace("models/fraud-scorer/model.json", r'"bias": [-0-9.]+', f'"bias": {bias}')

    @rule(present=st.booleans())
    def churn_manifest(self, present: bool) -> None:
        path = self.stack / "churn-container.yaml"
        if present:
            path.write_text(self.churn)
        elif path.exists():
            path.unlink()

    @rule(protect=st.booleans())
    def protection(self, protect: bool) -> None:
        self._replace("fraud-scorer.yaml", r"^    protect: \w+$", f"    protect: {str(protect).lower()}")
        self.protect = protect
        if not protect:
            self.protected_ids.clear()

    # ------------------------------------------------------------------------------------ the world

    @rule(name=st.sampled_from(["changed by hand", "renamed in the console"]))
    def out_of_band_edit(self, name: str) -> None:
        for deployment in self._fraud():
            if deployment.lifecycle_state in ("ACTIVE", "INACTIVE"):
                self.world.sdk().update_model_deployment(deployment.id, {"displayName": name})

    @rule()
    def apply(self) -> None:
        self._apply()

    @rule(seed=st.integers(0, 10_000), work_requests=st.sampled_from([0.0, 0.3]))
    def apply_under_faults(self, seed: int, work_requests: float) -> None:
        faults = FaultConfig(
            error_rates={"*": {500: 0.1, 429: 0.1}}, fail_work_requests=work_requests, seed=seed
        )
        self.world.emulator.set_faults(faults)
        try:
            self._apply()
        finally:
            self.world.emulator.set_faults(FaultConfig())

    @rule(point=st.sampled_from(CRASH_POINTS))
    def apply_killed(self, point: str) -> None:
        result = self.world.mdr("apply", "manifests", "--auto-approve", crash_at=point, timeout=300)
        assert "Traceback" not in result.stderr, result.stderr

    # ------------------------------------------------------------------------------------ invariants

    @invariant()
    def protected_deployments_are_never_deleted(self) -> None:
        if self.protected_ids:
            alive = {d.id for d in self.world.deployments()}
            assert self.protected_ids <= alive, f"protected deployment deleted: {self.protected_ids - alive}"

    def teardown(self) -> None:
        try:
            # protect rightly blocks replacing a FAILED deployment (a failed create work request makes one):
            # lift it, as a person would, so that convergence can be judged
            self.protection(False)
            for _ in range(4):  # bounded: every run makes progress once the faults are gone
                if self._apply() == 0:
                    break
            names = {"fraud-scorer"} | (
                {"churn-api"} if (self.stack / "churn-container.yaml").exists() else set()
            )
            inactive = (
                frozenset({d.display_name for d in self._fraud()})
                if "state: INACTIVE" in (self.stack / "fraud-scorer.yaml").read_text()
                else frozenset()
            )
            assert_converged(self.world, STACK, names, inactive=inactive)
            self.bystanders.assert_untouched(self.world)
        finally:
            self.world.emulator.stop()
            shutil.rmtree(self.tmp, ignore_errors=True)


_SETTINGS = {"deadline": None, "suppress_health_check": list(HealthCheck), "derandomize": True}

TestConvergenceShort = Convergence.TestCase
TestConvergenceShort.settings = settings(max_examples=2, stateful_step_count=5, **_SETTINGS)  # type: ignore[arg-type]


class _Long(Convergence):
    pass


TestConvergenceLong = pytest.mark.slow(_Long.TestCase)
TestConvergenceLong.settings = settings(max_examples=12, stateful_step_count=12, **_SETTINGS)  # type: ignore[arg-type]
