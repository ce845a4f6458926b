"""``mdr validate`` on ``spec.healthCheck``: each mistake named with its file, line and field; exit 1."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reconciler.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "manifests", tmp_path / "m", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "m"


def _with_check(stack: Path, check: str) -> Path:
    manifest = stack / "fraud-scorer.yaml"
    manifest.write_text(manifest.read_text() + check)
    return manifest


def test_a_check_from_the_example_input_validates(stack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _with_check(stack, "  healthCheck:\n    request: {fromAnnotation: mdr.io/example-input}\n")
    assert main(["validate", str(stack)]) == 0, capsys.readouterr().err


def test_a_check_naming_a_missing_annotation_points_at_its_line(
    stack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = _with_check(stack, "  healthCheck:\n    request: {fromAnnotation: mdr.io/example-input}\n")
    manifest.write_text(manifest.read_text().replace("mdr.io/example-input: '", "other: '", 1))
    lines = manifest.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if "fromAnnotation" in text)
    assert main(["validate", str(stack)]) == 1
    err = capsys.readouterr().err
    assert f"{manifest}:{line}:" in err
    assert "spec.healthCheck.request.fromAnnotation: metadata.annotations has no mdr.io/example-input" in err


def test_every_mistake_of_a_check_is_reported_in_one_run(
    stack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _with_check(
        stack,
        "  healthCheck:\n    request: {}\n    expectStatus: 42\n    interval: often\n    latencyMs: -1\n",
    )
    assert main(["validate", str(stack)]) == 1
    err = capsys.readouterr().err
    for field in ("request", "expectStatus", "interval", "latencyMs"):
        assert f"spec.healthCheck.{field}" in err, err
    assert "exactly one of the two" in err
