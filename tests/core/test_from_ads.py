"""``mdr import --from-ads``: what an ADS YAML says is converted, or refused by name; never approximated."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from reconciler.core.from_ads import AdsFormatError, convert

BASE = """kind: deployment
type: modelDeployment
spec:
  displayName: scorer
  freeformTags: {team: risk, mdr-stack: payments, MDR-Key: ModelDeployment/x, mdr-spec: sha256:1}
  infrastructure:
    kind: infrastructure
    type: datascienceModelDeployment
    spec:
      compartmentId: ocid1.compartment.oc1..aaaaaaaariskprod
      projectId: ocid1.datascienceproject.oc1.iad.aaaaaaaariskprod
      shapeName: VM.Standard.E4.Flex
      shapeConfigDetails: {ocpus: 1, memoryInGBs: 16}
      replica: 1
  runtime:
    kind: runtime
    type: conda
    spec:
      modelUri: ocid1.datasciencemodel.oc1.iad.aaaaaaaamodel
"""


def _document(**infra: Any) -> dict[str, Any]:
    document = yaml.safe_load(BASE)
    document["spec"]["infrastructure"]["spec"].update(infra)
    return document


def test_ownership_tags_of_another_stack_are_never_copied() -> None:
    conversion = convert(_document(), "scorer")
    assert conversion.manifest["spec"]["freeformTags"] == {"team": "risk"}
    [warning] = [w for w in conversion.warnings if "ownership" in w]
    assert "MDR-Key" in warning and "mdr-stack" in warning and "mdr-spec" in warning


def test_threshold_autoscaling_maps_onto_the_manifest_with_the_durations_the_service_applies() -> None:
    scaling = {
        "scalingType": "memory_utilization",
        "minimumInstanceCount": 2,
        "maximumInstanceCount": 5,
        "scaleInThreshold": 25,
        "scaleOutThreshold": 75,
        "coolDownInSeconds": 600,
    }
    infrastructure = convert(_document(autoScaling=scaling, replica=3), "scorer").manifest["spec"][
        "infrastructure"
    ]
    assert "replicas" not in infrastructure
    # ADS sends no pending durations: the service's PT3M applies to both steps, so they are written out
    # (mdr's short form would send PT5M for scale-in and change the live policy at the first apply)
    assert infrastructure["autoscaling"] == {
        "min": 2,
        "max": 5,
        "initial": 3,
        "coolDownSeconds": 600,
        "rules": [
            {
                "metric": "MEMORY",
                "scaleIn": {"threshold": 25, "pendingDuration": "PT3M"},
                "scaleOut": {"threshold": 75, "pendingDuration": "PT3M"},
            }
        ],
    }


def test_ads_defaults_are_written_as_ads_sends_them() -> None:
    document = _document(autoScaling={"scalingType": "cpu_utilization", "isEnabled": False})
    del document["spec"]["infrastructure"]["spec"]["shapeConfigDetails"]
    infrastructure = convert(document, "scorer").manifest["spec"]["infrastructure"]
    assert (infrastructure["ocpus"], infrastructure["memoryInGBs"]) == (1, 16)  # ADS's Flex defaults
    snake = _document(shapeConfigDetails={"ocpus": 2, "memory_in_gbs": 24.0})  # ADS reads this spelling too
    conversion = convert(snake, "scorer")
    assert conversion.manifest["spec"]["infrastructure"]["memoryInGBs"] == 24
    assert not [w for w in conversion.warnings if "shapeConfigDetails" in w]
    assert infrastructure["autoscaling"] == {
        "min": 1,
        "max": 3,
        "initial": 1,
        "enabled": False,
        "rules": [
            {
                "metric": "CPU",
                "scaleIn": {"threshold": 30, "pendingDuration": "PT3M"},
                "scaleOut": {"threshold": 70, "pendingDuration": "PT3M"},
            }
        ],
    }


@pytest.mark.parametrize(
    ("infra", "fragment"),
    [
        ({"policyType": "AUTOSCALING"}, "has no autoScaling block"),
        ({"autoScaling": {"scalingType": "custom_expression"}}, "'custom_expression' cannot be expressed"),
        ({"autoScaling": {"podAffinity": "x"}}, "autoScaling.podAffinity cannot be expressed"),
        ({"deploymentType": "MODEL_GROUP"}, "MODEL_GROUP"),
        ({"modelGroupId": "ocid1.datasciencemodelgroup.oc1.iad.aaaa"}, "MODEL_GROUP"),
    ],
    ids=["autoscaling-not-read-back", "other-metric", "unknown-key", "model-group", "group-id"],
)
def test_what_a_manifest_cannot_express_is_refused_by_name(infra: dict[str, Any], fragment: str) -> None:
    with pytest.raises(AdsFormatError) as refused:
        convert(_document(**infra), "scorer")
    assert fragment in str(refused.value)


def test_a_model_group_in_the_runtime_is_refused_too() -> None:
    document = _document()
    runtime = document["spec"]["runtime"]["spec"]
    del runtime["modelUri"]
    runtime["modelGroupId"] = "ocid1.datasciencemodelgroup.oc1.iad.aaaa"
    with pytest.raises(AdsFormatError, match="MODEL_GROUP"):
        convert(document, "scorer")
