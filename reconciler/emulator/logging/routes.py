"""Logging's HTTP API (/20200531): requests in, backend calls, wire answers out."""

from __future__ import annotations

from reconciler.emulator.core.errors import invalid, not_found, require
from reconciler.emulator.core.http import (
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
from reconciler.emulator.logging.backend import WORK_REQUESTS, LoggingBackend
from reconciler.emulator.logging.search import MAX_RESULTS, entry_data, parse_query, search_window

LOG = "/20200531"
INGESTION = "/20200831"  # Logging Ingestion: PutLogs
SEARCH = "/20190909"  # Log Search: SearchLogs


class LoggingRoutes:
    def __init__(self, backend: LoggingBackend, work_requests: WorkRequests) -> None:
        self.backend = backend
        self.work_requests = WorkRequestRoutes(work_requests, WORK_REQUESTS)

    def register(self, router: Router) -> None:
        add = router.add
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
        self.work_requests.register(router, LOG, "Logging", cancellable=False)
        add("POST", f"{INGESTION}/logs/{{id}}/actions/push", "PutLogs", self.put_logs)
        add("POST", f"{SEARCH}/search", "SearchLogs", self.search_logs)

    def create_log_group(self, request: Request) -> Response:
        return accepted(self.backend.create_group(request.json_object()))

    def list_log_groups(self, request: Request) -> Response:
        groups = self.backend.store.in_compartment("log_groups", request.compartment())
        return sorted_page(filtered(groups, request, ("displayName",)), request)

    def get_log_group(self, request: Request) -> Response:
        return with_etag(self.backend.group(request.params["id"]))

    def update_log_group(self, request: Request) -> Response:
        group_id = request.params["id"]
        return accepted(self.backend.update_group(group_id, request.json_object(), request.if_match))

    def delete_log_group(self, request: Request) -> Response:
        return accepted(self.backend.delete_group(request.params["id"], request.if_match))

    def create_log(self, request: Request) -> Response:
        return accepted(self.backend.create_log(request.params["group"], request.json_object()))

    def list_logs(self, request: Request) -> Response:
        logs = self.backend.logs_of(request.params["group"])
        return sorted_page(filtered(logs, request, ("displayName", "logType", "lifecycleState")), request)

    def get_log(self, request: Request) -> Response:
        return with_etag(self.backend.log(request.params["id"], request.params["group"]))

    def update_log(self, request: Request) -> Response:
        return accepted(
            self.backend.update_log(request.params["id"], request.json_object(), request.if_match)
        )

    def delete_log(self, request: Request) -> Response:
        return accepted(self.backend.delete_log(request.params["id"], request.if_match))

    def put_logs(self, request: Request) -> Response:
        """``PutLogs``: entries for a custom log, in batches that share a source and a type."""
        log = self.backend.log(request.params["id"])
        if log["lifecycleState"] != "ACTIVE":
            raise not_found(f"log {log['id']}")
        body = request.json_object()
        require(body, "specversion", "logEntryBatches")
        batches = body["logEntryBatches"]
        if not isinstance(batches, list):
            raise invalid("logEntryBatches must be a list")
        for batch in batches:
            if not isinstance(batch, dict) or not isinstance(batch.get("entries"), list):
                raise invalid("each log entry batch needs entries, source and type")
            require(batch, "source", "type")
            for entry in batch["entries"]:
                if not isinstance(entry, dict) or entry.get("data") is None or not entry.get("id"):
                    raise invalid("each log entry needs data and id")
                time = entry.get("time") or batch.get("defaultlogentrytime")
                self.backend.entries.add(
                    log,
                    str(batch["source"]),
                    str(batch["type"]),
                    entry_data(entry["data"]),
                    batch.get("subject"),
                    time,
                )
        return Response(200, None)

    def search_logs(self, request: Request) -> Response:
        """``SearchLogs``: the entries of the logs a query names, newest first unless it sorts otherwise."""
        body = request.json_object()
        require(body, "searchQuery")
        start, end = search_window(body)
        query = parse_query(str(body["searchQuery"]))
        logs = [x for x in self.backend.store.data["logs"].values() if x["lifecycleState"] == "ACTIVE"]
        results = self.backend.entries.search(logs, query, start, end)
        response = paginate(results, request, default_limit=MAX_RESULTS)
        page = response.body
        response.body = {
            "summary": {"resultCount": len(page), "fieldCount": 0},
            "results": page,
            "fields": [] if body.get("isReturnFieldInfo") else None,
        }
        return response
