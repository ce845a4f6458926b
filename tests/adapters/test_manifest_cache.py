"""Parsed manifests are cached by content: what a later run (or the controller's next read) gets is exactly
what parsing gives, a changed file is parsed again, and substituted values never reach the disk."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from reconciler.adapters.manifest_cache import ManifestCache, cache_file
from reconciler.adapters.manifests import load_stack
from reconciler.core.document import Document, parse_documents
from reconciler.core.errors import Issue

TEXT = "apiVersion: mdr/v1\nkind: ModelDeployment\nmetadata: {name: a}\nspec:\n  model: {id: m}\n---\nb: [1, 2.5, true, null]\n"


class CountingParse:
    """parse_documents, counting how often it really ran."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(
        self, text: str, file: str, variables: Mapping[str, str] | None
    ) -> tuple[list[Document], list[Issue]]:
        self.calls += 1
        return parse_documents(text, file, variables)


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MDR_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def parse_with(
    cache: ManifestCache, text: str, parse: CountingParse, variables: dict[str, str] | None = None
) -> tuple[list[Document], list[Issue]]:
    return cache.parse(text.encode(), text, "f.yaml", variables if variables is not None else {}, parse)


def test_a_file_parsed_once_is_served_from_the_cache_in_this_process_and_the_next() -> None:
    parse = CountingParse()
    first = ManifestCache()
    expected = parse_documents(TEXT, "f.yaml", {})

    assert parse_with(first, TEXT, parse) == expected
    assert parse_with(first, TEXT, parse) == expected
    first.save()
    assert parse_with(ManifestCache(), TEXT, parse) == expected  # a new process, reading the cache file

    assert parse.calls == 1
    assert cache_file().is_file()


def test_a_changed_file_is_parsed_again() -> None:
    parse = CountingParse()
    cache = ManifestCache()
    parse_with(cache, TEXT, parse)
    changed = TEXT.replace("name: a", "name: b")
    documents, _ = parse_with(cache, changed, parse)
    assert parse.calls == 2
    assert documents[0].data["metadata"]["name"] == "b"


def test_cached_documents_are_fresh_copies_a_caller_may_change() -> None:
    parse = CountingParse()
    cache = ManifestCache()
    parse_with(cache, TEXT, parse)
    documents, _ = parse_with(cache, TEXT, parse)
    documents[0].data["metadata"]["name"] = "edited in place"
    again, _ = parse_with(cache, TEXT, parse)
    assert again[0].data["metadata"]["name"] == "a"


def test_files_with_variables_or_problems_are_never_cached_so_no_secret_reaches_the_disk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DB_PASSWORD", "hunter2-secret")
    parse = CountingParse()
    cache = ManifestCache()
    secret = "a: ${DB_PASSWORD}\n"
    broken = "a: [unclosed\n"
    for _ in range(2):
        parse_with(cache, secret, parse)
        parse_with(cache, broken, parse)
        parse_with(cache, "when: 2024-01-02\n", parse)  # a date: marshal cannot write it
    cache.save()
    assert parse.calls == 6
    assert not cache_file().exists() or b"hunter2" not in cache_file().read_bytes()


def test_a_damaged_cache_file_is_ignored(state_dir: Path) -> None:
    cache_file().parent.mkdir(parents=True)
    cache_file().write_bytes(b"\x00not marshal")
    parse = CountingParse()
    assert parse_with(ManifestCache(), TEXT, parse) == parse_documents(TEXT, "f.yaml", {})
    assert parse.calls == 1


def test_loading_a_stack_twice_gives_the_same_stack(tmp_path: Path) -> None:
    root = tmp_path / "stack"
    root.mkdir()
    (root / "mdr.yaml").write_text(
        "stack: s\nregion: us-ashburn-1\ndefaults: {compartmentId: ocid1.compartment.oc1..aaaaaaaariskprod, projectId: ocid1.datascienceproject.oc1.iad.aaaaaaaariskprod}\n"
    )
    for index in range(3):
        (root / f"d{index}.yaml").write_text(
            "apiVersion: mdr/v1\nkind: ModelDeployment\n"
            f"metadata: {{name: d{index}}}\n"
            "spec:\n  model: {id: ocid1.datasciencemodel.oc1.iad.aaaaaaaaexample}\n"
            "  infrastructure: {shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16}\n"
            "  runtime: {type: conda}\n"
        )
    cold = load_stack(root)
    warm = load_stack(root)
    assert [d.manifest for d in warm.deployments] == [d.manifest for d in cold.deployments]
    assert [d.document for d in warm.deployments] == [d.document for d in cold.deployments]
    assert warm.issues == cold.issues == []
