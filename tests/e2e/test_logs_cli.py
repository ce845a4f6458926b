"""``mdr logs``: the access and predict entries of a deployment's predict calls, read through Log Search."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.world import World, edit

LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)  (access|predict)\s+(.+)$")
INPUT = '{"transactions": [{"amount": 900, "foreign": 1, "night": 1}]}'


@pytest.fixture
def applied(world: World, stack: Path) -> World:
    """The example stack applied, with churn-api's logging taken out (a deployment without logs)."""
    edit(
        stack / "churn-container.yaml",
        "  logging:\n    logGroup: {name: risk-logs}\n    predict: {name: churn-api-predict}\n",
        "",
    )
    result = world.mdr("apply", "manifests", "--auto-approve")
    assert result.returncode == 0, result.stderr
    return world


def _predict(world: World) -> None:
    result = world.mdr("predict", "manifests", "fraud-scorer", "--data", INPUT, *world.target_args())
    assert result.returncode == 0, result.stderr


def _logs(world: World, *args: str) -> list[tuple[str, str, str]]:
    result = world.mdr("logs", "manifests", "fraud-scorer", *args, *world.target_args())
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    return [(m[1], m[2], m[3]) for m in parsed if m]


def _kind(line: str) -> str:
    found = LINE.match(line.rstrip("\n"))
    assert found is not None, line
    return found[2]


def test_logs_print_each_predict_call_oldest_first_and_filter_by_kind_limit_and_since(
    applied: World,
) -> None:
    assert _logs(applied) == []
    _predict(applied)
    _predict(applied)
    time.sleep(0.05)
    between = datetime.now(UTC)
    time.sleep(0.05)
    _predict(applied)

    entries = _logs(applied, "--since", "10m")
    assert len(entries) == 6
    assert [e[0] for e in entries] == sorted(e[0] for e in entries)
    assert sorted(kind for _, kind, _ in entries) == ["access"] * 3 + ["predict"] * 3
    access = [message for _, kind, message in entries if kind == "access"]
    assert all('"status": 200' in m and '"path": "/predict"' in m for m in access), access
    predicts = [message for _, kind, message in entries if kind == "predict"]
    assert all(re.fullmatch(r"predict answered 200 in \d+ ms", m) for m in predicts), predicts

    assert [kind for _, kind, _ in _logs(applied, "--kind", "access")] == ["access"] * 3
    assert _logs(applied, "--limit", "2") == entries[-2:]
    assert _logs(applied, "--since", between.isoformat()) == entries[-2:]
    assert _logs(applied, "--since", "0s") == []


def test_a_deployment_without_logs_is_a_one_line_error_saying_how_to_add_them(applied: World) -> None:
    result = applied.mdr("logs", "manifests", "churn-api", *applied.target_args())
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("error: churn-api has no access or predict log configured")
    assert "logging:" in line and "mdr apply" in line
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "yesterday"), "is neither a duration"),
        (("--since", "2999-01-01T00:00:00Z"), "is in the future"),
        (("--limit", "0"), "--limit 0"),
        (("--follow", "--interval", "nan"), "--interval nan"),
    ],
)
def test_bad_options_are_one_line_errors(
    world: World, stack: Path, args: tuple[str, ...], message: str
) -> None:
    result = world.mdr("logs", "manifests", "fraud-scorer", *args, *world.target_args())
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert message in line


def test_follow_prints_entries_made_while_it_runs_once_each_and_stops_on_ctrl_c(applied: World) -> None:
    _predict(applied)
    command = [sys.executable, "-m", "reconciler", "logs", "manifests", "fraud-scorer", "--follow"]
    env = {**os.environ, "MDR_STATE_DIR": str(applied.workdir / ".mdr"), "NO_COLOR": "1"}
    follower = subprocess.Popen(
        [*command, "--interval", "0.2", *applied.target_args()],
        cwd=applied.workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None
        before = [follower.stdout.readline() for _ in range(2)]  # the entries of the call made before
        assert sorted(_kind(line) for line in before) == ["access", "predict"]
        time.sleep(1.0)  # a few searches that find nothing new
        _predict(applied)
        after = [follower.stdout.readline() for _ in range(2)]
        assert sorted(_kind(line) for line in after) == ["access", "predict"]
        time.sleep(1.0)
    finally:
        follower.send_signal(signal.SIGINT)
        out, err = follower.communicate(timeout=30)
    assert follower.returncode == 0, err
    assert out == ""  # nothing printed twice after the four entries
    assert "Traceback" not in err
    assert len(set(before + after)) == 4
