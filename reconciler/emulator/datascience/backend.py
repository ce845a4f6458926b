"""Data Science state and rules: projects, models and their artifacts, model deployments. No HTTP here.

Every lifecycle effect of a Data Science work request is written once, in the transition tables below
(``DataScienceBackend._transitions`` and ``DEPLOYMENT_LIFECYCLE``); the work-request engine applies them
both while the emulator runs and after a restart finishes what was in flight.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any, BinaryIO

from reconciler.emulator.core.errors import (
    ApiError,
    check_if_match,
    conflict,
    incorrect_state,
    invalid,
    not_found,
    require,
)
from reconciler.emulator.core.signing import USER
from reconciler.emulator.core.store import GONE, Staged, Store, new_etag, now_rfc3339
from reconciler.emulator.core.workrequests import (
    Effect,
    EffectFailed,
    Outcome,
    Transition,
    WorkRequestKind,
    WorkRequests,
)
from reconciler.emulator.datascience.by_reference import BY_REFERENCE_SCRATCH, description_of, gathered
from reconciler.emulator.datascience.catalog import place_in_version_set
from reconciler.emulator.datascience.flex_rules import is_flex
from reconciler.emulator.datascience.group_rules import (
    check_group_update,
    deployments_using_model,
    group_of,
    is_group,
    merge_group_update,
    pick_member,
    validate_group_config,
)
from reconciler.emulator.datascience.rules import (
    UPDATABLE_STATES,
    check_update,
    merge_update,
    model_of,
    validate_config,
)
from reconciler.emulator.objectstorage.backend import ObjectStorageBackend, object_key

WORK_REQUESTS = WorkRequestKind("ds_work_requests", "datascienceworkrequest")
CREATED_BY = USER
MODEL_FIELDS = (
    "displayName",
    "description",
    "freeformTags",
    "definedTags",
    "customMetadataList",
    "definedMetadataList",
    "versionLabel",
)
DEPLOYMENT_FIELDS = (
    "displayName",
    "description",
    "freeformTags",
    "definedTags",
    "categoryLogDetails",
    "modelDeploymentConfigurationDetails",
)


class DataScienceBackend:
    """Projects, models and model artifacts."""

    def __init__(self, store: Store, work_requests: WorkRequests, objects: ObjectStorageBackend) -> None:
        self.store = store
        self.work_requests = work_requests
        self.objects = objects
        work_requests.register(
            {
                "PROJECT_DELETE": Transition(WORK_REQUESTS, "project", "DELETED", self._project_deleted),
                "EXPORT_MODEL_ARTIFACT": Transition(WORK_REQUESTS, "model", "UPDATED", self._exported),
                "IMPORT_MODEL_ARTIFACT": Transition(WORK_REQUESTS, "model", "RELATED", self._imported),
            }
        )

    # -- transitions --

    def _project_deleted(self, outcome: Outcome) -> None:
        project = self.store.data["projects"].get(outcome.resource_id)
        if outcome.succeeded and project is not None:
            project["lifecycleState"] = "DELETED"

    def _exported(self, outcome: Outcome) -> None:
        """The object named at the request becomes the model's artifact (the large-artifact path)."""
        if not outcome.succeeded:
            return
        model = self.store.data["models"].get(outcome.resource_id) or {}
        key = outcome.params.get("source") or model.get("_pending_export")
        if not key:
            return
        record = self.objects.find(key)
        if record is None:
            _, bucket, name = key.split("/", 2)
            raise EffectFailed(f"object {name} not found in {bucket}")
        self._store_artifact(outcome.resource_id, record["blob"], None)

    def _imported(self, outcome: Outcome) -> None:
        """The model's artifact is copied to the object named at the request."""
        destination = outcome.params.get("destination")
        if not outcome.succeeded or not destination:
            return
        artifact = self.store.data["artifacts"].get(outcome.resource_id)
        if artifact is None:
            raise EffectFailed(f"model {outcome.resource_id} has no artifact")
        namespace, bucket, _ = destination.split("/", 2)
        try:
            self.objects.writable_bucket(namespace, bucket)
        except ApiError as exc:
            raise EffectFailed(exc.message) from exc
        self.objects.copy_in(destination, artifact["blob"])

    # -- projects --

    def create_project(self, body: dict[str, Any]) -> dict[str, Any]:
        require(body, "compartmentId")
        project_id = self.store.new_id("datascienceproject")
        project = {
            "id": project_id,
            "displayName": body.get("displayName") or project_id[-12:],
            "description": body.get("description"),
            "compartmentId": body["compartmentId"],
            "createdBy": CREATED_BY,
            "lifecycleState": "ACTIVE",
            "timeCreated": now_rfc3339(),
            "freeformTags": body.get("freeformTags") or {},
            "definedTags": body.get("definedTags") or {},
            "systemTags": {},
            "_etag": new_etag(),
        }
        self.store.data["projects"][project_id] = project
        return project

    def project(self, project_id: str) -> dict[str, Any]:
        return self.store.find("projects", project_id, "project")

    def seen_project(self, project_id: str) -> dict[str, Any]:
        """GetProject: a project the emulator never saw is answered as an ACTIVE one, since models and
        deployments may name it (``check_project``); ``mdr doctor`` reads it like any other."""
        known = self.store.data["projects"].get(project_id)
        if known is not None or not project_id.startswith("ocid1.datascienceproject."):
            return self.project(project_id)
        return {
            "id": project_id,
            "displayName": project_id[-12:],
            "lifecycleState": "ACTIVE",
            "freeformTags": {},
            "definedTags": {},
            "systemTags": {},
            "_etag": new_etag(),
        }

    def delete_project(self, project_id: str, if_match: str | None) -> str:
        project = self.project(project_id)
        check_if_match(project, if_match)
        live = [
            m
            for m in self.store.data["models"].values()
            if m["projectId"] == project["id"] and m["lifecycleState"] != "DELETED"
        ]
        if live:
            raise conflict("the project still has models that are not DELETED")
        project["lifecycleState"] = "DELETING"
        return self.work_requests.start(
            "PROJECT_DELETE", project["compartmentId"], project["id"], f"/projects/{project['id']}"
        )

    def check_project(self, project_id: str) -> None:
        project = self.store.data["projects"].get(project_id)
        if project is not None and project["lifecycleState"] != "ACTIVE":
            raise incorrect_state(f"project {project_id} is {project['lifecycleState']}")
        # Projects that the emulator never saw are accepted: manifests written for real OCI name projects
        # that exist there, and a laptop run should not need them created first.

    # -- models --

    def create_model(self, body: dict[str, Any]) -> dict[str, Any]:
        require(body, "compartmentId", "projectId")
        self.check_project(body["projectId"])
        model_id = self.store.new_id("datasciencemodel")
        model = {
            "id": model_id,
            "compartmentId": body["compartmentId"],
            "projectId": body["projectId"],
            "displayName": body.get("displayName") or f"model-{model_id[-8:]}",
            "description": body.get("description"),
            "lifecycleState": "ACTIVE",
            "lifecycleDetails": None,
            "timeCreated": now_rfc3339(),
            "createdBy": CREATED_BY,
            "freeformTags": body.get("freeformTags") or {},
            "definedTags": body.get("definedTags") or {},
            "customMetadataList": body.get("customMetadataList") or [],
            "definedMetadataList": body.get("definedMetadataList") or [],
            "inputSchema": body.get("inputSchema"),
            "outputSchema": body.get("outputSchema"),
            "versionLabel": body.get("versionLabel"),
            "category": "USER",
            "isModelByReference": False,
            "_etag": new_etag(),
        }
        place_in_version_set(self.store, model, body)
        self.store.data["models"][model_id] = model
        return model

    def model(self, model_id: str) -> dict[str, Any]:
        return self.store.find("models", model_id, "model")

    def update_model(self, model_id: str, body: dict[str, Any], if_match: str | None) -> dict[str, Any]:
        model = self.model(model_id)
        check_if_match(model, if_match)
        place_in_version_set(self.store, model, body)
        for key in MODEL_FIELDS:
            if key in body:
                model[key] = body[key]
        model["_etag"] = new_etag()
        return model

    def delete_model(self, model_id: str, if_match: str | None) -> None:
        model = self.model(model_id)
        check_if_match(model, if_match)
        users = [
            d["id"]
            for d in self.store.data["deployments"].values()
            if d["lifecycleState"] not in GONE and model_of(d) == model["id"]
        ] + deployments_using_model(self.store, model["id"])
        if users:
            raise conflict(f"model {model['id']} is used by model deployment(s) {', '.join(users)}")
        model["lifecycleState"] = "DELETED"
        self.store.data["artifacts"].pop(model["id"], None)

    def deployable_model(self, model_id: str) -> dict[str, Any]:
        model = self.store.data["models"].get(model_id)
        if model is None:
            raise not_found(f"model {model_id}")
        if model["lifecycleState"] != "ACTIVE":
            raise incorrect_state(
                f"model {model_id} is {model['lifecycleState']}; only ACTIVE models can be deployed"
            )
        if model_id not in self.store.data["artifacts"]:
            raise invalid(f"model {model_id} has no artifact; upload one before deploying it")
        return model

    # -- artifacts --

    def create_artifact(
        self, model_id: str, content: bytes | Staged, disposition: str | None
    ) -> dict[str, Any]:
        model = self.model(model_id)
        self._check_no_artifact(model)
        if model["lifecycleState"] != "ACTIVE":
            raise incorrect_state(f"model {model['id']} is {model['lifecycleState']}")
        return self._store_artifact(model["id"], content, disposition)

    def _check_no_artifact(self, model: dict[str, Any]) -> None:
        if model["id"] in self.store.data["artifacts"]:
            raise conflict(f"model {model['id']} already has an artifact; artifacts are immutable")

    def _store_artifact(
        self, model_id: str, content: bytes | Staged | str, disposition: str | None
    ) -> dict[str, Any]:
        """``content`` is the body, or the key of a blob to copy (an exported object)."""
        key = f"artifact-{model_id}"
        info = self.store.copy(content, key) if isinstance(content, str) else self.store.keep(key, content)
        artifact = {
            "blob": key,
            "size": info.size,
            "md5": info.md5,
            "etag": new_etag(),
            "disposition": disposition or f'attachment; filename="{model_id}.zip"',
            "lastModified": formatdate(time.time(), usegmt=True),
        }
        self.store.data["artifacts"][model_id] = artifact
        return artifact

    def artifact(self, model_id: str) -> dict[str, Any]:
        self.model(model_id)
        artifact = self.store.data["artifacts"].get(model_id)
        if artifact is None:
            raise not_found(f"artifact of model {model_id}")
        return artifact

    def artifact_content(self, artifact: dict[str, Any]) -> BinaryIO:
        """The artifact as an open file, streamed to the client."""
        return self.store.open_blob(artifact["blob"])

    def export_artifact(self, model_id: str, details: dict[str, Any]) -> str:
        """Start copying an Object Storage object into the model's artifact."""
        model = self.model(model_id)
        require(details, "namespace", "sourceBucket", "sourceObjectName")
        self._check_no_artifact(model)
        key = object_key(details["namespace"], details["sourceBucket"], details["sourceObjectName"])
        wr = self._model_work_request("EXPORT_MODEL_ARTIFACT", model, {"source": key})
        model["_pending_export"] = key
        return wr

    def import_artifact(self, model_id: str, details: dict[str, Any]) -> str:
        """Start copying the model's artifact into an Object Storage object."""
        model = self.model(model_id)
        require(details, "namespace", "destinationBucket", "destinationObjectName")
        self.artifact(model["id"])
        key = object_key(details["namespace"], details["destinationBucket"], details["destinationObjectName"])
        return self._model_work_request("IMPORT_MODEL_ARTIFACT", model, {"destination": key})

    def _model_work_request(self, operation: str, model: dict[str, Any], params: dict[str, Any]) -> str:
        uri = f"/models/{model['id']}"
        return self.work_requests.start(operation, model["compartmentId"], model["id"], uri, params)


