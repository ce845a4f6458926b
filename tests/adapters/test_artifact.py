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
from support.hostile import corrupt_member, deep_path, patch_zip, rename_member_bytes, write_zip

from reconciler.adapters.artifact import artifact_identity, list_files, package
from reconciler.adapters.artifact_checks import check_artifact
from reconciler.adapters.zipstream import prepare
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
    # an unclosed bracket is reported where it opens, as in manifests
    ("invalid yaml", {"runtime.yaml": "MODEL_ARTIFACT_VERSION: [3.0\n"}, "runtime.yaml", 1, "not valid YAML"),
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


# --- hostile artifacts: every one is an issue (or ArtifactError), never a crash and never an upload ------


def _only_issue(source: Path, fragment: str, runtime: str = "conda") -> None:
    issues = check_artifact(source, runtime=runtime)
    assert any(fragment in i.message for i in issues), [str(i) for i in issues]
    assert all("\n" not in str(i) for i in issues), [str(i) for i in issues]


@pytest.mark.parametrize(
    ("link", "target"),
    [
        ("leak.txt", "/etc/passwd"),
        ("leak-relative.txt", "../../secret.txt"),
        ("etc", "/etc"),
        ("model/up", "../../.."),
    ],
    ids=["file-absolute", "file-relative", "folder", "nested-folder"],
)
def test_a_symlink_leaving_the_artifact_is_refused_by_the_checks(
    tmp_path: Path, link: str, target: str
) -> None:
    source = make_artifact(tmp_path / "stack" / "a")
    (tmp_path / "secret.txt").write_text("outside")
    (source / link).symlink_to(target)
    _only_issue(source, "outside the artifact folder")
    with pytest.raises(ArtifactError, match="outside the artifact folder"):
        artifact_identity(source)


@pytest.mark.parametrize(
    "links",
    [
        {"loop": "loop"},
        {"a": "b", "b": "a"},
        {"model/up": ".."},
        {"model/self": "."},
        {"p/l": "../q", "q/m": "../p"},
    ],
    ids=["self", "pair", "to-ancestor", "to-itself", "through-siblings"],
)
def test_a_symlink_loop_is_an_error_not_a_crash(tmp_path: Path, links: dict[str, str]) -> None:
    source = make_artifact(tmp_path / "a")
    for link, target in links.items():
        (source / link).parent.mkdir(parents=True, exist_ok=True)
        (source / link).symlink_to(target)
    _only_issue(source, "loop")
    with pytest.raises(ArtifactError, match="loop"):
        list_files(source)


def test_a_symlink_to_a_folder_inside_is_followed(tmp_path: Path) -> None:
    source = make_artifact(tmp_path / "a")
    (source / "alias").symlink_to("model")
    assert "alias/weights.json" in [f.rel for f in list_files(source)]
    assert check_artifact(source) == []


def test_special_files_are_refused(tmp_path: Path) -> None:
    source = make_artifact(tmp_path / "a")
    os.mkfifo(source / "model" / "pipe")
    _only_issue(source, "not a regular file")


def test_a_fifo_in_place_of_score_py_is_refused_without_blocking(tmp_path: Path) -> None:
    source = make_artifact(tmp_path / "a")
    (source / "score.py").unlink()
    os.mkfifo(source / "score.py")
    _only_issue(source, "not a regular file")


def test_a_folder_in_place_of_score_py_is_reported(tmp_path: Path) -> None:
    source = make_artifact(tmp_path / "a")
    (source / "score.py").unlink()
    (source / "score.py").mkdir()
    (source / "score.py" / "x.py").write_text("")
    _only_issue(source, "score.py is missing")


def test_a_file_name_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    source = make_artifact(tmp_path / "a")
    with open(os.path.join(os.fsencode(source), b"caf\xe9.txt"), "wb") as handle:
        handle.write(b"x")
    _only_issue(source, "UTF-8")
    with pytest.raises(ArtifactError, match="UTF-8"):
        artifact_identity(source)


def test_a_model_ignore_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    source = make_artifact(tmp_path / "a")
    (source / ".model-ignore").write_bytes(b"data/\n\xff\xfe*.log\n")
    _only_issue(source, ".model-ignore")


def test_folders_nested_too_deep_are_refused(tmp_path: Path) -> None:
    source = make_artifact(tmp_path / "a")
    deep = source / "/".join(["d"] * 300)
    deep.mkdir(parents=True)
    (deep / "w.bin").write_text("x")
    _only_issue(source, "deep")


def test_a_path_too_long_for_the_kernel_is_an_error(tmp_path: Path) -> None:
    source = make_artifact(tmp_path / "a")
    deep_path(source)  # the deepest folder lists, but its longest file name is beyond PATH_MAX
    _only_issue(source, "File name too long")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permission bits")
