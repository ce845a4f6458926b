"""The emulator's service limits (request rate, work requests per compartment) and its bulk admin writes,
seen through the real SDK (no retries, so every answer is visible) and the unsigned admin API."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import oci
import pytest
from conftest import COMPARTMENT, artifact_zip, wait_for
from oci.data_science import models as dm

from reconciler.emulator import Emulator
from reconciler.emulator.core.limits import DEFAULT_LIMITS, LimitConfig


def admin(emulator: Emulator, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(emulator.url + path, data, {"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def deployable_model(ds: Any) -> tuple[str, str]:
    project = ds.create_project(dm.CreateProjectDetails(compartment_id=COMPARTMENT)).data.id
    model = ds.create_model(dm.CreateModelDetails(compartment_id=COMPARTMENT, project_id=project)).data.id
    ds.create_model_artifact(model, artifact_zip())
    return project, model


def create_details(project: str, model: str) -> Any:
    return dm.CreateModelDeploymentDetails(
        compartment_id=COMPARTMENT,
        project_id=project,
        model_deployment_configuration_details=dm.SingleModelDeploymentConfigurationDetails(
            model_configuration_details=dm.ModelConfigurationDetails(
                model_id=model,
                instance_configuration=dm.InstanceConfiguration(
                    instance_shape_name="VM.Standard.E4.Flex",
                    model_deployment_instance_shape_config_details=dm.ModelDeploymentInstanceShapeConfigDetails(
                        ocpus=1, memory_in_gbs=16
                    ),
                ),
                scaling_policy=dm.FixedSizeScalingPolicy(instance_count=1),
            )
        ),
    )


def test_limits_are_off_until_configured(emulator: Emulator, ds: Any) -> None:
    for _ in range(30):
        ds.list_models(COMPARTMENT)
    assert admin(emulator, "/_emulator/limits") == (
        200,
        {"requests_per_second": 0.0, "burst": 0.0, "work_requests_per_compartment": 0, "refused": {}},
    )


def test_over_the_request_rate_the_service_answers_429_too_many_requests(emulator: Emulator, ds: Any) -> None:
    emulator.limits.configure(LimitConfig(requests_per_second=0.5, burst=3))
    for _ in range(3):
        ds.list_models(COMPARTMENT)
    with pytest.raises(oci.exceptions.ServiceError) as refused:
        ds.list_models(COMPARTMENT)
    assert (refused.value.status, refused.value.code) == (429, "TooManyRequests")
    assert emulator.limits.to_dict()["refused"] == {"TooManyRequests": 1}


def test_one_work_request_too_many_in_a_compartment_is_400_limit_exceeded_and_changes_nothing(
    emulator: Emulator, ds: Any
) -> None:
    project, model = deployable_model(ds)
    emulator.work_request_seconds = 0.3
    emulator.limits.configure(LimitConfig(work_requests_per_compartment=1))
    first = ds.create_model_deployment(create_details(project, model))

    with pytest.raises(oci.exceptions.ServiceError) as refused:
        ds.create_model_deployment(create_details(project, model))

    assert (refused.value.status, refused.value.code) == (400, "LimitExceeded")
    assert "work requests in progress" in refused.value.message
    listed = ds.list_model_deployments(COMPARTMENT).data
    assert [d.id for d in listed] == [first.data.id]  # the refused create made nothing
    wr = first.headers["opc-work-request-id"]
    wait_for(lambda: ds.get_work_request(wr).data.status == "SUCCEEDED")
    ds.create_model_deployment(create_details(project, model))  # a slot is free again
    ds.list_models(COMPARTMENT)  # calls that start no work request are never refused by it


def test_the_limits_admin_api_is_partial_and_refuses_what_it_does_not_know(emulator: Emulator) -> None:
    assert admin(emulator, "/_emulator/limits", {"preset": "default"})[1][
        "work_requests_per_compartment"
    ] == (DEFAULT_LIMITS.work_requests_per_compartment)
    status, body = admin(emulator, "/_emulator/limits", {"work_requests_per_compartment": 3})
    assert status == 200
    assert body["work_requests_per_compartment"] == 3
    assert body["requests_per_second"] == DEFAULT_LIMITS.requests_per_second  # kept
    assert admin(emulator, "/_emulator/limits", {"rate": 1})[0] == 400
    assert admin(emulator, "/_emulator/limits", {"burst": -1})[0] == 400
    assert admin(emulator, "/_emulator/limits", {"preset": "off"})[1]["requests_per_second"] == 0


def test_bulk_loaded_deployments_are_listed_and_read_like_created_ones_and_are_not_api_calls(
    emulator: Emulator, ds: Any
) -> None:
    item = {"compartmentId": COMPARTMENT, "projectId": "p", "displayName": "bulk", "url": "https://x/{id}"}
    status, body = admin(emulator, "/_emulator/bulk", {"collection": "deployments", "items": [item] * 250})

    assert status == 200 and len(set(body["ids"])) == 250
    assert emulator.counters() == {}
    listed = oci.pagination.list_call_get_all_results(ds.list_model_deployments, COMPARTMENT).data
    assert len(listed) == 250 and {d.lifecycle_state for d in listed} == {"ACTIVE"}
    one = ds.get_model_deployment(body["ids"][7])
    assert one.data.display_name == "bulk" and one.headers["etag"]
    assert emulator.store.data["deployments"][body["ids"][7]]["url"] == f"https://x/{body['ids'][7]}"


def test_bulk_and_patch_refuse_bad_input_with_a_message(emulator: Emulator) -> None:
    status, body = admin(emulator, "/_emulator/bulk", {"collection": "secrets", "items": []})
    assert status == 400 and "collection must be one of" in body["message"]
    status, body = admin(
        emulator, "/_emulator/bulk", {"collection": "models", "items": [{"displayName": "x"}]}
    )
    assert status == 400 and "items[0] has no compartmentId" in body["message"]
    status, body = admin(emulator, "/_emulator/patch", {"collection": "models", "id": "nope", "fields": {}})
    assert status == 404
    status, body = admin(
        emulator, "/_emulator/patch", {"collection": "models", "id": "x", "fields": {"_etag": 1}}
    )
    assert status == 400


def test_a_create_retried_with_its_token_is_replayed_even_when_the_compartment_is_full(
    emulator: Emulator, ds: Any
) -> None:
    project, model = deployable_model(ds)
    emulator.work_request_seconds = 30
    emulator.limits.configure(LimitConfig(work_requests_per_compartment=1))
    first = ds.create_model_deployment(create_details(project, model), opc_retry_token="create-once")

    again = ds.create_model_deployment(create_details(project, model), opc_retry_token="create-once")

    assert again.data.id == first.data.id  # the first answer, not LimitExceeded: it starts no new work
