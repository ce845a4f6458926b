"""The model catalog's own resources: a model's provenance, and model version sets. No HTTP in the backend.

- **Provenance** (``/models/{id}/provenance``): where a model came from (repository, branch, commit, script
  folder and file, training run). One per model: a second CreateModelProvenance is a 409, an update of a
  model that has none a 404, as OCI answers.
- **Model version sets** (``/modelVersionSets``): a named series of models in a project; a model created (or
  updated) with ``modelVersionSetId`` joins it with the next ``versionId`` (1, 2, ...) and an optional
  ``versionLabel``. Names are unique in their compartment among sets not deleted. A set that still holds
  models cannot be deleted unless ``isDeleteRelatedModels`` is set (then its models are deleted too).
"""

from __future__ import annotations

import re
from typing import Any

from reconciler.emulator.core.errors import (
    check_if_match,
    conflict,
    invalid,
    not_found,
    require,
)
from reconciler.emulator.core.http import Request, Response, Router, filtered, sorted_page, with_etag
from reconciler.emulator.core.signing import USER
from reconciler.emulator.core.store import Store, new_etag, now_rfc3339

DS = "/20190101"
PROVENANCE_FIELDS = ("repositoryUrl", "gitBranch", "gitCommit", "scriptDir", "trainingScript", "trainingId")
SET_NAME = re.compile(r"[A-Za-z0-9_.-]{1,255}")
SET_FIELDS = ("description", "freeformTags", "definedTags")
SET_FILTERS = ("id", "projectId", "name", "lifecycleState", "createdBy")


class CatalogBackend:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- provenance --

    def _model(self, model_id: str) -> dict[str, Any]:
        model = self.store.find("models", model_id, "model")
        if model["lifecycleState"] == "DELETED":
            raise not_found(f"model {model_id}")
        return model

    def provenance(self, model_id: str) -> dict[str, Any]:
        found = self._model(model_id).get("_provenance")
        if found is None:
            raise not_found(f"provenance of model {model_id}")
        return dict(found)

    def create_provenance(self, model_id: str, body: dict[str, Any]) -> dict[str, Any]:
        model = self._model(model_id)
        if model.get("_provenance") is not None:
            raise conflict(f"model {model_id} already has a provenance; update it instead")
        model["_provenance"] = {name: body.get(name) for name in PROVENANCE_FIELDS}
        return dict(model["_provenance"])

    def update_provenance(self, model_id: str, body: dict[str, Any]) -> dict[str, Any]:
        model = self._model(model_id)
        if model.get("_provenance") is None:
            raise not_found(f"provenance of model {model_id}")
        for name in PROVENANCE_FIELDS:
            if name in body:
                model["_provenance"][name] = body[name]
        return dict(model["_provenance"])

    # -- version sets --

    def create_set(self, body: dict[str, Any]) -> dict[str, Any]:
        require(body, "compartmentId", "projectId", "name")
        name = str(body["name"])
        if not SET_NAME.fullmatch(name):
            raise invalid("name must be 1-255 letters, digits, '_', '.' or '-'")
        taken = [
            s
            for s in self.store.data["model_version_sets"].values()
            if s["compartmentId"] == body["compartmentId"]
            and s["name"] == name
            and s["lifecycleState"] != "DELETED"
        ]
        if taken:
            raise conflict(
                f"a model version set named {name!r} exists in this compartment ({taken[0]['id']})"
            )
        set_id = self.store.new_id("datasciencemodelversionset")
        now = now_rfc3339()
        version_set = {
            "id": set_id,
            "compartmentId": body["compartmentId"],
            "projectId": body["projectId"],
            "name": name,
            "description": body.get("description"),
            "lifecycleState": "ACTIVE",
            "timeCreated": now,
            "timeUpdated": now,
            "createdBy": USER,
            "freeformTags": body.get("freeformTags") or {},
            "definedTags": body.get("definedTags") or {},
            "_etag": new_etag(),
        }
        self.store.data["model_version_sets"][set_id] = version_set
        return version_set

    def version_set(self, set_id: str) -> dict[str, Any]:
        return self.store.find("model_version_sets", set_id, "model version set")

    def update_set(self, set_id: str, body: dict[str, Any], if_match: str | None) -> dict[str, Any]:
        version_set = self.version_set(set_id)
        check_if_match(version_set, if_match)
        for name in SET_FIELDS:
            if name in body:
                version_set[name] = body[name]
        version_set["timeUpdated"] = now_rfc3339()
        version_set["_etag"] = new_etag()
        return version_set

    def delete_set(self, set_id: str, if_match: str | None, with_models: bool) -> None:
        version_set = self.version_set(set_id)
        check_if_match(version_set, if_match)
        members = [m for m in self.store.data["models"].values() if m.get("modelVersionSetId") == set_id]
        members = [m for m in members if m["lifecycleState"] != "DELETED"]
        if members and not with_models:
            raise conflict(
                f"model version set {set_id} holds {len(members)} model(s); delete them first, or set "
                "isDeleteRelatedModels"
            )
        for model in members:
            model["lifecycleState"] = "DELETED"
        version_set["lifecycleState"] = "DELETED"


