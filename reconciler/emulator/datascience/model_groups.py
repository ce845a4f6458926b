"""Model groups and their version histories (``/modelGroups``, ``/modelGroupVersionHistory``).

A model group is an immutable set of catalog models, each with an optional inference key, of one type
(HOMOGENEOUS, HETEROGENEOUS, STACKED). Its members never change: a new set of members is a new group,
created from scratch (``createType: CREATE``) or cloned from another group with members inserted and removed
(``createType: CLONE``), and only names, descriptions, tags and version labels are updatable. A group is
created CREATING and becomes ACTIVE through a MODEL_GROUP_CREATE work request; it is deleted through
MODEL_GROUP_DELETE, refused while a deployment serves it.

A version history is a named series of groups in a project: a group created with
``modelGroupVersionHistoryId`` joins it with the next ``versionId`` (1, 2, ...) and becomes its latest group.
Limits: at most 500 members (the service's documented limit); members are ACTIVE models with an artifact,
unique by model and by inference key; a STACKED group names a ``baseModelId`` among its members.
"""

from __future__ import annotations

from typing import Any

from reconciler.emulator.core.errors import check_if_match, conflict, incorrect_state, invalid, require
from reconciler.emulator.core.http import (
    Request,
    Response,
    Router,
    accepted,
    filtered,
    sorted_page,
    with_etag,
)
from reconciler.emulator.core.signing import USER
from reconciler.emulator.core.store import GONE, Store, new_etag, now_rfc3339
from reconciler.emulator.core.workrequests import Outcome, Transition, WorkRequests
from reconciler.emulator.datascience.backend import WORK_REQUESTS, DataScienceBackend
from reconciler.emulator.datascience.group_rules import group_of

DS = "/20190101"
MAX_MEMBERS = 500
GROUP_TYPES = ("HOMOGENEOUS", "HETEROGENEOUS", "STACKED")
GROUP_FIELDS = ("displayName", "description", "freeformTags", "definedTags", "versionLabel")
HISTORY_FIELDS = ("displayName", "description", "freeformTags", "definedTags", "latestModelGroupId")
GROUP_FILTERS = (
    "id",
    "projectId",
    "displayName",
    "lifecycleState",
    "createdBy",
    "modelGroupVersionHistoryId",
)
HISTORY_FILTERS = ("id", "projectId", "displayName", "lifecycleState", "createdBy")
#: fields a model group summary (ListModelGroups) leaves out
SUMMARY_DROPS = ("description", "memberModelEntries", "createType", "sourceModelGroupId")


