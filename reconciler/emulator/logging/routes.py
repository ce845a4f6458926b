"""Logging's HTTP API (/20200531): requests in, backend calls, wire answers out."""

from __future__ import annotations

from reconciler.emulator.core.http import (
    Request,
    Response,
    Router,
    accepted,
    filtered,
    sorted_page,
    with_etag,
)
from reconciler.emulator.core.workrequest_routes import WorkRequestRoutes
from reconciler.emulator.core.workrequests import WorkRequests
from reconciler.emulator.logging.backend import WORK_REQUESTS, LoggingBackend

LOG = "/20200531"


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
