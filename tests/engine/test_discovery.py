"""Discovery: every folder with an mdr.yaml is a stack; a base folder, a hidden folder and the folders
inside a stack are not; two folders claiming one stack name never both run."""

from __future__ import annotations

from pathlib import Path

from reconciler.engine.controller.discovery import discover

STACK = "stack: {name}\nregion: us-ashburn-1\n"


def stack(folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mdr.yaml").write_text(STACK.format(name=name))


def test_every_folder_with_an_mdr_yaml_is_a_stack_and_a_base_is_not(tmp_path: Path) -> None:
    stack(tmp_path / "envs/dev", "risk-dev")
    stack(tmp_path / "envs/prod", "risk-prod")
    (tmp_path / "base").mkdir()
    (tmp_path / "base/fraud.yaml").write_text("kind: ModelDeployment\n")
    stack(tmp_path / ".git/hooks", "hidden")
    found = discover(tmp_path)
    assert {f: s.name for f, s in found.stacks.items()} == {"envs/dev": "risk-dev", "envs/prod": "risk-prod"}
    assert found.problems == []


def test_folders_inside_a_stack_belong_to_it(tmp_path: Path) -> None:
    stack(tmp_path / "team", "team")
    stack(tmp_path / "team/models/inner", "inner")
    assert list(discover(tmp_path).stacks) == ["team"]


def test_a_second_folder_with_the_same_stack_name_is_reported_not_served(tmp_path: Path) -> None:
    stack(tmp_path / "a", "risk-prod")
    stack(tmp_path / "b", "risk-prod")
    found = discover(tmp_path)
    assert list(found.stacks) == ["a"]
    assert (
        len(found.problems) == 1 and "b/mdr.yaml" in found.problems[0] and "a/mdr.yaml" in found.problems[0]
    )


def test_an_invalid_mdr_yaml_is_still_a_stack_labelled_by_its_folder(tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken/mdr.yaml").write_text("stack: [not, a, name\n")
    found = discover(tmp_path)
    assert found.stacks["broken"].name is None and found.label("broken") == "broken"
