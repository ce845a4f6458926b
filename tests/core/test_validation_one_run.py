"""One run of validation reports every independent fault of a document, each once, at its own line.

Pydantic stops checking an object's fields against each other as soon as one field is wrong; mdr runs those
cross-field checks over the fields that did validate, so fixing a manifest never takes several rounds.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.manifest_tree import BASE, issues_for

from reconciler.adapters.manifests import load_stack

# Independent faults, one per line of BASE: (line written, replacement, the field path reported, message).
# Field errors and cross-field errors are mixed, several in one object (infrastructure).
FAULTS: dict[str, tuple[str, str, str, str]] = {
    "empty display name": (
        "  displayName: Fraud",
        '  displayName: ""',
        "spec.displayName",
        "at least 1 character",
    ),
    "keep too many": ("    keep: 3", "    keep: 99", "spec.model.keep", "less than or equal to 50"),
    "negative replicas": (
        "    replicas: 2",
        "    replicas: -1",
        "spec.infrastructure.replicas",
        "greater than or equal to 1",
    ),
    "memory beyond the shape": (
        "    memoryInGBs: 16",
        "    memoryInGBs: 16000",
        "spec.infrastructure.memoryInGBs",
        "GB of memory",
    ),
    "bandwidth too low": (
        "    bandwidthMbps: 10",
        "    bandwidthMbps: 5",
        "spec.infrastructure.bandwidthMbps",
        "greater than or equal to 10",
    ),
    "bad env name": (
        '    env: {WEB_CONCURRENCY: "2"}',
        '    env: {1WEB: "2"}',
        "spec.runtime.env.1WEB",
        "must start with a letter",
    ),
    "log by name and id": (
        "    access: {name: fraud-access}",
        "    access: {name: fraud-access, id: ocid1.log.oc1..aaaa}",
        "spec.logging.access",
        "exactly one of name or id",
    ),
    "protect as a string": (
        "    protect: false",
        '    protect: "no"',
        "spec.policy.protect",
        "valid boolean",
    ),
}


def with_faults(names: list[str]) -> str:
    text = BASE
    for name in names:
        old, new, _, _ = FAULTS[name]
        assert text.count(old + "\n") == 1, old
        text = text.replace(old + "\n", new + "\n")
    return text


def test_a_field_error_no_longer_hides_the_cross_field_checks_of_its_object(tmp_path: Path) -> None:
    issues = issues_for(tmp_path, with_faults(["negative replicas", "memory beyond the shape"]))
    assert sorted(i.path for i in issues) == [
        "spec.infrastructure.memoryInGBs",
        "spec.infrastructure.replicas",
    ]
    memory = next(i for i in issues if i.path.endswith("memoryInGBs"))
    assert memory.line == BASE.splitlines().index("    memoryInGBs: 16") + 1
    assert "VM.Standard.E4.Flex supports 6-1024 GB of memory" in memory.message


def test_a_field_that_failed_is_not_reported_again_by_a_cross_field_check(tmp_path: Path) -> None:
    # ocpus: 0 fails its own bound; the shape check must not add "needs ocpus" or a range error for it
    issues = issues_for(tmp_path, BASE.replace("    ocpus: 1\n", "    ocpus: 0\n"))
    assert [(i.path, i.message) for i in issues] == [
        ("spec.infrastructure.ocpus", "Input should be greater than 0")
    ]


def test_every_cross_field_fault_of_one_object_is_reported_not_only_the_first(tmp_path: Path) -> None:
    text = BASE.replace("    shape: VM.Standard.E4.Flex", "    shape: VM.Standard2.1")
    issues = issues_for(tmp_path, text)
    assert sorted(i.path for i in issues) == ["spec.infrastructure.memoryInGBs", "spec.infrastructure.ocpus"]
    assert all("only valid for Flex shapes, not VM.Standard2.1" in i.message for i in issues)


def test_a_nested_objects_own_fault_does_not_hide_its_parents(tmp_path: Path) -> None:
    # autoscaling's min > max is its own fault; replicas beside autoscaling is infrastructure's
    text = BASE.replace("    replicas: 2\n", "    replicas: 2\n    autoscaling: {min: 3, max: 2}\n")
    issues = issues_for(tmp_path, text)
    assert {(i.path, i.message) for i in issues} == {
        ("spec.infrastructure.autoscaling.min", "min (3) must be <= max (2)"),
        ("spec.infrastructure.autoscaling", "set either replicas or autoscaling, not both"),
    }


def test_a_missing_compartment_is_reported_beside_field_errors(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t/mdr.yaml").write_text("stack: risk-prod\nregion: us-ashburn-1\n")
    (tmp_path / "t/fraud.yaml").write_text(with_faults(["negative replicas"]))
    issues = load_stack(tmp_path / "t").issues
    assert sorted(i.path for i in issues) == [
        "spec.compartmentId",
        "spec.infrastructure.replicas",
        "spec.projectId",
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(sorted(FAULTS)), unique=True))
def test_each_independent_fault_is_reported_once_whatever_else_is_wrong(
    tmp_path: Path, names: list[str]
) -> None:
    issues = issues_for(tmp_path, with_faults(names))
    reported = sorted(i.path for i in issues)
    assert reported == sorted(FAULTS[name][2] for name in names), [str(i) for i in issues]
    lines = BASE.splitlines()
    for name in names:
        old, _, path, fragment = FAULTS[name]
        [issue] = [i for i in issues if i.path == path]
        assert fragment in issue.message, str(issue)
        assert issue.line == lines.index(old) + 1, str(issue)
