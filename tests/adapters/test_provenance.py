"""Provenance from git: the repository, branch and commit of a manifest tree, never with credentials."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.adapters.provenance import provenance_for, repository_of, without_credentials

SECRET_TEXT = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-~", min_size=6
)


@given(user=SECRET_TEXT, password=SECRET_TEXT, scheme=st.sampled_from(["https", "http", "ssh"]))
def test_a_url_never_keeps_its_credentials(user: str, password: str, scheme: str) -> None:
    url = f"{scheme}://{user}:{password}@git.example.com/risk/models.git"
    clean = without_credentials(url)
    assert password not in clean and user not in clean
    assert clean == f"{scheme}://git.example.com/risk/models.git"


def test_scp_like_and_plain_urls_are_kept() -> None:
    assert without_credentials("git@github.com:risk/models.git") == "git@github.com:risk/models.git"
    assert without_credentials("https://github.com/risk/models") == "https://github.com/risk/models"


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "-q", "-b", "release")
    _git(tmp_path, "config", "user.email", "ci@example.com")
    _git(tmp_path, "config", "user.name", "CI")
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "fraud.yaml").write_text("kind: ModelDeployment\n")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-q", "-m", "one")
    return tmp_path


def test_a_checkout_gives_branch_commit_and_the_manifest_path(repo: Path) -> None:
    _git(repo, "remote", "add", "origin", "https://bot:t0ken@git.example.com/risk/models.git")
    found = provenance_for(repository_of(repo / "manifests"), repo / "manifests" / "fraud.yaml")
    assert found == {
        "repositoryUrl": "https://git.example.com/risk/models.git",
        "gitBranch": "release",
        "gitCommit": _git(repo, "rev-parse", "HEAD").strip(),
        "scriptDir": "manifests/fraud.yaml",
    }


def test_a_detached_checkout_takes_its_branch_from_ci(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _git(repo, "checkout", "-q", "--detach")
    for name in ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "BRANCH_NAME", "GIT_BRANCH"):
        monkeypatch.delenv(name, raising=False)
    found = repository_of(repo)
    assert found is not None and found.branch is None and found.url is None
    monkeypatch.setenv("CI_COMMIT_REF_NAME", "main")
    found = repository_of(repo)
    assert found is not None and found.branch == "main"


def test_outside_git_there_is_no_provenance(tmp_path: Path) -> None:
    assert repository_of(tmp_path) is None
    assert provenance_for(None, tmp_path / "x.yaml") is None
