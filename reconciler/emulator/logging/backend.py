"""Logging state and rules: log group names are unique in their compartment, log names in their group.

Creating or deleting a log group or a log is asynchronous (a work request); updates apply at once but are
still answered with a work request, as the service does.
"""

from __future__ import annotations

from typing import Any

from reconciler.emulator.core.errors import check_if_match, conflict, invalid, not_found, require
from reconciler.emulator.core.signing import TENANCY
from reconciler.emulator.core.store import GONE, Store, new_etag, now_rfc3339
from reconciler.emulator.core.workrequests import (
    Effect,
    Outcome,
    Transition,
    WorkRequestKind,
    WorkRequests,
)
from reconciler.emulator.logging.search import LogEntries

WORK_REQUESTS = WorkRequestKind("log_work_requests", "logworkrequest")
#: a log group or log in these states does not hold its name (a failed create leaves one FAILED)
NAME_FREE = (*GONE, "FAILED")
#: collection -> (what its resources are, what their names are unique in), for the conflict message
SCOPES = {"log_groups": ("log group", "compartment"), "logs": ("log", "log group")}
GROUP_FIELDS = ("displayName", "description", "freeformTags", "definedTags")
LOG_FIELDS = ("displayName", "isEnabled", "retentionDuration", "freeformTags", "definedTags")


