"""``mdr validate``: schema and artifact checks with no cloud call."""

from __future__ import annotations

from pathlib import Path

from reconciler.adapters.artifact import check_artifact
from reconciler.adapters.manifests import load_stack
from reconciler.core.errors import Issue
from reconciler.core.stack import LoadedDeployment, Stack


def artifact_issues(deployment: LoadedDeployment) -> list[Issue]:
    """Problems with a deployment's local artifact; a missing path points at the manifest's line."""
    path = deployment.artifact_path()
    if path is None:
        return []
    if not path.exists():
        where = ("spec", "model", "artifact")
        return [deployment.document.issue(where, f"artifact {path} does not exist")]
    if path.is_file() and path.suffix != ".zip":
        return [
            deployment.document.issue(("spec", "model", "artifact"), "artifact must be a folder or a .zip")
        ]
    return check_artifact(path, runtime=deployment.manifest.spec.runtime.type)


def validate_tree(path: Path) -> tuple[Stack, list[Issue]]:
    """Load the tree and check every local artifact; returns the stack and every issue found."""
    stack = load_stack(path)
    issues = list(stack.issues)
    for deployment in stack.deployments:
        issues.extend(artifact_issues(deployment))
    return stack, sorted(set(issues))
