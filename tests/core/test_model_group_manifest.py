"""spec.modelGroup: several models behind one endpoint; each fault is named at its file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.adapters.manifests import load_stack
from reconciler.core.errors import Issue

STACK = """stack: shop
region: us-ashburn-1
defaults:
  compartmentId: ocid1.compartment.oc1..aaaaaaaashop
  projectId: ocid1.datascienceproject.oc1.iad.aaaaaaaashop
"""

GROUP = """apiVersion: mdr/v1
kind: ModelDeployment
metadata:
  name: pricing
spec:
  modelGroup:
    type: HOMOGENEOUS
    updateType: ZDT
    members:
      - inferenceKey: tax
        artifact: tax
        metadata: {framework: other}
        customMetadata:
          - {key: region, value: eu}
      - inferenceKey: shipping
        artifact: shipping
      - inferenceKey: legacy
        id: ocid1.datasciencemodel.oc1.iad.aaaaaaaalegacy
  infrastructure:
    shape: VM.Standard.E4.Flex
    ocpus: 1
    memoryInGBs: 16
  runtime:
    type: conda
"""

MODEL_AND_GROUP = GROUP.replace("  modelGroup:\n", "  model:\n    artifact: tax\n  modelGroup:\n")


def issues_for(tmp_path: Path, manifest: str) -> list[Issue]:
    root = tmp_path / "tree"
    root.mkdir()
    (root / "mdr.yaml").write_text(STACK)
    (root / "pricing.yaml").write_text(manifest)
    return load_stack(root).issues


def test_a_group_of_packaged_and_catalog_members_is_valid(tmp_path: Path) -> None:
    assert issues_for(tmp_path, GROUP) == []


def test_a_stacked_group_naming_its_base_by_inference_key_is_valid(tmp_path: Path) -> None:
    manifest = GROUP.replace("type: HOMOGENEOUS", "type: STACKED\n    baseModel: legacy")
    assert issues_for(tmp_path, manifest) == []


def test_a_container_served_heterogeneous_group_is_valid(tmp_path: Path) -> None:
    manifest = GROUP.replace("type: HOMOGENEOUS", "type: HETEROGENEOUS").replace(
        "    type: conda\n", "    type: container\n    image: iad.ocir.io/ns/serve:1\n"
    )
    assert issues_for(tmp_path, manifest) == []


CASES = [
    ("a model and a group", MODEL_AND_GROUP, 8, "spec.modelGroup", "either model or modelGroup"),
    (
        "neither a model nor a group",
        GROUP.split("  modelGroup:")[0] + "  infrastructure:" + GROUP.split("  infrastructure:")[1],
        5,
        "spec.model",
        "set model (one model) or modelGroup",
    ),
    (
        "two members with one inference key",
        GROUP.replace("inferenceKey: shipping", "inferenceKey: TAX"),
        15,
        "spec.modelGroup.members[1].inferenceKey",
        "'TAX' is used by another member",
    ),
    (
        "a member with an artifact and an id",
        GROUP.replace(
            "        artifact: shipping\n",
            "        artifact: shipping\n        id: ocid1.datasciencemodel.oc1.iad.aaaaaaaax\n",
        ),
        15,
        "spec.modelGroup.members[1]",
        "exactly one of artifact",
    ),
    (
        "catalog details on a catalog member",
        GROUP.replace(
            "        id: ocid1.datasciencemodel.oc1.iad.aaaaaaaalegacy\n",
            "        id: ocid1.datasciencemodel.oc1.iad.aaaaaaaalegacy\n        displayName: Old\n",
        ),
        19,
        "spec.modelGroup.members[2].displayName",
        "cannot be set with id",
    ),
    (
        "an inference key that is not a name",
        GROUP.replace("inferenceKey: tax", "inferenceKey: 'tax rate'"),
        10,
        "spec.modelGroup.members[0].inferenceKey",
        "should match pattern",
    ),
    (
        "a heterogeneous group on conda",
        GROUP.replace("type: HOMOGENEOUS", "type: HETEROGENEOUS"),
        7,
        "spec.modelGroup.type",
        "served by a container",
    ),
    (
        "an update type the service does not have",
        GROUP.replace("updateType: ZDT", "updateType: ROLLING"),
        8,
        "spec.modelGroup.updateType",
        "'ZDT' or 'LIVE'",
    ),
    (
        "an empty group",
        GROUP.split("    members:")[0]
        + "    members: []\n  infrastructure:"
        + GROUP.split("  infrastructure:")[1],
        9,
        "spec.modelGroup.members",
        "at least 1 item",
    ),
    (
        "a version label without a version history",
        GROUP.replace("    updateType: ZDT\n", "    updateType: ZDT\n    versionLabel: v2\n"),
        9,
        "spec.modelGroup.versionLabel",
        "set versionHistory",
    ),
    (
        "a stacked group without a base",
        GROUP.replace("type: HOMOGENEOUS", "type: STACKED"),
        6,
        "spec.modelGroup.baseModel",
        "a STACKED group names its base model",
    ),
    (
        "a base that is no member",
        GROUP.replace("type: HOMOGENEOUS", "type: STACKED\n    baseModel: vat"),
        8,
        "spec.modelGroup.baseModel",
        "no member has inferenceKey 'vat' (members: tax, shipping, legacy)",
    ),
    (
        "a base in a homogeneous group",
        GROUP.replace("type: HOMOGENEOUS", "type: HOMOGENEOUS\n    baseModel: tax"),
        8,
        "spec.modelGroup.baseModel",
        "baseModel is for type: STACKED",
    ),
    (
        "an unknown key in a member",
        GROUP.replace("        artifact: shipping\n", "        artifact: shipping\n        score: x\n"),
        17,
        "spec.modelGroup.members[1].score",
        "unknown field 'score'",
    ),
    (
        "a custom metadata key twice",
        GROUP.replace(
            "          - {key: region, value: eu}\n",
            "          - {key: region, value: eu}\n          - {key: region, value: us}\n",
        ),
        15,
        "spec.modelGroup.members[0].customMetadata[1].key",
        "duplicate custom metadata key",
    ),
]


@pytest.mark.parametrize(
    ("manifest", "line", "path", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_bad_group_is_reported_at_its_field(
    tmp_path: Path, manifest: str, line: int, path: str, fragment: str
) -> None:
    issues = issues_for(tmp_path, manifest)
    assert len(issues) == 1, [str(i) for i in issues]
    [issue] = issues
    assert issue.file.endswith("pricing.yaml")
    assert f": {path}: " in str(issue), str(issue)
    assert fragment in str(issue)
    assert issue.line == line, str(issue)


def test_every_fault_of_a_group_is_reported_in_one_run(tmp_path: Path) -> None:
    manifest = GROUP.replace("inferenceKey: shipping", "inferenceKey: tax").replace(
        "updateType: ZDT", "updateType: NOW"
    )
    paths = sorted(str(issue).split(": ")[1] for issue in issues_for(tmp_path, manifest))
    assert paths == ["spec.modelGroup.members[1].inferenceKey", "spec.modelGroup.updateType"]
