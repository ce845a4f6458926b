"""Data Science's HTTP API (/20190101): requests in, backend calls, wire answers out."""

from __future__ import annotations

from typing import Any

from reconciler.emulator.core.errors import invalid
from reconciler.emulator.core.http import (
    FileBody,
    Request,
    Response,
    Router,
    accepted,
    filtered,
    paginate,
    sorted_page,
    with_etag,
)
from reconciler.emulator.core.workrequest_routes import WorkRequestRoutes
from reconciler.emulator.core.workrequests import WorkRequests
from reconciler.emulator.datascience.backend import WORK_REQUESTS, DataScienceBackend, DeploymentsBackend
from reconciler.emulator.datascience.rules import SHAPES

DS = "/20190101"
PROJECT_FILTERS = ("id", "displayName", "lifecycleState", "createdBy")
MODEL_FILTERS = ("id", "projectId", "displayName", "lifecycleState", "createdBy", "category", "versionLabel")
#: fields a model summary (ListModels) leaves out
MODEL_SUMMARY_DROPS = (
    "description",
    "customMetadataList",
    "definedMetadataList",
    "inputSchema",
    "outputSchema",
)
DEPLOYMENT_FILTERS = ("id", "projectId", "displayName", "lifecycleState", "createdBy")


class DataScienceRoutes:
    def __init__(
        self, models: DataScienceBackend, deployments: DeploymentsBackend, work_requests: WorkRequests
    ) -> None:
        self.models = models
        self.deployments = deployments
        self.work_requests = WorkRequestRoutes(work_requests, WORK_REQUESTS)

    def register(self, router: Router) -> None:
        add = router.add
        add("POST", f"{DS}/projects", "CreateProject", self.create_project, mutating=True)
        add("GET", f"{DS}/projects", "ListProjects", self.list_projects)
        add("GET", f"{DS}/projects/{{id}}", "GetProject", self.get_project)
        add("DELETE", f"{DS}/projects/{{id}}", "DeleteProject", self.delete_project, mutating=True)
        models = f"{DS}/models"
        add("POST", models, "CreateModel", self.create_model, mutating=True)
        add("GET", models, "ListModels", self.list_models)
        add("GET", f"{models}/{{id}}", "GetModel", self.get_model)
        add("PUT", f"{models}/{{id}}", "UpdateModel", self.update_model, mutating=True)
        add("DELETE", f"{models}/{{id}}", "DeleteModel", self.delete_model, mutating=True)
        add(
            "POST",
            f"{models}/{{id}}/artifact",
            "CreateModelArtifact",
            self.create_artifact,
            mutating=True,
            streamed=True,
        )
        add("HEAD", f"{models}/{{id}}/artifact/content", "HeadModelArtifact", self.head_artifact)
        add("GET", f"{models}/{{id}}/artifact/content", "GetModelArtifactContent", self.get_artifact)
        add(
            "POST",
            f"{models}/{{id}}/actions/exportArtifact",
            "ExportModelArtifact",
            self.export_artifact,
            True,
        )
        add(
            "POST",
            f"{models}/{{id}}/actions/importArtifact",
            "ImportModelArtifact",
            self.import_artifact,
            True,
        )
        deployments = f"{DS}/modelDeployments"
        add("POST", deployments, "CreateModelDeployment", self.create_deployment, mutating=True)
        add("GET", deployments, "ListModelDeployments", self.list_deployments)
        add("GET", f"{deployments}/{{id}}", "GetModelDeployment", self.get_deployment)
        add("PUT", f"{deployments}/{{id}}", "UpdateModelDeployment", self.update_deployment, mutating=True)
        add("DELETE", f"{deployments}/{{id}}", "DeleteModelDeployment", self.delete_deployment, True)
        actions = f"{deployments}/{{id}}/actions"
        add("POST", f"{actions}/activate", "ActivateModelDeployment", self.activate_deployment, True)
        add("POST", f"{actions}/deactivate", "DeactivateModelDeployment", self.deactivate_deployment, True)
        add(
            "POST",
            f"{actions}/changeCompartment",
            "ChangeModelDeploymentCompartment",
            self.change_compartment,
            True,
        )
        add("GET", f"{DS}/modelDeploymentShapes", "ListModelDeploymentShapes", self.list_shapes)
        self.work_requests.register(router, DS, "", cancellable=True)

    def _listed(
        self, collection: str, request: Request, filters: tuple[str, ...], omit: tuple[str, ...] = ()
    ) -> Response:
        """A list call: the compartment's items, filtered, sorted, paged, as summaries without ``omit``."""
        items = self.models.store.in_compartment(collection, request.compartment())
        response = sorted_page(filtered(items, request, filters), request)
        if omit:
            response.body = [{k: v for k, v in item.items() if k not in omit} for item in response.body]
        return response

    # -- projects --

    def create_project(self, request: Request) -> Response:
        return with_etag(self.models.create_project(request.json_object()))

    def list_projects(self, request: Request) -> Response:
        return self._listed("projects", request, PROJECT_FILTERS)

    def get_project(self, request: Request) -> Response:
        return with_etag(self.models.seen_project(request.params["id"]))

    def delete_project(self, request: Request) -> Response:
        return accepted(self.models.delete_project(request.params["id"], request.if_match))

    # -- models and artifacts --

    def create_model(self, request: Request) -> Response:
        return with_etag(self.models.create_model(request.json_object()))

    def list_models(self, request: Request) -> Response:
        return self._listed("models", request, MODEL_FILTERS, omit=MODEL_SUMMARY_DROPS)

    def get_model(self, request: Request) -> Response:
        return with_etag(self.models.model(request.params["id"]))

    def update_model(self, request: Request) -> Response:
        model_id = request.params["id"]
        return with_etag(self.models.update_model(model_id, request.json_object(), request.if_match))

    def delete_model(self, request: Request) -> Response:
        self.models.delete_model(request.params["id"], request.if_match)
        return Response(204, None)

    def create_artifact(self, request: Request) -> Response:
        disposition = request.headers.get("content-disposition")
        artifact = self.models.create_artifact(request.params["id"], request.content(), disposition)
        return Response(200, None, {"etag": artifact["etag"]})

    @staticmethod
    def _artifact_headers(artifact: dict[str, Any]) -> dict[str, str]:
        return {
            "etag": artifact["etag"],
            "content-md5": artifact["md5"],
            "content-disposition": artifact["disposition"],
            "last-modified": artifact["lastModified"],
            "content-length": str(artifact["size"]),
        }

    def head_artifact(self, request: Request) -> Response:
        return Response(200, None, self._artifact_headers(self.models.artifact(request.params["id"])))

    def get_artifact(self, request: Request) -> Response:
        artifact = self.models.artifact(request.params["id"])
        headers = self._artifact_headers(artifact)
        headers.pop("content-length")
        body = FileBody(self.models.artifact_content(artifact), artifact["size"])
        return Response(200, body, headers, "application/octet-stream")

    def export_artifact(self, request: Request) -> Response:
        details = request.json_object().get("artifactExportDetails") or {}
        return accepted(self.models.export_artifact(request.params["id"], details))

    def import_artifact(self, request: Request) -> Response:
        details = request.json_object().get("artifactImportDetails") or {}
        return accepted(self.models.import_artifact(request.params["id"], details))

    # -- model deployments --

    def list_shapes(self, request: Request) -> Response:
        request.compartment()
        return paginate([shape.summary() for shape in SHAPES.values()], request)

    def create_deployment(self, request: Request) -> Response:
        deployment, wr = self.deployments.create(request.json_object())
        response = with_etag(deployment)
        response.headers["opc-work-request-id"] = wr
        response.headers["location"] = f"{self.deployments.base_url}{DS}/modelDeployments/{deployment['id']}"
        return response

    def list_deployments(self, request: Request) -> Response:
        used = [name for name in DEPLOYMENT_FILTERS if request.query.get(name)]
        if len(used) > 1:
            raise invalid(
                f"only one parameter other than compartmentId may be included in a query; got {', '.join(used)}"
            )
        return self._listed("deployments", request, DEPLOYMENT_FILTERS, omit=("lifecycleDetails",))

    def get_deployment(self, request: Request) -> Response:
        return with_etag(self.deployments.get(request.params["id"]))

    def update_deployment(self, request: Request) -> Response:
        deployment_id = request.params["id"]
        return accepted(self.deployments.update(deployment_id, request.json_object(), request.if_match))

    def delete_deployment(self, request: Request) -> Response:
        return accepted(self.deployments.delete(request.params["id"], request.if_match))

    def activate_deployment(self, request: Request) -> Response:
        return accepted(self.deployments.activate(request.params["id"], request.if_match))

    def deactivate_deployment(self, request: Request) -> Response:
        return accepted(self.deployments.deactivate(request.params["id"], request.if_match))

    def change_compartment(self, request: Request) -> Response:
        deployment_id = request.params["id"]
        return accepted(
            self.deployments.change_compartment(deployment_id, request.json_object(), request.if_match)
        )
