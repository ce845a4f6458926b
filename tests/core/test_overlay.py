"""Environment overlays as pure data: patches merged onto base documents, errors pointing into either."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.document import Document, parse_documents
from reconciler.core.overlay import apply_patches, merge_document

BASE = """\
apiVersion: mdr/v1
kind: ModelDeployment
metadata:
  name: fraud
  labels: {team: risk}
spec:
  model:
    artifact: models/v1
  infrastructure:
    shape: VM.Standard.E4.Flex
    ocpus: 1
    replicas: 1
  runtime:
    type: conda
    env: {A: "1", B: "2"}
"""


def doc(text: str, file: str) -> Document:
    documents, issues = parse_documents(text, file)
    assert not issues, issues
    return documents[0]


def patch(spec: str, name: str = "fraud", file: str = "envs/prod/fraud.yaml", extra: str = "") -> Document:
    return doc(
        f"apiVersion: mdr/v1\nkind: ModelDeploymentPatch\nmetadata:\n  name: {name}\n{extra}spec:\n{spec}",
        file,
    )


def test_patch_merges_mappings_and_replaces_values_and_lists() -> None:
    base = doc(BASE, "base/fraud.yaml")
    merged = merge_document(
        base, patch("  infrastructure:\n    replicas: 3\n  runtime:\n    env: {B: '20', C: '3'}\n")
    )
    spec = merged.data["spec"]
    assert spec["infrastructure"] == {"shape": "VM.Standard.E4.Flex", "ocpus": 1, "replicas": 3}
    assert spec["runtime"]["env"] == {"A": "1", "B": "20", "C": "3"}
    assert spec["model"] == {"artifact": "models/v1"}


def test_null_in_a_patch_removes_the_base_field() -> None:
    merged = merge_document(
        doc(BASE, "base/fraud.yaml"), patch("  model:\n    artifact: null\n    id: ocid1.x\n")
    )
    assert merged.data["spec"]["model"] == {"id": "ocid1.x"}
    assert merged.file_of(("spec", "model", "id")) == "envs/prod/fraud.yaml"


def test_errors_point_into_the_overlay_for_patched_fields_and_into_the_base_otherwise() -> None:
    merged = merge_document(doc(BASE, "base/fraud.yaml"), patch("  infrastructure:\n    replicas: three\n"))
    at_overlay = merged.issue(("spec", "infrastructure", "replicas"), "bad")
    assert (at_overlay.file, at_overlay.line) == ("envs/prod/fraud.yaml", 7)
    at_base = merged.issue(("spec", "infrastructure", "ocpus"), "bad")
    assert (at_base.file, at_base.line) == ("base/fraud.yaml", 11)
    assert merged.files == {"base/fraud.yaml", "envs/prod/fraud.yaml"}


def test_merging_never_changes_the_base_document() -> None:
    base = doc(BASE, "base/fraud.yaml")
    before = copy.deepcopy(base.data), dict(base.positions)
    merge_document(base, patch("  runtime:\n    env: {A: null}\n  infrastructure: {ocpus: 4}\n"))
    assert (base.data, base.positions) == before


def test_patch_naming_no_base_deployment_is_an_error_not_a_new_deployment() -> None:
    result = apply_patches(
        [doc(BASE, "base/fraud.yaml")], [patch("  infrastructure: {replicas: 2}\n", "frud")]
    )
    assert [d.data["metadata"]["name"] for d in result.documents] == ["fraud"]
    assert result.documents[0].data["spec"]["infrastructure"]["replicas"] == 1
    [issue] = result.issues
    assert issue.file == "envs/prod/fraud.yaml" and issue.path == "metadata.name"
    assert "no base deployment is named 'frud'" in issue.message


def test_two_patches_of_one_field_are_refused_naming_both_files() -> None:
    first = patch("  infrastructure: {replicas: 2}\n", file="envs/prod/a.yaml")
    second = patch("  infrastructure: {replicas: 5, ocpus: 2}\n", file="envs/prod/b.yaml")
    result = apply_patches([doc(BASE, "base/fraud.yaml")], [first, second])
    [issue] = result.issues
    assert issue.file == "envs/prod/b.yaml" and "envs/prod/a.yaml:6" in issue.message
    assert result.invalid_names == {"fraud"}


def test_two_patches_of_different_fields_both_apply() -> None:
    first = patch("  infrastructure: {replicas: 2}\n", file="envs/prod/a.yaml")
    second = patch("  infrastructure: {ocpus: 2}\n", file="envs/prod/b.yaml")
    result = apply_patches([doc(BASE, "base/fraud.yaml")], [first, second])
    assert not result.issues
    assert result.documents[0].data["spec"]["infrastructure"]["replicas"] == 2
    assert result.documents[0].data["spec"]["infrastructure"]["ocpus"] == 2


def test_a_patch_may_not_rename_or_carry_unknown_keys() -> None:
    bad = patch("  infrastructure: {replicas: 2}\n", extra="status: {}\n")
    bad.data["metadata"]["namespace"] = "x"
    result = apply_patches([doc(BASE, "base/fraud.yaml")], [bad])
    messages = sorted(issue.message for issue in result.issues)
    assert any("unknown key 'status'" in m for m in messages)
    assert any("metadata.labels only" in m for m in messages)
    assert result.invalid_names == {"fraud"}


def test_labels_merge_too() -> None:
    merged = merge_document(doc(BASE, "base/fraud.yaml"), patch("  {}\n", extra="  labels: {tier: gold}\n"))
    assert merged.data["metadata"]["labels"] == {"team": "risk", "tier": "gold"}


_values = st.recursive(
    st.one_of(st.integers(), st.text(max_size=3), st.booleans()),
    lambda children: st.dictionaries(st.sampled_from("abcd"), children, max_size=3),
    max_leaves=8,
)


def _leaves(value: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    if isinstance(value, dict) and value:
        out: dict[tuple[str, ...], Any] = {}
        for key, child in value.items():
            out.update(_leaves(child, (*path, key)))
        return out
    return {path: value}


@given(
    base_spec=st.dictionaries(st.sampled_from("abcd"), _values, max_size=4),
    patch_spec=st.dictionaries(st.sampled_from("abcd"), _values, min_size=1, max_size=4),
)
def test_every_value_a_patch_sets_is_in_the_result_and_every_other_base_value_is_kept(
    base_spec: dict[str, Any], patch_spec: dict[str, Any]
) -> None:
    base = Document("base.yaml", 0, {"metadata": {"name": "x"}, "spec": base_spec})
    over = Document(
        "over.yaml", 0, {"kind": "ModelDeploymentPatch", "metadata": {"name": "x"}, "spec": patch_spec}
    )
    merged = merge_document(base, over)
    result = _leaves(merged.data["spec"])
    patched = _leaves(patch_spec)
    for path, value in patched.items():
        if value != {}:  # an empty mapping merges nothing into a mapping (RFC 7386)
            assert result[path] == value
    for path, value in _leaves(base_spec).items():
        shadowed = any(path[: len(p)] == p or p[: len(path)] == path for p in patched)
        if not shadowed:
            assert result[path] == value
