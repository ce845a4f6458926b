"""A model group version is identified by a digest of what it holds: a STACKED group's base is part of it,
and the digest of the other types is the one earlier releases computed, so upgrading mdr makes no new group
version of a group nothing changed in."""

from __future__ import annotations

from reconciler.core.canonical import spec_hash
from reconciler.core.model_group_desired import DesiredMember, group_digest
from reconciler.core.model_group_manifest import ModelGroupSpec

MEMBERS = (
    DesiredMember(
        "llama", "ocid1.datasciencemodel.oc1.iad.aaaabase", "ocid1.datasciencemodel.oc1.iad.aaaabase"
    ),
    DesiredMember("support", "ref:Model/chat/support@1", "sha256:" + "ab" * 32, "Model/chat/support"),
)


def _group(**fields: object) -> ModelGroupSpec:
    members = [
        {"inferenceKey": "llama", "id": "ocid1.datasciencemodel.oc1.iad.aaaabase"},
        {"inferenceKey": "support", "artifact": "models/support"},
    ]
    return ModelGroupSpec.model_validate({"members": members, **fields}, strict=False)


def test_a_homogeneous_groups_digest_is_what_it_always_was() -> None:
    earlier = spec_hash(
        {
            "type": "HOMOGENEOUS",
            "customMetadata": [],
            "members": sorted((m.inference_key, m.source) for m in MEMBERS),
        }
    )
    assert group_digest(_group(), MEMBERS) == earlier


def test_moving_a_stacked_groups_base_is_another_group() -> None:
    on_llama = group_digest(_group(type="STACKED", baseModel="llama"), MEMBERS)
    on_support = group_digest(_group(type="STACKED", baseModel="support"), MEMBERS)
    assert on_llama != on_support
    assert on_llama == group_digest(_group(type="STACKED", baseModel="llama"), MEMBERS)