def place_in_version_set(store: Store, model: dict[str, Any], body: dict[str, Any]) -> None:
    """A created or updated model joins the version set its body names (with the next version number)."""
    set_id = body.get("modelVersionSetId")
    if not set_id or set_id == model.get("modelVersionSetId"):
        return
    version_set = store.data["model_version_sets"].get(set_id)
    if version_set is None or version_set["lifecycleState"] != "ACTIVE":
        raise not_found(f"model version set {set_id}")
    if version_set["projectId"] != model["projectId"]:
        raise invalid(f"model version set {set_id} belongs to another project")
    members = [m for m in store.data["models"].values() if m.get("modelVersionSetId") == set_id]
    model["modelVersionSetId"] = set_id
    model["modelVersionSetName"] = version_set["name"]
    model["versionId"] = max((m.get("versionId") or 0 for m in members), default=0) + 1


class CatalogRoutes:
    def __init__(self, backend: CatalogBackend) -> None:
        self.backend = backend

    def register(self, router: Router) -> None:
        add = router.add
        provenance = f"{DS}/models/{{id}}/provenance"
        add("POST", provenance, "CreateModelProvenance", self.create_provenance, mutating=True)
        add("GET", provenance, "GetModelProvenance", self.get_provenance)
        add("PUT", provenance, "UpdateModelProvenance", self.update_provenance, mutating=True)
        sets = f"{DS}/modelVersionSets"
        add("POST", sets, "CreateModelVersionSet", self.create_set, mutating=True)
        add("GET", sets, "ListModelVersionSets", self.list_sets)
        add("GET", f"{sets}/{{id}}", "GetModelVersionSet", self.get_set)
        add("PUT", f"{sets}/{{id}}", "UpdateModelVersionSet", self.update_set, mutating=True)
        add("DELETE", f"{sets}/{{id}}", "DeleteModelVersionSet", self.delete_set, mutating=True)

    def create_provenance(self, request: Request) -> Response:
        return Response(200, self.backend.create_provenance(request.params["id"], request.json_object()))

    def get_provenance(self, request: Request) -> Response:
        return Response(200, self.backend.provenance(request.params["id"]))

    def update_provenance(self, request: Request) -> Response:
        return Response(200, self.backend.update_provenance(request.params["id"], request.json_object()))

    def create_set(self, request: Request) -> Response:
        return with_etag(self.backend.create_set(request.json_object()))

    def list_sets(self, request: Request) -> Response:
        sets = self.backend.store.in_compartment("model_version_sets", request.compartment())
        return sorted_page(filtered(sets, request, SET_FILTERS), request)

    def get_set(self, request: Request) -> Response:
        return with_etag(self.backend.version_set(request.params["id"]))

    def update_set(self, request: Request) -> Response:
        return with_etag(
            self.backend.update_set(request.params["id"], request.json_object(), request.if_match)
        )

    def delete_set(self, request: Request) -> Response:
        with_models = (request.query.get("isDeleteRelatedModels") or "").lower() == "true"
        self.backend.delete_set(request.params["id"], request.if_match, with_models)
        return Response(204, None)
