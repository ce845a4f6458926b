"""The emulated services: Data Science (/20190101), Logging (/20200531) and Object Storage (/n).

Rules enforced (reference §3, §8.3): updates only in ACTIVE, INACTIVE or NEEDS_ATTENTION; while ACTIVE one
option group per update; ``projectId`` not updatable; custom → default networking refused; a deployment
needs an ACTIVE model with an artifact; artifacts are immutable; a model used by a deployment cannot be
deleted; ``list_model_deployments`` accepts one filter besides the compartment; log group and log names
are unique in their scope.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import time
from email.utils import formatdate
from typing import Any

from reconciler.emulator.http import (
    ApiError,
    Request,
    Response,
    Router,
    conflict,
    incorrect_state,
    invalid,
    missing,
    not_found,
    paginate,
)
from reconciler.emulator.state import EffectFailed, State, new_etag, now_rfc3339

DS = "/20190101"
LOG = "/20200531"
DEPLOYMENT_FILTERS = ("id", "projectId", "displayName", "lifecycleState", "createdBy")
UPDATABLE_STATES = ("ACTIVE", "INACTIVE", "NEEDS_ATTENTION")
GONE = ("DELETED", "DELETING")
#: a log group or log in these states does not hold its name (a failed create leaves one FAILED)
NAME_FREE = (*GONE, "FAILED")
CREATED_BY = "ocid1.user.oc1..aaaaaaaamdremulator"


def _public(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if not k.startswith("_")}


def _require(body: dict[str, Any], *names: str) -> None:
    for name in names:
        if body.get(name) in (None, ""):
            raise missing(name)


def _check_if_match(request: Request, resource: dict[str, Any]) -> None:
    expected = request.headers.get("if-match")
    if expected and expected != resource.get("_etag"):
        raise ApiError(412, "NoEtagMatch", "the resource's etag does not match if-match")


def _with_etag(resource: dict[str, Any], status: int = 200) -> Response:
    return Response(status, _public(resource), {"etag": resource["_etag"]})


class Services:
    def __init__(self, state: State, base_url: str) -> None:
        self.state = state
        self.base_url = base_url
        # A restarted emulator may listen on another port: keep predict URLs pointing at this one.
        for deployment in state.data["deployments"].values():
            deployment["modelDeploymentUrl"] = f"{base_url}/modeldeployment/{deployment['id']}"

    # ------------------------------------------------------------------ routes

    def register(self, router: Router) -> None:
        add = router.add
        add("POST", f"{DS}/projects", "CreateProject", self.create_project, mutating=True)
        add("GET", f"{DS}/projects", "ListProjects", self.list_projects)
        add("GET", f"{DS}/projects/{{id}}", "GetProject", self.get_project)
        add("DELETE", f"{DS}/projects/{{id}}", "DeleteProject", self.delete_project, mutating=True)
        add("POST", f"{DS}/models", "CreateModel", self.create_model, mutating=True)
        add("GET", f"{DS}/models", "ListModels", self.list_models)
        add("GET", f"{DS}/models/{{id}}", "GetModel", self.get_model)
        add("PUT", f"{DS}/models/{{id}}", "UpdateModel", self.update_model, mutating=True)
        add("DELETE", f"{DS}/models/{{id}}", "DeleteModel", self.delete_model, mutating=True)
        add(
            "POST", f"{DS}/models/{{id}}/artifact", "CreateModelArtifact", self.create_artifact, mutating=True
        )
        add("HEAD", f"{DS}/models/{{id}}/artifact/content", "HeadModelArtifact", self.head_artifact)
        add("GET", f"{DS}/models/{{id}}/artifact/content", "GetModelArtifactContent", self.get_artifact)
        add(
            "POST",
            f"{DS}/models/{{id}}/actions/exportArtifact",
            "ExportModelArtifact",
            self.export_artifact,
            True,
        )
        add(
            "POST",
            f"{DS}/models/{{id}}/actions/importArtifact",
            "ImportModelArtifact",
            self.import_artifact,
            True,
        )
        add("POST", f"{DS}/modelDeployments", "CreateModelDeployment", self.create_deployment, mutating=True)
        add("GET", f"{DS}/modelDeployments", "ListModelDeployments", self.list_deployments)
        add("GET", f"{DS}/modelDeployments/{{id}}", "GetModelDeployment", self.get_deployment)
        add(
            "PUT",
            f"{DS}/modelDeployments/{{id}}",
            "UpdateModelDeployment",
            self.update_deployment,
            mutating=True,
        )
        add("DELETE", f"{DS}/modelDeployments/{{id}}", "DeleteModelDeployment", self.delete_deployment, True)
        add(
            "POST",
            f"{DS}/modelDeployments/{{id}}/actions/activate",
            "ActivateModelDeployment",
            self.activate_deployment,
            True,
        )
        add(
            "POST",
            f"{DS}/modelDeployments/{{id}}/actions/deactivate",
            "DeactivateModelDeployment",
            self.deactivate_deployment,
            True,
        )
        add(
            "POST",
            f"{DS}/modelDeployments/{{id}}/actions/changeCompartment",
            "ChangeModelDeploymentCompartment",
            self.change_compartment,
            True,
        )
        add("GET", f"{DS}/workRequests", "ListWorkRequests", lambda r: self.list_work_requests(r, "ds"))
        add("GET", f"{DS}/workRequests/{{id}}", "GetWorkRequest", lambda r: self.get_work_request(r, "ds"))
        add(
            "GET",
            f"{DS}/workRequests/{{id}}/errors",
            "ListWorkRequestErrors",
            lambda r: self.work_request_items(r, "ds", "_errors"),
        )
        add(
            "GET",
            f"{DS}/workRequests/{{id}}/logs",
            "ListWorkRequestLogs",
            lambda r: self.work_request_items(r, "ds", "_logs"),
        )
        add("DELETE", f"{DS}/workRequests/{{id}}", "CancelWorkRequest", self.cancel_work_request, True)
        # Logging
        add("POST", f"{LOG}/logGroups", "CreateLogGroup", self.create_log_group, mutating=True)
        add("GET", f"{LOG}/logGroups", "ListLogGroups", self.list_log_groups)
        add("GET", f"{LOG}/logGroups/{{id}}", "GetLogGroup", self.get_log_group)
        add("PUT", f"{LOG}/logGroups/{{id}}", "UpdateLogGroup", self.update_log_group, mutating=True)
        add("DELETE", f"{LOG}/logGroups/{{id}}", "DeleteLogGroup", self.delete_log_group, mutating=True)
        add("POST", f"{LOG}/logGroups/{{group}}/logs", "CreateLog", self.create_log, mutating=True)
        add("GET", f"{LOG}/logGroups/{{group}}/logs", "ListLogs", self.list_logs)
        add("GET", f"{LOG}/logGroups/{{group}}/logs/{{id}}", "GetLog", self.get_log)
        add("PUT", f"{LOG}/logGroups/{{group}}/logs/{{id}}", "UpdateLog", self.update_log, mutating=True)
        add("DELETE", f"{LOG}/logGroups/{{group}}/logs/{{id}}", "DeleteLog", self.delete_log, mutating=True)
        add(
            "GET",
            f"{LOG}/workRequests",
            "ListLoggingWorkRequests",
            lambda r: self.list_work_requests(r, "log"),
        )
        add(
            "GET",
            f"{LOG}/workRequests/{{id}}",
            "GetLoggingWorkRequest",
            lambda r: self.get_work_request(r, "log"),
        )
        add(
            "GET",
            f"{LOG}/workRequests/{{id}}/errors",
            "ListLoggingWorkRequestErrors",
            lambda r: self.work_request_items(r, "log", "_errors"),
        )
        add(
            "GET",
            f"{LOG}/workRequests/{{id}}/logs",
            "ListLoggingWorkRequestLogs",
            lambda r: self.work_request_items(r, "log", "_logs"),
        )
        # Object Storage
        add("GET", "/n", "GetNamespace", self.get_namespace)
        add("GET", "/n/", "GetNamespace", self.get_namespace)
        add("GET", "/n/{ns}/b/{bucket}/o", "ListObjects", self.list_objects)
        add("PUT", "/n/{ns}/b/{bucket}/o/{name}", "PutObject", self.put_object, mutating=True)
        add("GET", "/n/{ns}/b/{bucket}/o/{name}", "GetObject", self.get_object)
        add("HEAD", "/n/{ns}/b/{bucket}/o/{name}", "HeadObject", self.head_object)
        add("DELETE", "/n/{ns}/b/{bucket}/o/{name}", "DeleteObject", self.delete_object, mutating=True)
        add("POST", "/n/{ns}/b/{bucket}/u", "CreateMultipartUpload", self.create_multipart, mutating=True)
        add("PUT", "/n/{ns}/b/{bucket}/u/{name}", "UploadPart", self.upload_part, mutating=True)
        add(
            "POST",
            "/n/{ns}/b/{bucket}/u/{name}",
            "CommitMultipartUpload",
            self.commit_multipart,
            mutating=True,
        )
        add(
            "DELETE",
            "/n/{ns}/b/{bucket}/u/{name}",
            "AbortMultipartUpload",
            self.abort_multipart,
            mutating=True,
        )

    # ------------------------------------------------------------------ helpers

    @property
    def data(self) -> dict[str, dict[str, Any]]:
        return self.state.data

    def _get(self, collection: str, resource_id: str, what: str) -> dict[str, Any]:
        resource = self.data[collection].get(resource_id)
        if resource is None:
            raise not_found(f"{what} {resource_id}")
        return resource

    def _list(
        self, collection: str, request: Request, filters: tuple[str, ...], sort_default: str = "timeCreated"
    ) -> Response:
        compartment = request.query.get("compartmentId")
        if not compartment:
            raise missing("compartmentId")
        items = [r for r in self.data[collection].values() if r.get("compartmentId") == compartment]
        for name in filters:
            value = request.query.get(name)
            if value:
                items = [r for r in items if str(r.get(name)) == value]
        return self._page(items, request, sort_default)

    @staticmethod
    def _page(items: list[dict[str, Any]], request: Request, default: str) -> Response:
        """Sort, cut the requested page, and copy only that page's items (listing stays linear in N)."""
        sort_by = request.query.get("sortBy") or default
        order = request.query.get("sortOrder") or ("DESC" if sort_by == "timeCreated" else "ASC")
        items = sorted(
            items, key=lambda r: (str(r.get(sort_by, "")), r.get("id", "")), reverse=order == "DESC"
        )
        response = paginate(items, request)
        response.body = [_public(r) for r in response.body]
        return response

    # ------------------------------------------------------------------ projects

    def create_project(self, request: Request) -> Response:
        body = request.json_object()
        _require(body, "compartmentId")
        project_id = self.state.new_id("datascienceproject")
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
        self.data["projects"][project_id] = project
        return _with_etag(project)

    def list_projects(self, request: Request) -> Response:
        return self._list("projects", request, ("id", "displayName", "lifecycleState", "createdBy"))

    def get_project(self, request: Request) -> Response:
        return _with_etag(self._get("projects", request.params["id"], "project"))

    def delete_project(self, request: Request) -> Response:
        project = self._get("projects", request.params["id"], "project")
        _check_if_match(request, project)
        live = [
            m
            for m in self.data["models"].values()
            if m["projectId"] == project["id"] and m["lifecycleState"] != "DELETED"
        ]
        if live:
            raise conflict("the project still has models that are not DELETED")
        project["lifecycleState"] = "DELETING"

        def effect(ok: bool) -> None:
            if ok:
                project["lifecycleState"] = "DELETED"

        wr = self.state.new_work_request(
            "ds",
            "PROJECT_DELETE",
            project["compartmentId"],
            project["id"],
            "project",
            f"/projects/{project['id']}",
            "DELETED",
            effect,
        )
        return Response(202, None, {"opc-work-request-id": wr})

    # ------------------------------------------------------------------ models

    def create_model(self, request: Request) -> Response:
        body = request.json_object()
        _require(body, "compartmentId", "projectId")
        self._check_project(body["projectId"])
        model_id = self.state.new_id("datasciencemodel")
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
        self.data["models"][model_id] = model
        return _with_etag(model)

    def _check_project(self, project_id: str) -> None:
        project = self.data["projects"].get(project_id)
        if project is not None and project["lifecycleState"] != "ACTIVE":
            raise incorrect_state(f"project {project_id} is {project['lifecycleState']}")
        # Projects that the emulator never saw are accepted: manifests written for real OCI name projects
        # that exist there, and a laptop run should not need them created first.

    def list_models(self, request: Request) -> Response:
        filters = (
            "id",
            "projectId",
            "displayName",
            "lifecycleState",
            "createdBy",
            "category",
            "versionLabel",
        )
        response = self._list("models", request, filters)
        summary_drop = (
            "description",
            "customMetadataList",
            "definedMetadataList",
            "inputSchema",
            "outputSchema",
        )
        response.body = [{k: v for k, v in m.items() if k not in summary_drop} for m in response.body]
        return response

    def get_model(self, request: Request) -> Response:
        return _with_etag(self._get("models", request.params["id"], "model"))

    def update_model(self, request: Request) -> Response:
        model = self._get("models", request.params["id"], "model")
        _check_if_match(request, model)
        body = request.json_object()
        for key in (
            "displayName",
            "description",
            "freeformTags",
            "definedTags",
            "customMetadataList",
            "definedMetadataList",
            "versionLabel",
        ):
            if key in body:
                model[key] = body[key]
        model["_etag"] = new_etag()
        return _with_etag(model)

    def delete_model(self, request: Request) -> Response:
        model = self._get("models", request.params["id"], "model")
        _check_if_match(request, model)
        users = [
            d["id"]
            for d in self.data["deployments"].values()
            if d["lifecycleState"] not in GONE and _model_of(d) == model["id"]
        ]
        if users:
            raise conflict(f"model {model['id']} is used by model deployment(s) {', '.join(users)}")
        model["lifecycleState"] = "DELETED"
        self.data["artifacts"].pop(model["id"], None)
        return Response(204, None)

    # ------------------------------------------------------------------ artifacts

    def create_artifact(self, request: Request) -> Response:
        model = self._get("models", request.params["id"], "model")
        if model["id"] in self.data["artifacts"]:
            raise conflict(f"model {model['id']} already has an artifact; artifacts are immutable")
        if model["lifecycleState"] != "ACTIVE":
            raise incorrect_state(f"model {model['id']} is {model['lifecycleState']}")
        self._store_artifact(model["id"], request.body, request.headers.get("content-disposition"))
        return Response(200, None, {"etag": self.data["artifacts"][model["id"]]["etag"]})

    def _store_artifact(self, model_id: str, content: bytes, disposition: str | None) -> None:
        key = f"artifact-{model_id}"
        self.state.put_blob(key, content)
        self.data["artifacts"][model_id] = {
            "blob": key,
            "size": len(content),
            "md5": base64.b64encode(
                hashlib.md5(content).digest()
            ).decode(),  # Content-MD5 is MD5 by definition
            "etag": new_etag(),
            "disposition": disposition or f'attachment; filename="{model_id}.zip"',
            "lastModified": formatdate(time.time(), usegmt=True),
        }
        self.state.on_deployment_change(model_id)

    def _artifact(self, model_id: str) -> dict[str, Any]:
        self._get("models", model_id, "model")
        artifact = self.data["artifacts"].get(model_id)
        if artifact is None:
            raise not_found(f"artifact of model {model_id}")
        return artifact

    def _artifact_headers(self, artifact: dict[str, Any]) -> dict[str, str]:
        return {
            "etag": artifact["etag"],
            "content-md5": artifact["md5"],
            "content-disposition": artifact["disposition"],
            "last-modified": artifact["lastModified"],
            "content-length": str(artifact["size"]),
        }

    def head_artifact(self, request: Request) -> Response:
        artifact = self._artifact(request.params["id"])
        return Response(200, None, self._artifact_headers(artifact))

    def get_artifact(self, request: Request) -> Response:
        artifact = self._artifact(request.params["id"])
        headers = self._artifact_headers(artifact)
        headers.pop("content-length")
        return Response(200, self.state.get_blob(artifact["blob"]), headers, "application/octet-stream")

    def export_artifact(self, request: Request) -> Response:
        """Copy an Object Storage object into the model's artifact (the large-artifact path)."""
        model = self._get("models", request.params["id"], "model")
        details = request.json_object().get("artifactExportDetails") or {}
        _require(details, "namespace", "sourceBucket", "sourceObjectName")
        if model["id"] in self.data["artifacts"]:
            raise conflict(f"model {model['id']} already has an artifact; artifacts are immutable")
        key = _object_key(details["namespace"], details["sourceBucket"], details["sourceObjectName"])

        def effect(ok: bool) -> None:
            if not ok:
                return
            stored = self.data["objects"].get(key)
            if stored is None:
                raise EffectFailed(
                    f"object {details['sourceObjectName']} not found in {details['sourceBucket']}"
                )
            self._store_artifact(model["id"], self.state.get_blob(stored["blob"]), None)

        wr = self.state.new_work_request(
            "ds",
            "EXPORT_MODEL_ARTIFACT",
            model["compartmentId"],
            model["id"],
            "model",
            f"/models/{model['id']}",
            "UPDATED",
            effect,
        )
        model["_pending_export"] = key
        return Response(202, None, {"opc-work-request-id": wr})

    def import_artifact(self, request: Request) -> Response:
        model = self._get("models", request.params["id"], "model")
        details = request.json_object().get("artifactImportDetails") or {}
        _require(details, "namespace", "destinationBucket", "destinationObjectName")
        artifact = self._artifact(model["id"])
        key = _object_key(
            details["namespace"], details["destinationBucket"], details["destinationObjectName"]
        )

        def effect(ok: bool) -> None:
            if ok:
                self._put_object_bytes(key, self.state.get_blob(artifact["blob"]))

        wr = self.state.new_work_request(
            "ds",
            "IMPORT_MODEL_ARTIFACT",
            model["compartmentId"],
            model["id"],
            "model",
            f"/models/{model['id']}",
            "RELATED",
            effect,
        )
        return Response(202, None, {"opc-work-request-id": wr})

    # ------------------------------------------------------------------ model deployments

    def _deployable_model(self, model_id: str) -> dict[str, Any]:
        model = self.data["models"].get(model_id)
        if model is None:
            raise not_found(f"model {model_id}")
        if model["lifecycleState"] != "ACTIVE":
            raise incorrect_state(
                f"model {model_id} is {model['lifecycleState']}; only ACTIVE models can be deployed"
            )
        if model_id not in self.data["artifacts"]:
            raise invalid(f"model {model_id} has no artifact; upload one before deploying it")
        return model

    def _validate_config(self, config: Any) -> None:
        if not isinstance(config, dict):
            raise missing("modelDeploymentConfigurationDetails")
        if config.get("deploymentType") != "SINGLE_MODEL":
            raise invalid(f"deploymentType {config.get('deploymentType')!r} is not supported by the emulator")
        model_config = config.get("modelConfigurationDetails")
        if not isinstance(model_config, dict):
            raise missing("modelDeploymentConfigurationDetails.modelConfigurationDetails")
        _require(model_config, "modelId")
        instance = model_config.get("instanceConfiguration")
        if not isinstance(instance, dict) or not instance.get("instanceShapeName"):
            raise missing("modelConfigurationDetails.instanceConfiguration.instanceShapeName")
        environment = config.get("environmentConfigurationDetails")
        if environment is not None:
            kind = environment.get("environmentConfigurationType")
            if kind not in ("DEFAULT", "OCIR_CONTAINER"):
                raise invalid(f"environmentConfigurationType {kind!r} is not valid")
            if kind == "OCIR_CONTAINER" and not environment.get("image"):
                raise missing("environmentConfigurationDetails.image")
            variables = environment.get("environmentVariables") or {}
            total = sum(len(k) + len(str(v)) for k, v in variables.items())
            if total > 2048:
                raise invalid("environment variables exceed 2048 bytes")

    def create_deployment(self, request: Request) -> Response:
        body = request.json_object()
        _require(body, "compartmentId", "projectId")
        config = body.get("modelDeploymentConfigurationDetails")
        self._validate_config(config)
        assert isinstance(config, dict)
        self._check_project(body["projectId"])
        model_id = config["modelConfigurationDetails"]["modelId"]
        self._deployable_model(model_id)
        deployment_id = self.state.new_id("datasciencemodeldeployment")
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
            "modelDeploymentUrl": f"{self.base_url}/modeldeployment/{deployment_id}",
            "lifecycleState": "CREATING",
            "lifecycleDetails": "Creating",
            "freeformTags": body.get("freeformTags") or {},
            "definedTags": body.get("definedTags") or {},
            "_etag": new_etag(),
        }
        self.data["deployments"][deployment_id] = deployment

        def effect(ok: bool) -> None:
            failing = _model_of(deployment) in self.state.faults.fail_deployments_for_models
            if ok and not failing:
                self._set_state(deployment, "ACTIVE", "Active")
            else:
                self._set_state(deployment, "FAILED", "the model deployment failed to start (injected fault)")
                if failing:
                    raise EffectFailed("the model deployment failed to start: the model's container crashed")

        wr = self._deployment_work_request(deployment, "MODEL_DEPLOYMENT_CREATE", "CREATED", effect)
        response = _with_etag(deployment)
        response.headers["opc-work-request-id"] = wr
        response.headers["location"] = f"{self.base_url}{DS}/modelDeployments/{deployment_id}"
        return response

    def _set_state(self, deployment: dict[str, Any], state: str, details: str) -> None:
        deployment["lifecycleState"] = state
        deployment["lifecycleDetails"] = details
        deployment["_etag"] = new_etag()
        self.state.on_deployment_change(deployment["id"])

    def _deployment_work_request(
        self, deployment: dict[str, Any], operation: str, action: str, effect: Any
    ) -> str:
        return self.state.new_work_request(
            "ds",
            operation,
            deployment["compartmentId"],
            deployment["id"],
            "modelDeployment",
            f"/modelDeployments/{deployment['id']}",
            action,
            effect,
        )

    def list_deployments(self, request: Request) -> Response:
        used = [name for name in DEPLOYMENT_FILTERS if request.query.get(name)]
        if len(used) > 1:
            raise invalid(
                f"only one parameter other than compartmentId may be included in a query; got {', '.join(used)}"
            )
        response = self._list("deployments", request, DEPLOYMENT_FILTERS)
        response.body = [{k: v for k, v in d.items() if k != "lifecycleDetails"} for d in response.body]
        return response

    def get_deployment(self, request: Request) -> Response:
        return _with_etag(self._get("deployments", request.params["id"], "model deployment"))

    def update_deployment(self, request: Request) -> Response:
        deployment = self._get("deployments", request.params["id"], "model deployment")
        _check_if_match(request, deployment)
        if deployment["lifecycleState"] not in UPDATABLE_STATES:
            raise incorrect_state(
                f"model deployment is {deployment['lifecycleState']}; updates need ACTIVE, INACTIVE or NEEDS_ATTENTION"
            )
        body = request.json_object()
        for forbidden in ("projectId", "compartmentId"):
            if forbidden in body:
                raise invalid(
                    f"{forbidden} cannot be updated (use changeCompartment, or recreate for projectId)"
                )
        updated = merge_update(deployment, body)
        self._validate_config(updated["modelDeploymentConfigurationDetails"])
        groups = changed_groups(deployment, updated)
        if deployment["lifecycleState"] != "INACTIVE" and len(groups) > 1:
            raise invalid(
                "while the model deployment is ACTIVE only one option group can be changed per update; "
                f"this update changes: {', '.join(sorted(groups))}"
            )
        old_subnet = _instance(deployment).get("subnetId")
        if old_subnet and not _instance(updated).get("subnetId"):
            raise invalid("custom networking cannot be changed back to default networking")
        new_model = _model_of(updated)
        if new_model != _model_of(deployment):
            self._deployable_model(new_model)
        previous = deployment["lifecycleState"]
        for key in (
            "displayName",
            "description",
            "freeformTags",
            "definedTags",
            "categoryLogDetails",
            "modelDeploymentConfigurationDetails",
        ):
            deployment[key] = updated[key]
        self._set_state(deployment, "UPDATING", "Updating")

        def effect(ok: bool) -> None:
            self._set_state(
                deployment, previous if ok else "NEEDS_ATTENTION", "Active" if ok else "Update failed"
            )

        wr = self._deployment_work_request(deployment, "MODEL_DEPLOYMENT_UPDATE", "UPDATED", effect)
        return Response(202, None, {"opc-work-request-id": wr})

    def delete_deployment(self, request: Request) -> Response:
        deployment = self._get("deployments", request.params["id"], "model deployment")
        _check_if_match(request, deployment)
        if deployment["lifecycleState"] in GONE:
            raise incorrect_state(f"model deployment is already {deployment['lifecycleState']}")
        if deployment["lifecycleState"] in ("CREATING", "UPDATING"):
            raise incorrect_state(f"model deployment is {deployment['lifecycleState']}")
        self._set_state(deployment, "DELETING", "Deleting")

        def effect(ok: bool) -> None:
            self._set_state(deployment, "DELETED" if ok else "FAILED", "Deleted" if ok else "Delete failed")

        wr = self._deployment_work_request(deployment, "MODEL_DEPLOYMENT_DELETE", "DELETED", effect)
        return Response(202, None, {"opc-work-request-id": wr})

    def activate_deployment(self, request: Request) -> Response:
        return self._toggle(request, "INACTIVE", "ACTIVE", "MODEL_DEPLOYMENT_ACTIVATE")

    def deactivate_deployment(self, request: Request) -> Response:
        return self._toggle(request, "ACTIVE", "INACTIVE", "MODEL_DEPLOYMENT_DEACTIVATE")

    def _toggle(self, request: Request, source: str, target: str, operation: str) -> Response:
        deployment = self._get("deployments", request.params["id"], "model deployment")
        _check_if_match(request, deployment)
        if deployment["lifecycleState"] != source:
            raise incorrect_state(f"model deployment is {deployment['lifecycleState']}; expected {source}")
        self._set_state(deployment, "UPDATING", "Updating")

        def effect(ok: bool) -> None:
            self._set_state(deployment, target if ok else source, target.title() if ok else "Failed")

        wr = self._deployment_work_request(deployment, operation, "UPDATED", effect)
        return Response(202, None, {"opc-work-request-id": wr})

    def change_compartment(self, request: Request) -> Response:
        deployment = self._get("deployments", request.params["id"], "model deployment")
        _check_if_match(request, deployment)
        body = request.json_object()
        _require(body, "compartmentId")
        if deployment["lifecycleState"] not in UPDATABLE_STATES:
            raise incorrect_state(f"model deployment is {deployment['lifecycleState']}")
        deployment["compartmentId"] = body["compartmentId"]
        deployment["_etag"] = new_etag()

        def effect(ok: bool) -> None:
            return None

        wr = self._deployment_work_request(deployment, "MODEL_DEPLOYMENT_MOVE", "UPDATED", effect)
        return Response(202, None, {"opc-work-request-id": wr})

    # ------------------------------------------------------------------ work requests

    def _wr_collection(self, service: str) -> dict[str, Any]:
        return self.data["ds_work_requests" if service == "ds" else "log_work_requests"]

    def get_work_request(self, request: Request, service: str) -> Response:
        wr = self._wr_collection(service).get(request.params["id"])
        if wr is None:
            raise not_found(f"work request {request.params['id']}")
        return Response(200, _public(wr))

    def list_work_requests(self, request: Request, service: str) -> Response:
        compartment = request.query.get("compartmentId")
        if not compartment:
            raise missing("compartmentId")
        items = [w for w in self._wr_collection(service).values() if w["compartmentId"] == compartment]
        for name in ("id", "status", "operationType"):
            if request.query.get(name):
                items = [w for w in items if w.get(name) == request.query[name]]
        resource = request.query.get("resourceId")
        if resource:
            items = [w for w in items if any(r["identifier"] == resource for r in w["resources"])]
        items.sort(key=lambda w: w["timeAccepted"], reverse=True)
        return paginate([_public(w) for w in items], request)

    def work_request_items(self, request: Request, service: str, field_name: str) -> Response:
        wr = self._wr_collection(service).get(request.params["id"])
        if wr is None:
            raise not_found(f"work request {request.params['id']}")
        return paginate(list(wr[field_name]), request)

    def cancel_work_request(self, request: Request) -> Response:
        wr = self._wr_collection("ds").get(request.params["id"])
        if wr is None:
            raise not_found(f"work request {request.params['id']}")
        if wr["status"] in ("SUCCEEDED", "FAILED", "CANCELED"):
            raise incorrect_state(f"work request is {wr['status']}")
        wr["status"] = "CANCELING"
        return Response(202, None)

    # ------------------------------------------------------------------ logging

    def create_log_group(self, request: Request) -> Response:
        body = request.json_object()
        _require(body, "compartmentId", "displayName")
        for group in self.data["log_groups"].values():
            if (
                group["compartmentId"] == body["compartmentId"]
                and group["displayName"] == body["displayName"]
                and group["lifecycleState"] not in NAME_FREE
            ):
                raise conflict(f"a log group named {body['displayName']!r} already exists in the compartment")
        group_id = self.state.new_id("loggroup")
        group = {
            "id": group_id,
            "compartmentId": body["compartmentId"],
            "displayName": body["displayName"],
            "description": body.get("description"),
            "definedTags": body.get("definedTags") or {},
            "freeformTags": body.get("freeformTags") or {},
            "timeCreated": now_rfc3339(),
            "timeLastModified": now_rfc3339(),
            "lifecycleState": "CREATING",
            "_etag": new_etag(),
        }
        self.data["log_groups"][group_id] = group

        def effect(ok: bool) -> None:
            group["lifecycleState"] = "ACTIVE" if ok else "FAILED"

        wr = self.state.new_work_request(
            "log",
            "CREATE_LOG_GROUP",
            group["compartmentId"],
            group_id,
            "loggroup",
            f"/logGroups/{group_id}",
            "CREATED",
            effect,
        )
        return Response(202, None, {"opc-work-request-id": wr})

    def list_log_groups(self, request: Request) -> Response:
        return self._list("log_groups", request, ("displayName",), sort_default="timeCreated")

    def get_log_group(self, request: Request) -> Response:
        return _with_etag(self._get("log_groups", request.params["id"], "log group"))

    def update_log_group(self, request: Request) -> Response:
        group = self._get("log_groups", request.params["id"], "log group")
        _check_if_match(request, group)
        body = request.json_object()
        for key in ("displayName", "description", "freeformTags", "definedTags"):
            if key in body:
                group[key] = body[key]
        group["_etag"] = new_etag()
        wr = self.state.new_work_request(
            "log",
            "UPDATE_LOG_GROUP",
            group["compartmentId"],
            group["id"],
            "loggroup",
            f"/logGroups/{group['id']}",
            "UPDATED",
            lambda ok: None,
        )
        return Response(202, None, {"opc-work-request-id": wr})

    def delete_log_group(self, request: Request) -> Response:
        group = self._get("log_groups", request.params["id"], "log group")
        _check_if_match(request, group)
        live_logs = [
            x
            for x in self.data["logs"].values()
            if x["logGroupId"] == group["id"] and x["lifecycleState"] not in NAME_FREE
        ]
        if live_logs:
            raise conflict("the log group still contains logs")
        group["lifecycleState"] = "DELETING"

        def effect(ok: bool) -> None:
            if ok:
                self.data["log_groups"].pop(group["id"], None)

        wr = self.state.new_work_request(
            "log",
            "DELETE_LOG_GROUP",
            group["compartmentId"],
            group["id"],
            "loggroup",
            f"/logGroups/{group['id']}",
            "DELETED",
            effect,
        )
        return Response(202, None, {"opc-work-request-id": wr})

    def create_log(self, request: Request) -> Response:
        group = self._get("log_groups", request.params["group"], "log group")
        body = request.json_object()
        _require(body, "displayName", "logType")
        if body["logType"] not in ("CUSTOM", "SERVICE"):
            raise invalid(f"logType {body['logType']!r} must be CUSTOM or SERVICE")
        for log in self.data["logs"].values():
            if (
                log["logGroupId"] == group["id"]
                and log["displayName"] == body["displayName"]
                and log["lifecycleState"] not in NAME_FREE
            ):
                raise conflict(f"a log named {body['displayName']!r} already exists in the log group")
        log_id = self.state.new_id("log")
        log = {
            "id": log_id,
            "tenancyId": "ocid1.tenancy.oc1..aaaaaaaamdremulator",
            "logGroupId": group["id"],
            "compartmentId": group["compartmentId"],
            "displayName": body["displayName"],
            "logType": body["logType"],
            "isEnabled": body.get("isEnabled", True),
            "retentionDuration": body.get("retentionDuration", 30),
            "configuration": body.get("configuration"),
            "definedTags": body.get("definedTags") or {},
            "freeformTags": body.get("freeformTags") or {},
            "timeCreated": now_rfc3339(),
            "timeLastModified": now_rfc3339(),
            "lifecycleState": "CREATING",
            "_etag": new_etag(),
        }
        self.data["logs"][log_id] = log

        def effect(ok: bool) -> None:
            log["lifecycleState"] = "ACTIVE" if ok else "FAILED"

        wr = self.state.new_work_request(
            "log",
            "CREATE_LOG",
            group["compartmentId"],
            log_id,
            "log",
            f"/logGroups/{group['id']}/logs/{log_id}",
            "CREATED",
            effect,
        )
        return Response(202, None, {"opc-work-request-id": wr})

    def list_logs(self, request: Request) -> Response:
        group = self._get("log_groups", request.params["group"], "log group")
        items = [x for x in self.data["logs"].values() if x["logGroupId"] == group["id"]]
        for name in ("displayName", "logType", "lifecycleState"):
            if request.query.get(name):
                items = [x for x in items if x.get(name) == request.query[name]]
        return self._page(items, request, "timeCreated")

    def get_log(self, request: Request) -> Response:
        log = self._get("logs", request.params["id"], "log")
        if log["logGroupId"] != request.params["group"]:
            raise not_found(f"log {log['id']}")
        return _with_etag(log)

    def update_log(self, request: Request) -> Response:
        log = self._get("logs", request.params["id"], "log")
        _check_if_match(request, log)
        body = request.json_object()
        for key in ("displayName", "isEnabled", "retentionDuration", "freeformTags", "definedTags"):
            if key in body:
                log[key] = body[key]
        log["_etag"] = new_etag()
        wr = self.state.new_work_request(
            "log",
            "UPDATE_LOG",
            log["compartmentId"],
            log["id"],
            "log",
            f"/logGroups/{log['logGroupId']}/logs/{log['id']}",
            "UPDATED",
            lambda ok: None,
        )
        return Response(202, None, {"opc-work-request-id": wr})

    def delete_log(self, request: Request) -> Response:
        log = self._get("logs", request.params["id"], "log")
        _check_if_match(request, log)
        log["lifecycleState"] = "DELETING"

        def effect(ok: bool) -> None:
            if ok:
                self.data["logs"].pop(log["id"], None)

        wr = self.state.new_work_request(
            "log",
            "DELETE_LOG",
            log["compartmentId"],
            log["id"],
            "log",
            f"/logGroups/{log['logGroupId']}/logs/{log['id']}",
            "DELETED",
            effect,
        )
        return Response(202, None, {"opc-work-request-id": wr})

    # ------------------------------------------------------------------ object storage

    def get_namespace(self, request: Request) -> Response:
        return Response(200, NAMESPACE)

    def _check_namespace(self, request: Request) -> None:
        if request.params["ns"] != NAMESPACE:
            raise not_found(f"namespace {request.params['ns']}")

    def _put_object_bytes(self, key: str, content: bytes) -> dict[str, Any]:
        blob = "object-" + hashlib.sha256(key.encode()).hexdigest()
        self.state.put_blob(blob, content)
        record = {
            "blob": blob,
            "size": len(content),
            "etag": new_etag(),
            "md5": base64.b64encode(
                hashlib.md5(content).digest()
            ).decode(),  # Content-MD5 is MD5 by definition
            "timeCreated": now_rfc3339(),
        }
        self.data["objects"][key] = record
        return record

    def _conditional(self, request: Request, key: str) -> None:
        current = self.data["objects"].get(key)
        if_none_match = request.headers.get("if-none-match")
        if if_none_match == "*" and current is not None:
            raise ApiError(412, "IfNoneMatchFailed", "the object already exists")
        if_match = request.headers.get("if-match")
        if if_match and (current is None or current["etag"] != if_match):
            raise ApiError(412, "IfMatchFailed", "the object's etag does not match if-match")

    def put_object(self, request: Request) -> Response:
        self._check_namespace(request)
        key = _object_key(request.params["ns"], request.params["bucket"], request.params["name"])
        self._conditional(request, key)
        record = self._put_object_bytes(key, request.body)
        return Response(200, None, {"etag": record["etag"], "opc-content-md5": record["md5"]})

    def _object(self, request: Request) -> tuple[str, dict[str, Any]]:
        self._check_namespace(request)
        key = _object_key(request.params["ns"], request.params["bucket"], request.params["name"])
        record = self.data["objects"].get(key)
        if record is None:
            raise ApiError(404, "ObjectNotFound", f"object {request.params['name']} not found")
        return key, record

    def get_object(self, request: Request) -> Response:
        _, record = self._object(request)
        headers = {"etag": record["etag"], "content-md5": record["md5"]}
        return Response(200, self.state.get_blob(record["blob"]), headers, "application/octet-stream")

    def head_object(self, request: Request) -> Response:
        _, record = self._object(request)
        return Response(
            200,
            None,
            {"etag": record["etag"], "content-md5": record["md5"], "content-length": str(record["size"])},
        )

    def delete_object(self, request: Request) -> Response:
        key, record = self._object(request)
        if_match = request.headers.get("if-match")
        if if_match and if_match != record["etag"]:
            raise ApiError(412, "IfMatchFailed", "the object's etag does not match if-match")
        self.state.delete_blob(record["blob"])
        del self.data["objects"][key]
        return Response(204, None)

    def list_objects(self, request: Request) -> Response:
        self._check_namespace(request)
        prefix = f"{request.params['ns']}/{request.params['bucket']}/"
        wanted = request.query.get("prefix") or ""
        names = sorted(k[len(prefix) :] for k in self.data["objects"] if k.startswith(prefix))
        objects = [
            {
                "name": n,
                "size": self.data["objects"][prefix + n]["size"],
                "etag": self.data["objects"][prefix + n]["etag"],
            }
            for n in names
            if n.startswith(wanted)
        ]
        return Response(200, {"objects": objects})

    def create_multipart(self, request: Request) -> Response:
        self._check_namespace(request)
        body = request.json_object()
        _require(body, "object")
        upload_id = new_etag()
        key = _object_key(request.params["ns"], request.params["bucket"], body["object"])
        self._conditional(request, key)
        self.data["multipart"][upload_id] = {"key": key, "parts": {}, "time": now_rfc3339()}
        return Response(
            200,
            {
                "namespace": request.params["ns"],
                "bucket": request.params["bucket"],
                "object": body["object"],
                "uploadId": upload_id,
                "timeCreated": now_rfc3339(),
            },
        )

    def _upload(self, request: Request) -> dict[str, Any]:
        upload = self.data["multipart"].get(request.query.get("uploadId", ""))
        if upload is None:
            raise ApiError(404, "NoSuchUpload", "the multipart upload does not exist")
        return upload

    def upload_part(self, request: Request) -> Response:
        upload = self._upload(request)
        number = int(request.query.get("uploadPartNum", "0"))
        if not 1 <= number <= 10000:
            raise invalid("uploadPartNum must be between 1 and 10000")
        blob = f"part-{request.query['uploadId']}-{number}"
        self.state.put_blob(blob, request.body)
        etag = new_etag()
        upload["parts"][str(number)] = {"blob": blob, "etag": etag}
        md5 = base64.b64encode(
            hashlib.md5(request.body).digest()
        ).decode()  # Content-MD5 is MD5 by definition
        return Response(200, None, {"etag": etag, "opc-content-md5": md5})

    def commit_multipart(self, request: Request) -> Response:
        upload = self._upload(request)
        body = request.json_object()
        parts = body.get("partsToCommit") or []
        content = b""
        for part in sorted(parts, key=lambda p: int(p["partNum"])):
            stored = upload["parts"].get(str(part["partNum"]))
            if stored is None or stored["etag"] != part.get("etag"):
                raise invalid(f"part {part['partNum']} was not uploaded or its etag differs")
            content += self.state.get_blob(stored["blob"])
        record = self._put_object_bytes(upload["key"], content)
        for stored in upload["parts"].values():
            self.state.delete_blob(stored["blob"])
        del self.data["multipart"][request.query["uploadId"]]
        return Response(
            200, None, {"etag": record["etag"], "opc-multipart-md5": f"{record['md5']}-{len(parts)}"}
        )

    def abort_multipart(self, request: Request) -> Response:
        upload = self._upload(request)
        for stored in upload["parts"].values():
            self.state.delete_blob(stored["blob"])
        del self.data["multipart"][request.query["uploadId"]]
        return Response(204, None)