class _VersionHistories:
    """Model group version histories: named series of groups, each group joining with the next versionId."""

    store: Store
    work_requests: WorkRequests
    models: DataScienceBackend

    @property
    def groups(self) -> dict[str, dict[str, Any]]:
        return self.store.data["model_groups"]

    @property
    def histories(self) -> dict[str, dict[str, Any]]:
        return self.store.data["model_group_version_histories"]

    def _history_deleted(self, outcome: Outcome) -> None:
        history = self.histories.get(outcome.resource_id)
        if history is not None:
            history["lifecycleState"] = "DELETED" if outcome.succeeded else "ACTIVE"
            history["_etag"] = new_etag()

    def _join_history(self, group: dict[str, Any], history_id: str | None) -> None:
        if not history_id:
            return
        history = self.history(history_id)
        if history["lifecycleState"] != "ACTIVE":
            raise incorrect_state(f"model group version history {history_id} is {history['lifecycleState']}")
        if history["projectId"] != group["projectId"]:
            raise invalid(f"model group version history {history_id} belongs to another project")
        versions = [
            g.get("versionId") or 0
            for g in self.groups.values()
            if g.get("modelGroupVersionHistoryId") == history_id
        ]
        group["modelGroupVersionHistoryId"] = history_id
        group["modelGroupVersionHistoryName"] = history["displayName"]
        group["versionId"] = max(versions, default=0) + 1
        history["latestModelGroupId"] = group["id"]
        history["timeUpdated"] = now_rfc3339()

    def create_history(self, body: dict[str, Any]) -> dict[str, Any]:
        require(body, "compartmentId", "projectId")
        self.models.check_project(body["projectId"])
        name = body.get("displayName")
        taken = [
            h
            for h in self.histories.values()
            if name
            and h["compartmentId"] == body["compartmentId"]
            and h["displayName"] == name
            and h["lifecycleState"] != "DELETED"
        ]
        if taken:
            raise conflict(
                f"a model group version history named {name!r} exists in this compartment ({taken[0]['id']})"
            )
        history_id = self.store.new_id("datasciencemodelgroupversionhistory")
        now = now_rfc3339()
        history = {
            "id": history_id,
            "compartmentId": body["compartmentId"],
            "projectId": body["projectId"],
            "displayName": name or f"modelgroupversionhistory{history_id[-8:]}",
            "description": body.get("description"),
            "latestModelGroupId": None,
            "freeformTags": body.get("freeformTags") or {},
            "definedTags": body.get("definedTags") or {},
            "systemTags": {},
            "lifecycleState": "ACTIVE",
            "lifecycleDetails": "Active",
            "timeCreated": now,
            "timeUpdated": now,
            "createdBy": USER,
            "_etag": new_etag(),
        }
        self.histories[history_id] = history
        latest = body.get("latestModelGroupId")
        if latest:
            self._join_history(self.store.find("model_groups", latest, "model group"), history_id)
        return history

    def history(self, history_id: str) -> dict[str, Any]:
        return self.store.find("model_group_version_histories", history_id, "model group version history")

    def update_history(self, history_id: str, body: dict[str, Any], if_match: str | None) -> dict[str, Any]:
        history = self.history(history_id)
        check_if_match(history, if_match)
        for key in HISTORY_FIELDS:
            if key in body:
                history[key] = body[key]
        history["timeUpdated"] = now_rfc3339()
        history["_etag"] = new_etag()
        return history

    def delete_history(self, history_id: str, if_match: str | None) -> str:
        history = self.history(history_id)
        check_if_match(history, if_match)
        held = [
            g["id"]
            for g in self.groups.values()
            if g.get("modelGroupVersionHistoryId") == history_id and g["lifecycleState"] != "DELETED"
        ]
        if held:
            raise conflict(f"model group version history {history_id} still holds {len(held)} model group(s)")
        history["lifecycleState"] = "DELETING"
        uri = f"/modelGroupVersionHistory/{history_id}"
        operation = "MODEL_GROUP_VERSION_HISTORY_DELETE"
        return self.work_requests.start(operation, history["compartmentId"], history_id, uri)


