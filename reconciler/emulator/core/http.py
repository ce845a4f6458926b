"""Request/response types, the route table and the wire helpers shared by the emulator's services."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO
from urllib.parse import parse_qs

from reconciler.emulator.core.errors import ApiError, invalid, missing
from reconciler.emulator.core.store import Staged

__all__ = ["ApiError", "FileBody", "Request", "Response", "Route", "Router"]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""  # a JSON route's body (small, capped); empty for a streamed route
    params: dict[str, str] = field(default_factory=dict)
    raw_target: str = ""  # path?query exactly as sent: what the signature covers
    #: a streamed route's body (an object, a part, an artifact), written to the store's blob folder as it came
    upload: Staged | None = None

    def content(self) -> bytes | Staged:
        """The body a streamed route stores."""
        return self.upload if self.upload is not None else self.body

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise invalid(f"the request body is not valid JSON: {exc}") from exc

    def json_object(self) -> dict[str, Any]:
        data = self.json()
        if not isinstance(data, dict):
            raise invalid("the request body must be a JSON object")
        return data

    @property
    def if_match(self) -> str | None:
        return self.headers.get("if-match")

    def compartment(self) -> str:
        """The ``compartmentId`` that every OCI list call requires."""
        compartment = self.query.get("compartmentId")
        if not compartment:
            raise missing("compartmentId")
        return compartment

    @staticmethod
    def parse_query(raw: str) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}


@dataclass
class FileBody:
    """Raw content streamed from an open file (a blob) after the store's lock is released."""

    file: BinaryIO
    size: int


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-able, or bytes / FileBody for raw content
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


Handler = Callable[[Request], Response]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    operation: str
    handler: Handler
    mutating: bool
    signed: bool = True
    #: the body is raw content (an object, a part, an artifact) streamed to a blob, up to the upload limit;
    #: otherwise it is JSON read into memory, up to the (small) JSON limit
    streamed: bool = False
    #: the handler runs under the store's lock; False for one that takes it itself (predict runs a model)
    locked: bool = True


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(
        self,
        method: str,
        template: str,
        operation: str,
        handler: Handler,
        mutating: bool = False,
        signed: bool = True,
        streamed: bool = False,
        locked: bool = True,
    ) -> None:
        # {name} is one path segment; {name:path} the rest of the path, slashes and all
        regex = re.sub(r"\{(\w+):path\}", r"(?P<\1>.+)", template)
        regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex) + "$"
        route = Route(method, re.compile(regex), operation, handler, mutating, signed, streamed, locked)
        self.routes.append(route)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method != method:
                continue
            found = route.pattern.match(path)
            if found:
                return route, found.groupdict()
        return None

    @property
    def mutating_operations(self) -> frozenset[str]:
        return frozenset(r.operation for r in self.routes if r.mutating)


def error_response(exc: ApiError) -> Response:
    return Response(exc.status, {"code": exc.code, "message": exc.message})


def public(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource as the wire shows it: keys starting with ``_`` are the emulator's own bookkeeping."""
    return {k: v for k, v in resource.items() if not k.startswith("_")}


def with_etag(resource: dict[str, Any], status: int = 200) -> Response:
    return Response(status, public(resource), {"etag": resource["_etag"]})


def accepted(work_request_id: str) -> Response:
    """202 with the work request that will finish the job: the answer of every asynchronous operation."""
    return Response(202, None, {"opc-work-request-id": work_request_id})


def paginate(items: list[Any], request: Request, default_limit: int = 100) -> Response:
    """Bare JSON array; ``opc-next-page`` only when more items remain (never empty)."""
    try:
        limit = int(request.query.get("limit") or default_limit)
        start = int(request.query.get("page") or "0")
    except ValueError as exc:
        raise invalid("limit and page must be integers") from exc
    if limit < 1 or limit > 1000:
        raise invalid("limit must be between 1 and 1000")
    page = items[start : start + limit]
    headers = {}
    if start + limit < len(items):
        headers["opc-next-page"] = str(start + limit)
    return Response(200, page, headers)


_NEVER = datetime.min.replace(tzinfo=UTC)


def _time_key(value: Any) -> datetime:
    """Times sort by the instant they name, whatever digits they were written with (as the service sorts)."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else _NEVER
    except ValueError:
        return _NEVER
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def sorted_page(items: list[dict[str, Any]], request: Request, default: str = "timeCreated") -> Response:
    """Sort, cut the requested page, and copy only that page's items (listing stays linear in N)."""
    sort_by = request.query.get("sortBy") or default
    order = request.query.get("sortOrder") or ("DESC" if sort_by == "timeCreated" else "ASC")
    if sort_by.startswith("time"):
        items = sorted(
            items, key=lambda r: (_time_key(r.get(sort_by)), r.get("id", "")), reverse=order == "DESC"
        )
    else:
        items = sorted(
            items, key=lambda r: (str(r.get(sort_by, "")), r.get("id", "")), reverse=order == "DESC"
        )
    response = paginate(items, request)
    response.body = [public(r) for r in response.body]
    return response


def filtered(items: list[dict[str, Any]], request: Request, names: tuple[str, ...]) -> list[dict[str, Any]]:
    """Keep the items whose field equals each query parameter of ``names`` that the request sets."""
    for name in names:
        value = request.query.get(name)
        if value:
            items = [r for r in items if str(r.get(name)) == value]
    return items
