"""Artifact identity, reproducible packaging, exclusions, safety and pre-upload checks."""

from __future__ import annotations

import os
import shutil
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.adapters.artifact import artifact_identity, check_artifact, list_files, package
from reconciler.core.errors import ArtifactError

SCORE = """import json


def load_model():
    return {"w": 2}


def predict(data, model=None, *, threshold=0.5):
    return {"prediction": [x * model["w"] for x in data]}
"""
RUNTIME = """MODEL_ARTIFACT_VERSION: "3.0"
MODEL_DEPLOYMENT:
  INFERENCE_CONDA_ENV:
    INFERENCE_ENV_PATH: oci://bucket@namespace/conda/pack
    INFERENCE_ENV_SLUG: generalml_p311_cpu_x86_64_v1
    INFERENCE_ENV_TYPE: data_science
    INFERENCE_PYTHON_VERSION: "3.11"
"""


def make_artifact(root: Path, extra: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    files = {"score.py": SCORE, "runtime.yaml": RUNTIME, "model/weights.json": '{"w": 2}', **(extra or {})}
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_packaging_twice_gives_identical_bytes(tmp_path: Path) -> None:
    source = make_artifact(tmp_path / "a")
    first = package(source, tmp_path / "1.zip")
    os.utime(source / "score.py", (1_000_000, 1_000_000))
    (source / "runtime.yaml").chmod(0o600)
    copy = tmp_path / "elsewhere" / "copy"
    shutil.copytree(source, copy)
    second = package(copy, tmp_path / "2.zip")
    assert (tmp_path / "1.zip").read_bytes() == (tmp_path / "2.zip").read_bytes()
    assert first.identity == second.identity
    with zipfile.ZipFile(tmp_path / "1.zip") as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == ["model/weights.json", "runtime.yaml", "score.py"]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {(i.external_attr >> 16) & 0o777 for i in infos} == {0o644}


def test_changing_one_byte_changes_the_identity(tmp_path: Path) -> None:
    source = make_artifact(tmp_path / "a")
    before = artifact_identity(source)
    (source / "model/weights.json").write_text('{"w": 3}')
    assert artifact_identity(source) != before


def test_renaming_a_file_changes_the_identity(tmp_path: Path) -> None:
    source = make_artifact(tmp_path / "a")
    before = artifact_identity(source)
    (source / "model/weights.json").rename(source / "model/weights2.json")
    assert artifact_identity(source) != before


def test_path_and_content_boundaries_are_unambiguous(tmp_path: Path) -> None:
    one = make_artifact(tmp_path / "one", {"ab": "c"})
    two = make_artifact(tmp_path / "two", {"a": "bc"})
    assert artifact_identity(one) != artifact_identity(two)


@pytest.mark.parametrize(
    "extra",
    [
        {"__pycache__/score.cpython-311.pyc": "x"},
        {"helpers.pyc": "x"},
        {".ipynb_checkpoints/nb-checkpoint.ipynb": "{}"},
        {".git/HEAD": "ref: refs/heads/main"},
        {".venv/bin/python": "#!"},
        {"env/pyvenv.cfg": "home=/usr", "env/lib/site.py": "x"},
        {".DS_Store": "x"},
        {"data/big.csv": "1,2,3", ".model-ignore": "# training data\ndata/\n*.log\n"},
        {"run.log": "noise", ".model-ignore": "*.log\n"},
    ],
)
def test_ignored_files_do_not_change_the_identity(tmp_path: Path, extra: dict[str, str]) -> None:
    clean = artifact_identity(
        make_artifact(tmp_path / "clean", {".model-ignore": extra.get(".model-ignore", "")})
    )
    messy = artifact_identity(make_artifact(tmp_path / "messy", extra))
    assert clean == messy


def test_model_ignore_negation_and_anchoring(tmp_path: Path) -> None:
    source = make_artifact(
        tmp_path / "a",
        {
            "keep.log": "k",
            "drop.log": "d",
            "sub/notes.txt": "n",
            "notes.txt": "top",
            ".model-ignore": "*.log\n!keep.log\n/notes.txt\n",
        },
    )
    assert [f.rel for f in list_files(source)] == [
        "keep.log",
        "model/weights.json",
        "runtime.yaml",
        "score.py",
        "sub/notes.txt",
    ]


def test_identity_of_folder_equals_identity_of_its_zip_with_or_without_top_folder(tmp_path: Path) -> None:
    source = make_artifact(tmp_path / "model")
    identity = artifact_identity(source)
    assert artifact_identity(package(source, tmp_path / "p.zip").path) == identity
    nested = tmp_path / "nested.zip"
    with zipfile.ZipFile(nested, "w") as archive:
        for item in list_files(source):
            archive.write(source / item.rel, f"model/{item.rel}")
    assert artifact_identity(nested) == identity


def test_symlink_leaving_the_folder_is_rejected(tmp_path: Path) -> None:
    source = make_artifact(tmp_path / "a")
    (tmp_path / "secret.txt").write_text("outside")
    (source / "leak.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(ArtifactError, match="outside the artifact folder"):
        artifact_identity(source)


def test_symlink_inside_the_folder_is_followed(tmp_path: Path) -> None:
    source = make_artifact(tmp_path / "a")
    (source / "alias.json").symlink_to(source / "model/weights.json")
    assert "alias.json" in [f.rel for f in list_files(source)]


@pytest.mark.parametrize("entry", ["../escape.py", "/etc/passwd", "a/../../b"])
def test_zip_with_escaping_entries_is_rejected(tmp_path: Path, entry: str) -> None:
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("score.py", SCORE)
        zf.writestr(entry, "x")
    with pytest.raises(ArtifactError):
        list_files(archive)


def test_empty_artifact_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArtifactError, match="no files"):
        list_files(tmp_path / "empty")


def test_good_artifact_has_no_issues(tmp_path: Path) -> None:
    assert check_artifact(make_artifact(tmp_path / "a")) == []


CHECKS = [
    ("missing score.py", {"score.py": None}, "score.py", 0, "score.py is missing"),
    ("missing runtime.yaml", {"runtime.yaml": None}, "runtime.yaml", 0, "runtime.yaml is missing"),
    (
        "syntax error",
        {"score.py": "def load_model():\n    return 1\ndef predict(data:\n"},
        "score.py",
        3,
        "does not parse",
    ),
    ("no load_model", {"score.py": "def predict(data):\n    return data\n"}, "score.py", 1, "load_model"),
    ("no predict", {"score.py": "def load_model():\n    return 1\n"}, "score.py", 1, "predict(data, ...)"),
    (
        "predict without data",
        {"score.py": "def load_model():\n    pass\n\n\ndef predict():\n    pass\n"},
        "score.py",
        5,
        "first argument",
    ),
    (
        "extra arg without default",
        {"score.py": "def load_model():\n    pass\n\n\ndef predict(data, model):\n    pass\n"},
        "score.py",
        5,
        "'model' needs a default",
    ),
    (
        "kw-only without default",
        {"score.py": "def load_model():\n    pass\n\n\ndef predict(data, *, k):\n    pass\n"},
        "score.py",
        5,
        "'k' needs a default",
    ),
    (
        "wrong version",
        {"runtime.yaml": RUNTIME.replace('"3.0"', '"2.0"')},
        "runtime.yaml",
        1,
        "MODEL_ARTIFACT_VERSION",
    ),
    (
        "no conda env",
        {"runtime.yaml": 'MODEL_ARTIFACT_VERSION: "3.0"\nMODEL_DEPLOYMENT: {}\n'},
        "runtime.yaml",
        2,
        "INFERENCE_CONDA_ENV",
    ),
    (
        "bad env path",
        {"runtime.yaml": RUNTIME.replace("oci://bucket@namespace/conda/pack", "/local/pack")},
        "runtime.yaml",
        4,
        "INFERENCE_ENV_PATH",
    ),
    (
        "bad env type",
        {"runtime.yaml": RUNTIME.replace("data_science", "custom")},
        "runtime.yaml",
        6,
        "INFERENCE_ENV_TYPE",
    ),
    (
        "bad python",
        {"runtime.yaml": RUNTIME.replace('"3.11"', '"2.7"')},
        "runtime.yaml",
        7,
        "Python 3 version",
    ),
    ("not a mapping", {"runtime.yaml": "- a\n- b\n"}, "runtime.yaml", 1, "must be a mapping"),
    ("invalid yaml", {"runtime.yaml": "MODEL_ARTIFACT_VERSION: [3.0\n"}, "runtime.yaml", 2, "not valid YAML"),
]


@pytest.mark.parametrize(("case", "files", "file", "line", "fragment"), CHECKS, ids=[c[0] for c in CHECKS])
def test_each_check_names_file_line_and_problem(
    tmp_path: Path, case: str, files: dict[str, str | None], file: str, line: int, fragment: str
) -> None:
    source = make_artifact(tmp_path / "a")
    for name, text in files.items():
        if text is None:
            (source / name).unlink()
        else:
            (source / name).write_text(text)
    issues = check_artifact(source)
    matching = [i for i in issues if i.file.endswith(file) and fragment in i.message]
    assert matching, [str(i) for i in issues]
    assert matching[0].line == line, str(matching[0])


def test_container_runtime_does_not_need_score_py(tmp_path: Path) -> None:
    source = tmp_path / "container"
    source.mkdir()
    (source / "README.md").write_text("weights live in the image")
    assert check_artifact(source, runtime="container") == []


def test_large_file_is_packaged_in_constant_memory(tmp_path: Path) -> None:
    source = make_artifact(tmp_path / "a")
    with (source / "model" / "big.bin").open("wb") as handle:
        handle.truncate(64 * 1024 * 1024)
    tracemalloc.start()
    result = package(source, tmp_path / "big.zip")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.file_count == 4
    assert peak < 16 * 1024 * 1024, f"peak {peak} bytes"


FILESETS = st.dictionaries(
    st.from_regex(r"[a-z]{1,6}(/[a-z]{1,6}){0,2}\.(py|txt|json)", fullmatch=True),
    st.binary(max_size=200),
    min_size=1,
    max_size=6,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=FILESETS)
def test_identity_ignores_creation_order_and_survives_packaging(
    tmp_path_factory: pytest.TempPathFactory, files: dict[str, bytes]
) -> None:
    names = list(files)
    first = tmp_path_factory.mktemp("first")
    second = tmp_path_factory.mktemp("second")
    for root, sequence in ((first, names), (second, list(reversed(names)))):
        for name in sequence:
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(files[name])
    identity = artifact_identity(first)
    assert artifact_identity(second) == identity
    assert artifact_identity(package(first, first.parent / f"{first.name}.zip").path) == identity
