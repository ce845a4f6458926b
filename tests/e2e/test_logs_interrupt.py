"""``mdr logs --follow`` ends promptly on Ctrl-C, even while the cloud is slow to answer.

The emulator's injected latency stands for a loaded cloud: every call takes seconds. Ctrl-C must not wait
for calls in flight (nor for calls a worker thread still has to make): a user pressing it wants the prompt
back, and a supervisor sending SIGTERM kills what has not ended.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.world import World

from reconciler.emulator.core.faults import FaultConfig

SLOW_CALL_MS = 8000  # each call takes 8 s: waiting for even two of them would overrun the bound below
EXIT_BOUND_SECONDS = 10.0  # generous for a loaded CI box; an exit that waits for the calls takes 16 s+


@pytest.fixture
def applied(world: World, stack: Path) -> World:
    result = world.mdr("apply", "manifests", "--auto-approve")
    assert result.returncode == 0, result.stderr
    return world


def _follow(world: World) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "reconciler", "logs", "manifests", "fraud-scorer", "--follow"]
    return subprocess.Popen(
        [*command, "--interval", "0.2", *world.target_args()],
        cwd=world.workdir,
        env={**os.environ, "MDR_STATE_DIR": str(world.workdir / ".mdr"), "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(condition: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "mdr logs never reached the moment the test interrupts"
        time.sleep(0.05)


def _calls(world: World, operation: str | None = None) -> int:
    counters = world.emulator.counters()
    return counters.get(operation, 0) if operation else sum(counters.values())


def _while_looking_up_the_deployment(world: World) -> subprocess.Popen[str]:
    """Ctrl-C once mdr has made its first (slow) call: it is still finding the deployment and its logs."""
    world.emulator.set_faults(FaultConfig(latency_ms=SLOW_CALL_MS))
    before = _calls(world)
    follower = _follow(world)
    _wait_for(lambda: _calls(world) > before)
    return follower


def _while_a_search_is_in_flight(world: World) -> subprocess.Popen[str]:
    """Ctrl-C while following, with a search waiting on the slow cloud."""
    follower = _follow(world)
    _wait_for(lambda: _calls(world, "SearchLogs") >= 1)
    world.emulator.set_faults(FaultConfig(latency_ms=SLOW_CALL_MS))
    time.sleep(1.0)  # the next search (0.2 s later) is now waiting on its answer
    return follower


@pytest.mark.parametrize("moment", [_while_looking_up_the_deployment, _while_a_search_is_in_flight])
def test_ctrl_c_ends_follow_within_seconds_while_the_cloud_is_slow(
    applied: World, moment: Callable[[World], subprocess.Popen[str]]
) -> None:
    follower = moment(applied)
    try:
        interrupted = time.monotonic()
        follower.send_signal(signal.SIGINT)
        _, err = follower.communicate(timeout=60)
        took = time.monotonic() - interrupted
    finally:
        follower.kill()
    assert took < EXIT_BOUND_SECONDS, f"took {took:.1f} s to end after Ctrl-C"
    assert follower.returncode in (0, 130), err
    assert "Traceback" not in err
