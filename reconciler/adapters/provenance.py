"""Where a model came from, read from git: the repository, branch and commit of the manifest tree, and the
manifest's path in the repository. mdr records it in the model's provenance in the catalog when it creates
the model (``CreateModelProvenance``), so every model in the console says where it came from.

Nothing here fails a plan: outside a git repository (or without git) there is simply no provenance. A
repository URL never carries credentials: ``https://user:token@host/repo`` is recorded as
``https://host/repo``. A detached checkout (CI, the controller's clone) takes its branch from the CI's
environment when it names one.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from reconciler.core.stack import Stack

GIT_TIMEOUT_SECONDS = 10
#: CI variables naming the branch of a detached checkout, in the order they are trusted
BRANCH_VARIABLES = ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "BRANCH_NAME", "GIT_BRANCH")


@dataclass(frozen=True)
class Repository:
    top: Path
    url: str | None
    branch: str | None
    commit: str


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    out = done.stdout.strip()
    return out if done.returncode == 0 and out else None


def without_credentials(url: str) -> str:
    """The URL with any user name and password removed (scp-like ``git@host:path`` is kept as it is)."""
    parts = urlsplit(url)
    if not parts.scheme or "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def repository_of(folder: Path) -> Repository | None:
    """The git repository holding ``folder`` at its current commit, or None."""
    top = _git(folder, "rev-parse", "--show-toplevel")
    commit = _git(folder, "rev-parse", "HEAD")
    if top is None or commit is None:
        return None
    remote = _git(folder, "remote", "get-url", "origin")
    if remote is None:
        first = (_git(folder, "remote") or "").splitlines()
        remote = _git(folder, "remote", "get-url", first[0]) if first else None
    branch = _git(folder, "symbolic-ref", "--short", "-q", "HEAD")
    if branch is None:
        branch = next((os.environ[v] for v in BRANCH_VARIABLES if os.environ.get(v)), None)
    return Repository(Path(top), without_credentials(remote) if remote else None, branch, commit)


def provenance_for(repository: Repository | None, manifest: Path) -> dict[str, str | None] | None:
    """The provenance of a model packaged for ``manifest`` (CreateModelProvenanceDetails, camelCase)."""
    if repository is None:
        return None
    try:
        path = manifest.resolve().relative_to(repository.top.resolve()).as_posix()
    except ValueError:
        path = manifest.name
    return {
        "repositoryUrl": repository.url,
        "gitBranch": repository.branch,
        "gitCommit": repository.commit,
        "scriptDir": path,
    }


def stack_provenance(stack: Stack) -> dict[str, dict[str, str | None] | None]:
    """Deployment name -> the provenance its packaged model gets (one git lookup for the whole tree)."""
    repository = repository_of(stack.root)
    return {
        d.name: provenance_for(repository, Path(d.document.file))
        for d in stack.deployments
        if d.manifest.spec.model is not None and d.manifest.spec.model.artifact is not None
    }
