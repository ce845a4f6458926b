"""Property: whatever is done to the example tree, mdr answers with errors, not with a crash.

Hypothesis mutates a copy of ``manifests/``: values of other types, deep nesting, other encodings (BOM,
UTF-16, bytes that are not UTF-8), truncation, symlinks (out of the artifact, dangling, looping), FIFOs and
folders where files belong, unreadable files, and broken zips. For every tree, ``mdr validate`` (in-process)
exits 0 or 1, prints no traceback, and names a file of the tree at the start of every error line; its JSON
output agrees. For a few trees, ``mdr apply --auto-approve`` against the emulator makes no write when the
tree is refused, and ``mdr plan`` of an accepted tree never crashes.

The default run is short; ``python -m pytest -m slow tests/e2e/test_hostile_tree.py`` runs the long one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.hostile import corrupt_member, patch_zip, write_zip
from support.world import EXAMPLES, World

from reconciler.cli import main
from reconciler.emulator import Emulator

YAML_FILES = ("mdr.yaml", "fraud-scorer.yaml", "churn-container.yaml")
ARTIFACT = "models/fraud-scorer"
ARTIFACT_FILES = (f"{ARTIFACT}/score.py", f"{ARTIFACT}/runtime.yaml", f"{ARTIFACT}/model.json")
ALL_FILES = YAML_FILES + ARTIFACT_FILES

HOSTILE_SCALARS = [
    "true", "no", "on", '"2"', "'off'", "1.0", "-1", "0", ".nan", ".inf", "-.inf", "1e400", "0x_", "0b2",
    "99999999999999999999999999", "2024-01-01", "2024-13-45", "2024-01-01T10:00:00Z", "~", "[]", "{}",
    "[1, [2, [3]]]", "{a: {b: c}}", "!!binary aGVsbG8=", "!!set {a, b}", "!!omap [{a: 1}]", "!local x",
    "!!python/object/apply:os.system [id]", "*nowhere", "&a x", '"a\\nb"', '"x\\n"', '"\\u0000"', "'",
    '"', "[", "{", "- x", "? x", "|", ">", "=", "${NOPE_UNDEFINED}", "$${LITERAL}", "${", "'" + "x" * 300 + "'",
    "é", "\u202e", "\ufeff", "MDR-Stack", "mdr-key",
]  # fmt: skip
SYMLINK_TARGETS = [
    "/etc/passwd",
    "/etc",
    "/dev/zero",
    "..",
    ".",
    "../..",
    "../../mdr.yaml",
    "nowhere",
    "model.json",
    "self",
]


@dataclass(frozen=True)
class Mutation:
    kind: str
    file: str = ""
    arg: str = ""
    number: int = 0

    def __str__(self) -> str:
        return f"{self.kind}({self.file!r}, {self.arg[:40]!r}, {self.number})"


def _line_numbers(data: st.DataObject | None = None) -> st.SearchStrategy[int]:
    return st.integers(min_value=0, max_value=40)


MUTATIONS = st.one_of(
    st.builds(
        Mutation,
        st.just("value"),
        st.sampled_from(ALL_FILES[:5]),
        st.sampled_from(HOSTILE_SCALARS),
        _line_numbers(),
    ),
    st.builds(Mutation, st.just("value"), st.sampled_from(YAML_FILES), st.text(max_size=12), _line_numbers()),
    st.builds(
        Mutation,
        st.just("nest"),
        st.sampled_from((*YAML_FILES, f"{ARTIFACT}/runtime.yaml")),
        st.sampled_from(["[", "{a: ", "- "]),
        st.sampled_from([10, 63, 64, 65, 200, 5_000, 100_000]),
    ),
    st.builds(
        Mutation,
        st.just("encode"),
        st.sampled_from(ALL_FILES),
        st.sampled_from(["utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1", "bad-byte", "nul"]),
        st.integers(min_value=0, max_value=2_000),
    ),
    st.builds(Mutation, st.just("truncate"), st.sampled_from(ALL_FILES), st.just(""), st.integers(0, 1_500)),
    st.builds(
        Mutation,
        st.just("symlink"),
        st.sampled_from(["leak", "model.json", "sub/link", "score.py", "runtime.yaml"]),
        st.sampled_from(SYMLINK_TARGETS),
    ),
    st.builds(
        Mutation,
        st.just("special"),
        st.sampled_from((*ALL_FILES, "extra.yaml", f"{ARTIFACT}/pipe")),
        st.sampled_from(["fifo", "folder", "remove", "unreadable", "empty"]),
    ),
    st.builds(
        Mutation,
        st.just("zip"),
        st.just(""),
        st.sampled_from(
            ["fine", "bad-crc", "encrypted", "method-99", "truncated", "random", "empty", "duplicate"]
        ),
        st.integers(0, 10_000),
    ),
)


def _edit_text(path: Path, change: str) -> None:
    path.write_text(change, encoding="utf-8")


def _replace_value(path: Path, value: str, index: int) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    candidates = [i for i, row in enumerate(lines) if ": " in row and not row.lstrip().startswith("#")]
    if not candidates:
        return
    i = candidates[index % len(candidates)]
    key, _, _ = lines[i].partition(": ")
    lines[i] = f"{key}: {value}\n"
    _edit_text(path, "".join(lines))


def _nest(path: Path, opener: str, depth: int) -> None:
    closer = {"[": "]", "{a: ": "}", "- ": ""}[opener]
    inner = "x" if opener != "{a: " else "1"
    value = opener * depth + inner + closer * depth
    text = path.read_text(encoding="utf-8")
    if opener == "- ":
        _edit_text(path, text + "deep:\n  " + value + "\n")
    else:
        _edit_text(path, text + "deep: " + value + "\n")


def _encode(path: Path, how: str, position: int) -> None:
    text = path.read_text(encoding="utf-8")
    if how == "bad-byte":
        data = text.encode()
        cut = position % (len(data) + 1)
        path.write_bytes(data[:cut] + b"\xff\xfe\xc3" + data[cut:])
    elif how == "nul":
        cut = position % (len(text) + 1)
        _edit_text(path, text[:cut] + "\x00" + text[cut:])
    elif how == "latin-1":
        path.write_bytes(text.replace("e", "é", 1).encode("latin-1"))
    else:
        path.write_bytes(text.encode(how))


def _symlink(root: Path, name: str, target: str) -> None:
    link = root / ARTIFACT / name
    if not (root / ARTIFACT).is_dir() or (root / ARTIFACT).is_symlink():
        return
    try:
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.parent.resolve(strict=True).is_relative_to(root.resolve()):
            return
    except (OSError, RuntimeError):
        return
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.exists():
        return  # a folder or a FIFO
    link.symlink_to(link.name if target == "self" else target)


def _regular(root: Path, path: Path) -> bool:
    """True for a regular file (not a symlink, FIFO or folder) whose folder is inside the tree: the only
    thing a mutation may write to or chmod. A write through a symlink an earlier mutation made could reach
    /etc/passwd; a write to a FIFO would block forever."""
    try:
        inside = path.parent.resolve(strict=True).is_relative_to(root.resolve())
        return inside and not path.is_symlink() and path.is_file()
    except (OSError, RuntimeError):
        return False


def _special(root: Path, file: str, how: str) -> None:
    path = root / file
    try:
        if not path.parent.resolve(strict=True).is_relative_to(root.resolve()):
            return
    except (OSError, RuntimeError):
        return
    if how in ("empty", "unreadable"):
        if _regular(root, path):
            path.write_bytes(b"") if how == "empty" else path.chmod(0)
        return
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        return  # a folder or a FIFO already
    if how == "fifo":
        os.mkfifo(path)
    elif how == "folder":
        path.mkdir()
        (path / "inside.txt").write_text("x")


def _zip(root: Path, how: str, number: int) -> None:
    folder = root / ARTIFACT
    if not folder.is_dir() or folder.is_symlink():
        return
    files: dict[str, bytes | str] = {
        p.name: p.read_bytes() for p in sorted(folder.iterdir()) if _regular(root, p)
    }
    if how == "duplicate":
        files["model.json#2"] = "{}"
    archive = write_zip(root / "models/model.zip", files or {"x": "y"}, zipfile.ZIP_DEFLATED)
    if how == "bad-crc" and "model.json" in files:
        corrupt_member(archive, "model.json")
    elif how == "encrypted":
        patch_zip(archive, flags=0x1)
    elif how == "method-99":
        patch_zip(archive, method=99)
    elif how == "truncated":
        archive.write_bytes(archive.read_bytes()[: number % max(1, archive.stat().st_size)])
    elif how == "random":
        archive.write_bytes(os.urandom(number % 4096))
    elif how == "empty":
        write_zip(archive, {})
    manifest = root / "fraud-scorer.yaml"
    if _regular(root, manifest):
        try:
            text = manifest.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            return
        _edit_text(manifest, text.replace("artifact: models/fraud-scorer", "artifact: models/model.zip"))


def apply_mutation(root: Path, mutation: Mutation) -> None:
    path = root / mutation.file
    try:
        if mutation.kind in ("value", "nest", "encode", "truncate") and not _regular(root, path):
            return  # an earlier mutation turned it into something else
        if mutation.kind == "value":
            _replace_value(path, mutation.arg, mutation.number)
        elif mutation.kind == "nest":
            _nest(path, mutation.arg, mutation.number)
        elif mutation.kind == "encode":
            _encode(path, mutation.arg, mutation.number)
        elif mutation.kind == "truncate":
            data = path.read_bytes()
            path.write_bytes(data[: mutation.number % (len(data) + 1)])
        elif mutation.kind == "symlink":
            _symlink(root, mutation.file, mutation.arg)
        elif mutation.kind == "special":
            _special(root, mutation.file, mutation.arg)
        elif mutation.kind == "zip":
            _zip(root, mutation.arg, mutation.number)
    except UnicodeDecodeError:
        return  # an earlier mutation changed its encoding: this text edit no longer applies


OUTSIDE = ("/etc", "/etc/passwd", "/dev/zero")  # symlink targets outside the tree: never to be touched


def _fingerprint() -> list[tuple[int, int, int]]:
    return [(st.st_mode, st.st_size, st.st_mtime_ns) for st in map(os.stat, OUTSIDE)]


@pytest.fixture(scope="module", autouse=True)
def outside_untouched() -> Iterator[None]:
    """Mutations follow no symlink when they write: what the tree's symlinks point at is unchanged."""
    before = _fingerprint()
    yield
    assert _fingerprint() == before, "a mutation wrote through a symlink to a file outside the tree"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    emulator = Emulator(work_request_seconds=0.02).start()
    root = tmp_path_factory.mktemp("hostile")
    try:
        yield World(emulator, emulator.write_oci_config(root / "oci"), root)
    finally:
        emulator.stop()


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MDR_STATE_DIR", str(tmp_path / ".mdr"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("NOPE_UNDEFINED", raising=False)
    return tmp_path


