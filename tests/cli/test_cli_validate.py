"""``mdr validate`` and ``mdr schema`` as a user runs them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.core.schema import render_schemas

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "manifests"


def test_example_stack_validates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(EXAMPLES)]) == 0
    out = capsys.readouterr().out
    assert "OK: stack risk-prod" in out
    assert "churn-api, fraud-scorer" in out


def test_validate_runs_as_module_and_reports_every_error(tmp_path: Path) -> None:
    (tmp_path / "mdr.yaml").write_text("stack: s\nregion: us-ashburn-1\nfoo: 1\n")
    (tmp_path / "a.yaml").write_text("apiVersion: mdr/v1\nkind: ModelDeployment\nmetadata: {name: Bad}\n")
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert f"{tmp_path / 'mdr.yaml'}:3:1: foo: unknown field" in result.stderr
    assert f"{tmp_path / 'a.yaml'}:3:" in result.stderr
    assert "metadata.name" in result.stderr
    assert "spec: required field 'spec' is missing" in result.stderr
    assert "error(s) in 2 file(s)" in result.stderr


def test_validate_json_output_lists_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mdr.yaml").write_text("stack: s\nregion: nowhere\n")
    assert main(["validate", str(tmp_path), "--output", "json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["valid"] is False
    assert payload["errors"][0]["line"] == 2
    assert payload["errors"][0]["path"] == "region"


def test_missing_local_artifact_points_at_the_manifest_line(tmp_path: Path) -> None:
    text = (
        (EXAMPLES / "fraud-scorer.yaml")
        .read_text()
        .replace("artifact: models/fraud-scorer", "artifact: gone")
    )
    (tmp_path / "mdr.yaml").write_text((EXAMPLES / "mdr.yaml").read_text())
    (tmp_path / "fraud.yaml").write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode == 1
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "artifact: gone" in row)
    assert (
        f"fraud.yaml:{line}:5: spec.model.artifact: artifact {tmp_path / 'gone'} does not exist"
        in result.stderr
    )


def test_validate_prints_every_independent_error_of_a_manifest_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "m")
    fraud = tmp_path / "m/fraud-scorer.yaml"
    fraud.write_text(
        fraud.read_text()
        .replace("replicas: 1", "replicas: -1")  # a field
        .replace("memoryInGBs: 16", "memoryInGBs: 16000")  # a shape's range, checked across fields
        .replace("access: {name: fraud-scorer-access}", "access: {}")  # a log needs its name or id
    )
    (tmp_path / "m/models/fraud-scorer/runtime.yaml").write_text("MODEL_ARTIFACT_VERSION: '3.0'\n")
    assert main(["validate", str(tmp_path / "m"), "--output", "json"]) == 1
    errors = json.loads(capsys.readouterr().out)["errors"]
    assert sorted(e["path"] for e in errors) == [
        "spec.infrastructure.memoryInGBs",
        "spec.infrastructure.replicas",
        "spec.logging.access",
        "spec.model.artifact",
    ]
    assert main(["validate", str(tmp_path / "m")]) == 1
    assert capsys.readouterr().err.rstrip().endswith("4 error(s) in 1 file(s)")


def test_committed_schemas_match_the_models() -> None:
    for name, text in render_schemas().items():
        committed = REPO / "schemas" / name
        assert committed.read_text(encoding="utf-8") == text, (
            f"{committed} is stale: run mdr schema --out schemas"
        )


def test_committed_manifest_reference_matches_the_models() -> None:
    from reconciler.core.schema import render_reference

    reference = (REPO / "docs" / "manifest-reference.md").read_text(encoding="utf-8")
    assert reference == render_reference(), "run: mdr schema --out schemas --docs docs/manifest-reference.md"
    assert "| `ocpus` |" in reference and "mdr.io/adopt" in reference


def test_schema_check_detects_stale_files(tmp_path: Path) -> None:
    assert main(["schema", "--out", str(tmp_path)]) == 0
    assert main(["schema", "--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "stack.schema.json").write_text("{}")
    assert main(["schema", "--out", str(tmp_path), "--check"]) == 1


def test_example_manifests_start_with_a_schema_modeline() -> None:
    for path in EXAMPLES.glob("*.yaml"):
        first = path.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema=../schemas/"), path
        target = (path.parent / first.split("$schema=")[1]).resolve()
        assert target.is_file(), target
