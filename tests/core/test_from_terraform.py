"""``mdr import --from-terraform``: a Terraform state's model deployments become manifests that adopt them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.from_live import manifest_from_live
from reconciler.core.from_terraform import TerraformStateError, chosen_for_import, deployments_in_state

FIXTURE = Path(__file__).parent / "fixtures" / "model_deployments.tfstate"
FRAUD = "ocid1.datasciencemodeldeployment.oc1.iad.amaaaaaafraud"


def _state() -> dict[str, Any]:
    return dict(json.loads(FIXTURE.read_text()))


def test_only_managed_model_deployments_are_read_with_their_addresses() -> None:
    found = deployments_in_state(_state())
    assert [d.address for d in found] == [
        "oci_datascience_model_deployment.fraud",
        'module.serving.oci_datascience_model_deployment.api["eu"]',
        'module.serving.oci_datascience_model_deployment.api["us"]',
    ]


def test_a_deployment_converts_to_the_manifest_terraform_describes() -> None:
    [wire], _ = chosen_for_import(_state())
    imported = manifest_from_live(wire, "fraud", {"compartmentId": "ocid1.compartment.oc1..aaaaaaaariskprod"})
    spec = imported.manifest["spec"]
    assert imported.manifest["metadata"]["annotations"] == {"mdr.io/adopt": FRAUD}
    assert spec["displayName"] == "Fraud scorer" and spec["description"] == "Scores card transactions"
    assert spec["state"] == "ACTIVE" and spec["model"] == {
        "id": "ocid1.datasciencemodel.oc1.iad.amaaaaaamodel"
    }
    assert spec["infrastructure"] == {
        "shape": "VM.Standard.E4.Flex",
        "ocpus": 1,
        "memoryInGBs": 16,
        "autoscaling": {
            "min": 1,
            "max": 4,
            "initial": 1,
            "metric": "CPU",
            "scaleInThreshold": 20,
            "scaleOutThreshold": 75,
        },
        "bandwidthMbps": 20,  # unset attributes Terraform stores as 0 or "" are not written
    }
    assert spec["runtime"] == {"type": "conda", "env": {"WEB_CONCURRENCY": "2"}}
    assert spec["logging"] == {
        "logGroup": {"id": "ocid1.loggroup.oc1.iad.amaaaaaagroup"},
        "predict": {"id": "ocid1.log.oc1.iad.amaaaaaapredict"},
    }
    assert spec["freeformTags"] == {"team": "risk"}
    assert spec["definedTags"] == {"Operations": {"CostCenter": "42"}}  # Oracle-Tags are the service's


def test_every_attribute_left_out_and_every_refusal_is_named() -> None:
    _, notes = chosen_for_import(_state())
    assert notes == [
        "oci_datascience_model_deployment.fraud: attribute "
        "model_deployment_configuration_details.infrastructure_configuration_details has no mdr equivalent; "
        "it is not in the manifest",
        'module.serving.oci_datascience_model_deployment.api["eu"] is already managed by mdr stack '
        "'payments'; it was not imported",
        'module.serving.oci_datascience_model_deployment.api["us"] is a MODEL_GROUP deployment: mdr manages '
        "SINGLE_MODEL deployments only; it was not imported",
    ]


def test_computed_attributes_are_state_not_unmapped_configuration() -> None:
    [fraud, *_] = deployments_in_state(_state())
    assert not any(
        path.startswith(("created_by", "model_deployment_url", "time_created")) for path in fraud.unmapped
    )


@pytest.mark.parametrize(
    ("state", "fragment"),
    [
        ({"version": 3, "modules": []}, "not a Terraform state"),
        ({"version": 3, "resources": []}, "format version 3 is not supported"),
        ([], "not a Terraform state"),
    ],
)
def test_what_is_not_a_version_4_state_is_refused(state: Any, fragment: str) -> None:
    with pytest.raises(TerraformStateError, match=fragment):
        deployments_in_state(state)


def test_an_instance_without_an_id_is_refused_by_address() -> None:
    state = _state()
    state["resources"][2]["instances"][0]["attributes"]["id"] = None
    with pytest.raises(
        TerraformStateError, match=r"oci_datascience_model_deployment\.fraud has no attributes"
    ):
        deployments_in_state(state)
