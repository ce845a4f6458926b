"""Resource Search's HTTP API (/20180409): ``SearchResources`` with structured queries."""

from __future__ import annotations

from reconciler.emulator.core.errors import invalid, missing
from reconciler.emulator.core.http import Request, Response, Router, paginate
from reconciler.emulator.search.backend import SearchBackend

SEARCH = "/20180409"


class SearchRoutes:
    def __init__(self, backend: SearchBackend) -> None:
        self.backend = backend

    def register(self, router: Router) -> None:
        router.add("POST", f"{SEARCH}/resources", "SearchResources", self.search)

    def search(self, request: Request) -> Response:
        details = request.json_object()
        kind = details.get("type")
        if kind != "Structured":
            raise invalid(f"the emulator answers Structured searches only, not {kind!r}")
        if details.get("matchingContextType") not in (None, "NONE", "HIGHLIGHTS"):
            raise invalid("matchingContextType must be NONE or HIGHLIGHTS")
        if not details.get("query"):
            raise missing("query")
        response = paginate(self.backend.search(details["query"]), request)
        response.body = {"items": response.body}
        return response
