"""Adaptive apply concurrency: the AIMD limit (pure), a compartment's gate, and an apply against an emulator
whose limits are on: throttled, it slows down and finishes with no change failed."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from oci.data_science import models as dm
from support.world import EXAMPLE_COMPARTMENT, EXAMPLE_PROJECT, World

from reconciler.core.concurrency import AimdLimit
from reconciler.emulator.core.limits import LimitConfig
from reconciler.engine.apply.adaptive import Gate


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_limit_starts_at_8_and_doubles_each_round_while_calls_are_accepted() -> None:
    limit = AimdLimit(start=8, ceiling=64)
    for _ in range(8):  # one round: the 8 changes in flight are each accepted once
        limit.on_success()
    assert limit.limit == 16
    for _ in range(16):
        limit.on_success()
    assert limit.limit == 32


def test_a_refusal_halves_the_limit_and_growth_is_then_one_per_round() -> None:
    clock = Clock()
    limit = AimdLimit(start=8, ceiling=64, clock=clock)
    for _ in range(24):
        limit.on_success()
    assert limit.limit == 32
    assert limit.on_throttled()
    assert limit.limit == 16
    for _ in range(16):  # a round of 16 accepted calls: one more, not 16 more
        limit.on_success()
    assert limit.limit == 17


def test_a_burst_of_refusals_from_one_round_halves_once_until_the_cooldown_has_passed() -> None:
    clock = Clock()
    limit = AimdLimit(start=32, ceiling=32, cooldown_seconds=1.0, clock=clock)
    assert limit.on_throttled()
    assert [limit.on_throttled() for _ in range(10)] == [False] * 10
    assert limit.limit == 16
    clock.now = 1.5
    assert limit.on_throttled()
    assert limit.limit == 8


def test_the_limit_never_leaves_its_floor_and_ceiling() -> None:
    clock = Clock()
    limit = AimdLimit(start=100, ceiling=5, clock=clock)
    assert limit.limit == 5
    for step in range(10):
        clock.now = step * 2.0
        limit.on_throttled()
    assert limit.limit == 1
    with pytest.raises(ValueError, match="floor"):
        AimdLimit(ceiling=0)


@given(st.lists(st.one_of(st.just("ok"), st.floats(0, 5)), max_size=300), st.integers(1, 64))
def test_whatever_the_service_answers_the_limit_stays_between_1_and_the_cap(
    events: list[object], cap: int
) -> None:
    clock = Clock()
    limit = AimdLimit(start=8, ceiling=cap, clock=clock)
    for event in events:
        if event == "ok":
            before = limit.limit
            limit.on_success()
            assert limit.limit >= before
        else:
            assert isinstance(event, float)
            clock.now += event
            before = limit.limit
            if limit.on_throttled():
                assert limit.limit == max(1, before // 2)
        assert 1 <= limit.limit <= cap


def test_a_gate_admits_up_to_its_limit_and_a_requeued_change_goes_first() -> None:
    gate = Gate(AimdLimit(start=2, ceiling=4))
    assert gate.try_acquire() and gate.try_acquire()
    assert not gate.try_acquire()  # full
    gate.on_throttled("test")  # 2 -> 1: the change that was refused gives its slot back and waits
    resumed = threading.Event()

    def refused_change() -> None:
        gate.requeue()
        resumed.set()

    thread = threading.Thread(target=refused_change)
    thread.start()
    assert not resumed.wait(0.2)  # the other change still runs: 1 in flight = the new limit
    assert not gate.try_acquire()  # and a new change may not take the slot it waits for
    gate.release()  # the other change ends
    assert resumed.wait(5)
    thread.join()
    assert gate.running == 1 and not gate.try_acquire()


def test_work_request_polls_of_a_compartment_go_out_one_per_interval_however_many_changes_wait() -> None:
    clock = Clock()
    gate = Gate(AimdLimit(start=32, ceiling=32), poll_interval=0.1 / 8, clock=clock)
    waits = [gate.poll_wait() for _ in range(32)]  # 32 changes polling at the same moment
    assert waits[0] == 0
    assert waits[-1] == pytest.approx(31 * 0.1 / 8)  # spread over 0.4 s: the rate of 8 changes
    clock.now = 10.0  # a quiet spell: the next poll goes at once
    assert gate.poll_wait() == 0


def stack_of(path: Path, count: int, world: World) -> Path:
    """A stack of ``count`` deployments of one model that has an artifact."""
    sdk = world.sdk()
    model = sdk.create_model(
        dm.CreateModelDetails(compartment_id=EXAMPLE_COMPARTMENT, project_id=EXAMPLE_PROJECT)
    ).data.id
    sdk.create_model_artifact(model, b"PK\x05\x06" + b"\0" * 18)
    path.mkdir()
    (path / "mdr.yaml").write_text(
        "stack: adaptive\nregion: us-ashburn-1\n"
        f"defaults: {{compartmentId: {EXAMPLE_COMPARTMENT}, projectId: {EXAMPLE_PROJECT}}}\n"
    )
    for index in range(count):
        (path / f"d{index:02d}.yaml").write_text(
            "apiVersion: mdr/v1\nkind: ModelDeployment\n"
            f"metadata: {{name: d{index:02d}}}\n"
            f"spec:\n  model: {{id: {model}}}\n"
            "  infrastructure: {shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16}\n"
            "  runtime: {type: conda}\n"
        )
    return path


def test_an_apply_throttled_by_the_service_slows_down_and_fails_nothing(world: World) -> None:
    stack = stack_of(world.workdir / "stack", 24, world)
    world.emulator.work_request_seconds = 0.3
    world.emulator.limits.configure(
        LimitConfig(requests_per_second=40, burst=40, work_requests_per_compartment=5)
    )

    done = world.mdr("apply", str(stack), "--auto-approve")

    assert done.returncode == 0, done.stderr[-3000:]
    refused = world.emulator.limits.to_dict()["refused"]
    assert refused.get("LimitExceeded", 0) > 0  # it was throttled: mdr starts at 8, the service allows 5
    assert "changes at once in this compartment now" in done.stderr
    assert "FAILED" not in done.stderr
    world.emulator.limits.configure(LimitConfig())
    assert len([d for d in world.deployments() if d.lifecycle_state == "ACTIVE"]) == 24


def test_a_limit_exceeded_with_nothing_else_in_flight_is_a_real_limit_and_fails_the_change(
    world: World,
) -> None:
    stack = stack_of(world.workdir / "stack", 1, world)
    world.emulator.limits.configure(LimitConfig(work_requests_per_compartment=1))
    sdk = world.sdk()
    # another writer's work request holds the compartment's only slot for longer than this apply runs
    world.emulator.work_request_seconds = 60
    project = sdk.create_project(dm.CreateProjectDetails(compartment_id=EXAMPLE_COMPARTMENT)).data.id
    sdk.delete_project(project)

    done = world.mdr("apply", str(stack), "--auto-approve")

    assert done.returncode != 0
    assert "LimitExceeded" in done.stderr + done.stdout
