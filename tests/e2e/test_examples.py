"""The CI templates and the pre-commit hook call mdr with commands and flags that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from reconciler.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = [REPO / "examples/ci/github/plan-and-apply.yml", REPO / "examples/ci/gitlab/.gitlab-ci.yml"]


def _scripts(node: object) -> list[str]:
    """Every shell script in a workflow: GitHub ``run:`` values and GitLab ``script:`` items."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "run" and isinstance(value, str):
                found.append(value)
            elif key in ("script", "before_script", "after_script") and isinstance(value, list):
                found.extend(str(v) for v in value)
            else:
                found.extend(_scripts(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_scripts(item))
    return found


COMMAND_LINE = re.compile(r"^\s*(?:if !\s*|\d\)\s*)?mdr\s+([a-z]+\b[^\n;|&>]*)")


def _mdr_invocations(script: str) -> list[list[str]]:
    """``mdr ...`` command lines (a line starting with it, or after ``if !`` or a case label)."""
    calls = []
    for line in script.replace("\\\n", " ").splitlines():
        match = COMMAND_LINE.match(line)
        if match:
            calls.append(shlex.split(match.group(1).replace("$", "x")))  # variables stand for plain words
    return calls


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.parent.name)
def test_ci_templates_call_existing_mdr_commands_and_flags(template: Path) -> None:
    calls = [
        call for script in _scripts(yaml.safe_load(template.read_text())) for call in _mdr_invocations(script)
    ]
    commands = {call[0] for call in calls}
    assert {"validate", "plan", "apply"} <= commands, commands
    parser = build_parser()
    for call in calls:
        try:
            parser.parse_args(call)
        except SystemExit as exc:
            pytest.fail(f"{template.name}: `mdr {' '.join(call)}` is not a valid mdr command line ({exc})")


def test_pre_commit_hook_runs_mdr_validate() -> None:
    [hook] = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "mdr-validate"
    entry = shlex.split(hook["entry"]) + list(hook.get("args", []))
    assert entry[:2] == ["mdr", "validate"]
    build_parser().parse_args(entry[1:])
