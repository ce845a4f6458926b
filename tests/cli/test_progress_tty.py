"""``mdr apply`` progress as a person sees it: a live table in a real terminal (tmux), plain lines elsewhere.

The terminal runs are read back with ``tmux capture-pane``; the captures are kept under
``test-artifacts/terminal`` (git-ignored). Skipped, with the reason, only when tmux is missing.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.world import REPO, World, copy_example_stack

TMUX = shutil.which("tmux")
CAPTURES = REPO / "test-artifacts" / "terminal"
needs_tmux = pytest.mark.skipif(TMUX is None, reason="no tmux (apt-get install tmux; .ci/run installs it)")
#: what the plan calls each change, and so what its progress row must be called too
PLAN_NAMES = [
    "LogGroup risk-logs",
    "Log churn-api-predict",
    "Model churn-model",
    "Model fraud-model",
    "ModelDeployment churn-api",
    "ModelDeployment fraud-scorer",
]


class Terminal:
    """A detached tmux session of 110x50 running one command; its screen is read with capture-pane."""

    def __init__(self, command: str, cwd: Path, env: dict[str, str]) -> None:
        self.name = f"mdr-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        # the shell stays after mdr exits, so its last screen can still be read
        script = f"cd {shlex.quote(str(cwd))} && env -u NO_COLOR {exports} {command}; echo EXIT=$?; sleep 60"
        subprocess.run(
            [TMUX or "tmux", "new-session", "-d", "-s", self.name, "-x", "110", "-y", "50", script],
            check=True,
            env={**os.environ, "TERM": "xterm-256color"},
        )

    def screen(self) -> str:
        return subprocess.run(
            [TMUX or "tmux", "capture-pane", "-p", "-J", "-S", "-200", "-t", self.name],
            capture_output=True,
            text=True,
            check=False,
        ).stdout

    def wait_for(self, seen: Callable[[str], bool], timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.screen()
            if seen(text):
                return text
            time.sleep(0.1)
        raise AssertionError(f"not seen within {timeout}s; the screen was:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run([TMUX or "tmux", "kill-session", "-t", self.name], check=False, capture_output=True)


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for terminal in opened:
        terminal.close()


@pytest.fixture(autouse=True)
def captures(capsys: pytest.CaptureFixture[str]) -> Path:
    """Where the terminal captures go, printed even when output is captured (as in CI)."""
    with capsys.disabled():
        print(f"\nterminal captures: {CAPTURES}")
    return CAPTURES


def keep(name: str, screen: str) -> None:
    CAPTURES.mkdir(parents=True, exist_ok=True)
    (CAPTURES / name).write_text(screen)


def progress_row(screen: str, name: str) -> str:
    """The live table's row of one change (it starts with the plan's name for it)."""
    rows = [line for line in screen.splitlines() if re.match(rf"{re.escape(name)}\s{{2,}}", line)]
    assert rows, f"no progress row for {name!r} in:\n{screen}"
    return rows[-1]


def mdr_command(*args: str) -> str:
    return shlex.join([sys.executable, "-m", "reconciler", *args])


@needs_tmux
def test_apply_on_a_terminal_shows_each_change_live_under_its_plan_name(
    world: World, terminals: list[Terminal]
) -> None:
    copy_example_stack(world.workdir / "manifests")
    world.emulator.work_request_seconds = 2.0  # slow enough to see a work request in flight
    terminal = Terminal(
        mdr_command("apply", "manifests", "--auto-approve", *world.target_args()),
        world.workdir,
        {"MDR_STATE_DIR": str(world.workdir / ".mdr")},
    )
    terminals.append(terminal)
    in_flight = re.compile(r"^ModelDeployment fraud-scorer\s{2,}.*IN_PROGRESS", re.M)
    live = terminal.wait_for(lambda s: in_flight.search(s) is not None)
    keep("apply-live.txt", live)
    row = progress_row(live, "ModelDeployment fraud-scorer")
    assert re.search(r"create\s+CreateModelDeployment\s+.*\d+% IN_PROGRESS\s+\d+\.\ds\s*$", row), row
    final = terminal.wait_for(lambda s: "EXIT=" in s)
    keep("apply-final.txt", final)
    assert "EXIT=0" in final and "Apply complete: 8 done" in final
    for name in PLAN_NAMES:
        assert f"+ {name} will be created" in final
        assert re.search(r"\s100% done\s+\d+\.\ds\s*$", progress_row(final, name))
    assert "Model/churn-api" not in final  # the internal key is never what a person is shown


@needs_tmux
def test_apply_local_on_a_terminal_keeps_the_table_on_screen_and_stdout_pipeable(
    world: World, terminals: list[Terminal]
) -> None:
    copy_example_stack(world.workdir / "manifests")
    terminal = Terminal(
        mdr_command("apply", "manifests", "--local", "--auto-approve") + " > apply-stdout.txt",
        world.workdir,
        {"MDR_STATE_DIR": str(world.workdir / ".mdr")},
    )
    terminals.append(terminal)
    final = terminal.wait_for(lambda s: "EXIT=" in s)
    keep("apply-local-final.txt", final)
    assert "EXIT=0" in final
    assert all(len(line) <= 110 for line in final.splitlines())
    for name in PLAN_NAMES:
        assert "100% done" in progress_row(final, name)
    piped = (world.workdir / "apply-stdout.txt").read_text()
    assert "Plan: 8 to create" in piped and "Apply complete: 8 done" in piped
    assert "━" not in piped and "\x1b[" not in piped  # the table stayed on the terminal


def test_without_a_terminal_apply_prints_plain_lines_with_the_plans_names(world: World) -> None:
    copy_example_stack(world.workdir / "manifests")
    run = world.mdr("apply", "manifests", "--auto-approve")  # output captured: no terminal
    assert run.returncode == 0, run.stderr
    for name in PLAN_NAMES:
        assert f"+ {name} will be created" in run.stdout
        assert re.search(rf"^{re.escape(name)}: create complete after \d+\.\ds$", run.stderr, re.M), (
            run.stderr
        )
    assert "\x1b[" not in run.stderr  # no escape codes in a log
    assert "Model/churn-api" not in run.stderr
