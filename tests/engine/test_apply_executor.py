"""The executor in-process, through the real ``Provider`` and SDK, against an in-process emulator.

Plans come from the example stack (``compute_plan``, as ``mdr apply`` makes them); what the cloud saw is read
from the emulator's call counters and state, what mdr recorded from its audit log and journal.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support.world import World, copy_example_stack, edit

from reconciler.adapters.cloud import Provider
from reconciler.adapters.journal import AuditLog, Journal
from reconciler.core.plan import Kind, Plan
from reconciler.emulator import FaultConfig
from reconciler.engine.apply import ApplyOptions, ApplyResult, Executor, retry_token
from reconciler.engine.apply.hooks import UploadBody
from reconciler.engine.workflows import compute_plan, load_valid_stack

STACK = "risk-prod"
CANARY = "canary-5be0c2d4-secret"


@dataclass
class Recorder:
    """Hooks that remember the points an apply reaches, optionally acting on one of them."""

    points: list[str] = field(default_factory=list)
    uploads: list[CountingBody] = field(default_factory=list)
    on: dict[str, threading.Event] = field(default_factory=dict)  # point (or "*") -> event to set there
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reached(self, point: str) -> None:
        with self._lock:
            self.points.append(point)
        for name in (point, "*"):
            if name in self.on:
                self.on[name].set()

    def wrap_upload(self, body: UploadBody) -> UploadBody:
        counting = CountingBody(body)
        self.uploads.append(counting)
        return counting

    def of(self, operation: str) -> list[str]:
        """The points reached for one operation, e.g. ``["after", "recorded", "waiting"]``."""
        return [p.split(":", 1)[0] for p in self.points if p.split(":", 1)[1] == operation]


class CountingBody:
    """An upload body passed through unchanged, counting what the SDK read of it."""

    def __init__(self, raw: UploadBody) -> None:
        self.raw = raw
        self.length = len(raw)
        self.read_bytes = 0

    def __len__(self) -> int:
        return len(self.raw)

    def read(self, size: int = -1) -> bytes:
        chunk = self.raw.read(size)
        self.read_bytes += len(chunk)
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        if (offset, whence) == (0, 0):  # a retry starts over
            self.read_bytes = 0
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()


@dataclass
class Bench:
    """One emulator, a provider for it, the example stack, and the apply's audit log and journal."""

    world: World
    provider: Provider
    root: Path
    audit: AuditLog
    journal: Journal

    def plan(self) -> Plan:
        return compute_plan(load_valid_stack(self.root), self.provider).plan

    def run(self, plan: Plan, **options: Any) -> ApplyResult:
        settings: dict[str, Any] = {"poll_initial_seconds": 0.02, "poll_max_seconds": 0.2, **options}
        journal = Journal(STACK, self.journal.path)  # a new run reads the journal afresh
        return Executor(self.provider, plan, journal, self.audit, ApplyOptions(**settings)).run()

    def audit_records(self) -> list[dict[str, Any]]:
        return self.audit.read()


@pytest.fixture
def bench(world: World) -> Iterator[Bench]:
    root = copy_example_stack(world.workdir / "manifests")
    (root / "churn-container.yaml").unlink()  # one deployment: its log group, two logs, a model
    state = world.workdir / ".mdr"
    provider = Provider(world.emulator.oci_config(), None, world.emulator.url, fast=True)
    yield Bench(
        world,
        provider,
        root,
        AuditLog(STACK, state / "audit.jsonl"),
        Journal(STACK, state / "journal.jsonl"),
    )
    provider.close()


def by_id(result: ApplyResult) -> dict[str, Any]:
    return {r.change_id: r for r in result.results}


# ------------------------------------------------------------------------------------------ scheduling


def test_no_change_sends_a_write_before_its_dependencies_are_done(world: World) -> None:
    root = copy_example_stack(world.workdir / "manifests")  # both deployments: 12 changes, run 8 at a time
    provider = Provider(world.emulator.oci_config(), None, world.emulator.url, fast=True)
    audit = AuditLog(STACK, world.workdir / "audit.jsonl")
    plan = compute_plan(load_valid_stack(root), provider).plan
    options = ApplyOptions(concurrency=8, poll_initial_seconds=0.02, poll_max_seconds=0.2)

    result = Executor(provider, plan, Journal(STACK, world.workdir / "journal.jsonl"), audit, options).run()

    assert result.ok, result.results
    order = [r["key"] for r in audit.read()]
    keys = {c.id: c.key for c in plan.changes}
    for change in plan.actionable:
        first = order.index(change.key)
        for dependency in change.depends_on:
            last = len(order) - 1 - order[::-1].index(keys[dependency])
            assert last < first, f"{change.key} wrote before {keys[dependency]} was done"
    assert sorted(d.display_name for d in world.deployments()) == ["Churn API", "Fraud scorer"]
    assert not compute_plan(load_valid_stack(root), provider).plan.has_changes


