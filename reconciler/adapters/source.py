"""Where the controller reads manifests from: a local folder, or its own clone of a git branch.

The git source keeps a private clone under ``.mdr/git/`` and moves it to the branch's newest commit with
``git fetch`` + ``git reset --hard``; it reports the commit it checked out, so the controller reconciles
exactly that revision and can say so in ``/status``.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from reconciler.adapters.journal import make_state_dir, state_dir
from reconciler.core.errors import MdrError


class SourceError(MdrError):
    """The manifests could not be fetched (git failed); the controller keeps the last good revision."""


@dataclass
class Snapshot:
    root: Path  # the manifest tree to load
    revision: str | None  # git commit, or None for a plain folder


class LocalSource:
    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def watch_path(self) -> Path:
        return self.path

    def refresh(self) -> Snapshot:
        return Snapshot(self.path, None)


class GitSource:
    def __init__(self, url: str, branch: str, subdir: str = ".", workdir: Path | None = None) -> None:
        self.url = url
        self.branch = branch
        self.subdir = subdir
        digest = hashlib.sha256(f"{url}#{branch}".encode()).hexdigest()[:12]
        self.workdir = workdir or state_dir() / "git" / digest
        self.revision: str | None = None

    @property
    def watch_path(self) -> None:
        return None

    def _git(self, *args: str, cwd: Path | None = None) -> str:
        try:
            result = subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SourceError(f"git {' '.join(args[:1])} failed: {exc}") from exc
        if result.returncode != 0:
            raise SourceError(
                f"git {' '.join(args[:2])} failed: {result.stderr.strip() or result.stdout.strip()}"
            )
        return result.stdout.strip()

    def refresh(self) -> Snapshot:
        """Fetch and check out the branch head; returns the tree at that exact commit."""
        if not (self.workdir / ".git").is_dir():
            if self.workdir.exists():
                shutil.rmtree(self.workdir)
            make_state_dir(self.workdir.parent)
            self._git(
                "clone", "--quiet", "--branch", self.branch, "--single-branch", self.url, str(self.workdir)
            )
        else:
            self._git("fetch", "--quiet", "origin", self.branch, cwd=self.workdir)
            self._git("reset", "--quiet", "--hard", f"origin/{self.branch}", cwd=self.workdir)
            self._git("clean", "-qfdx", "-e", ".mdr", cwd=self.workdir)
        self.revision = self._git("rev-parse", "HEAD", cwd=self.workdir)
        return Snapshot(self.workdir / self.subdir, self.revision)
