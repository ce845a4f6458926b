"""Shapes the service does not offer are input errors at the manifest's line, found before any write."""

from __future__ import annotations

from pathlib import Path

from support.planning import DEPLOYMENT, load, write_stack

from reconciler.core.shapes import unknown_shapes

OFFERED = {"VM.Standard.E4.Flex", "VM.Standard.E3.Flex", "VM.Standard2.1"}


def test_an_offered_shape_passes(tmp_path: Path) -> None:
    stack = load(write_stack(tmp_path / "s", {"fraud.yaml": DEPLOYMENT.format(name="fraud")}))
    assert unknown_shapes(stack, OFFERED) == []


def test_an_unknown_shape_is_reported_at_its_line_with_the_offered_ones(tmp_path: Path) -> None:
    text = DEPLOYMENT.format(name="fraud").replace("VM.Standard.E4.Flex", "VM.Standard.E9.Flex")
    stack = load(write_stack(tmp_path / "s", {"fraud.yaml": text}))
    [(deployment, issue)] = unknown_shapes(stack, OFFERED)
    assert deployment.name == "fraud"
    assert issue.file.endswith("fraud.yaml")
    assert (issue.line, issue.path) == (
        text.splitlines().index("    shape: VM.Standard.E9.Flex") + 1,
        "spec.infrastructure.shape",
    )
    assert "VM.Standard.E3.Flex" in issue.message and "VM.Standard.E4.Flex" in issue.message


def test_nothing_is_judged_when_the_shapes_could_not_be_listed(tmp_path: Path) -> None:
    text = DEPLOYMENT.format(name="fraud").replace("VM.Standard.E4.Flex", "VM.Standard.E9.Flex")
    stack = load(write_stack(tmp_path / "s", {"fraud.yaml": text}))
    assert unknown_shapes(stack, set()) == []