def test_dependents_of_a_failed_change_are_not_attempted(bench: Bench) -> None:
    plan = bench.plan()
    score = bench.root / "models" / "fraud-scorer" / "score.py"
    score.write_text(score.read_text() + "\n# edited after the plan\n")  # the model change must refuse

    results = by_id(bench.run(plan))

    [model] = [c for c in plan.actionable if c.kind == Kind.MODEL]
    assert results[model.id].status == "failed"
    assert "changed since the plan" in results[model.id].message
    deployment = results["ModelDeployment/fraud-scorer"]
    assert deployment.status == "skipped"
    assert deployment.message == f"not attempted: {model.id} failed"
    assert bench.world.emulator.counters().get("CreateModelDeployment", 0) == 0
    independent = [c for c in plan.actionable if c.kind in (Kind.LOG_GROUP, Kind.LOG)]
    assert {results[c.id].status for c in independent} == {"done"}, "independent changes still proceed"


# ------------------------------------------------------------------------------------------ the fence


def test_after_the_lock_is_lost_no_write_is_sent(bench: Bench) -> None:
    plan = bench.plan()
    bench.world.emulator.reset_counters()
    lost = threading.Event()
    lost.set()

    result = bench.run(plan, fence=lost)

    assert bench.world.emulator.mutating_calls() == 0
    assert bench.audit_records() == []
    statuses = {r.status for r in result.results}
    assert statuses == {"failed", "skipped"}
    assert all(
        "not sent, the stack lock was lost" in r.message for r in result.results if r.status == "failed"
    )


def test_a_lock_lost_mid_apply_stops_every_later_write(bench: Bench) -> None:
    plan = bench.plan()
    bench.world.emulator.reset_counters()
    lost = threading.Event()
    hooks = Recorder(on={"*": lost})  # the lock is lost as soon as the first write is accepted

    result = bench.run(plan, fence=lost, hooks=hooks, concurrency=1)

    assert bench.world.emulator.mutating_calls() == 1
    [accepted] = bench.audit_records()
    [done] = [r for r in result.results if r.status == "done"]  # the write in flight still completes
    assert done.key == accepted["key"]
    assert not result.ok


# ------------------------------------------------------------------------------------------ hooks


def test_a_create_reaches_its_crash_points_in_order(bench: Bench) -> None:
    hooks = Recorder()

    result = bench.run(bench.plan(), hooks=hooks, concurrency=1)

    assert result.ok, result.results
    assert hooks.of("CreateLogGroup") == ["after", "recorded", "waiting"]
    assert hooks.of("CreateLog") == ["after", "recorded", "waiting"] * 2
    for operation in ("CreateModel", "CreateModelArtifact", "UpdateModel"):  # no work requests to wait on
        assert hooks.of(operation) == ["after", "recorded"], operation
    model_points = [p for p in hooks.points if p.split(":")[1] in ("CreateModel", "CreateModelArtifact")]
    assert model_points == [
        "after:CreateModel",
        "recorded:CreateModel",
        "after:CreateModelArtifact",
        "recorded:CreateModelArtifact",
    ]
    assert hooks.points[-3:] == [
        "after:CreateModelDeployment",
        "recorded:CreateModelDeployment",
        "waiting:CreateModelDeployment",
    ], "the deployment is created last, after everything it depends on"


def test_the_upload_hook_wraps_the_artifact_body_that_is_sent(bench: Bench) -> None:
    hooks = Recorder()

    result = bench.run(bench.plan(), hooks=hooks)

    assert result.ok, result.results
    [upload] = hooks.uploads
    assert upload.length > 0
    assert upload.read_bytes == upload.length
    [model] = bench.world.models()
    head = bench.world.sdk().head_model_artifact(model.id)
    assert int(head.headers["content-length"]) == upload.length


# ------------------------------------------------------------------------------------------ records


