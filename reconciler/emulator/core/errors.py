"""OCI error answers, and the checks every service makes on a request body or an etag.

They live apart from the HTTP plumbing so that the service backends, which hold state and rules and never
see a request, can raise the very errors the service would answer with.
"""

from __future__ import annotations

from typing import Any


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


def require(body: dict[str, Any], *names: str) -> None:
    for name in names:
        if body.get(name) in (None, ""):
            raise missing(name)


def check_if_match(resource: dict[str, Any], if_match: str | None) -> None:
    """A write with ``if-match`` goes through only while the resource still has that etag."""
    if if_match and if_match != resource.get("_etag"):
        raise ApiError(412, "NoEtagMatch", "the resource's etag does not match if-match")
