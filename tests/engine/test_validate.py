"""``validate_tree``: what is checked across files and against the installed SDK, before any cloud call."""

from __future__ import annotations

from pathlib import Path

from support.world import copy_example_stack, edit

from reconciler.engine.validate import validate_tree

F = "fraud-scorer.yaml"
C = "churn-container.yaml"


def _lines(issues: list[object]) -> list[str]:
    return [str(i) for i in issues]


def line_of(path: Path, text: str) -> int:
    """The line of ``text`` in the file (so that a comment added to an example moves no test)."""
    content = path.read_text()
    return content[: content.index(text)].count("\n") + 1


def test_the_example_tree_is_valid(tmp_path: Path) -> None:
    stack, issues = validate_tree(copy_example_stack(tmp_path / "m"))
    assert issues == []
    assert sorted(d.name for d in stack.deployments) == ["churn-api", "fraud-scorer"]


def test_an_artifact_error_names_the_manifest_line_and_the_artifact_line(tmp_path: Path) -> None:
    root = copy_example_stack(tmp_path / "m")
    edit(root / "models/fraud-scorer/score.py", "def predict(data, model=None):", "def predict(data, model):")
    _, issues = validate_tree(root)
    [issue] = issues
    line = line_of(root / F, "artifact: models/fraud-scorer")
    score_line = line_of(root / "models/fraud-scorer/score.py", "def predict(")
    assert issue.file == str(root / F)
    assert (issue.line, issue.path) == (line, "spec.model.artifact")
    assert "'model' needs a default" in issue.message
    assert str(issue).startswith(
        f"{root / F}:{line}:5: spec.model.artifact: {root}/models/fraud-scorer/score.py:{score_line}:"
    )


def test_an_artifact_shared_by_two_manifests_is_reported_at_both(tmp_path: Path) -> None:
    root = copy_example_stack(tmp_path / "m")
    (root / "models/fraud-scorer/leak.txt").symlink_to("/etc/passwd")
    _, issues = validate_tree(root)
    artifact = "artifact: models/fraud-scorer"
    expected = [(C, line_of(root / C, artifact)), (F, line_of(root / F, artifact))]
    assert sorted((Path(i.file).name, i.line) for i in issues) == expected, _lines(issues)
    assert all("outside the artifact folder" in i.message for i in issues)


def test_an_unknown_region_is_an_error_at_its_line(tmp_path: Path) -> None:
    root = copy_example_stack(tmp_path / "m")
    edit(root / "mdr.yaml", "region: us-ashburn-1", "region: us-ashbrun-1")
    _, issues = validate_tree(root)
    [issue] = issues
    line = line_of(root / "mdr.yaml", "region:")
    assert (Path(issue.file).name, issue.line, issue.path) == ("mdr.yaml", line, "region")
    assert "us-ashbrun-1" in issue.message
    assert "us-ashburn-1" in issue.message  # the closest known region is suggested
    assert "allowUnknownRegion" in issue.message


def test_a_region_newer_than_the_sdk_is_accepted_when_the_stack_says_so(tmp_path: Path) -> None:
    root = copy_example_stack(tmp_path / "m")
    edit(root / "mdr.yaml", "region: us-ashburn-1", "region: xx-newcity-1\nallowUnknownRegion: true")
    stack, issues = validate_tree(root)
    assert issues == [], _lines(issues)
    assert stack.config is not None and stack.config.region == "xx-newcity-1"


def test_one_log_with_two_retention_periods_is_an_error_at_the_second_manifest(tmp_path: Path) -> None:
    root = copy_example_stack(tmp_path / "m")
    edit(
        root / C,
        "    predict: {name: churn-api-predict}",
        "    predict: {name: fraud-scorer-predict}\n    retentionDays: 60",
    )
    _, issues = validate_tree(root)
    [issue] = issues
    # churn-container.yaml is read first (files are sorted), so fraud-scorer.yaml is the second mention
    line = line_of(root / F, "predict: {name: fraud-scorer-predict}")
    assert (Path(issue.file).name, issue.line, issue.path) == (F, line, "spec.logging.predict.name")
    assert "risk-logs/fraud-scorer-predict" in issue.message
    assert f"{root / C}:{line_of(root / C, 'retentionDays: 60')}" in issue.message
    assert "60" in issue.message and "30" in issue.message


def test_the_retention_written_in_the_second_manifest_is_where_the_error_points(tmp_path: Path) -> None:
    root = copy_example_stack(tmp_path / "m")
    edit(root / C, "    predict: {name: churn-api-predict}", "    predict: {name: fraud-scorer-predict}")
    edit(
        root / F,
        "    predict: {name: fraud-scorer-predict}",
        "    predict: {name: fraud-scorer-predict}\n    retentionDays: 90",
    )
    _, issues = validate_tree(root)
    [issue] = issues
    line = line_of(root / F, "retentionDays: 90")
    assert (Path(issue.file).name, issue.line, issue.path) == (F, line, "spec.logging.retentionDays")


def test_one_log_shared_with_one_retention_period_is_fine(tmp_path: Path) -> None:
    root = copy_example_stack(tmp_path / "m")
    edit(root / C, "    predict: {name: churn-api-predict}", "    predict: {name: fraud-scorer-predict}")
    _, issues = validate_tree(root)
    assert issues == [], _lines(issues)


def test_a_field_error_a_cross_field_error_and_an_artifact_error_come_in_one_run(tmp_path: Path) -> None:
    root = copy_example_stack(tmp_path / "m")
    edit(root / F, "    replicas: 1", "    replicas: -1")  # a field error
    edit(root / F, "    memoryInGBs: 16", "    memoryInGBs: 16000")  # a cross-field error (the shape's range)
    (root / "models/fraud-scorer/score.py").write_text("def (\n")  # an artifact error
    stack, issues = validate_tree(root)
    assert [(Path(i.file).name, i.line, i.path) for i in issues] == [
        (F, line_of(root / F, "artifact: models/fraud-scorer"), "spec.model.artifact"),
        (F, line_of(root / F, "memoryInGBs: 16000"), "spec.infrastructure.memoryInGBs"),
        (F, line_of(root / F, "replicas: -1"), "spec.infrastructure.replicas"),
    ], _lines(issues)
    assert "score.py does not parse" in issues[0].message
    # the invalid manifest is still set aside: nothing plans or applies it
    assert [d.name for d in stack.deployments] == ["churn-api"]
    assert "fraud-scorer" in stack.invalid_names


def test_the_artifact_of_an_invalid_manifest_is_checked_for_containment(tmp_path: Path) -> None:
    root = copy_example_stack(tmp_path / "m")
    outside = tmp_path / "outside"
    outside.mkdir()
    edit(root / F, "    artifact: models/fraud-scorer", "    artifact: ../outside")
    edit(root / F, "    replicas: 1", "    replicas: -1")
    _, issues = validate_tree(root)
    assert sorted((i.path, i.message.split(",")[0]) for i in issues) == [
        ("spec.infrastructure.replicas", "Input should be greater than or equal to 1"),
        ("spec.model.artifact", f"artifact resolves to {outside}"),
    ], _lines(issues)


def test_an_artifact_written_wrong_is_reported_once_and_not_read(tmp_path: Path) -> None:
    root = copy_example_stack(tmp_path / "m")
    edit(root / F, "    artifact: models/fraud-scorer", "    artifact: s3://bucket/model.zip")
    _, issues = validate_tree(root)
    [issue] = issues
    assert issue.path == "spec.model.artifact"
    assert "oci:// URI" in issue.message