def test_audit_records_carry_request_ids_and_never_bodies(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    edit(
        bench.root / "fraud-scorer.yaml",
        '    env: {WEB_CONCURRENCY: "2"}',
        '    env: {WEB_CONCURRENCY: "2"}\n    secretEnv: {API_KEY: {fromEnv: FRAUD_API_KEY}}',
    )
    monkeypatch.setenv("FRAUD_API_KEY", CANARY)

    result = bench.run(bench.plan())

    assert result.ok, result.results
    records = bench.audit_records()
    assert {r["operation"] for r in records} >= {"CreateModelDeployment", "CreateModelArtifact"}
    assert all(r["outcome"] == "accepted" and r["opcRequestId"] and r["stack"] == STACK for r in records)
    [create] = [r for r in records if r["operation"] == "CreateModelDeployment"]
    assert create["opcWorkRequestId"]
    assert create["resourceId"] == by_id(result)["ModelDeployment/fraud-scorer"].resource_id
    [deployment] = bench.world.deployments()
    live = bench.world.sdk().get_model_deployment(deployment.id).data.model_deployment_configuration_details
    assert live.environment_configuration_details.environment_variables["API_KEY"] == CANARY  # it was sent
    for path in (bench.audit.path, bench.journal.path):
        assert CANARY not in path.read_text()


def test_a_refused_write_is_audited_with_the_service_answer(bench: Bench) -> None:
    bench.world.emulator.set_faults(FaultConfig(error_rates={"CreateModel": {400: 1.0}}))

    results = by_id(bench.run(bench.plan()))

    [refused] = [r for r in bench.audit_records() if r["operation"] == "CreateModel"]
    assert refused["outcome"].startswith("error 400 ")
    assert refused["opcRequestId"]
    [model] = [r for r in results.values() if r.key == "Model/fraud-scorer"]
    assert model.status == "failed" and "400" in model.message
    assert refused["opcRequestId"] in model.message


def test_a_wait_abandoned_on_shutdown_is_resumed_by_the_next_run_without_a_second_create(
    bench: Bench,
) -> None:
    bench.world.emulator.work_request_seconds = 1.0  # still in progress when the shutdown comes
    plan = bench.plan()
    shutdown = threading.Event()
    hooks = Recorder(on={"waiting:CreateModelDeployment": shutdown})

    first = by_id(bench.run(plan, abort=shutdown, hooks=hooks))

    deployment = first["ModelDeployment/fraud-scorer"]
    assert deployment.status == "failed"
    assert "abandoned on shutdown" in deployment.message
    pending = Journal(STACK, bench.journal.path).pending()
    entry = pending[("ModelDeployment/fraud-scorer", "CreateModelDeployment")]
    assert entry.work_request_id and entry.resource_id
    bench.world.emulator.reset_counters()

    second = bench.run(plan)

    assert second.ok, second.results
    assert bench.world.emulator.mutating_calls() == 0, "the next run only waits and looks up"
    assert by_id(second)["ModelDeployment/fraud-scorer"].resource_id == entry.resource_id
    assert [d.lifecycle_state for d in bench.world.deployments()] == ["ACTIVE"]


def test_the_journal_records_a_create_before_waiting_on_it(bench: Bench) -> None:
    bench.run(bench.plan())

    lines = [json.loads(line) for line in bench.journal.path.read_text().splitlines()]
    create = [(r["op"], r["status"]) for r in lines if r["change"] == "ModelDeployment/fraud-scorer"]
    assert create == [("CreateModelDeployment", "started"), ("CreateModelDeployment", "done")]
    assert all(r["work_request_id"] for r in lines if r["op"] == "CreateModelDeployment")


# ------------------------------------------------------------------------------------------ retry tokens


def test_retry_tokens_are_stable_per_spec_and_new_after_a_failed_attempt() -> None:
    token = retry_token(STACK, "ModelDeployment/a", "CreateModelDeployment", "spec-1")
    assert token == retry_token(STACK, "ModelDeployment/a", "CreateModelDeployment", "spec-1")
    assert len(token) == 32
    assert token != retry_token(STACK, "ModelDeployment/a", "CreateModelDeployment", "spec-2")
    assert token != retry_token(STACK, "ModelDeployment/b", "CreateModelDeployment", "spec-1")
    assert token != retry_token("other", "ModelDeployment/a", "CreateModelDeployment", "spec-1")
    after_failure = retry_token(STACK, "ModelDeployment/a", "CreateModelDeployment", "spec-1", ["ocid1.x"])
    assert after_failure != token
