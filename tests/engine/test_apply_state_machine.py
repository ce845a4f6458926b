"""Multi-step changes, half applied: the record of what was last applied (the ``mdr-spec`` tag) describes only
what was fully applied, so the next plan tells a manifest change still to finish from drift made outside mdr.

The executor runs in-process against the emulator through the real SDK; faults are switched on at a named
point of the apply (the hooks), so exactly one later step fails.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from oci.data_science import models as dm
from oci.logging.models import CreateLogGroupDetails
from support.reliability import wait_until
from support.world import World, copy_example_stack, edit

from reconciler.adapters.cloud import Provider
from reconciler.adapters.journal import AuditLog, Journal
from reconciler.core.canonical import TAG_PENDING
from reconciler.core.plan import Action, Change, Kind, Plan
from reconciler.emulator import FaultConfig
from reconciler.engine.apply import ApplyOptions, ApplyResult, Executor, retry_token
from reconciler.engine.apply.calls import sealed
from reconciler.engine.apply.hooks import UploadBody
from reconciler.engine.workflows import compute_plan, load_valid_stack

STACK = "risk-prod"
FRAUD = "ModelDeployment/fraud-scorer"


@dataclass
class At:
    """Hooks that run ``action`` the first time the apply reaches ``point``."""

    point: str
    action: Callable[[], None]
    _done: threading.Event = field(default_factory=threading.Event)

    def reached(self, point: str) -> None:
        if point == self.point and not self._done.is_set():
            self._done.set()
            self.action()

    def wrap_upload(self, body: UploadBody) -> UploadBody:
        return body


@dataclass
class Bench:
    world: World
    provider: Provider
    root: Path
    state: Path

    @property
    def manifest(self) -> Path:
        return self.root / "fraud-scorer.yaml"

    def plan(self) -> Plan:
        return compute_plan(load_valid_stack(self.root), self.provider).plan

    def run(self, plan: Plan, **options: Any) -> ApplyResult:
        settings: dict[str, Any] = {"poll_initial_seconds": 0.02, "poll_max_seconds": 0.2, **options}
        journal = Journal(STACK, self.state / "journal.jsonl")
        audit = AuditLog(STACK, self.state / "audit.jsonl")
        return Executor(self.provider, plan, journal, audit, ApplyOptions(**settings)).run()

    def apply(self) -> None:
        result = self.run(self.plan())
        assert result.ok, result.results

    def faults(self, **config: Any) -> None:
        self.world.emulator.set_faults(FaultConfig(**config))

    def deployment(self) -> Any:
        [live] = self.world.deployments()
        return self.world.sdk().get_model_deployment(live.id).data


@pytest.fixture
def bench(world: World) -> Iterator[Bench]:
    root = copy_example_stack(world.workdir / "manifests")
    (root / "churn-container.yaml").unlink()
    provider = Provider(world.emulator.oci_config(), None, world.emulator.url, fast=True)
    yield Bench(world, provider, root, world.workdir / ".mdr")
    provider.close()


def fraud(plan: Plan) -> Change:
    change = plan.change(FRAUD)
    assert change is not None
    return change


def set_env_by_hand(bench: Bench, value: str) -> None:
    """A person changes WEB_CONCURRENCY with the SDK (the console would do the same)."""
    live = bench.deployment()
    details = dm.UpdateModelDeploymentDetails(
        model_deployment_configuration_details=dm.UpdateSingleModelDeploymentConfigurationDetails(
            model_configuration_details=dm.UpdateModelConfigurationDetails(
                model_id=live.model_deployment_configuration_details.model_configuration_details.model_id
            ),
            environment_configuration_details=dm.UpdateDefaultModelDeploymentEnvironmentConfigurationDetails(
                environment_variables={"WEB_CONCURRENCY": value}
            ),
        )
    )
    bench.world.sdk().update_model_deployment(live.id, details)
    wait_until(lambda: bench.deployment().lifecycle_state in ("ACTIVE", "INACTIVE"))


# ------------------------------------------------------------------------ a later step fails or is cut


def test_an_activation_that_failed_once_leaves_a_manifest_change_not_drift(bench: Bench) -> None:
    edit(bench.manifest, "state: ACTIVE", "state: INACTIVE")
    bench.apply()
    edit(bench.manifest, "state: INACTIVE", "state: ACTIVE")
    edit(bench.manifest, 'WEB_CONCURRENCY: "2"', 'WEB_CONCURRENCY: "4"')
    plan = bench.plan()
    assert [s.op for s in fraud(plan).steps][:2] == ["UpdateModelDeployment", "ActivateModelDeployment"]
    failing = At("recorded:UpdateModelDeployment", lambda: bench.faults(fail_work_requests=1.0))

    result = bench.run(plan, hooks=failing)

    assert not result.ok
    bench.faults()
    assert bench.deployment().lifecycle_state == "INACTIVE"  # the update went out, the activation failed
    again = fraud(bench.plan())
    assert [f.path for f in again.fields] == ["state"]
    assert again.drift is False, "finishing the manifest's change is not correcting drift"
    bench.apply()
    assert not bench.plan().has_changes


def test_a_later_update_refused_leaves_a_manifest_change_not_drift(bench: Bench) -> None:
    bench.apply()
    edit(bench.manifest, "displayName: Fraud scorer", "displayName: Fraud scorer v2")
    edit(bench.manifest, 'WEB_CONCURRENCY: "2"', 'WEB_CONCURRENCY: "4"')
    score = bench.root / "models" / "fraud-scorer" / "score.py"
    score.write_text(score.read_text() + "\n# v2\n")
    plan = bench.plan()
    assert [s.group for s in fraud(plan).steps][:3] == ["name", "environment", "model"]
    refusing = At(
        "recorded:UpdateModelDeployment",
        lambda: bench.faults(error_rates={"UpdateModelDeployment": {400: 1.0}}),
    )

    result = bench.run(plan, hooks=refusing)

    [failed] = [r for r in result.results if r.status == "failed"]
    assert failed.change_id == FRAUD and "400" in failed.message
    bench.faults()
    assert bench.deployment().display_name == "Fraud scorer v2"
    again = fraud(bench.plan())
    assert {f.path for f in again.fields} == {"runtime.env.WEB_CONCURRENCY", "model.id"}
    assert again.drift is False
    bench.apply()
    assert not bench.plan().has_changes


# ------------------------------------------------------------------------ edits that write nothing else


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("state: ACTIVE", "state: INACTIVE"),  # only a Deactivate is sent
        ("keep: 3", "keep: 5"),  # nothing of the deployment changes
        ("    deletion: Delete", "    deletion: Delete\n    ignore: [infrastructure.replicas]"),
    ],
    ids=["state-only", "keep", "policy-ignore"],
)
def test_after_an_edit_that_writes_nothing_else_a_hand_edit_is_drift(
    bench: Bench, old: str, new: str
) -> None:
    bench.apply()
    edit(bench.manifest, old, new)
    bench.apply()
    assert not bench.plan().has_changes

    set_env_by_hand(bench, "8")

    change = fraud(bench.plan())
    assert [f.path for f in change.fields] == ["runtime.env.WEB_CONCURRENCY"]
    assert change.drift is True, "a hand edit after the last apply is drift"


# ------------------------------------------------------------------------ keep: 0 and a failed upload


def test_a_model_left_pending_by_a_failed_upload_is_resumed_and_not_deleted(bench: Bench) -> None:
    edit(bench.manifest, "keep: 3", "keep: 0")
    bench.faults(error_rates={"CreateModelArtifact": {400: 1.0}})
    first = bench.run(bench.plan())
    assert not first.ok
    bench.faults()
    [pending] = bench.world.models()
    assert TAG_PENDING in (pending.freeform_tags or {})

    plan = bench.plan()

    touching = [(c.kind, c.action) for c in plan.actionable if c.live_id == pending.id]
    assert (Kind.MODEL, Action.DELETE) not in touching, "a model the plan resumes is not also deleted"
    result = bench.run(plan)
    assert result.ok, result.results
    [model] = bench.world.models()
    assert model.id == pending.id and TAG_PENDING not in (model.freeform_tags or {})
    assert bench.deployment().model_deployment_configuration_details.model_configuration_details.model_id == (
        pending.id
    )
    assert not bench.plan().has_changes


# ------------------------------------------------------------------------ the journal


def test_a_create_resumed_from_the_journal_is_recorded_done(bench: Bench) -> None:
    bench.world.emulator.work_request_seconds = 1.0  # still in progress when the shutdown comes
    plan = bench.plan()
    shutdown = threading.Event()
    first = bench.run(plan, abort=shutdown, hooks=At("waiting:CreateModelDeployment", shutdown.set))
    assert not first.ok
    journal = Journal(STACK, bench.state / "journal.jsonl")
    assert (FRAUD, "CreateModelDeployment") in journal.pending()

    second = bench.run(plan)

    assert second.ok, second.results
    assert (FRAUD, "CreateModelDeployment") not in journal.pending(), "the resumed create is done"


# ------------------------------------------------------------------------ retry tokens


def test_a_retry_token_covers_the_whole_request_body() -> None:
    here = CreateLogGroupDetails(compartment_id="ocid1.compartment.oc1..a", display_name="risk-logs")
    moved = CreateLogGroupDetails(compartment_id="ocid1.compartment.oc1..b", display_name="risk-logs")
    token = retry_token(STACK, "LogGroup/risk-logs", "CreateLogGroup", here)
    assert token == retry_token(STACK, "LogGroup/risk-logs", "CreateLogGroup", here)
    assert token != retry_token(STACK, "LogGroup/risk-logs", "CreateLogGroup", moved), "same name, other body"
    assert token != retry_token(STACK, "LogGroup/risk-logs", "CreateLogGroup", here, ["ocid1.loggroup.gone"])


def test_a_secret_stands_in_a_token_body_sealed_and_stable() -> None:
    seal = sealed(STACK, FRAUD, "API_KEY", "s3cret")
    assert seal == sealed(STACK, FRAUD, "API_KEY", "s3cret")
    assert seal != sealed(STACK, FRAUD, "API_KEY", "s3cret2")
    assert "s3cret" not in seal
