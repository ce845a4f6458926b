"""``mdr validate``: schema, artifact and cross-manifest checks with no cloud call."""

from __future__ import annotations

from pathlib import Path

from reconciler.adapters.artifact_checks import check_artifact
from reconciler.adapters.manifests import load_stack, load_stack_config
from reconciler.adapters.regions import closest_regions, is_known_region
from reconciler.core.errors import Issue
from reconciler.core.stack import LocalArtifact, Stack, log_retention_issues

#: check_artifact's issues per (resolved artifact, runtime type): an artifact shared by several manifests
#: is read once, and reported at each manifest
ArtifactChecks = dict[tuple[str, str], list[Issue]]


def _nested(path: Path, inner: Issue) -> str:
    """An artifact issue as the message of a manifest issue: its own ``file:line:`` unless that is just the
    artifact's path with no line (the message then names the path already)."""
    if inner.file == str(path) and not inner.line:
        return inner.message
    return str(inner)


def artifact_issues(artifact: LocalArtifact, checked: ArtifactChecks | None = None) -> list[Issue]:
    """Problems with a manifest's local artifact, each at the manifest line naming the artifact and
    naming the artifact's own file and line: ``fraud.yaml:16:5: spec.model.artifact: .../score.py:3: ...``.
    The manifest may be invalid otherwise: its artifact is checked in the same run."""
    path, document = artifact.path, artifact.document
    try:
        exists, is_file = path.exists(), path.is_file()
    except OSError as exc:
        return [document.issue(artifact.field, f"artifact {path} cannot be read: {exc.strerror or exc}")]
    if not exists:
        return [document.issue(artifact.field, f"artifact {path} does not exist")]
    if is_file and path.suffix != ".zip":
        return [document.issue(artifact.field, "artifact must be a folder or a .zip")]
    runtime = artifact.runtime
    key = (str(path.resolve()), runtime)
    inner = checked.get(key) if checked is not None else None
    if inner is None:
        inner = check_artifact(path, runtime=runtime)
        if checked is not None:
            checked[key] = inner
    return [document.issue(artifact.field, _nested(path, issue)) for issue in inner]


def region_issues(stack: Stack) -> list[Issue]:
    """An unknown region fails here, offline, rather than at the first API call (or, worse, by reaching a
    wrong endpoint); ``allowUnknownRegion: true`` accepts a region newer than the installed SDK."""
    config = stack.config
    if config is None or config.allowUnknownRegion or is_known_region(config.region):
        return []
    _, document, _ = load_stack_config(stack.root)  # the stack file's positions
    closest = closest_regions(config.region)
    hint = f" (did you mean {', '.join(closest)}?)" if closest else ""
    message = (
        f"unknown region {config.region!r}{hint}; the installed OCI SDK does not list it. For a region newer "
        "than the SDK, upgrade the oci package or set allowUnknownRegion: true"
    )
    if document is None:
        return [Issue(str(stack.root / "mdr.yaml"), 1, 1, "region", message)]
    return [document.issue(("region",), message)]


def validate_tree(path: Path) -> tuple[Stack, list[Issue]]:
    """Load the tree and check every local artifact, those of invalid manifests too; returns the stack and
    every issue found."""
    stack = load_stack(path)
    issues = list(stack.issues)
    issues.extend(region_issues(stack))
    issues.extend(log_retention_issues(stack.deployments))
    checked: ArtifactChecks = {}
    for artifact in stack.artifacts:
        issues.extend(artifact_issues(artifact, checked))
    return stack, sorted(set(issues))


def checked_stack(path: Path) -> tuple[Stack, list[Issue]]:
    """``validate_tree`` for a long-lived reconciler: every issue, and the deployments of the files they
    are in set aside (neither changed nor pruned), so one bad manifest blocks only itself."""
    stack, issues = validate_tree(path)
    bad_files = {issue.file for issue in issues}
    for deployment in list(stack.deployments):
        if deployment.document.files & bad_files:
            stack.deployments.remove(deployment)
            stack.invalid_names.add(deployment.name)
    stack.issues = issues
    return stack, issues