def _mutated_tree(base: Path, mutations: list[Mutation]) -> Path:
    root = Path(tempfile.mkdtemp(dir=base)) / "manifests"
    shutil.copytree(EXAMPLES, root, ignore=shutil.ignore_patterns("__pycache__"))
    for mutation in mutations:
        apply_mutation(root, mutation)
    return root


def _cleanup(root: Path) -> None:
    shutil.rmtree(root.parent, ignore_errors=True)


SUMMARY = re.compile(r"^\d+ error\(s\) in \d+ file\(s\)$")


def _assert_errors_name_files(err: str, root: Path) -> None:
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert lines, "exit 1 with no error printed"
    assert SUMMARY.match(lines[-1]), err
    for line in lines[:-1]:
        assert line.startswith("error: "), f"not one line per error:\n{err}"
        file = line[len("error: ") :].split(":", 1)[0].split("!", 1)[0]
        assert os.path.abspath(file).startswith(str(root)), f"error names no file of the tree: {line}"


def check_validate(root: Path, capsys: pytest.CaptureFixture[str]) -> int:
    code = main(["validate", str(root)])
    out, err = capsys.readouterr()
    assert code in (0, 1), (code, err)
    if code == 0:
        assert out.startswith("OK: stack "), out
        assert err == ""
    else:
        _assert_errors_name_files(err, root)
    assert main(["validate", str(root), "--output", "json"]) == code
    payload = json.loads(capsys.readouterr().out)
    assert payload["valid"] is (code == 0)
    assert all(e["file"] for e in payload["errors"])
    return code


