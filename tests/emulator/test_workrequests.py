"""The work-request engine on its own: the real store and backends, no HTTP.

Each operation's lifecycle effect is one row of a transition table; these tests check that the row runs once,
that a restarted emulator finishes an open work request with that same row, and that a failed work request
takes the row's failure branch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.emulator.core.store import Store
from reconciler.emulator.core.workrequests import Outcome, Transition, WorkRequestKind, WorkRequests
from reconciler.emulator.datascience.backend import WORK_REQUESTS, DataScienceBackend, DeploymentsBackend
from reconciler.emulator.logging.backend import WORK_REQUESTS as LOGGING_WORK_REQUESTS
from reconciler.emulator.logging.backend import LoggingBackend
from reconciler.emulator.objectstorage.backend import NAMESPACE, ObjectStorageBackend

COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaatest"


@dataclass
class Services:
    """What ``Emulator`` builds, minus the HTTP server."""

    store: Store
    work_requests: WorkRequests
    objects: ObjectStorageBackend
    logging: LoggingBackend
    models: DataScienceBackend
    deployments: DeploymentsBackend
    changed: list[str] = field(default_factory=list)

    def work_request(self, wr_id: str, kind: WorkRequestKind = WORK_REQUESTS) -> dict[str, Any]:
        return self.work_requests.get(kind, wr_id)

    def log_resource(self, wr_id: str) -> str:
        """The log group or log that a Logging work request is about."""
        return str(self.work_request(wr_id, LOGGING_WORK_REQUESTS)["resources"][0]["identifier"])


def services(directory: Path | None = None) -> Services:
    """Work requests are due at once (``work_request_seconds=0``), so one tick finishes them."""
    store = Store(directory, "us-ashburn-1", work_request_seconds=0.0)
    work_requests = WorkRequests(store)
    objects = ObjectStorageBackend(store)
    logging = LoggingBackend(store, work_requests)
    models = DataScienceBackend(store, work_requests, objects)
    deployments = DeploymentsBackend(store, work_requests, models)
    built = Services(store, work_requests, objects, logging, models, deployments)
    deployments.on_change = built.changed.append
    return built


def deployment_body(model_id: str) -> dict[str, Any]:
    return {
        "compartmentId": COMPARTMENT,
        "projectId": "ocid1.datascienceproject.oc1.iad.unknown",
        "displayName": "md",
        "modelDeploymentConfigurationDetails": {
            "deploymentType": "SINGLE_MODEL",
            "modelConfigurationDetails": {
                "modelId": model_id,
                "instanceConfiguration": {"instanceShapeName": "VM.Standard.E4.Flex"},
            },
        },
    }


def deployable_model(world: Services) -> str:
    model = world.models.create_model({"compartmentId": COMPARTMENT, "projectId": "p"})
    world.models.create_artifact(model["id"], b"artifact", None)
    return str(model["id"])


def active_deployment(world: Services) -> str:
    deployment, _ = world.deployments.create(deployment_body(deployable_model(world)))
    world.work_requests.tick()
    assert deployment["lifecycleState"] == "ACTIVE"
    return str(deployment["id"])


def test_an_effect_runs_once_when_its_work_request_succeeds() -> None:
    store = Store(None, "us-ashburn-1", work_request_seconds=0.0)
    engine = WorkRequests(store)
    seen: list[Outcome] = []
    kind = WorkRequestKind("ds_work_requests", "datascienceworkrequest")
    engine.register({"PING": Transition(kind, "thing", "UPDATED", seen.append)})

    wr_id = engine.start("PING", COMPARTMENT, "ocid1.thing", "/things/1", {"why": "test"})
    assert engine.tick() is True
    assert engine.tick() is False, "nothing is left to finish"

    assert seen == [Outcome("ocid1.thing", True, {"why": "test"})]
    wr = engine.get(kind, wr_id)
    assert wr["status"] == "SUCCEEDED"
    assert wr["resources"][0]["actionType"] == "UPDATED"
    assert wr["percentComplete"] == 100.0


def test_a_deployment_becomes_active_through_one_transition() -> None:
    world = services()
    deployment, wr_id = world.deployments.create(deployment_body(deployable_model(world)))
    assert deployment["lifecycleState"] == "CREATING"
    etag = deployment["_etag"]

    world.work_requests.tick()
    world.work_requests.tick()

    assert (deployment["lifecycleState"], deployment["lifecycleDetails"]) == ("ACTIVE", "Active")
    assert deployment["_etag"] != etag
    assert world.changed == [deployment["id"]], "the effect ran once"
    assert world.work_request(wr_id)["status"] == "SUCCEEDED"


def _inactive_deployment_with_an_open_update(world: Services) -> tuple[str, str]:
    deployment_id = active_deployment(world)
    world.deployments.deactivate(deployment_id, None)
    world.work_requests.tick()
    wr_id = world.deployments.update(deployment_id, {"displayName": "renamed"}, None)
    assert world.deployments.get(deployment_id)["lifecycleState"] == "UPDATING"
    return deployment_id, wr_id


def test_a_restart_finishes_an_open_work_request_with_the_same_effect(tmp_path: Path) -> None:
    live = services()
    live_id, live_wr = _inactive_deployment_with_an_open_update(live)
    live.work_requests.tick()

    before = services(tmp_path / "state")
    deployment_id, wr_id = _inactive_deployment_with_an_open_update(before)
    before.store.save()  # the emulator stops here, with the update in flight

    after = services(tmp_path / "state")
    assert after.work_request(wr_id)["status"] == "ACCEPTED"
    after.work_requests.tick()

    resumed = after.deployments.get(deployment_id)
    finished_live = live.deployments.get(live_id)
    assert resumed["lifecycleState"] == "INACTIVE", "back to the state it had before the update"
    for key in ("lifecycleState", "lifecycleDetails", "displayName"):
        assert resumed[key] == finished_live[key]
    assert after.work_request(wr_id)["status"] == live.work_request(live_wr)["status"] == "SUCCEEDED"
    assert after.changed == [deployment_id], "the restarted emulator's serving is told too"


def test_a_failed_work_request_applies_the_failure_transition() -> None:
    world = services()
    deployment_id = active_deployment(world)
    group_wr = world.logging.create_group({"compartmentId": COMPARTMENT, "displayName": "g"})
    world.work_requests.tick()
    world.store.faults.fail_work_requests = 1.0

    update_wr = world.deployments.update(deployment_id, {"displayName": "renamed"}, None)
    log_wr = world.logging.create_log(world.log_resource(group_wr), {"displayName": "l", "logType": "CUSTOM"})
    world.work_requests.tick()

    deployment = world.deployments.get(deployment_id)
    assert (deployment["lifecycleState"], deployment["lifecycleDetails"]) == (
        "NEEDS_ATTENTION",
        "Update failed",
    )
    update = world.work_request(update_wr)
    assert update["status"] == "FAILED"
    assert update["resources"][0]["actionType"] == "FAILED"
    assert update["_errors"][0]["message"] == "MODEL_DEPLOYMENT_UPDATE failed (injected fault)"
    assert world.logging.log(world.log_resource(log_wr))["lifecycleState"] == "FAILED"
    assert world.work_request(log_wr, LOGGING_WORK_REQUESTS)["status"] == "FAILED"


def test_an_effect_that_cannot_apply_fails_its_work_request() -> None:
    world = services()
    model = world.models.create_model({"compartmentId": COMPARTMENT, "projectId": "p"})
    details = {"namespace": NAMESPACE, "sourceBucket": "b", "sourceObjectName": "missing.zip"}
    wr_id = world.models.export_artifact(model["id"], details)

    world.work_requests.tick()

    wr = world.work_request(wr_id)
    assert wr["status"] == "FAILED"
    assert wr["_errors"][0]["message"] == "object missing.zip not found in b"
    assert model["id"] not in world.store.data["artifacts"]


def test_a_successful_update_brings_a_deployment_back_from_needs_attention() -> None:
    """As on OCI: NEEDS_ATTENTION accepts updates (zero downtime); one that succeeds ends ACTIVE."""
    world = services()
    deployment_id = active_deployment(world)
    world.store.faults.fail_work_requests = 1.0
    world.deployments.update(deployment_id, {"displayName": "broken"}, None)
    world.work_requests.tick()
    assert world.deployments.get(deployment_id)["lifecycleState"] == "NEEDS_ATTENTION"
    world.store.faults.fail_work_requests = 0.0
    world.deployments.update(deployment_id, {"displayName": "fixed"}, None)
    world.work_requests.tick()
    assert world.deployments.get(deployment_id)["lifecycleState"] == "ACTIVE"