def _no_model_groups(group_id: str) -> object:
    raise not_found(f"model group {group_id}")


#: the state a deployment had when its work request started (kept in the work request's params)
PREVIOUS = "PREVIOUS"


@dataclass(frozen=True)
class Lifecycle:
    """A model deployment operation: where the deployment ends when its work request SUCCEEDED or FAILED.

    ``None`` leaves the deployment as it is (a move changes the compartment when accepted).
    """

    action: str
    succeeded: tuple[str, str] | None  # (lifecycleState, lifecycleDetails)
    failed: tuple[str, str] | None
    #: the deployment FAILS when its model is in FaultConfig.fail_deployments_for_models
    crashes_on_faulty_model: bool = False


DEPLOYMENT_LIFECYCLE = {
    "MODEL_DEPLOYMENT_CREATE": Lifecycle(
        "CREATED",
        ("ACTIVE", "Active"),
        ("FAILED", "the model deployment failed to start (injected fault)"),
        crashes_on_faulty_model=True,
    ),
    "MODEL_DEPLOYMENT_UPDATE": Lifecycle(
        "UPDATED", (PREVIOUS, "Active"), ("NEEDS_ATTENTION", "Update failed")
    ),
    "MODEL_DEPLOYMENT_DELETE": Lifecycle("DELETED", ("DELETED", "Deleted"), ("FAILED", "Delete failed")),
    "MODEL_DEPLOYMENT_ACTIVATE": Lifecycle("UPDATED", ("ACTIVE", "Active"), ("INACTIVE", "Failed")),
    "MODEL_DEPLOYMENT_DEACTIVATE": Lifecycle("UPDATED", ("INACTIVE", "Inactive"), ("ACTIVE", "Failed")),
    "MODEL_DEPLOYMENT_MOVE": Lifecycle("UPDATED", None, None),
}


