"""The CI templates, the Kubernetes manifest and the Dockerfile agree with themselves and with mdr."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from reconciler.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
GITHUB = REPO / "examples/ci/github/plan-and-apply.yml"


def paths_filter_problems(workflow: dict[Any, Any]) -> list[str]:
    """Where the workflow's ``paths:`` filters do not cover ``env.MANIFESTS`` (GitHub cannot derive them)."""
    manifests = str(workflow["env"]["MANIFESTS"]).strip("/")
    wanted = f"{manifests}/**"
    triggers: dict[str, Any] = workflow.get("on") or workflow[True]  # PyYAML reads the key `on` as True
    problems = []
    for event in ("pull_request", "push"):
        paths = triggers[event].get("paths", [])
        if wanted not in paths:
            problems.append(f"on.{event}.paths {paths} does not include {wanted!r} (MANIFESTS: {manifests}/)")
        stale = [p for p in paths if p.endswith("/**") and p != wanted and not p.startswith(".github/")]
        if stale:
            problems.append(f"on.{event}.paths names {stale}, which is not MANIFESTS")
    return problems


def test_the_github_paths_filter_and_manifests_agree() -> None:
    workflow = yaml.safe_load(GITHUB.read_text())
    assert paths_filter_problems(workflow) == []


def test_a_renamed_manifest_tree_without_a_new_paths_filter_is_caught() -> None:
    text = GITHUB.read_text().replace("MANIFESTS: manifests/", "MANIFESTS: deployments/")
    problems = paths_filter_problems(yaml.safe_load(text))
    assert len(problems) == 4 and "deployments/**" in problems[0]


def test_the_github_template_says_where_manifests_is_set_that_paths_must_follow() -> None:
    text = GITHUB.read_text()
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("MANIFESTS:"))
    comment = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.strip().startswith("#"):
            break
        comment.append(line)
    assert "`paths:` filters" in " ".join(comment)  # right where MANIFESTS is set, the filters are named
    on_block = text.split("\non:\n", 1)[1].split("\npermissions:", 1)[0]
    assert "cannot use env.MANIFESTS" in on_block
    readme = (REPO / "examples/ci/README.md").read_text()
    assert "cannot read `MANIFESTS`" in readme


# --- the controller in Kubernetes ---------------------------------------------------------------------------


def dockerfile() -> str:
    return (REPO / "Dockerfile").read_text()


def controller_objects() -> dict[str, dict[str, Any]]:
    return {
        doc["kind"]: doc for doc in yaml.safe_load_all((REPO / "deploy/controller.yaml").read_text()) if doc
    }


def test_the_controller_keeps_mdr_state_dir_on_a_persistent_volume_of_its_own() -> None:
    objects = controller_objects()
    statefulset = objects["StatefulSet"]
    pod = statefulset["spec"]["template"]["spec"]
    [container] = pod["containers"]
    image_state_dir = re.search(r"MDR_STATE_DIR=(\S+)", dockerfile())
    assert image_state_dir is not None
    env = {e["name"]: e["value"] for e in container.get("env", [])}
    state_dir = env.get("MDR_STATE_DIR", image_state_dir.group(1))
    assert state_dir == image_state_dir.group(1)
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert state_dir in mounts, f"nothing is mounted at MDR_STATE_DIR {state_dir}: {mounts}"
    claims = {c["metadata"]["name"]: c for c in statefulset["spec"].get("volumeClaimTemplates", [])}
    claim = claims.get(mounts[state_dir])
    assert claim is not None, "the state volume must be a persistent volume claim (one per replica)"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    # writable by the image's user, who is also the pod's
    user = re.search(r"^USER (\d+)", dockerfile(), re.M)
    assert user is not None
    assert pod["securityContext"]["runAsUser"] == int(user.group(1)) == pod["securityContext"]["fsGroup"]
    # a StatefulSet needs its governing service
    assert objects["Service"]["metadata"]["name"] == statefulset["spec"]["serviceName"]


def test_the_controller_command_line_probes_and_port_agree() -> None:
    statefulset = controller_objects()["StatefulSet"]
    [container] = statefulset["spec"]["template"]["spec"]["containers"]
    args = build_parser().parse_args(container["args"])  # the image's entrypoint is mdr
    assert args.command == "controller" and args.listen == ":9000"
    [port] = container["ports"]
    assert port["containerPort"] == 9000
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert statefulset["spec"]["replicas"] == 2  # a leader and a standby


# --- the Dockerfile -----------------------------------------------------------------------------------------


def test_the_dockerfile_pins_its_base_image_release_and_every_apt_package() -> None:
    text = dockerfile().replace("\\\n", " ")
    bases = re.findall(r"^FROM (\S+)", text, re.M)
    assert bases and all(base.endswith("-bookworm") for base in bases), bases  # the apt pins are bookworm's
    installs = re.findall(r"apt-get install ([^&]*)", text)
    assert installs
    for install in installs:
        packages = [w for w in shlex.split(install) if not w.startswith("-")]
        assert packages and all("=" in p for p in packages), f"hadolint DL3008: pin every package: {packages}"
    assert re.search(r"--no-install-recommends", text)
    assert "rm -rf /var/lib/apt/lists/*" in text
