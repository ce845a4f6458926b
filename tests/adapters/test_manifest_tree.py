"""Reading a manifest tree: every entry that could be a manifest is read or reported, never skipped.

A manifest mdr skipped would look exactly like a removed one, and a prune would delete its deployment;
so anything unreadable makes the tree incomplete (an issue), and an incomplete tree never prunes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.adapters.manifests import load_stack

STACK = """stack: risk-prod
region: us-ashburn-1
defaults:
  compartmentId: ocid1.compartment.oc1..aaaaaaaarisk
  projectId: ocid1.datascienceproject.oc1.iad.aaaaaaaarisk
"""

MANIFEST = """apiVersion: mdr/v1
kind: ModelDeployment
metadata:
  name: {name}
spec:
  model:
    artifact: {artifact}
  infrastructure:
    shape: VM.Standard.E4.Flex
    ocpus: 1
    memoryInGBs: 16
  runtime:
    type: conda
"""

SCORE = "def load_model():\n    return None\n\n\ndef predict(data, model=None):\n    return {'prediction': data}\n"
RUNTIME = (
    "MODEL_ARTIFACT_VERSION: '3.0'\nMODEL_DEPLOYMENT:\n  INFERENCE_CONDA_ENV:\n"
    "    INFERENCE_ENV_SLUG: generalml_p311_cpu_x86_64_v1\n    INFERENCE_ENV_TYPE: data_science\n"
    "    INFERENCE_ENV_PATH: oci://service-conda-packs@id19sfcrra6z/service_pack/cpu/General_Machine_Learning_for_CPUs_on_Python_3.11/1.0/generalml_p311_cpu_x86_64_v1\n"
    "    INFERENCE_PYTHON_VERSION: '3.11'\n"
)


def artifact(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "score.py").write_text(SCORE)
    (folder / "runtime.yaml").write_text(RUNTIME)
    return folder


def tree(root: Path, names: tuple[str, ...] = ("fraud", "churn")) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "mdr.yaml").write_text(STACK)
    artifact(root / "models" / "m")
    for name in names:
        (root / f"{name}.yaml").write_text(MANIFEST.format(name=name, artifact="models/m"))
    return root


def names(root: Path) -> list[str]:
    return sorted(d.name for d in load_stack(root).deployments)


def test_a_complete_tree_loads_every_deployment(tmp_path: Path) -> None:
    stack = load_stack(tree(tmp_path / "t"))
    assert stack.complete and sorted(d.name for d in stack.deployments) == ["churn", "fraud"]


def test_an_upper_case_suffix_is_read_not_skipped(tmp_path: Path) -> None:
    root = tree(tmp_path / "t")
    (root / "churn.yaml").rename(root / "CHURN.YAML")
    stack = load_stack(root)
    assert stack.complete
    assert names(root) == ["churn", "fraud"]


@pytest.mark.parametrize("kind", ["dangling", "looping"])
def test_a_broken_symlink_makes_the_tree_incomplete(tmp_path: Path, kind: str) -> None:
    root = tree(tmp_path / "t")
    (root / "churn.yaml").unlink()
    link = root / "churn.yaml"
    if kind == "dangling":
        link.symlink_to(tmp_path / "moved-away.yaml")
    else:
        link.symlink_to(root / "other.yaml")
        (root / "other.yaml").symlink_to(link)
    stack = load_stack(root)
    assert not stack.complete
    assert any(i.file.endswith("churn.yaml") and "symlink" in i.message for i in stack.issues)


def test_a_symlinked_folder_that_loops_is_reported_once(tmp_path: Path) -> None:
    root = tree(tmp_path / "t")
    (root / "team").mkdir()
    (root / "team" / "back").symlink_to(root)
    stack = load_stack(root)
    assert not stack.complete
    assert any("loops" in i.message for i in stack.issues)


def test_a_special_file_named_like_a_manifest_is_an_error(tmp_path: Path) -> None:
    root = tree(tmp_path / "t")
    os.mkfifo(root / "pipe.yaml")
    stack = load_stack(root)
    assert not stack.complete
    assert any(i.file.endswith("pipe.yaml") for i in stack.issues)


def test_an_empty_manifest_file_is_an_error_not_a_removal(tmp_path: Path) -> None:
    """What an editor that truncates before it writes leaves on disk for a moment."""
    root = tree(tmp_path / "t")
    (root / "churn.yaml").write_text("")
    stack = load_stack(root)
    assert not stack.complete
    assert [i.file for i in stack.issues] == [str(root / "churn.yaml")]


def test_a_stray_score_py_at_the_root_does_not_hide_the_tree(tmp_path: Path) -> None:
    root = tree(tmp_path / "t")
    (root / "score.py").write_text(SCORE)
    assert names(root) == ["churn", "fraud"]


def test_an_artifact_folder_below_the_root_is_not_read_as_manifests(tmp_path: Path) -> None:
    root = tree(tmp_path / "t")
    stack = load_stack(root)
    assert all("models" not in str(f) for f in stack.files)


@pytest.mark.parametrize("how", ["dotdot", "symlinked-folder"])
def test_an_artifact_outside_the_stack_folder_is_refused(tmp_path: Path, how: str) -> None:
    root = tree(tmp_path / "t", names=("fraud",))
    outside = artifact(tmp_path / "secrets" / "model")
    if how == "dotdot":
        target = "../secrets/model"
    else:
        (root / "models" / "linked").symlink_to(outside)
        target = "models/linked"
    (root / "fraud.yaml").write_text(MANIFEST.format(name="fraud", artifact=target))
    stack = load_stack(root)
    assert stack.deployments == []
    assert "fraud" in stack.invalid_names
    [issue] = stack.issues
    assert issue.file == str(root / "fraud.yaml")
    assert issue.line == 7
    assert "outside the stack's folder" in issue.message


def test_a_manifest_that_is_not_utf8_is_reported_at_the_bad_byte(tmp_path: Path) -> None:
    root = tree(tmp_path / "t")
    (root / "churn.yaml").write_bytes(
        MANIFEST.format(name="churn", artifact="models/m").encode() + b"# caf\xe9\n"
    )
    [issue] = load_stack(root).issues
    assert (issue.line, issue.column) == (MANIFEST.count("\n") + 1, 6)
    assert "not UTF-8" in issue.message
