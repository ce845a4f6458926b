"""Request/response types, OCI error bodies and the route table shared by the emulator's services."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


class ApiError(Exception):
    """An OCI error answer: ``{"code", "message"}`` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def not_found(what: str) -> ApiError:
    return ApiError(404, "NotAuthorizedOrNotFound", f"{what} not found or not authorized")


def invalid(message: str) -> ApiError:
    return ApiError(400, "InvalidParameter", message)


def missing(field_name: str) -> ApiError:
    return ApiError(400, "MissingParameter", f"{field_name} is required")


def incorrect_state(message: str) -> ApiError:
    return ApiError(409, "IncorrectState", message)


def conflict(message: str) -> ApiError:
    return ApiError(409, "Conflict", message)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    raw_target: str = ""  # path?query exactly as sent: what the signature covers

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

    @staticmethod
    def parse_query(raw: str) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-able, or bytes for raw content
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
    ) -> None:
        regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"
        self.routes.append(Route(method, re.compile(regex), operation, handler, mutating, signed))

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
