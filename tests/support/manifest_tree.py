"""A one-manifest tree on disk for validation tests: a stack file, a valid deployment to break, and the
issues ``load_stack`` reports for it."""

from __future__ import annotations

from pathlib import Path

from reconciler.adapters.manifests import load_stack
from reconciler.core.errors import Issue

STACK = """stack: risk-prod
region: us-ashburn-1
defaults:
  compartmentId: ocid1.compartment.oc1..aaaaaaaarisk
  projectId: ocid1.datascienceproject.oc1.iad.aaaaaaaarisk
vars:
  TEAM: risk
"""

#: a valid deployment using most fields: tests break one line of it (its line numbers are the issues')
BASE = """apiVersion: mdr/v1
kind: ModelDeployment
metadata:
  name: fraud
  labels: {team: risk}
spec:
  displayName: Fraud
  state: ACTIVE
  model:
    artifact: model
    keep: 3
  infrastructure:
    shape: VM.Standard.E4.Flex
    ocpus: 1
    memoryInGBs: 16
    replicas: 2
    bandwidthMbps: 10
  runtime:
    type: conda
    env: {WEB_CONCURRENCY: "2"}
  logging:
    logGroup: {name: risk-logs}
    access: {name: fraud-access}
  policy:
    protect: false
"""


def write_tree(root: Path, manifest: str, stack: str = STACK, name: str = "fraud.yaml") -> Path:
    """``root`` holding ``stack`` as its mdr.yaml and ``manifest`` as ``name`` (both overwritten)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "mdr.yaml").write_text(stack)
    (root / name).write_text(manifest)
    return root


def issues_for(tmp_path: Path, manifest: str, stack: str = STACK) -> list[Issue]:
    """Every issue of a tree holding ``manifest`` alone, in ``tmp_path/tree``."""
    return load_stack(write_tree(tmp_path / "tree", manifest, stack)).issues
