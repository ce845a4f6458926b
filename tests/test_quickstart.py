"""The README's quickstart, run exactly as written (mdr resolved to this checkout)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def quickstart_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Quickstart", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None
    joined = block.group(1).replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        command = line.split("  #", 1)[0].strip()
        if command and not command.startswith("pip "):
            commands.append(command)
    return commands


def test_quickstart_runs_as_written(tmp_path: Path) -> None:
    shutil.copytree(REPO / "manifests", tmp_path / "manifests")
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("MDR_STATE_DIR", None)
    outputs = []
    commands = quickstart_commands()
    assert [c.split()[1] for c in commands] == ["validate", "apply", "predict", "plan", "status"]
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "mdr"
        result = subprocess.run(
            [sys.executable, "-m", "reconciler", *argv[1:]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        outputs.append(result.stdout)
    validate, apply, predict, plan, status = outputs
    assert "OK: stack risk-prod" in validate
    assert "Apply complete: 8 done" in apply
    assert '"prediction"' in predict and '"fraud-v1"' in predict
    assert "No changes. Stack risk-prod matches the manifests" in plan
    assert "fraud-scorer  Synced  Healthy  ACTIVE" in status