class LoggingBackend:
    def __init__(self, store: Store, work_requests: WorkRequests) -> None:
        self.store = store
        self.work_requests = work_requests
        #: entries written by PutLogs and by /predict, found by SearchLogs (in memory)
        self.entries = LogEntries()
        work_requests.register(
            {
                "CREATE_LOG_GROUP": Transition(
                    WORK_REQUESTS, "loggroup", "CREATED", self._settle("log_groups")
                ),
                "UPDATE_LOG_GROUP": Transition(WORK_REQUESTS, "loggroup", "UPDATED"),
                "DELETE_LOG_GROUP": Transition(
                    WORK_REQUESTS, "loggroup", "DELETED", self._forget("log_groups")
                ),
                "CREATE_LOG": Transition(WORK_REQUESTS, "log", "CREATED", self._settle("logs")),
                "UPDATE_LOG": Transition(WORK_REQUESTS, "log", "UPDATED"),
                "DELETE_LOG": Transition(WORK_REQUESTS, "log", "DELETED", self._forget("logs")),
            }
        )

    # -- transitions --

    def _settle(self, collection: str) -> Effect:
        """A create that finished: the resource is ACTIVE, or FAILED (and frees its name)."""

        def effect(outcome: Outcome) -> None:
            resource = self.store.data[collection].get(outcome.resource_id)
            if resource is not None:
                resource["lifecycleState"] = "ACTIVE" if outcome.succeeded else "FAILED"

        return effect

    def _forget(self, collection: str) -> Effect:
        """A delete that succeeded: the resource is gone (Logging does not list DELETED ones)."""

        def effect(outcome: Outcome) -> None:
            if outcome.succeeded:
                self.store.data[collection].pop(outcome.resource_id, None)

        return effect

    # -- names --

    def _holders(self, collection: str, scope: str, scope_id: str) -> list[dict[str, Any]]:
        """The resources of a scope (a compartment, a log group) that hold their name."""
        return [
            r
            for r in self.store.data[collection].values()
            if r[scope] == scope_id and r["lifecycleState"] not in NAME_FREE
        ]

    def _check_name_free(self, collection: str, scope: str, scope_id: str, name: str) -> None:
        """Log group names are unique in their compartment, log names in their group."""
        if any(r["displayName"] == name for r in self._holders(collection, scope, scope_id)):
            what, where = SCOPES[collection]
            raise conflict(f"a {what} named {name!r} already exists in the {where}")

    # -- log groups --

    def create_group(self, body: dict[str, Any]) -> str:
        """Returns the work request that makes the log group ACTIVE."""
        require(body, "compartmentId", "displayName")
        self._check_name_free("log_groups", "compartmentId", body["compartmentId"], body["displayName"])
        group_id = self.store.new_id("loggroup")
        self.store.data["log_groups"][group_id] = {
            "id": group_id,
            "compartmentId": body["compartmentId"],
            "displayName": body["displayName"],
            "description": body.get("description"),
            **_creating(body),
        }
        return self.work_requests.start(
            "CREATE_LOG_GROUP", body["compartmentId"], group_id, f"/logGroups/{group_id}"
        )

    def group(self, group_id: str) -> dict[str, Any]:
        return self.store.find("log_groups", group_id, "log group")

    def update_group(self, group_id: str, body: dict[str, Any], if_match: str | None) -> str:
        group = self.group(group_id)
        check_if_match(group, if_match)
        _apply(group, body, GROUP_FIELDS)
        return self.work_requests.start(
            "UPDATE_LOG_GROUP", group["compartmentId"], group["id"], f"/logGroups/{group['id']}"
        )

    def delete_group(self, group_id: str, if_match: str | None) -> str:
        group = self.group(group_id)
        check_if_match(group, if_match)
        if self._holders("logs", "logGroupId", group["id"]):
            raise conflict("the log group still contains logs")
        group["lifecycleState"] = "DELETING"
        return self.work_requests.start(
            "DELETE_LOG_GROUP", group["compartmentId"], group["id"], f"/logGroups/{group['id']}"
        )

    # -- logs --

    def create_log(self, group_id: str, body: dict[str, Any]) -> str:
        """Returns the work request that makes the log ACTIVE."""
        group = self.group(group_id)
        require(body, "displayName", "logType")
        if body["logType"] not in ("CUSTOM", "SERVICE"):
            raise invalid(f"logType {body['logType']!r} must be CUSTOM or SERVICE")
        self._check_name_free("logs", "logGroupId", group["id"], body["displayName"])
        log_id = self.store.new_id("log")
        self.store.data["logs"][log_id] = {
            "id": log_id,
            "tenancyId": TENANCY,
            "logGroupId": group["id"],
            "compartmentId": group["compartmentId"],
            "displayName": body["displayName"],
            "logType": body["logType"],
            "isEnabled": body.get("isEnabled", True),
            "retentionDuration": body.get("retentionDuration", 30),
            "configuration": body.get("configuration"),
            **_creating(body),
        }
        return self.work_requests.start(
            "CREATE_LOG", group["compartmentId"], log_id, f"/logGroups/{group['id']}/logs/{log_id}"
        )

    def logs_of(self, group_id: str) -> list[dict[str, Any]]:
        group = self.group(group_id)
        return [x for x in self.store.data["logs"].values() if x["logGroupId"] == group["id"]]

    def log(self, log_id: str, group_id: str | None = None) -> dict[str, Any]:
        """The log; with ``group_id``, only if it belongs to that group (a log elsewhere is a 404)."""
        log = self.store.find("logs", log_id, "log")
        if group_id is not None and log["logGroupId"] != group_id:
            raise not_found(f"log {log['id']}")
        return log

    def update_log(self, log_id: str, body: dict[str, Any], if_match: str | None) -> str:
        log = self.log(log_id)
        check_if_match(log, if_match)
        _apply(log, body, LOG_FIELDS)
        return self._log_work_request("UPDATE_LOG", log)

    def delete_log(self, log_id: str, if_match: str | None) -> str:
        log = self.log(log_id)
        check_if_match(log, if_match)
        log["lifecycleState"] = "DELETING"
        return self._log_work_request("DELETE_LOG", log)

    def deployment_served(
        self, logs: dict[str, Any] | None, deployment_id: str, status: int, milliseconds: int
    ) -> None:
        """Entries for one answered predict in a model deployment's access and predict logs
        (``categoryLogDetails``), with the deployment's OCID as their source, as the service writes them."""
        for category, data in (
            ("access", {"status": status, "method": "POST", "path": "/predict", "latencyMs": milliseconds}),
            ("predict", {"message": f"predict answered {status} in {milliseconds} ms"}),
        ):
            log_id = ((logs or {}).get(category) or {}).get("logId")
            log = self.store.data["logs"].get(log_id or "")
            if log is not None and log["lifecycleState"] == "ACTIVE":
                kind = f"com.oraclecloud.datascience.modeldeployment.{category}"
                self.entries.add(log, deployment_id, kind, data, subject=category)

    def _log_work_request(self, operation: str, log: dict[str, Any]) -> str:
        uri = f"/logGroups/{log['logGroupId']}/logs/{log['id']}"
        return self.work_requests.start(operation, log["compartmentId"], log["id"], uri)


def _creating(body: dict[str, Any]) -> dict[str, Any]:
    """The fields a new log group or log ends with: its tags, its times, CREATING and an etag."""
    now = now_rfc3339()
    return {
        "definedTags": body.get("definedTags") or {},
        "freeformTags": body.get("freeformTags") or {},
        "timeCreated": now,
        "timeLastModified": now,
        "lifecycleState": "CREATING",
        "_etag": new_etag(),
    }


def _apply(resource: dict[str, Any], body: dict[str, Any], fields: tuple[str, ...]) -> None:
    """An update: copy the fields the body sets, and give the resource a new etag."""
    for key in fields:
        if key in body:
            resource[key] = body[key]
    resource["_etag"] = new_etag()
