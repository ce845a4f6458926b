"""The emulator, driven only through the real oci SDK (and CLI), as mdr and users drive OCI."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import oci
import pytest
from conftest import COMPARTMENT, artifact_zip, client_kwargs, make_bucket, running_mdr_emulator, wait_for
from oci.data_science import models as dm
from oci.logging import models as lm

from reconciler.emulator import Emulator, FaultConfig


def project(ds: Any, name: str = "p") -> str:
    details = dm.CreateProjectDetails(compartment_id=COMPARTMENT, display_name=name)
    return str(ds.create_project(details).data.id)


ARTIFACT = artifact_zip()


def model_with_artifact(ds: Any, project_id: str, name: str = "m") -> str:
    model = ds.create_model(
        dm.CreateModelDetails(compartment_id=COMPARTMENT, project_id=project_id, display_name=name)
    ).data
    ds.create_model_artifact(model.id, ARTIFACT, content_disposition='attachment; filename="m.zip"')
    return model.id


def deployment_details(project_id: str, model_id: str, name: str = "md", **config: Any) -> Any:
    model_config = dm.ModelConfigurationDetails(
        model_id=model_id,
        instance_configuration=dm.InstanceConfiguration(
            instance_shape_name="VM.Standard.E4.Flex",
            model_deployment_instance_shape_config_details=dm.ModelDeploymentInstanceShapeConfigDetails(
                ocpus=1.0, memory_in_gbs=16.0
            ),
            subnet_id=config.get("subnet_id"),
        ),
        scaling_policy=dm.FixedSizeScalingPolicy(instance_count=1),
        bandwidth_mbps=10,
    )
    return dm.CreateModelDeploymentDetails(
        compartment_id=COMPARTMENT,
        project_id=project_id,
        display_name=name,
        model_deployment_configuration_details=dm.SingleModelDeploymentConfigurationDetails(
            model_configuration_details=model_config,
            environment_configuration_details=dm.DefaultModelDeploymentEnvironmentConfigurationDetails(
                environment_variables={"A": "1"}
            ),
        ),
    )


def active_deployment(ds: Any, **config: Any) -> tuple[str, str, str]:
    project_id = project(ds)
    model_id = model_with_artifact(ds, project_id)
    deployment = ds.create_model_deployment(deployment_details(project_id, model_id, **config)).data
    wait_for(lambda: ds.get_model_deployment(deployment.id).data.lifecycle_state == "ACTIVE")
    return project_id, model_id, deployment.id


def service_error(call: Any) -> oci.exceptions.ServiceError:
    with pytest.raises(oci.exceptions.ServiceError) as info:
        call()
    return info.value


# --- Data Science ----------------------------------------------------------------------------------------


def test_deployment_lifecycle_creating_to_active_through_a_work_request(ds: Any) -> None:
    project_id = project(ds)
    model_id = model_with_artifact(ds, project_id)
    response = ds.create_model_deployment(deployment_details(project_id, model_id))
    assert response.data.lifecycle_state == "CREATING"
    assert response.headers["etag"] and response.headers["opc-work-request-id"]
    config = response.data.model_deployment_configuration_details
    assert config.deployment_type == "SINGLE_MODEL"
    assert config.model_configuration_details.scaling_policy.policy_type == "FIXED_SIZE"
    work_request_id = response.headers["opc-work-request-id"]
    wait_for(lambda: ds.get_work_request(work_request_id).data.status == "SUCCEEDED")
    request = ds.get_work_request(work_request_id).data
    assert request.operation_type == "MODEL_DEPLOYMENT_CREATE"
    assert request.percent_complete == 100.0 and request.time_finished is not None
    assert request.resources[0].identifier == response.data.id
    assert "modeldeployment" in request.resources[0].entity_type.lower().replace("-", "")
    assert ds.get_model_deployment(response.data.id).data.lifecycle_state == "ACTIVE"


def test_composite_waiter_waits_for_the_work_request(ds: Any) -> None:
    project_id = project(ds)
    model_id = model_with_artifact(ds, project_id)
    composite = oci.data_science.DataScienceClientCompositeOperations(ds)
    final = composite.create_model_deployment_and_wait_for_state(
        deployment_details(project_id, model_id),
        wait_for_states=["SUCCEEDED", "FAILED"],
        waiter_kwargs={"max_interval_seconds": 1, "max_wait_seconds": 30},
    )
    assert final.data.status == "SUCCEEDED"


def test_update_deactivate_activate_delete(ds: Any) -> None:
    _, _, deployment_id = active_deployment(ds)
    update = dm.UpdateModelDeploymentDetails(display_name="renamed")
    response = ds.update_model_deployment(deployment_id, update)
    assert response.data is None and response.headers["opc-work-request-id"]
    assert ds.get_model_deployment(deployment_id).data.lifecycle_state == "UPDATING"
    wait_for(lambda: ds.get_model_deployment(deployment_id).data.lifecycle_state == "ACTIVE")
    assert ds.get_model_deployment(deployment_id).data.display_name == "renamed"
    ds.deactivate_model_deployment(deployment_id)
    wait_for(lambda: ds.get_model_deployment(deployment_id).data.lifecycle_state == "INACTIVE")
    ds.activate_model_deployment(deployment_id)
    wait_for(lambda: ds.get_model_deployment(deployment_id).data.lifecycle_state == "ACTIVE")
    ds.change_model_deployment_compartment(
        deployment_id,
        dm.ChangeModelDeploymentCompartmentDetails(compartment_id="ocid1.compartment.oc1..other"),
    )
    assert ds.get_model_deployment(deployment_id).data.compartment_id == "ocid1.compartment.oc1..other"
    ds.delete_model_deployment(deployment_id)
    wait_for(lambda: ds.get_model_deployment(deployment_id).data.lifecycle_state == "DELETED")


def test_update_while_creating_is_incorrect_state(ds: Any, emulator: Emulator) -> None:
    emulator.work_request_seconds = 5
    project_id = project(ds)
    deployment = ds.create_model_deployment(
        deployment_details(project_id, model_with_artifact(ds, project_id))
    ).data
    error = service_error(
        lambda: ds.update_model_deployment(deployment.id, dm.UpdateModelDeploymentDetails(display_name="x"))
    )
    assert (error.status, error.code) == (409, "IncorrectState")


def test_two_option_groups_at_once_are_refused_while_active_but_not_while_inactive(ds: Any) -> None:
    _, model_id, deployment_id = active_deployment(ds)
    both = dm.UpdateModelDeploymentDetails(
        display_name="new name",
        model_deployment_configuration_details=dm.UpdateSingleModelDeploymentConfigurationDetails(
            model_configuration_details=dm.UpdateModelConfigurationDetails(
                model_id=model_id, scaling_policy=dm.FixedSizeScalingPolicy(instance_count=3)
            )
        ),
    )
    error = service_error(lambda: ds.update_model_deployment(deployment_id, both))
    assert error.status == 400 and "compute" in error.message and "name" in error.message
    ds.deactivate_model_deployment(deployment_id)
    wait_for(lambda: ds.get_model_deployment(deployment_id).data.lifecycle_state == "INACTIVE")
    ds.update_model_deployment(deployment_id, both)
    wait_for(lambda: ds.get_model_deployment(deployment_id).data.lifecycle_state == "INACTIVE")
    live = ds.get_model_deployment(deployment_id).data
    assert live.display_name == "new name"
    assert (
        live.model_deployment_configuration_details.model_configuration_details.scaling_policy.instance_count
        == 3
    )


def test_tags_ride_along_with_one_group(ds: Any) -> None:
    _, _, deployment_id = active_deployment(ds)
    ds.update_model_deployment(
        deployment_id, dm.UpdateModelDeploymentDetails(display_name="n2", freeform_tags={"team": "risk"})
    )
    wait_for(lambda: ds.get_model_deployment(deployment_id).data.lifecycle_state == "ACTIVE")
    assert ds.get_model_deployment(deployment_id).data.freeform_tags == {"team": "risk"}


def test_project_id_cannot_be_updated(ds: Any) -> None:
    _, _, deployment_id = active_deployment(ds)
    error = service_error(
        lambda: ds.update_model_deployment(deployment_id, {"projectId": "ocid1.datascienceproject.oc1.iad.x"})
    )
    assert error.status == 400 and "projectId" in error.message


def test_custom_networking_cannot_go_back_to_default(ds: Any) -> None:
    _, model_id, deployment_id = active_deployment(ds, subnet_id="ocid1.subnet.oc1.iad.aaaa")
    update = dm.UpdateModelDeploymentDetails(
        model_deployment_configuration_details=dm.UpdateSingleModelDeploymentConfigurationDetails(
            model_configuration_details=dm.UpdateModelConfigurationDetails(
                model_id=model_id,
                instance_configuration=dm.InstanceConfiguration(instance_shape_name="VM.Standard.E4.Flex"),
            )
        )
    )
    error = service_error(lambda: ds.update_model_deployment(deployment_id, update))
    assert error.status == 400 and "default networking" in error.message


def test_deployment_needs_a_model_with_an_artifact(ds: Any) -> None:
    project_id = project(ds)
    bare = ds.create_model(dm.CreateModelDetails(compartment_id=COMPARTMENT, project_id=project_id)).data
    error = service_error(lambda: ds.create_model_deployment(deployment_details(project_id, bare.id)))
    assert error.status == 400 and "no artifact" in error.message


def test_artifacts_are_immutable_and_readable(ds: Any) -> None:
    project_id = project(ds)
    model_id = model_with_artifact(ds, project_id)
    error = service_error(lambda: ds.create_model_artifact(model_id, artifact_zip("x = 1\n")))
    assert error.status == 409
    head = ds.head_model_artifact(model_id)
    assert int(head.headers["content-length"]) == len(ARTIFACT)
    assert head.headers["content-md5"] and head.headers["content-disposition"]
    assert ds.get_model_artifact_content(model_id).data.content == ARTIFACT
    bare = ds.create_model(dm.CreateModelDetails(compartment_id=COMPARTMENT, project_id=project_id)).data
    assert service_error(lambda: ds.head_model_artifact(bare.id)).status == 404


def test_model_in_use_cannot_be_deleted(ds: Any) -> None:
    _, model_id, deployment_id = active_deployment(ds)
    error = service_error(lambda: ds.delete_model(model_id))
    assert error.status == 409 and deployment_id in error.message
    ds.delete_model_deployment(deployment_id)
    wait_for(lambda: ds.get_model_deployment(deployment_id).data.lifecycle_state == "DELETED")
    ds.delete_model(model_id)
    assert ds.get_model(model_id).data.lifecycle_state == "DELETED"


def test_list_accepts_only_one_filter_besides_compartment(ds: Any) -> None:
    active_deployment(ds)
    assert len(ds.list_model_deployments(COMPARTMENT, display_name="md").data) == 1
    error = service_error(
        lambda: ds.list_model_deployments(COMPARTMENT, display_name="md", lifecycle_state="ACTIVE")
    )
    assert (error.status, error.code) == (400, "InvalidParameter")


def test_pagination_with_the_sdk_helper(ds: Any, emulator: Emulator) -> None:
    project_id = project(ds)
    for index in range(7):
        ds.create_model(
            dm.CreateModelDetails(compartment_id=COMPARTMENT, project_id=project_id, display_name=f"m{index}")
        )
    emulator.reset_counters()
    first = ds.list_models(COMPARTMENT, limit=3)
    assert len(first.data) == 3 and first.has_next_page
    items = oci.pagination.list_call_get_all_results(ds.list_models, COMPARTMENT, limit=3).data
    assert sorted(m.display_name for m in items) == [f"m{i}" for i in range(7)]
    assert emulator.counters()["ListModels"] == 1 + 3
    last = ds.list_models(COMPARTMENT, limit=3, page=first.next_page)
    last = ds.list_models(COMPARTMENT, limit=3, page=last.next_page)
    assert not last.has_next_page and "opc-next-page" not in last.headers


def test_if_match_mismatch_is_412(ds: Any) -> None:
    _, _, deployment_id = active_deployment(ds)
    error = service_error(
        lambda: ds.update_model_deployment(
            deployment_id, dm.UpdateModelDeploymentDetails(display_name="x"), if_match="stale-etag"
        )
    )
    assert (error.status, error.code) == (412, "NoEtagMatch")
    etag = ds.get_model_deployment(deployment_id).headers["etag"]
    ds.update_model_deployment(
        deployment_id, dm.UpdateModelDeploymentDetails(display_name="x"), if_match=etag
    )


def test_retry_token_replays_and_detects_a_different_body(ds: Any) -> None:
    project_id = project(ds)
    model_id = model_with_artifact(ds, project_id)
    first = ds.create_model_deployment(deployment_details(project_id, model_id), opc_retry_token="token-1")
    again = ds.create_model_deployment(deployment_details(project_id, model_id), opc_retry_token="token-1")
    assert again.data.id == first.data.id
    assert len(ds.list_model_deployments(COMPARTMENT).data) == 1
    error = service_error(
        lambda: ds.create_model_deployment(
            deployment_details(project_id, model_id, "other"), opc_retry_token="token-1"
        )
    )
    assert error.status == 409


def test_request_ids_are_echoed(ds: Any) -> None:
    response = ds.list_models(COMPARTMENT, opc_request_id="ABCDEF0123456789")
    assert response.request_id == "ABCDEF0123456789"


def test_unknown_resources_are_404_not_authorized_or_not_found(ds: Any) -> None:
    error = service_error(lambda: ds.get_model_deployment("ocid1.datasciencemodeldeployment.oc1.iad.nope"))
    assert (error.status, error.code) == (404, "NotAuthorizedOrNotFound")


# --- signatures -------------------------------------------------------------------------------------------


def test_a_foreign_key_or_no_signature_is_401(emulator: Emulator, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    config = dict(emulator.oci_config())
    config["key_content"] = other.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    client = oci.data_science.DataScienceClient(config, **client_kwargs(emulator))
    error = service_error(lambda: client.list_models(COMPARTMENT))
    assert (error.status, error.code) == (401, "NotAuthenticated")
    request = urllib.request.Request(f"{emulator.url}/20190101/models?compartmentId={COMPARTMENT}")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request)
    assert info.value.code == 401
    assert json.loads(info.value.read())["code"] == "NotAuthenticated"


# --- Logging ----------------------------------------------------------------------------------------------


def test_log_groups_and_logs_are_created_asynchronously(logging_client: Any) -> None:
    response = logging_client.create_log_group(
        lm.CreateLogGroupDetails(compartment_id=COMPARTMENT, display_name="risk-logs")
    )
    assert response.data is None
    work_request_id = response.headers["opc-work-request-id"]
    wait_for(lambda: logging_client.get_work_request(work_request_id).data.status == "SUCCEEDED")
    group_id = logging_client.get_work_request(work_request_id).data.resources[0].identifier
    assert logging_client.get_log_group(group_id).data.lifecycle_state == "ACTIVE"
    duplicate = service_error(
        lambda: logging_client.create_log_group(
            lm.CreateLogGroupDetails(compartment_id=COMPARTMENT, display_name="risk-logs")
        )
    )
    assert duplicate.status == 409
    created = logging_client.create_log(
        group_id, lm.CreateLogDetails(display_name="access", log_type="CUSTOM", is_enabled=True)
    )
    wait_for(
        lambda: (
            logging_client.get_work_request(created.headers["opc-work-request-id"]).data.status == "SUCCEEDED"
        )
    )
    [log] = logging_client.list_logs(group_id, display_name="access").data
    assert log.lifecycle_state == "ACTIVE" and log.log_type == "CUSTOM"
    assert [
        g.display_name for g in logging_client.list_log_groups(COMPARTMENT, display_name="risk-logs").data
    ] == ["risk-logs"]


# --- Object Storage ---------------------------------------------------------------------------------------


def test_objects_with_conditional_writes(objects: Any) -> None:
    namespace = make_bucket(objects, "bucket")
    put = objects.put_object(namespace, "bucket", "locks/stack.json", b"one", if_none_match="*")
    error = service_error(
        lambda: objects.put_object(namespace, "bucket", "locks/stack.json", b"two", if_none_match="*")
    )
    assert error.status == 412
    error = service_error(
        lambda: objects.put_object(namespace, "bucket", "locks/stack.json", b"two", if_match="nope")
    )
    assert error.status == 412
    objects.put_object(namespace, "bucket", "locks/stack.json", b"two", if_match=put.headers["etag"])
    assert objects.get_object(namespace, "bucket", "locks/stack.json").data.content == b"two"
    assert objects.head_object(namespace, "bucket", "locks/stack.json").headers["content-length"] == "3"
    assert [o.name for o in objects.list_objects(namespace, "bucket").data.objects] == ["locks/stack.json"]
    objects.delete_object(namespace, "bucket", "locks/stack.json")
    assert service_error(lambda: objects.head_object(namespace, "bucket", "locks/stack.json")).status == 404


def test_multipart_upload_and_export_into_a_model(objects: Any, ds: Any, tmp_path: Path) -> None:
    namespace = make_bucket(objects, "artifacts")
    payload = artifact_zip() + b"\0" * (3 * 1024 * 1024)
    source = tmp_path / "big.zip"
    source.write_bytes(payload)
    manager = oci.object_storage.UploadManager(objects, allow_parallel_uploads=False)
    manager.upload_file(namespace, "artifacts", "big.zip", str(source), part_size=1024 * 1024)
    assert objects.get_object(namespace, "artifacts", "big.zip").data.content == payload
    project_id = project(ds)
    model = ds.create_model(dm.CreateModelDetails(compartment_id=COMPARTMENT, project_id=project_id)).data
    details = dm.ExportModelArtifactDetails(
        artifact_export_details=dm.ArtifactExportDetailsObjectStorage(
            namespace=namespace,
            source_bucket="artifacts",
            source_object_name="big.zip",
            source_region="us-ashburn-1",
        )
    )
    response = ds.export_model_artifact(model.id, details)
    wait_for(lambda: ds.get_work_request(response.headers["opc-work-request-id"]).data.status == "SUCCEEDED")
    assert int(ds.head_model_artifact(model.id).headers["content-length"]) == len(payload)


# --- faults, counters, persistence, predict ---------------------------------------------------------------


def test_injected_throttling_and_errors_reach_the_client(ds: Any, emulator: Emulator) -> None:
    emulator.set_faults(FaultConfig(error_rates={"ListModels": {429: 1.0}}, seed=1))
    error = service_error(lambda: ds.list_models(COMPARTMENT))
    assert (error.status, error.code) == (429, "TooManyRequests")
    emulator.set_faults(FaultConfig(error_rates={"*": {503: 1.0}}))
    assert service_error(lambda: ds.list_projects(COMPARTMENT)).status == 503
    emulator.set_faults(FaultConfig())
    assert ds.list_models(COMPARTMENT).status == 200
    assert emulator.faulted()["ListModels"] == 1


def test_sdk_retry_strategy_rides_over_injected_faults(emulator: Emulator) -> None:
    emulator.set_faults(FaultConfig(error_rates={"*": {500: 0.5}}, seed=7))
    retry = oci.retry.RetryStrategyBuilder(
        max_attempts=10, retry_base_sleep_time_seconds=0.01, retry_max_wait_between_calls_seconds=0.05
    ).get_retry_strategy()
    kwargs = client_kwargs(emulator) | {"retry_strategy": retry}
    client = oci.data_science.DataScienceClient(emulator.oci_config(), **kwargs)
    for _ in range(10):
        assert client.list_models(COMPARTMENT).status == 200
    assert sum(emulator.faulted().values()) > 0


def test_failed_work_requests_and_failing_models(ds: Any, emulator: Emulator) -> None:
    project_id = project(ds)
    model_id = model_with_artifact(ds, project_id)
    emulator.set_faults(FaultConfig(fail_deployments_for_models={model_id}))
    response = ds.create_model_deployment(deployment_details(project_id, model_id))
    work_request_id = response.headers["opc-work-request-id"]
    wait_for(lambda: ds.get_work_request(work_request_id).data.status == "FAILED")
    assert ds.get_model_deployment(response.data.id).data.lifecycle_state == "FAILED"
    errors = ds.list_work_request_errors(work_request_id).data
    assert errors and "failed" in errors[0].message
    emulator.set_faults(FaultConfig(fail_work_requests=1.0))
    other = model_with_artifact(ds, project_id, "other")
    response = ds.create_model_deployment(deployment_details(project_id, other))
    wait_for(lambda: ds.get_work_request(response.headers["opc-work-request-id"]).data.status == "FAILED")


def test_latency_is_injected(ds: Any, emulator: Emulator) -> None:
    import time

    emulator.set_faults(FaultConfig(latency_ms=150))
    started = time.monotonic()
    ds.list_models(COMPARTMENT)
    assert time.monotonic() - started >= 0.15


def test_admin_endpoint_sets_faults_and_reads_counters(ds: Any, emulator: Emulator) -> None:
    ds.list_models(COMPARTMENT)
    with urllib.request.urlopen(f"{emulator.url}/_emulator/counters") as answer:
        counters = json.loads(answer.read())
    assert counters["calls"]["ListModels"] == 1 and counters["mutating"] == 0
    request = urllib.request.Request(
        f"{emulator.url}/_emulator/faults",
        data=json.dumps({"error_rates": {"ListModels": {"500": 1.0}}}).encode(),
        method="POST",
    )
    urllib.request.urlopen(request).read()
    assert service_error(lambda: ds.list_models(COMPARTMENT)).status == 500


def test_state_survives_a_restart_and_in_flight_work_completes(tmp_path: Path) -> None:
    first = Emulator(state_dir=tmp_path / "state", work_request_seconds=0.5).start()
    client = oci.data_science.DataScienceClient(first.oci_config(), **client_kwargs(first))
    project_id = project(client)
    model_id = model_with_artifact(client, project_id)
    created = client.create_model_deployment(deployment_details(project_id, model_id)).data
    config = first.oci_config()
    first.stop()
    second = Emulator(state_dir=tmp_path / "state", work_request_seconds=0.5).start()
    try:
        assert second.oci_config()["fingerprint"] == config["fingerprint"], "the key survives the restart"
        client = oci.data_science.DataScienceClient(second.oci_config(), **client_kwargs(second))
        wait_for(lambda: client.get_model_deployment(created.id).data.lifecycle_state == "ACTIVE")
        assert client.get_model_artifact_content(model_id).data.content == ARTIFACT
    finally:
        second.stop()


def test_active_conda_deployment_serves_signed_predict_calls(ds: Any, emulator: Emulator) -> None:
    from oci._vendor import requests

    _, _, deployment_id = active_deployment(ds)
    url = ds.get_model_deployment(deployment_id).data.model_deployment_url + "/predict"
    signer = ds.base_client.signer  # how mdr predict signs its calls
    answer = requests.post(url, json={"x": [1, 2]}, auth=signer, timeout=30)
    assert (answer.status_code, answer.json()) == (200, {"prediction": [3, 6]})
    unsigned = requests.post(url, json={"x": [1, 2]}, timeout=30)
    assert (unsigned.status_code, unsigned.json()["code"]) == (401, "NotAuthenticated")
    ds.deactivate_model_deployment(deployment_id)
    wait_for(lambda: ds.get_model_deployment(deployment_id).data.lifecycle_state == "INACTIVE")
    assert requests.post(url, json={"x": [1, 2]}, auth=signer, timeout=30).status_code == 409


@pytest.mark.skipif(shutil.which("oci") is None, reason="the oci CLI is not installed")
def test_oci_cli_lists_and_gets_deployments(ds: Any, emulator: Emulator, tmp_path: Path) -> None:
    _, _, deployment_id = active_deployment(ds)
    config = emulator.write_oci_config(tmp_path / "oci")
    base = ["oci", "--config-file", str(config), "--endpoint", emulator.url, "--output", "json"]
    env = {"OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING": "True", "PATH": __import__("os").environ["PATH"]}
    listed = subprocess.run(
        [*base, "data-science", "model-deployment", "list", "--compartment-id", COMPARTMENT],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["data"][0]["id"] == deployment_id
    got = subprocess.run(
        [*base, "data-science", "model-deployment", "get", "--model-deployment-id", deployment_id],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["data"]["lifecycle-state"] == "ACTIVE"


@contextmanager
def mdr_emulator(tmp_path: Any, *options: str) -> Iterator[Any]:
    """``mdr emulator`` as a user starts it; yields a DataScienceClient built from the config it prints."""
    with running_mdr_emulator(tmp_path, *options) as (_, url, config):
        yield oci.data_science.DataScienceClient(
            config, service_endpoint=url, retry_strategy=oci.retry.NoneRetryStrategy()
        )


def test_mdr_emulator_command_accepts_its_options_and_writes_a_usable_config(tmp_path: Any) -> None:
    with mdr_emulator(tmp_path) as client:
        assert client.list_projects(COMPARTMENT).data == []


def test_mdr_emulator_injects_faults_given_at_start(tmp_path: Any) -> None:
    options = ("--error-rate", "ListProjects=503:1.0", "--latency-ms", "5", "--seed", "7")
    with mdr_emulator(tmp_path, *options) as client:
        with pytest.raises(oci.exceptions.ServiceError) as raised:
            client.list_projects(COMPARTMENT)
        assert raised.value.status == 503
        assert client.list_models(COMPARTMENT).data == []  # other operations are not faulted


def _post_faults(emulator: Emulator, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{emulator.url}/_emulator/faults", data=json.dumps(body).encode(), method="POST"
    )
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_fault_updates_are_partial_and_unknown_keys_are_refused(emulator: Emulator) -> None:
    assert _post_faults(emulator, {"latency_ms": 5, "fail_work_requests": 0.5})[0] == 200
    status, faults = _post_faults(emulator, {"error_rates": {"*": {"503": 0.1}}})
    assert status == 200
    assert (faults["latency_ms"], faults["fail_work_requests"]) == (5, 0.5)  # kept, not reset
    assert faults["error_rates"] == {"*": {"503": 0.1}}
    status, answer = _post_faults(emulator, {"latncy_ms": 100})
    assert status == 400 and "latncy_ms" in answer["message"]
    assert emulator.faults.latency_ms == 5