class DeploymentsBackend:
    """Model deployments: created, updated, (de)activated, moved and deleted through work requests."""

    def __init__(self, store: Store, work_requests: WorkRequests, models: DataScienceBackend) -> None:
        self.store = store
        self.work_requests = work_requests
        self.models = models
        self.base_url = ""
        #: told the id of a deployment whose lifecycle state changed (serving stops what is no longer ACTIVE)
        self.on_change: Callable[[str], None] = lambda deployment_id: None
        #: the ACTIVE model group a MODEL_GROUP deployment may serve (``model_groups.ModelGroupsBackend``)
        self.deployable_group: Callable[[str], object] = _no_model_groups
        #: refuses a FLEX infrastructure whose compute target is unknown or too small (``compute_targets``)
        self.deployable_compute_target: Callable[[dict[str, Any]], None] = lambda infrastructure: None
        work_requests.register(
            {
                operation: Transition(
                    WORK_REQUESTS, "modelDeployment", lifecycle.action, self._settle(lifecycle)
                )
                for operation, lifecycle in DEPLOYMENT_LIFECYCLE.items()
            }
        )

    @property
    def deployments(self) -> dict[str, dict[str, Any]]:
        return self.store.data["deployments"]

    def serve_at(self, base_url: str) -> None:
        """A restarted emulator may listen on another port: keep predict URLs pointing at this one."""
        self.base_url = base_url
        for deployment in self.deployments.values():
            deployment["modelDeploymentUrl"] = self._predict_url(deployment["id"])

    def _predict_url(self, deployment_id: str) -> str:
        return f"{self.base_url}/modeldeployment/{deployment_id}"

    # -- transitions --

    def _settle(self, lifecycle: Lifecycle) -> Effect:
        def effect(outcome: Outcome) -> None:
            deployment = self.deployments.get(outcome.resource_id)
            if deployment is None:
                return
            crashed = (
                lifecycle.crashes_on_faulty_model
                and model_of(deployment) in self.store.faults.fail_deployments_for_models
            )
            final = lifecycle.succeeded if outcome.succeeded and not crashed else lifecycle.failed
            if final is not None:
                state, details = final
                if state == PREVIOUS:  # a work request saved before params existed: ACTIVE, as resumed then
                    state = outcome.params.get("previous", "ACTIVE")
                    if state == "NEEDS_ATTENTION":  # a successful update is what brings it back
                        state = "ACTIVE"
                self._set_state(deployment, state, details)
            if crashed:
                raise EffectFailed("the model deployment failed to start: the model's container crashed")

        return effect

    def _set_state(self, deployment: dict[str, Any], state: str, details: str) -> None:
        deployment["lifecycleState"] = state
        deployment["lifecycleDetails"] = details
        deployment["_etag"] = new_etag()
        self.on_change(deployment["id"])

    def _start(self, operation: str, deployment: dict[str, Any], params: dict[str, Any] | None = None) -> str:
        uri = f"/modelDeployments/{deployment['id']}"
        return self.work_requests.start(operation, deployment["compartmentId"], deployment["id"], uri, params)

    # -- operations --

    def create(self, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """The new deployment (CREATING) and the work request that makes it ACTIVE."""
        require(body, "compartmentId", "projectId")
        config = body.get("modelDeploymentConfigurationDetails")
        validate_group_config(config) if is_group(config) else validate_config(config)
        assert isinstance(config, dict)
        self.models.check_project(body["projectId"])
        if is_group(config):
            self.deployable_group(config["modelGroupConfigurationDetails"]["modelGroupId"])
        else:
            self.models.deployable_model(config["modelConfigurationDetails"]["modelId"])
        if is_flex(config):
            self.deployable_compute_target(config["infrastructureConfigurationDetails"])
        deployment_id = self.store.new_id("datasciencemodeldeployment")
        deployment = {
            "id": deployment_id,
            "timeCreated": now_rfc3339(),
            "displayName": body.get("displayName") or f"modeldeployment{deployment_id[-8:]}",
            "description": body.get("description"),
            "projectId": body["projectId"],
            "compartmentId": body["compartmentId"],
            "createdBy": CREATED_BY,
            "modelDeploymentConfigurationDetails": config,
            "categoryLogDetails": body.get("categoryLogDetails"),
            "modelDeploymentUrl": self._predict_url(deployment_id),
            "lifecycleState": "CREATING",
            "lifecycleDetails": "Creating",
            "freeformTags": body.get("freeformTags") or {},
            "definedTags": body.get("definedTags") or {},
            "_etag": new_etag(),
        }
        self.deployments[deployment_id] = deployment
        return deployment, self._start("MODEL_DEPLOYMENT_CREATE", deployment)

    def get(self, deployment_id: str) -> dict[str, Any]:
        return self.store.find("deployments", deployment_id, "model deployment")

    def _writable(self, deployment_id: str, if_match: str | None) -> dict[str, Any]:
        deployment = self.get(deployment_id)
        check_if_match(deployment, if_match)
        return deployment

    def update(self, deployment_id: str, body: dict[str, Any], if_match: str | None) -> str:
        deployment = self._writable(deployment_id, if_match)
        if deployment["lifecycleState"] not in UPDATABLE_STATES:
            raise incorrect_state(
                f"model deployment is {deployment['lifecycleState']}; updates need ACTIVE, INACTIVE or NEEDS_ATTENTION"
            )
        for forbidden in ("projectId", "compartmentId"):
            if forbidden in body:
                raise invalid(
                    f"{forbidden} cannot be updated (use changeCompartment, or recreate for projectId)"
                )
        if is_group(deployment["modelDeploymentConfigurationDetails"]):
            updated, update_type = merge_group_update(deployment, body)
            check_group_update(deployment, updated, update_type)
            if group_of(updated) != group_of(deployment):
                self.deployable_group(group_of(updated))
        else:
            updated = merge_update(deployment, body)
            check_update(deployment, updated)
            new_model = model_of(updated)
            if new_model != model_of(deployment):
                self.models.deployable_model(new_model)
            flex = updated["modelDeploymentConfigurationDetails"].get("infrastructureConfigurationDetails")
            if is_flex(updated["modelDeploymentConfigurationDetails"]) and flex != deployment[
                "modelDeploymentConfigurationDetails"
            ].get("infrastructureConfigurationDetails"):
                self.deployable_compute_target(flex)
        previous = deployment["lifecycleState"]
        for key in DEPLOYMENT_FIELDS:
            deployment[key] = updated[key]
        self._set_state(deployment, "UPDATING", "Updating")
        return self._start("MODEL_DEPLOYMENT_UPDATE", deployment, {"previous": previous})

    def delete(self, deployment_id: str, if_match: str | None) -> str:
        deployment = self._writable(deployment_id, if_match)
        if deployment["lifecycleState"] in GONE:
            raise incorrect_state(f"model deployment is already {deployment['lifecycleState']}")
        if deployment["lifecycleState"] in ("CREATING", "UPDATING"):
            raise incorrect_state(f"model deployment is {deployment['lifecycleState']}")
        self._set_state(deployment, "DELETING", "Deleting")
        return self._start("MODEL_DEPLOYMENT_DELETE", deployment)

    def activate(self, deployment_id: str, if_match: str | None) -> str:
        return self._toggle(deployment_id, if_match, "INACTIVE", "MODEL_DEPLOYMENT_ACTIVATE")

    def deactivate(self, deployment_id: str, if_match: str | None) -> str:
        return self._toggle(deployment_id, if_match, "ACTIVE", "MODEL_DEPLOYMENT_DEACTIVATE")

    def _toggle(self, deployment_id: str, if_match: str | None, source: str, operation: str) -> str:
        deployment = self._writable(deployment_id, if_match)
        if deployment["lifecycleState"] != source:
            raise incorrect_state(f"model deployment is {deployment['lifecycleState']}; expected {source}")
        self._set_state(deployment, "UPDATING", "Updating")
        return self._start(operation, deployment)

    def change_compartment(self, deployment_id: str, body: dict[str, Any], if_match: str | None) -> str:
        deployment = self._writable(deployment_id, if_match)
        require(body, "compartmentId")
        if deployment["lifecycleState"] not in UPDATABLE_STATES:
            raise incorrect_state(f"model deployment is {deployment['lifecycleState']}")
        deployment["compartmentId"] = body["compartmentId"]
        deployment["_etag"] = new_etag()
        return self._start("MODEL_DEPLOYMENT_MOVE", deployment)

    # -- serving --

    def served_model(self, deployment_id: str, member: str | None = None) -> tuple[str, Path]:
        """The model id and artifact that answer a deployment's predict calls (conda deployments only); for
        a MODEL_GROUP deployment, those of the ``member`` named by inference key or model OCID."""
        deployment = self.deployments.get(deployment_id)
        if deployment is None:
            raise ApiError(404, "NotAuthorizedOrNotFound", f"model deployment {deployment_id} not found")
        if deployment["lifecycleState"] != "ACTIVE":
            raise ApiError(409, "IncorrectState", f"model deployment is {deployment['lifecycleState']}")
        config = deployment["modelDeploymentConfigurationDetails"]
        environment = config.get("environmentConfigurationDetails") or {}
        if environment.get("environmentConfigurationType") == "OCIR_CONTAINER":
            raise ApiError(501, "NotImplemented", "the emulator serves conda deployments only")
        if is_group(config):
            model_id = pick_member(self.store, group_of(deployment), member)
        else:
            model_id = config["modelConfigurationDetails"]["modelId"]
        artifact = self.store.data["artifacts"].get(model_id)
        if artifact is None:
            raise ApiError(500, "InternalServerError", "the deployed model has no artifact")
        path = self.store.blob_path(artifact["blob"])
        description = description_of(path)  # a model registered by reference (weights in a bucket)
        if description is not None:
            path = gathered(description, self.models.objects, BY_REFERENCE_SCRATCH)
        return model_id, path