class ModelGroupsBackend(_VersionHistories):
    """Model groups and version histories: their state and the service's rules. No HTTP here."""

    def __init__(self, store: Store, work_requests: WorkRequests, models: DataScienceBackend) -> None:
        self.store = store
        self.work_requests = work_requests
        self.models = models
        work_requests.register(
            {
                "MODEL_GROUP_CREATE": Transition(WORK_REQUESTS, "modelGroup", "CREATED", self._created),
                "MODEL_GROUP_DELETE": Transition(WORK_REQUESTS, "modelGroup", "DELETED", self._deleted),
                "MODEL_GROUP_VERSION_HISTORY_DELETE": Transition(
                    WORK_REQUESTS, "modelGroupVersionHistory", "DELETED", self._history_deleted
                ),
            }
        )

    # -- transitions --

    def _created(self, outcome: Outcome) -> None:
        group = self.groups.get(outcome.resource_id)
        if group is not None:
            state = ("ACTIVE", "Active") if outcome.succeeded else ("FAILED", "Create failed")
            group["lifecycleState"], group["lifecycleDetails"] = state
            group["_etag"] = new_etag()

    def _deleted(self, outcome: Outcome) -> None:
        group = self.groups.get(outcome.resource_id)
        if group is not None:
            state = ("DELETED", "Deleted") if outcome.succeeded else ("ACTIVE", "Delete failed")
            group["lifecycleState"], group["lifecycleDetails"] = state
            group["_etag"] = new_etag()

    # -- groups --

    def create(self, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """The new group (CREATING) and the work request that makes it ACTIVE."""
        require(body, "compartmentId", "projectId")
        self.models.check_project(body["projectId"])
        kind = body.get("createType") or "CREATE"
        if kind == "CLONE":
            body = self._cloned(body)
        elif kind != "CREATE":
            raise invalid(f"createType {kind!r} is not CREATE or CLONE")
        details = body.get("modelGroupDetails")
        if not isinstance(details, dict) or details.get("type") not in GROUP_TYPES:
            raise invalid(f"modelGroupDetails.type must be one of {', '.join(GROUP_TYPES)}")
        entries = self._checked_members(body.get("memberModelEntries"), details)
        group_id = self.store.new_id("datasciencemodelgroup")
        now = now_rfc3339()
        group = {
            "id": group_id,
            "compartmentId": body["compartmentId"],
            "projectId": body["projectId"],
            "displayName": body.get("displayName") or f"modelgroup{group_id[-8:]}",
            "description": body.get("description"),
            "modelGroupDetails": details,
            "memberModelEntries": {"memberModelDetails": entries},
            "freeformTags": body.get("freeformTags") or {},
            "definedTags": body.get("definedTags") or {},
            "systemTags": {},
            "lifecycleState": "CREATING",
            "lifecycleDetails": "Creating",
            "timeCreated": now,
            "timeUpdated": now,
            "createdBy": USER,
            "modelGroupVersionHistoryId": None,
            "modelGroupVersionHistoryName": None,
            "versionLabel": body.get("versionLabel"),
            "versionId": None,
            "createType": kind,
            "sourceModelGroupId": body.get("_source"),
            "_etag": new_etag(),
        }
        self._join_history(group, body.get("modelGroupVersionHistoryId"))
        self.groups[group_id] = group
        uri = f"/modelGroups/{group_id}"
        return group, self.work_requests.start("MODEL_GROUP_CREATE", group["compartmentId"], group_id, uri)

    def _cloned(self, body: dict[str, Any]) -> dict[str, Any]:
        """A CLONE request as the CREATE it amounts to: the source's members, patched, and its details."""
        source_details = body.get("modelGroupCloneSourceDetails")
        if not isinstance(source_details, dict):
            raise invalid("modelGroupCloneSourceDetails is required for createType CLONE")
        require(source_details, "sourceId")
        source_type = source_details.get("modelGroupCloneSourceType")
        source_id = str(source_details["sourceId"])
        if source_type == "MODEL_GROUP_VERSION_HISTORY":
            source_id = str(self.history(source_id).get("latestModelGroupId") or "")
        elif source_type != "MODEL_GROUP":
            raise invalid(
                f"modelGroupCloneSourceType {source_type!r} is not MODEL_GROUP or MODEL_GROUP_VERSION_HISTORY"
            )
        source = self.group(source_id)
        entries = [dict(e) for e in source["memberModelEntries"]["memberModelDetails"]]
        patch = source_details.get("patchModelGroupMemberModelDetails") or {}
        for instruction in patch.get("items") or []:
            values = instruction.get("values") or []
            if instruction.get("operation") == "INSERT":
                entries.extend(dict(v) for v in values)
            elif instruction.get("operation") == "REMOVE":
                gone = {v.get("modelId") for v in values}
                entries = [e for e in entries if e["modelId"] not in gone]
            else:
                raise invalid(f"patch operation {instruction.get('operation')!r} is not INSERT or REMOVE")
        modify = source_details.get("modifyModelGroupDetails") or {}
        # a clone is the next version of its source: it joins the source's version history unless told otherwise
        names = ("displayName", "description", "freeformTags", "definedTags", "modelGroupVersionHistoryId")
        inherited = {k: source.get(k) for k in names}
        return {
            **body,
            **inherited,
            **{k: v for k, v in modify.items() if v is not None},
            "modelGroupDetails": modify.get("modelGroupDetails") or source["modelGroupDetails"],
            "memberModelEntries": {"memberModelDetails": entries},
            "_source": source["id"],
        }

    def _checked_members(self, entries: Any, details: dict[str, Any]) -> list[dict[str, Any]]:
        members = (entries or {}).get("memberModelDetails") if isinstance(entries, dict) else None
        if not isinstance(members, list) or not members:
            raise invalid("memberModelEntries.memberModelDetails must list at least one model")
        if len(members) > MAX_MEMBERS:
            raise invalid(f"a model group holds at most {MAX_MEMBERS} models, not {len(members)}")
        seen_models: set[str] = set()
        seen_keys: set[str] = set()
        out = []
        for member in members:
            require(member, "modelId")
            model_id, key = str(member["modelId"]), member.get("inferenceKey")
            if model_id in seen_models:
                raise invalid(f"model {model_id} is listed twice")
            if key is not None and str(key).lower() in seen_keys:
                raise invalid(f"inference key {key!r} is used twice")
            self.models.deployable_model(model_id)
            seen_models.add(model_id)
            if key is not None:
                seen_keys.add(str(key).lower())
            out.append({"modelId": model_id, "inferenceKey": key})
        if details.get("type") == "STACKED" and details.get("baseModelId") not in seen_models:
            raise invalid("a STACKED group's baseModelId must be one of its members")
        return out

    def group(self, group_id: str) -> dict[str, Any]:
        return self.store.find("model_groups", group_id, "model group")

    def deployable(self, group_id: str) -> dict[str, Any]:
        """A group a deployment may serve: ACTIVE (a CREATING group is still being made)."""
        group = self.group(group_id)
        if group["lifecycleState"] != "ACTIVE":
            raise incorrect_state(
                f"model group {group_id} is {group['lifecycleState']}; only ACTIVE groups can be deployed"
            )
        return group

    def update(self, group_id: str, body: dict[str, Any], if_match: str | None) -> dict[str, Any]:
        group = self.group(group_id)
        check_if_match(group, if_match)
        if "memberModelEntries" in body or "modelGroupDetails" in body:
            raise invalid("a model group's members are immutable: create a new group (createType CLONE)")
        history_id = body.get("modelGroupVersionHistoryId")
        if history_id != group.get("modelGroupVersionHistoryId"):
            self._join_history(group, history_id)
        for key in GROUP_FIELDS:
            if key in body:
                group[key] = body[key]
        group["timeUpdated"] = now_rfc3339()
        group["_etag"] = new_etag()
        return group

    def delete(self, group_id: str, if_match: str | None) -> str:
        group = self.group(group_id)
        check_if_match(group, if_match)
        if group["lifecycleState"] in ("DELETED", "DELETING"):
            raise incorrect_state(f"model group is already {group['lifecycleState']}")
        users = [
            d["id"]
            for d in self.store.data["deployments"].values()
            if d["lifecycleState"] not in GONE and group_of(d) == group_id
        ]
        if users:
            raise conflict(f"model group {group_id} is used by model deployment(s) {', '.join(users)}")
        group["lifecycleState"], group["lifecycleDetails"] = "DELETING", "Deleting"
        uri = f"/modelGroups/{group_id}"
        return self.work_requests.start("MODEL_GROUP_DELETE", group["compartmentId"], group_id, uri)

    def member_models(self, group_id: str) -> list[dict[str, Any]]:
        """ListModelGroupModels: each member as a ModelGroupModelSummary."""
        group = self.group(group_id)
        out = []
        for entry in group["memberModelEntries"]["memberModelDetails"]:
            model = self.store.data["models"].get(entry["modelId"]) or {}
            summary = {
                k: model.get(k)
                for k in (
                    "compartmentId",
                    "projectId",
                    "displayName",
                    "createdBy",
                    "timeCreated",
                    "lifecycleState",
                    "lifecycleDetails",
                    "category",
                    "isModelByReference",
                    "freeformTags",
                    "definedTags",
                )
            }
            out.append(
                {
                    **summary,
                    "id": entry["modelId"],
                    "modelId": entry["modelId"],
                    "inferenceKey": entry.get("inferenceKey"),
                    "timeUpdated": model.get("timeCreated"),
                    "systemTags": {},
                }
            )
        return out


class ModelGroupRoutes:
    """The HTTP side of model groups and version histories."""

    def __init__(self, backend: ModelGroupsBackend) -> None:
        self.backend = backend

    def register(self, router: Router) -> None:
        add = router.add
        groups = f"{DS}/modelGroups"
        add("POST", groups, "CreateModelGroup", self.create, mutating=True)
        add("GET", groups, "ListModelGroups", self.list)
        add("GET", f"{groups}/{{id}}", "GetModelGroup", self.get)
        add("PUT", f"{groups}/{{id}}", "UpdateModelGroup", self.update, mutating=True)
        add("DELETE", f"{groups}/{{id}}", "DeleteModelGroup", self.delete, mutating=True)
        add("GET", f"{groups}/{{id}}/models", "ListModelGroupModels", self.list_models)
        histories = f"{DS}/modelGroupVersionHistory"
        add("POST", histories, "CreateModelGroupVersionHistory", self.create_history, mutating=True)
        add("GET", histories, "ListModelGroupVersionHistories", self.list_histories)
        add("GET", f"{histories}/{{id}}", "GetModelGroupVersionHistory", self.get_history)
        add(
            "PUT", f"{histories}/{{id}}", "UpdateModelGroupVersionHistory", self.update_history, mutating=True
        )
        add(
            "DELETE",
            f"{histories}/{{id}}",
            "DeleteModelGroupVersionHistory",
            self.delete_history,
            mutating=True,
        )

    def create(self, request: Request) -> Response:
        group, wr = self.backend.create(request.json_object())
        response = with_etag(group)
        response.headers["opc-work-request-id"] = wr
        return response

    def list(self, request: Request) -> Response:
        items = self.backend.store.in_compartment("model_groups", request.compartment())
        response = sorted_page(filtered(items, request, GROUP_FILTERS), request)
        response.body = [{k: v for k, v in item.items() if k not in SUMMARY_DROPS} for item in response.body]
        return response

    def get(self, request: Request) -> Response:
        return with_etag(self.backend.group(request.params["id"]))

    def update(self, request: Request) -> Response:
        return with_etag(self.backend.update(request.params["id"], request.json_object(), request.if_match))

    def delete(self, request: Request) -> Response:
        return accepted(self.backend.delete(request.params["id"], request.if_match))

    def list_models(self, request: Request) -> Response:
        request.compartment()
        items = self.backend.member_models(request.params["id"])
        return sorted_page(
            filtered(items, request, ("id", "displayName", "lifecycleState", "createdBy")), request
        )

    def create_history(self, request: Request) -> Response:
        return with_etag(self.backend.create_history(request.json_object()))

    def list_histories(self, request: Request) -> Response:
        items = self.backend.store.in_compartment("model_group_version_histories", request.compartment())
        response = sorted_page(filtered(items, request, HISTORY_FILTERS), request)
        response.body = [{k: v for k, v in item.items() if k != "description"} for item in response.body]
        return response

    def get_history(self, request: Request) -> Response:
        return with_etag(self.backend.history(request.params["id"]))

    def update_history(self, request: Request) -> Response:
        body = request.json_object()
        return with_etag(self.backend.update_history(request.params["id"], body, request.if_match))

    def delete_history(self, request: Request) -> Response:
        return accepted(self.backend.delete_history(request.params["id"], request.if_match))
