"""Each CI template's install step installs a working mdr from a git tag, and every version number agrees.

mdr is on no package index and has no public URL: the templates install ``git+https://<host>/<owner>/<repo>@vX``
with the placeholder for the repository a user forks or mirrors mdr into. Here the placeholder becomes
``git+file://`` of a local ``git clone`` of this repository, the tag one made in that clone, and the step's
script runs as the CI runner would run it (bash), in a fresh ``python -m venv``. The default run installs
without dependencies (``PIP_NO_DEPS``; the venv then sees this environment's packages through a ``.pth``
file) so it stays fast; ``-m slow`` installs everything from the package index, exactly as CI would.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
import yaml

import reconciler

REPO = Path(__file__).resolve().parents[2]
GITHUB = REPO / "examples/ci/github/plan-and-apply.yml"
GITLAB = REPO / "examples/ci/gitlab/.gitlab-ci.yml"
PLACEHOLDER = "git+https://<host>/<owner>/<repo>"
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def install_steps(template: Path) -> tuple[str, list[str]]:
    """(MDR_INSTALL, the install scripts of every job that runs mdr) of a template."""
    data = yaml.safe_load(template.read_text())
    if template == GITHUB:
        scripts = [
            step["run"]
            for job in data["jobs"].values()
            for step in job["steps"]
            if step.get("name") == "Install mdr"
        ]
        assert len(scripts) == len(data["jobs"]), "every job installs mdr"
        return data["env"]["MDR_INSTALL"], scripts
    scripts = [
        item
        for name, job in data.items()
        if isinstance(job, dict)
        for item in job.get("before_script", [])
        if "pip install" in item
    ]
    jobs_running_mdr = [j for j in data.values() if isinstance(j, dict) and "script" in j]
    assert all(j.get("extends") in (".mdr", ".mdr-oci") for j in jobs_running_mdr), "every job installs mdr"
    return data["variables"]["MDR_INSTALL"], scripts


TEMPLATES = [GITHUB, GITLAB]


def _id(template: Path) -> str:
    return template.parent.name


# --- fast: the shape of what the templates and docs say --------------------------------------------------


def test_the_version_is_the_same_everywhere() -> None:
    assert reconciler.__version__ == VERSION
    from reconciler.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["--version"])
    hooks = (REPO / ".pre-commit-hooks.yaml").read_text()
    assert re.search(rf"rev: v{re.escape(VERSION)}\b", hooks), "the pre-commit example pins the release tag"
    for doc in [REPO / "README.md", *(REPO / "docs").glob("*.md"), REPO / "examples/ci/README.md"]:
        for tag in re.findall(re.escape(PLACEHOLDER) + r"@(v[\w.]+)", doc.read_text()):
            assert tag == f"v{VERSION}", f"{doc.name} installs {tag}, the release is v{VERSION}"


@pytest.mark.parametrize("template", TEMPLATES, ids=_id)
def test_the_install_line_is_a_pinned_git_tag_with_a_marked_placeholder(template: Path) -> None:
    requirement, scripts = install_steps(template)
    assert requirement == f"{PLACEHOLDER}@v{VERSION}"
    assert scripts and len(set(scripts)) == 1, "every job installs mdr the same way"
    assert 'python -m pip install --quiet "$MDR_INSTALL"' in scripts[0]
    assert "oci-model-reconciler" not in template.read_text()  # no index serves that name


@pytest.mark.parametrize("template", TEMPLATES, ids=_id)
def test_the_untouched_placeholder_fails_at_once_naming_mdr_install(template: Path, tmp_path: Path) -> None:
    requirement, [script, *_] = install_steps(template)
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "python").write_text(f"#!/bin/sh\necho called > {tmp_path / 'python-called'}\n")
    (stub / "python").chmod(0o755)
    result = subprocess.run(
        ["bash", "-e", "-c", script],
        env={"PATH": f"{stub}:/usr/bin:/bin", "MDR_INSTALL": requirement},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "MDR_INSTALL" in result.stdout + result.stderr
    assert not (tmp_path / "python-called").exists(), "pip must not even be tried with the placeholder"


# --- from a local clone, in a fresh virtualenv -------------------------------------------------------------


def clone_with_tag(tmp_path: Path, tag: str) -> Path:
    clone = tmp_path / "mdr"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "tag", "-f", tag],
        cwd=clone,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return clone


def install_from_clone(
    template: Path, tmp_path: Path, with_dependencies: bool
) -> subprocess.CompletedProcess[str]:
    """Run the template's install script in a fresh venv, MDR_INSTALL pointing at a local clone's tag;
    return ``mdr --version`` as run from that venv."""
    requirement, [script, *_] = install_steps(template)
    tag = requirement.rsplit("@", 1)[1]
    clone = clone_with_tag(tmp_path, tag)
    local = requirement.replace(PLACEHOLDER, f"git+file://{clone}")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PIP_NO_DEPS")}
    env.update(PATH=f"{venv / 'bin'}:{env['PATH']}", MDR_INSTALL=local)
    if not with_dependencies:
        env["PIP_NO_DEPS"] = "1"  # pip's --no-deps, without touching the script
        purelib = subprocess.run(
            [venv / "bin/python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        # mdr's dependencies from this environment, after the venv's own packages
        Path(purelib, "deps-from-test-env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert installed.returncode == 0, (
        f"{template.name}: the install step failed:\n{installed.stdout}\n{installed.stderr}"
    )
    where = subprocess.run(
        [venv / "bin/python", "-c", "import reconciler; print(reconciler.__file__)"],
        cwd=tmp_path,  # not this checkout, which `python -c` would import first
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert where.stdout.startswith(str(venv)), f"mdr must come from the new venv, not this checkout: {where}"
    return subprocess.run(
        [venv / "bin/mdr", "--version"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("template", TEMPLATES, ids=_id)
def test_the_install_step_installs_mdr_from_a_git_tag(template: Path, tmp_path: Path) -> None:
    version = install_from_clone(template, tmp_path, with_dependencies=False)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"mdr {VERSION}"


@pytest.mark.slow
@pytest.mark.parametrize("template", TEMPLATES, ids=_id)
def test_the_install_step_installs_mdr_and_its_dependencies_from_a_git_tag(
    template: Path, tmp_path: Path
) -> None:
    version = install_from_clone(template, tmp_path, with_dependencies=True)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"mdr {VERSION}"