NAMESPACE = "mdrlocal"


def _object_key(namespace: str, bucket: str, name: str) -> str:
    return f"{namespace}/{bucket}/{name}"


def _model_of(deployment: dict[str, Any]) -> str:
    config = deployment.get("modelDeploymentConfigurationDetails") or {}
    return str((config.get("modelConfigurationDetails") or {}).get("modelId") or "")


def _instance(deployment: dict[str, Any]) -> dict[str, Any]:
    config = deployment.get("modelDeploymentConfigurationDetails") or {}
    return (config.get("modelConfigurationDetails") or {}).get("instanceConfiguration") or {}


def merge_update(current: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The deployment as it would be after a (partial) UpdateModelDeploymentDetails body."""
    merged = copy.deepcopy(current)
    for key in ("displayName", "description", "freeformTags", "definedTags", "categoryLogDetails"):
        if key in body:
            merged[key] = body[key]
    config_update = body.get("modelDeploymentConfigurationDetails")
    if config_update:
        config = merged["modelDeploymentConfigurationDetails"]
        if config_update.get("deploymentType") not in (None, config.get("deploymentType")):
            raise invalid("deploymentType cannot be changed")
        model_update = config_update.get("modelConfigurationDetails")
        if model_update:
            if not model_update.get("modelId"):
                raise missing("modelConfigurationDetails.modelId")
            config["modelConfigurationDetails"].update(model_update)
        if config_update.get("environmentConfigurationDetails") is not None:
            config["environmentConfigurationDetails"] = config_update["environmentConfigurationDetails"]
    return merged


def changed_groups(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    """The console's option groups that differ between two versions of a deployment."""
    groups: set[str] = set()
    if (before.get("displayName"), before.get("description")) != (
        after.get("displayName"),
        after.get("description"),
    ):
        groups.add("name")
    if (before.get("categoryLogDetails") or None) != (after.get("categoryLogDetails") or None):
        groups.add("logging")
    old_config = before["modelDeploymentConfigurationDetails"]
    new_config = after["modelDeploymentConfigurationDetails"]
    old_model = old_config["modelConfigurationDetails"]
    new_model = new_config["modelConfigurationDetails"]
    if old_model.get("modelId") != new_model.get("modelId"):
        groups.add("model")
    if (old_model.get("instanceConfiguration"), old_model.get("scalingPolicy")) != (
        new_model.get("instanceConfiguration"),
        new_model.get("scalingPolicy"),
    ):
        groups.add("compute")
    old_env = old_config.get("environmentConfigurationDetails") or {}
    new_env = new_config.get("environmentConfigurationDetails") or {}
    container = "OCIR_CONTAINER" in (
        old_env.get("environmentConfigurationType"),
        new_env.get("environmentConfigurationType"),
    )
    bandwidth = (old_model.get("bandwidthMbps"), old_model.get("maximumBandwidthMbps")) != (
        new_model.get("bandwidthMbps"),
        new_model.get("maximumBandwidthMbps"),
    )
    if bandwidth or (container and old_env != new_env):
        groups.add("loadBalancerByoc")
    if not container and old_env != new_env:
        groups.add("environment")
    return groups


def resume_effect(state: State, wr: dict[str, Any], succeeded: bool) -> None:
    """Apply a work request's effect after a restart lost its closure."""
    resource_id = wr["resources"][0]["identifier"] if wr["resources"] else ""
    operation = wr["operationType"]
    deployments = state.data["deployments"]
    if resource_id in deployments:
        deployment = deployments[resource_id]
        final = {
            "MODEL_DEPLOYMENT_CREATE": "ACTIVE",
            "MODEL_DEPLOYMENT_DELETE": "DELETED",
            "MODEL_DEPLOYMENT_ACTIVATE": "ACTIVE",
            "MODEL_DEPLOYMENT_DEACTIVATE": "INACTIVE",
            "MODEL_DEPLOYMENT_UPDATE": "ACTIVE",
        }.get(operation)
        if final is not None:
            deployment["lifecycleState"] = final if succeeded else "FAILED"
            deployment["_etag"] = new_etag()
        return
    for collection in ("log_groups", "logs"):
        resource = state.data[collection].get(resource_id)
        if resource is None:
            continue
        if operation.startswith("DELETE"):
            if succeeded:
                state.data[collection].pop(resource_id, None)
        elif operation.startswith("CREATE"):
            resource["lifecycleState"] = "ACTIVE" if succeeded else "FAILED"


def body_hash(request: Request) -> str:
    return hashlib.sha256(request.body).hexdigest()


def decode_json(data: bytes) -> Any:
    return json.loads(data) if data else None
