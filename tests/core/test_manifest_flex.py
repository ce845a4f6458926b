"""spec.infrastructure.computeTarget (SINGLE_MODEL_FLEX): valid manifests load, and each fault is named at its
file, line and field, all in one run."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.adapters.manifests import load_stack
from reconciler.core.errors import Issue

STACK = """stack: flex
region: us-ashburn-1
defaults:
  compartmentId: ocid1.compartment.oc1..aaaaaaaaflex
  projectId: ocid1.datascienceproject.oc1.iad.aaaaaaaaflex
"""

FLEX = """apiVersion: mdr/v1
kind: ModelDeployment
metadata:
  name: scorer
spec:
  model:
    id: ocid1.datasciencemodel.oc1.iad.aaaaaaaamodel
  infrastructure:
    computeTarget:
      id: ocid1.datasciencecomputetarget.oc1.iad.aaaaaaaacluster
      requests: {ocpus: 2, memoryInGBs: 16, gpus: 1}
      limits: {ocpus: 4, memoryInGBs: 32}
    replicas: 2
  runtime:
    type: conda
"""

AUTOSCALED = FLEX.replace(
    "    replicas: 2\n",
    "",
).replace(
    "      limits: {ocpus: 4, memoryInGBs: 32}\n",
    """      limits: {ocpus: 4, memoryInGBs: 32}
      autoscaling:
        min: 0
        max: 5
        rules:
          - {metric: CPU, threshold: 70}
          - {metric: CUSTOM, threshold: 20, query: 'PredictRequestCount[1m].sum()'}
        scaleOut: {pendingDuration: PT1M, instanceCountAdjustment: 2, coolDownSeconds: 60}
""",
)


def issues_for(tmp_path: Path, manifest: str) -> list[Issue]:
    root = tmp_path / "tree"
    root.mkdir()
    (root / "mdr.yaml").write_text(STACK)
    (root / "scorer.yaml").write_text(manifest)
    return load_stack(root).issues


@pytest.mark.parametrize("manifest", [FLEX, AUTOSCALED], ids=["fixed", "autoscaled"])
def test_a_deployment_on_a_compute_target_is_valid(tmp_path: Path, manifest: str) -> None:
    assert issues_for(tmp_path, manifest) == []


def _with(extra: str) -> str:
    return FLEX.replace("    replicas: 2\n", f"    replicas: 2\n{extra}")


CASES = [
    (
        "a shape next to it",
        _with("    shape: VM.Standard.E4.Flex\n"),
        14,
        "spec.infrastructure.shape",
        "cluster sets the shape",
    ),
    ("ocpus of its own", _with("    ocpus: 2\n"), 14, "spec.infrastructure.ocpus", "requests.ocpus"),
    (
        "a subnet",
        _with("    subnetId: ocid1.subnet.oc1.iad.aaaaaaaasubnet\n"),
        14,
        "spec.infrastructure.subnetId",
        "networking",
    ),
    (
        "instance-pool autoscaling",
        FLEX.replace("    replicas: 2\n", "    autoscaling: {min: 1, max: 2}\n"),
        13,
        "spec.infrastructure.autoscaling",
        "computeTarget.autoscaling",
    ),
    (
        "a bandwidth",
        _with("    bandwidthMbps: 20\n"),
        14,
        "spec.infrastructure.bandwidthMbps",
        "no load balancer",
    ),
    (
        "limits below the requests",
        FLEX.replace("limits: {ocpus: 4,", "limits: {ocpus: 1,"),
        12,
        "spec.infrastructure.computeTarget.limits.ocpus",
        "must be >= requests.ocpus (2)",
    ),
    (
        "an OCID of another kind",
        FLEX.replace("ocid1.datasciencecomputetarget.oc1.iad.aaaaaaaacluster", "ocid1.subnet.oc1.iad.aaaa"),
        10,
        "spec.infrastructure.computeTarget.id",
        "should match pattern",
    ),
    (
        "replicas and autoscaling",
        AUTOSCALED.replace("  runtime:", "    replicas: 3\n  runtime:"),
        20,
        "spec.infrastructure.replicas",
        "either replicas or computeTarget.autoscaling",
    ),
    (
        "a CPU rule with a query",
        AUTOSCALED.replace("{metric: CPU, threshold: 70}", "{metric: CPU, threshold: 70, query: 'x'}"),
        17,
        "spec.infrastructure.computeTarget.autoscaling.rules[0].query",
        "is for CUSTOM",
    ),
    (
        "a CUSTOM rule without a query",
        AUTOSCALED.replace(", query: 'PredictRequestCount[1m].sum()'", ""),
        18,
        "spec.infrastructure.computeTarget.autoscaling.rules[1].query",
        "needs an MQL query",
    ),
    (
        "a pending duration out of range",
        AUTOSCALED.replace("pendingDuration: PT1M", "pendingDuration: PT45M"),
        19,
        "spec.infrastructure.computeTarget.autoscaling.scaleOut.pendingDuration",
        "PT1M-PT30M",
    ),
    (
        "min above max",
        AUTOSCALED.replace("min: 0", "min: 6"),
        14,
        "spec.infrastructure.computeTarget.autoscaling.min",
        "must be <= max (5)",
    ),
    (
        "neither a shape nor a compute target",
        FLEX.split("    computeTarget:")[0] + "    replicas: 2\n  runtime:\n    type: conda\n",
        8,
        "spec.infrastructure.shape",
        "set shape",
    ),
]


@pytest.mark.parametrize(
    ("manifest", "line", "path", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_fault_is_named_at_its_line_and_field(
    tmp_path: Path, manifest: str, line: int, path: str, message: str
) -> None:
    issues = issues_for(tmp_path, manifest)
    assert [(i.line, i.path) for i in issues] == [(line, path)], issues
    assert message in issues[0].message and issues[0].file.endswith("scorer.yaml")


def test_every_instance_field_next_to_a_compute_target_is_reported_in_one_run(tmp_path: Path) -> None:
    manifest = _with("    shape: VM.Standard.E4.Flex\n    memoryInGBs: 16\n    cpuBaseline: BASELINE_1_2\n")
    paths = sorted(i.path for i in issues_for(tmp_path, manifest))
    assert paths == [
        "spec.infrastructure.cpuBaseline",
        "spec.infrastructure.memoryInGBs",
        "spec.infrastructure.shape",
    ]


def test_a_model_group_cannot_run_on_a_compute_target(tmp_path: Path) -> None:
    manifest = FLEX.replace(
        "  model:\n    id: ocid1.datasciencemodel.oc1.iad.aaaaaaaamodel\n",
        "  modelGroup:\n    members:\n      - {inferenceKey: a, id: ocid1.datasciencemodel.oc1.iad.aaaaaaaamodel}\n",
    )
    [issue] = issues_for(tmp_path, manifest)
    assert (issue.line, issue.path) == (10, "spec.infrastructure.computeTarget")
    assert "MODEL_GROUP deployments take no compute target" in issue.message
