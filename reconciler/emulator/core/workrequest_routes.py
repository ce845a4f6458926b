"""The work-request API (get, list, errors, logs, cancel), the same for every service that has one."""

from __future__ import annotations

from reconciler.emulator.core.http import Request, Response, Router, paginate, public
from reconciler.emulator.core.workrequests import WorkRequestKind, WorkRequests

WORK_REQUEST_FILTERS = ("id", "status", "operationType")


class WorkRequestRoutes:
    def __init__(self, engine: WorkRequests, kind: WorkRequestKind) -> None:
        self.engine = engine
        self.kind = kind

    def register(self, router: Router, prefix: str, service: str, cancellable: bool) -> None:
        """``service`` is the infix of the operation names: "" for Data Science, "Logging" for Logging."""
        base = f"{prefix}/workRequests"
        router.add("GET", base, f"List{service}WorkRequests", self.list_all)
        router.add("GET", f"{base}/{{id}}", f"Get{service}WorkRequest", self.get)
        router.add("GET", f"{base}/{{id}}/errors", f"List{service}WorkRequestErrors", self.errors)
        router.add("GET", f"{base}/{{id}}/logs", f"List{service}WorkRequestLogs", self.logs)
        if cancellable:
            router.add("DELETE", f"{base}/{{id}}", f"Cancel{service}WorkRequest", self.cancel, True)

    def get(self, request: Request) -> Response:
        return Response(200, public(self.engine.get(self.kind, request.params["id"])))

    def list_all(self, request: Request) -> Response:
        filters = {name: request.query[name] for name in WORK_REQUEST_FILTERS if request.query.get(name)}
        items = self.engine.find(self.kind, request.compartment(), filters, request.query.get("resourceId"))
        return paginate([public(w) for w in items], request)

    def errors(self, request: Request) -> Response:
        return paginate(list(self.engine.get(self.kind, request.params["id"])["_errors"]), request)

    def logs(self, request: Request) -> Response:
        return paginate(list(self.engine.get(self.kind, request.params["id"])["_logs"]), request)

    def cancel(self, request: Request) -> Response:
        self.engine.cancel(self.kind, request.params["id"])
        return Response(202, None)
