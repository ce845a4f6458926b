"""Resource Search: the structured queries mdr uses to find a stack's resources in every compartment."""

from __future__ import annotations

from typing import Any

import oci
import pytest
from conftest import COMPARTMENT, client_kwargs, wait_for
from oci.data_science import models as dm
from oci.logging import models as lm
from oci.resource_search import models as rm
from test_emulator_sdk import deployment_details, model_with_artifact, project, service_error

from reconciler.emulator import Emulator

OTHER = "ocid1.compartment.oc1..aaaaaaaaother"
STACK_QUERY = (
    "query datasciencemodeldeployment resources "
    "where (freeformTags.key = 'mdr-stack' && freeformTags.value = '{}')"
)


@pytest.fixture
def search(emulator: Emulator) -> Any:
    return oci.resource_search.ResourceSearchClient(emulator.oci_config(), **client_kwargs(emulator))


def query(search: Any, text: str, **kwargs: Any) -> list[Any]:
    details = rm.StructuredSearchDetails(query=text, type="Structured", matching_context_type="NONE")
    return list(search.search_resources(details, **kwargs).data.items)


def deploy(ds: Any, name: str, compartment: str, tags: dict[str, str]) -> str:
    project_id = project(ds, name)
    model_id = model_with_artifact(ds, project_id, name)
    details = deployment_details(project_id, model_id, name)
    details.compartment_id = compartment
    details.freeform_tags = tags
    return str(ds.create_model_deployment(details).data.id)


def test_a_stacks_deployments_are_found_in_every_compartment(ds: Any, search: Any) -> None:
    here = deploy(ds, "a1", COMPARTMENT, {"mdr-stack": "risk"})
    there = deploy(ds, "a2", OTHER, {"mdr-stack": "risk", "team": "x"})
    deploy(ds, "b", COMPARTMENT, {"mdr-stack": "other"})
    deploy(ds, "crossed", COMPARTMENT, {"mdr-stack": "other", "owner": "risk"})  # key and value of two tags
    found = {item.identifier: item for item in query(search, STACK_QUERY.format("risk"))}
    assert set(found) == {here, there}
    item = found[there]
    assert isinstance(item, rm.ResourceSummary)
    assert (item.resource_type, item.compartment_id, item.display_name) == (
        "DataScienceModelDeployment",
        OTHER,
        "a2",
    )
    # CREATING, or already ACTIVE on a loaded machine (the work request is short)
    assert item.lifecycle_state in ("CREATING", "ACTIVE")
    assert item.freeform_tags == {"mdr-stack": "risk", "team": "x"}
    wait_for(lambda: query(search, STACK_QUERY.format("risk"))[0].lifecycle_state == "ACTIVE")


def test_models_log_groups_and_logs_are_searchable(ds: Any, search: Any, emulator: Emulator) -> None:
    tags = {"mdr-stack": "risk"}
    model = ds.create_model(
        dm.CreateModelDetails(compartment_id=COMPARTMENT, project_id=project(ds), freeform_tags=tags)
    ).data
    logging_client = oci.logging.LoggingManagementClient(emulator.oci_config(), **client_kwargs(emulator))
    created = logging_client.create_log_group(
        lm.CreateLogGroupDetails(compartment_id=OTHER, display_name="g", freeform_tags=tags)
    )
    request_id = created.headers["opc-work-request-id"]
    wait_for(lambda: logging_client.get_work_request(request_id).data.status == "SUCCEEDED")
    group_id = logging_client.get_work_request(request_id).data.resources[0].identifier
    logging_client.create_log(
        group_id, lm.CreateLogDetails(display_name="l", log_type="CUSTOM", freeform_tags=tags)
    )
    condition = "where (freeformTags.key = 'mdr-stack' && freeformTags.value = 'risk')"
    every = {(i.resource_type, i.identifier) for i in query(search, f"query all resources {condition}")}
    types = {resource_type for resource_type, _ in every}
    assert types == {"DataScienceModel", "LogGroup", "Log"} and ("DataScienceModel", model.id) in every
    two = query(search, f"QUERY DataScienceModel, LogGroup resources {condition}")
    assert {i.resource_type for i in two} == {"DataScienceModel", "LogGroup"}
    ds.delete_model(model.id)
    [deleted] = query(search, f"query datasciencemodel resources {condition}")
    assert deleted.lifecycle_state == "DELETED"


def test_more_conditions_narrow_the_result(ds: Any, search: Any) -> None:
    deploy(ds, "one", COMPARTMENT, {"mdr-stack": "risk"})
    deploy(ds, "two", COMPARTMENT, {"mdr-stack": "risk"})
    text = STACK_QUERY.format("RISK") + " && displayName = 'two'"
    assert [i.display_name for i in query(search, text)] == ["two"], "string comparisons ignore case"
    assert (
        len(query(search, "query datasciencemodeldeployment resources where freeformTags.key = 'mdr-stack'"))
        == 2
    )
    assert query(search, "query datasciencemodeldeployment resources") != []


def test_results_are_paged(ds: Any, search: Any) -> None:
    for index in range(3):
        deploy(ds, f"d{index}", COMPARTMENT, {"mdr-stack": "risk"})
    details = rm.StructuredSearchDetails(query=STACK_QUERY.format("risk"), type="Structured")
    first = search.search_resources(details, limit=2)
    assert len(first.data.items) == 2 and first.has_next_page
    rest = search.search_resources(details, limit=2, page=first.next_page)
    assert len(rest.data.items) == 1 and not rest.has_next_page
    every = oci.pagination.list_call_get_all_results(search.search_resources, details, limit=1).data
    assert len(every) == 3


@pytest.mark.parametrize(
    "text",
    [
        "query instance resources",
        "query datasciencemodeldeployment resources where freeformTags.key = 'a' || displayName = 'b'",
        "query datasciencemodeldeployment resources where displayName != 'b'",
        "query datasciencemodeldeployment resources sorted by timeCreated desc",
        "query datasciencemodeldeployment resources return allAdditionalFields",
        "query datasciencemodeldeployment resources where definedTags.key = 'x'",
        "query datasciencemodeldeployment resources where (freeformTags.key = 'a'",
        "query datasciencemodeldeployment resources where displayName = 'unterminated",
        "select * from deployments",
        "query resources",
    ],
)
def test_anything_outside_the_supported_grammar_is_400(search: Any, text: str) -> None:
    error = service_error(lambda: query(search, text))
    assert (error.status, error.code) == (400, "InvalidParameter")


def test_free_text_search_is_refused(search: Any) -> None:
    details = rm.FreeTextSearchDetails(text="risk", type="FreeText")
    error = service_error(lambda: search.search_resources(details))
    assert (error.status, error.code) == (400, "InvalidParameter")


def test_the_fleets_query_finds_every_resource_with_the_tag_whatever_its_value(ds: Any, search: Any) -> None:
    risk = deploy(ds, "r", COMPARTMENT, {"mdr-stack": "risk"})
    fraud = deploy(ds, "f", OTHER, {"mdr-stack": "fraud"})
    deploy(ds, "untagged", COMPARTMENT, {"team": "mdr-stack"})  # the value, not the key
    found = query(search, "query all resources where freeformTags.key = 'MDR-STACK'")
    assert {i.identifier for i in found if i.resource_type == "DataScienceModelDeployment"} == {risk, fraud}
    assert {(i.freeform_tags["mdr-stack"], i.compartment_id) for i in found} >= {
        ("risk", COMPARTMENT),
        ("fraud", OTHER),
    }
