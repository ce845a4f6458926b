"""MODEL_GROUP request bodies: the group and the instances where the service wants them, read back to the
same canonical form, and LIVE sent only for an update that changes nothing but the group."""

from __future__ import annotations

from typing import Any

import oci
import pytest

from reconciler.adapters.wire import SECTION_BANDWIDTH, SECTION_MODEL
from reconciler.adapters.wire_groups import create_details, update_details
from reconciler.core.canonical import deployment_from_wire

GROUP = "ocid1.datasciencemodelgroup.oc1.iad.aaaaaaaagroup"
CANONICAL: dict[str, Any] = {
    "displayName": "pricing",
    "description": None,
    "compartmentId": "ocid1.compartment.oc1..aaaaaaaashop",
    "projectId": "ocid1.datascienceproject.oc1.iad.aaaaaaaashop",
    "state": "ACTIVE",
    "model": {
        "groupId": GROUP,
        "groupType": "HOMOGENEOUS",
        "members": {"tax": "ocid1.datasciencemodel.oc1..t"},
    },
    "infrastructure": {
        "shape": "VM.Standard.E4.Flex",
        "ocpus": 1.0,
        "memoryInGBs": 16.0,
        "cpuBaseline": "BASELINE_1_1",
        "autoscaling": None,
        "replicas": 2,
        "bandwidthMbps": 10,
        "maximumBandwidthMbps": None,
        "subnetId": None,
        "privateEndpointId": None,
        "networkAccessType": "MANAGED_NETWORKING_INTERNET_ACCESS",
        "capacityReservationIds": [],
    },
    "runtime": {"type": "conda", "env": {"A": "1"}, "secretEnv": {}},
    "logging": None,
    "freeformTags": {},
    "definedTags": {},
}


def test_a_create_names_the_group_and_reads_back_as_written() -> None:
    body = oci.util.to_dict(create_details(CANONICAL, {}, {"mdr-stack": "shop"}))
    config = body["model_deployment_configuration_details"]
    assert config["deployment_type"] == "MODEL_GROUP"
    assert config["model_group_configuration_details"] == {"model_group_id": GROUP}
    pool = config["infrastructure_configuration_details"]
    assert pool["infrastructure_type"] == "INSTANCE_POOL" and pool["scaling_policy"]["instance_count"] == 2
    live = deployment_from_wire(body, set(), "s")
    assert live["model"] == {"groupId": GROUP, "groupType": None, "members": None}
    assert live["infrastructure"] == CANONICAL["infrastructure"]
    assert live["runtime"] == CANONICAL["runtime"]


@pytest.mark.parametrize(
    ("asked", "sections", "sent"),
    [
        ("LIVE", {SECTION_MODEL}, "LIVE"),
        ("LIVE", {SECTION_MODEL, SECTION_BANDWIDTH}, "ZDT"),
        ("ZDT", {SECTION_MODEL}, "ZDT"),
        ("LIVE", {SECTION_BANDWIDTH}, "ZDT"),
    ],
    ids=["a group change alone, as asked", "with another change", "zero downtime asked", "no group change"],
)
def test_live_is_sent_only_for_a_change_of_the_group_alone(asked: str, sections: set[str], sent: str) -> None:
    body = oci.util.to_dict(update_details({**CANONICAL, "groupUpdateType": asked}, sections, None, {}, None))
    config = body["model_deployment_configuration_details"]
    assert config["update_type"] == sent
    carries_group = config.get("model_group_configuration_details") is not None
    assert carries_group == (SECTION_MODEL in sections)
    assert (config.get("infrastructure_configuration_details") is not None) == (SECTION_BANDWIDTH in sections)


def test_a_name_only_update_sends_no_configuration() -> None:
    body = oci.util.to_dict(update_details({**CANONICAL, "displayName": "new"}, {"name"}, None, {}, None))
    assert body["display_name"] == "new" and body.get("model_deployment_configuration_details") is None
