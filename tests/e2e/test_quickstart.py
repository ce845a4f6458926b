"""The README's quickstart, run exactly as written (mdr resolved to this checkout)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def quickstart_blocks() -> list[list[str]]:
    """The commands of each bash block of the README's quickstart (pip lines and comments left out)."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Quickstart", 1)[1].split("\n### ", 1)[0]
    blocks = []
    for block in re.findall(r"```bash\n(.*?)```", section, re.S):
        joined = block.replace("\\\n", " ")
        commands = []
        for line in joined.splitlines():
            command = line.split("#", 1)[0].strip() if line.lstrip().startswith("mdr") else ""
            if command:
                commands.append(command)
        blocks.append(commands)
    return blocks


def run_block(commands: list[str], folder: Path, env_extra: dict[str, str] | None = None) -> list[str]:
    """Run commands in a fresh copy of the example stack, as a new user would; every one must succeed."""
    shutil.copytree(REPO / "manifests", folder / "manifests")
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("MDR_STATE_DIR", None)
    env.update(env_extra or {})
    outputs = []
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "mdr"
        result = subprocess.run(
            [sys.executable, "-m", "reconciler", *argv[1:]],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        outputs.append(result.stdout)
    return outputs


def test_one_command_quickstart_applies_predicts_and_plans_nothing(tmp_path: Path) -> None:
    one, _steps = quickstart_blocks()
    assert one == ["mdr quickstart"]
    [output] = run_block(one, tmp_path)
    assert "Apply complete: 8 done" in output
    assert '"prediction"' in output and '"fraud-v1"' in output
    assert "No changes. Stack risk-prod matches the manifests (2 up to date)." in output
    # it ends by pointing to the dashboard (tests/e2e/test_hints.py opens it)
    assert output.rstrip().endswith("until Ctrl-C).") and "http://127.0.0.1:9000/" in output


def test_step_by_step_quickstart_runs_as_written(tmp_path: Path) -> None:
    _one, commands = quickstart_blocks()
    assert [c.split()[1] for c in commands] == ["validate", "apply", "predict", "plan", "status"]
    validate, apply, predict, plan, status = run_block(commands, tmp_path)
    assert "OK: stack risk-prod" in validate
    assert "Apply complete: 8 done" in apply
    assert '"prediction"' in predict and '"fraud-v1"' in predict
    assert "No changes. Stack risk-prod matches the manifests" in plan
    assert "fraud-scorer  Synced  Healthy  ACTIVE" in status


def test_local_emulator_state_follows_mdr_state_dir(tmp_path: Path) -> None:
    run_block(["mdr plan manifests --local"], tmp_path, {"MDR_STATE_DIR": str(tmp_path / "state")})
    assert (tmp_path / "state" / "local" / "state.json").is_file() or any(
        (tmp_path / "state" / "local").iterdir()
    )
    assert not (tmp_path / ".mdr").exists()
