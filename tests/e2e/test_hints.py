"""The commands mdr tells a person to run next work when they are run as printed."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import urllib.request

from support.world import World, copy_example_stack
from test_controller_e2e import eventually, free_port
from test_import import _create_by_hand, _import

MDR = [sys.executable, "-m", "reconciler"]


def run(world: World, argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """A printed ``mdr ...`` command, run as printed (``mdr`` is this checkout's mdr)."""
    assert argv[0] == "mdr", argv
    env = {**os.environ, "MDR_STATE_DIR": str(world.workdir / ".mdr"), "NO_COLOR": "1"}
    return subprocess.run(
        [*MDR, *argv[1:]], cwd=world.workdir, env=env, capture_output=True, text=True, timeout=timeout
    )


def printed_command(text: str, after: str) -> list[str]:
    """The command printed right after ``after`` (up to two spaces or the end of the line)."""
    match = re.search(re.escape(after) + r"\s*(mdr [^\n]*?)(?:  |\n|$)", text)
    assert match, f"no command after {after!r} in:\n{text}"
    return shlex.split(match.group(1))


def test_the_adopt_hint_of_import_keeps_the_target_the_user_gave(world: World) -> None:
    _create_by_hand(world)
    done = _import(world, "--stack", "imported")
    assert done.returncode == 0, done.stderr
    adopt = printed_command(done.stdout, "adopt with:")
    assert adopt[:3] == ["mdr", "apply", "imported"]
    assert adopt[3:] == world.target_args()  # the --endpoint and --config-file given to import
    applied = run(world, [*adopt, "--auto-approve"])
    assert applied.returncode == 0, applied.stdout + applied.stderr
    plan = run(world, ["mdr", "plan", "imported", "--detailed-exitcode", *world.target_args()])
    assert plan.returncode == 0, plan.stdout  # adopted: nothing left to change


def test_status_local_says_its_urls_are_temporary_and_the_call_it_suggests_works(world: World) -> None:
    copy_example_stack(world.workdir / "manifests")
    assert run(world, ["mdr", "apply", "manifests", "--local", "--auto-approve"]).returncode == 0
    status = run(world, ["mdr", "status", "manifests", "--local"])
    assert status.returncode == 0, status.stderr
    assert "these URLs are temporary" in status.stdout
    urls = re.findall(r"^    (http\S+/predict)$", status.stdout, re.M)
    assert len(urls) == 2, status.stdout  # whole, on lines of their own (a cut URL never works)
    call = printed_command(status.stdout, "To call one:")
    annotations = (world.workdir / "manifests" / "fraud-scorer.yaml").read_text()
    example = re.search(r"mdr.io/example-input: '(.*)'", annotations)
    assert example
    call = [("fraud-scorer" if a == "NAME" else a) for a in call]
    call[call.index("--data") + 1] = example.group(1)
    answer = run(world, call)
    assert answer.returncode == 0, answer.stderr
    assert "prediction" in json.loads(answer.stdout)


def test_quickstart_points_to_a_dashboard_that_opens(world: World) -> None:
    copy_example_stack(world.workdir / "manifests")
    quickstart = run(world, ["mdr", "quickstart", "manifests"])
    assert quickstart.returncode == 0, quickstart.stdout + quickstart.stderr
    command = printed_command(quickstart.stdout, "watch it in the dashboard")
    url = re.search(r"then open (http://\S+/)", quickstart.stdout)
    assert url and command[-2] == "--listen" and command[-1] in url.group(1)
    port = free_port()  # the printed port may be taken on a test machine: the same command on a free one
    command[-1] = f"127.0.0.1:{port}"
    env = {**os.environ, "MDR_STATE_DIR": str(world.workdir / ".mdr"), "NO_COLOR": "1"}
    with (world.workdir / "dashboard-controller.log").open("w") as log:
        controller = subprocess.Popen(
            [*MDR, *command[1:]], cwd=world.workdir, env=env, stdout=log, stderr=log
        )
        try:
            eventually(
                lambda: "Synced" in page(port), what="the dashboard shows the quickstart's deployments"
            )
            assert "fraud-scorer" in page(port) and "churn-api" in page(port)
        finally:
            controller.terminate()
            controller.wait(timeout=30)


def page(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
            return str(answer.read().decode())
    except OSError:
        return ""
