"""``mdr quickstart --example multi-model|llm``: the other examples' whole loop on the embedded emulator,
each called the way it is meant to be (every member of the group by its key; the chat model streamed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

STORY = "Once upon a time a small model streamed its answer one token at a time, and every token arrived."


def quickstart(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "MDR_STATE_DIR": str(folder / "state")}
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "quickstart", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_llm_example_streams_its_story_then_plans_nothing(tmp_path: Path) -> None:
    result = quickstart(tmp_path, "--example", "llm")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "== 2/3 POST story-llm/predictWithResponseStream" in result.stdout
    assert f"\n{STORY}\n" in result.stdout  # the tokens, not the events that carried them
    assert "No changes. Stack llm-demo matches the manifests (1 up to date)." in result.stdout


def test_multi_model_example_calls_each_member_by_its_key(tmp_path: Path) -> None:
    result = quickstart(tmp_path, "--example", "multi-model")
    assert result.returncode == 0, result.stdout + result.stderr
    for key, answer in [
        ("tax", '"tax": 19.0'),
        ("shipping", '"cost": 7.5'),
        ("discount", '"discount": 10.0'),
    ]:
        header = f"== 2/3 POST pricing/predict --member {key} "
        assert header in result.stdout, result.stdout
        assert answer in result.stdout.split(header, 1)[1].split("==", 1)[0]
    assert "No changes. Stack shop-pricing matches the manifests (1 up to date)." in result.stdout


def test_path_and_example_together_are_refused(tmp_path: Path) -> None:
    result = quickstart(tmp_path, "manifests", "--example", "llm")
    assert result.returncode == 1
    assert "give PATH or --example, not both" in result.stderr


@pytest.mark.parametrize("name", ["llm", "multi-model"])
def test_the_default_quickstart_points_to_each_example(name: str) -> None:
    from reconciler.cli.local import _more_examples

    assert f"mdr quickstart --example {name} " in _more_examples()