def test_an_unreadable_file_is_an_error(tmp_path: Path) -> None:
    source = make_artifact(tmp_path / "a")
    (source / "model" / "weights.json").chmod(0)
    _only_issue(source, "Permission denied")


def _zip_of(tmp_path: Path, compression: int = zipfile.ZIP_STORED) -> Path:
    files: dict[str, bytes | str] = {
        "score.py": SCORE,
        "runtime.yaml": RUNTIME,
        "model/weights.json": "w" * 400,
    }
    return write_zip(tmp_path / "model.zip", files, compression)


def test_an_encrypted_zip_is_refused(tmp_path: Path) -> None:
    _only_issue(patch_zip(_zip_of(tmp_path), flags=0x1), "encrypted")


def test_a_zip_with_an_unknown_compression_method_is_refused(tmp_path: Path) -> None:
    _only_issue(patch_zip(_zip_of(tmp_path), method=99), "compression method 99")


def test_a_zip_with_a_bad_crc_is_refused_and_never_hashed(tmp_path: Path) -> None:
    archive = corrupt_member(_zip_of(tmp_path), "model/weights.json")
    _only_issue(archive, "model/weights.json")
    with pytest.raises(ArtifactError, match=r"model/weights\.json"):
        artifact_identity(archive)
    with pytest.raises(ArtifactError, match=r"model/weights\.json"):
        prepare(archive)


def test_a_zip_with_a_broken_deflate_stream_is_refused(tmp_path: Path) -> None:
    archive = corrupt_member(_zip_of(tmp_path, zipfile.ZIP_DEFLATED), "model/weights.json")
    _only_issue(archive, "model/weights.json")


def test_a_zip_naming_one_file_twice_is_refused(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "m.zip", {"score.py": SCORE, "runtime.yaml": RUNTIME, "score.py#2": "x"})
    _only_issue(archive, "more than once")


def test_a_zip_holding_a_file_and_a_folder_of_one_name_is_refused(tmp_path: Path) -> None:
    archive = write_zip(
        tmp_path / "m.zip", {"score.py": SCORE, "runtime.yaml": RUNTIME, "model": "x", "model/w": "y"}
    )
    _only_issue(archive, "both a file and a folder")


def test_a_zip_entry_name_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    archive = write_zip(
        tmp_path / "m.zip", {"score.py": SCORE, "runtime.yaml": RUNTIME, "caf\u00e9.txt": "x"}
    )
    rename_member_bytes(archive, "caf\u00e9".encode(), b"caf\xff\xfe")
    _only_issue(archive, "zip")


def test_score_py_with_one_enormous_expression_is_an_error_with_its_line(tmp_path: Path) -> None:
    source = make_artifact(tmp_path / "a", {"score.py": SCORE + "\nBIG = " + "1 + " * 200_000 + "1\n"})
    issues = check_artifact(source)
    assert [(i.line, "too complex" in i.message) for i in issues] == [(11, True)], [str(i) for i in issues]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (SCORE.replace("import json", "import json\x00"), "null"),
        ("x = " + "(" * 300 + ")" * 300 + "\n" + SCORE, "parse"),
        (b"\xff\xfe" + SCORE.encode("utf-16-le"), "parse"),
    ],
    ids=["null-byte", "nested-parentheses", "utf-16"],
)
def test_score_py_that_python_cannot_compile_is_an_issue(
    tmp_path: Path, text: str | bytes, fragment: str
) -> None:
    source = make_artifact(tmp_path / "a")
    (source / "score.py").write_bytes(text if isinstance(text, bytes) else text.encode())
    issues = check_artifact(source)
    assert any(fragment in i.message and i.line >= 1 for i in issues), [str(i) for i in issues]


@pytest.mark.parametrize(
    ("text", "fragment", "line"),
    [
        ("MODEL_ARTIFACT_VERSION: " + "[" * 10_000 + "]" * 10_000 + "\n", "nested", 1),
        ('MODEL_ARTIFACT_VERSION: "3.0"\nX: ' + "{a: " * 10_000 + "1" + "}" * 10_000 + "\n", "nested", 2),
        (RUNTIME.replace("data_science", "!custom data_science"), "YAML tag", 6),
        (RUNTIME.encode("utf-16"), "UTF-8", 1),
        (RUNTIME + "---\nA: 1\n", "one YAML document", 9),
    ],
    ids=["deep-flow", "deep-mapping", "local-tag", "utf-16", "two-documents"],
)
def test_runtime_yaml_that_cannot_be_read_safely_is_an_issue(
    tmp_path: Path, text: str | bytes, fragment: str, line: int
) -> None:
    source = make_artifact(tmp_path / "a")
    (source / "runtime.yaml").write_bytes(text if isinstance(text, bytes) else text.encode())
    issues = check_artifact(source)
    matching = [i for i in issues if fragment in i.message]
    assert matching, [str(i) for i in issues]
    assert matching[0].line == line, str(matching[0])
    assert matching[0].file.endswith("runtime.yaml")