TREES = st.lists(MUTATIONS, min_size=1, max_size=3)
SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}


def _validate_property(
    mutations: list[Mutation], environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _mutated_tree(environment, mutations)
    try:
        check_validate(root, capsys)
    finally:
        _cleanup(root)


@settings(max_examples=40, **SETTINGS)
@given(mutations=TREES)
def test_validate_never_crashes_on_a_mutated_tree(
    mutations: list[Mutation], environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _validate_property(mutations, environment, capsys)


@pytest.mark.slow
@settings(max_examples=600, **SETTINGS)
@given(mutations=st.lists(MUTATIONS, min_size=1, max_size=5))
def test_validate_never_crashes_on_a_mutated_tree_long(
    mutations: list[Mutation], environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _validate_property(mutations, environment, capsys)


def _cloud_property(
    mutations: list[Mutation], environment: Path, cloud: World, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _mutated_tree(environment, mutations)
    try:
        code = check_validate(root, capsys)
        cloud.emulator.reset_counters()
        if code == 1:  # refused: apply must refuse too, before any write
            assert main(["apply", str(root), "--auto-approve", *cloud.target_args()]) == 1
            _assert_errors_name_files(capsys.readouterr().err, root)
        else:  # accepted: planning it reads live state and never crashes
            plan = main(["plan", str(root), "--detailed-exitcode", *cloud.target_args()])
            err = capsys.readouterr().err
            assert plan in (0, 1, 2), err
            assert "Traceback" not in err
        assert cloud.emulator.mutating_calls() == 0
    finally:
        _cleanup(root)


@settings(max_examples=8, **SETTINGS)
@given(mutations=TREES)
def test_a_mutated_tree_reaches_the_emulator_only_through_reads(
    mutations: list[Mutation], environment: Path, cloud: World, capsys: pytest.CaptureFixture[str]
) -> None:
    _cloud_property(mutations, environment, cloud, capsys)


@pytest.mark.slow
@settings(max_examples=150, **SETTINGS)
@given(mutations=TREES)
def test_a_mutated_tree_reaches_the_emulator_only_through_reads_long(
    mutations: list[Mutation], environment: Path, cloud: World, capsys: pytest.CaptureFixture[str]
) -> None:
    _cloud_property(mutations, environment, cloud, capsys)


@pytest.mark.parametrize(
    "mutation",
    [
        Mutation("encode", "fraud-scorer.yaml", "utf-16"),
        Mutation("encode", "fraud-scorer.yaml", "bad-byte", 200),
        Mutation("encode", "mdr.yaml", "utf-32"),
        Mutation("nest", "mdr.yaml", "[", 100_000),
        Mutation("nest", f"{ARTIFACT}/runtime.yaml", "{a: ", 5_000),
        Mutation("symlink", "leak", "/etc/passwd"),
        Mutation("symlink", "sub/link", ".."),
        Mutation("special", f"{ARTIFACT}/score.py", "fifo"),
        Mutation("special", "fraud-scorer.yaml", "fifo"),
        Mutation("zip", "", "bad-crc"),
        Mutation("zip", "", "encrypted"),
        Mutation("value", "fraud-scorer.yaml", "2024-13-45", 5),
    ],
    ids=str,
)
def test_known_hostile_trees_are_refused(
    mutation: Mutation, environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Examples hypothesis must keep covering: each of these is refused (exit 1), with a file named."""
    root = _mutated_tree(environment, [mutation])
    try:
        assert check_validate(root, capsys) == 1
    finally:
        _cleanup(root)


def test_a_byte_order_mark_is_accepted(environment: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _mutated_tree(environment, [Mutation("encode", f, "utf-8-sig") for f in YAML_FILES])
    try:
        assert check_validate(root, capsys) == 0
    finally:
        _cleanup(root)
