"""OCI errors, classified in one place and described in one line.

``Provider.call`` turns every ``oci.exceptions.ServiceError`` into one of the types below, so callers write
``except NotFound`` instead of comparing status numbers. Each type still *is* a ``ServiceError`` (same status,
code, message, request id), so nothing that catches the SDK's type misses it.
"""

from __future__ import annotations

from typing import Any

import oci


class CloudError(oci.exceptions.ServiceError):
    """An error answer from an OCI service."""

    def __str__(self) -> str:
        return describe_cloud_error(self)


class BadRequest(CloudError):
    """400: the service refused the request's content (a value out of range, a wrong combination)."""


class NotAuthorized(CloudError):
    """401/403: the caller's identity or policies do not allow this."""


class NotFound(CloudError):
    """404: gone, never existed, or hidden by IAM (OCI answers NotAuthorizedOrNotFound for both)."""


class Conflict(CloudError):
    """409: the resource is in a state that forbids this now (IncorrectState), or a retry token clash."""


class PreconditionFailed(CloudError):
    """412: an ``if-match`` ETag no longer matches: someone else wrote first."""


class Throttled(CloudError):
    """429: too many requests; back off."""


class LimitExceeded(CloudError):
    """A service limit or quota is used up (cores, deployments): retrying will not help until it is raised."""


class ServerError(CloudError):
    """5xx: the service failed; usually transient."""


_BY_STATUS: dict[int, type[CloudError]] = {
    400: BadRequest,
    401: NotAuthorized,
    403: NotAuthorized,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    429: Throttled,
}


def classify(exc: oci.exceptions.ServiceError) -> CloudError:
    """The typed form of an SDK service error (the same object's data, a more precise class)."""
    if isinstance(exc, CloudError):
        return exc
    kind: type[CloudError]
    if str(exc.code) in ("LimitExceeded", "QuotaExceeded"):
        kind = LimitExceeded
    elif int(exc.status or 0) >= 500:
        kind = ServerError
    else:
        kind = _BY_STATUS.get(int(exc.status or 0), CloudError)
    typed = kind.__new__(kind)
    typed.__dict__.update(exc.__dict__)
    typed.args = exc.args
    return typed


def cloud_errors() -> tuple[type[BaseException], ...]:
    """What the ``oci`` SDK raises when OCI (or the network, or the local OCI config) says no."""
    return (
        oci.exceptions.ServiceError,
        oci.exceptions.ClientError,
        oci.exceptions.RequestException,
        oci.exceptions.ConnectTimeout,
        oci.exceptions.MultipartUploadError,
    )


#: what a user can do about a service limit or quota that is reached
LIMIT_HINT = (
    "; a service limit or quota is reached: free capacity (deactivate or delete "
    "deployments, use fewer or smaller instances) or ask for a higher limit (Console: Governance, Limits, "
    "Quotas and Usage)"
)


def describe_cloud_error(exc: BaseException) -> str:
    """One line a user can act on; never the request body (it may hold secret values)."""
    if isinstance(exc, oci.exceptions.ServiceError):
        operation = f" to {exc.operation_name}" if getattr(exc, "operation_name", None) else ""
        line = f"OCI answered {exc.status} {exc.code}{operation}: {exc.message} (opc-request-id {exc.request_id})"
        return line + (LIMIT_HINT if str(exc.code) in ("LimitExceeded", "QuotaExceeded") else "")
    if isinstance(exc, oci.exceptions.ClientError):
        return f"the OCI configuration is not usable: {exc}"
    return f"cannot reach OCI: {exc}"


def status_of(exc: Any) -> int | None:
    """The HTTP status of a cloud error, or None for anything else (network, configuration)."""
    return int(exc.status) if isinstance(exc, oci.exceptions.ServiceError) and exc.status else None
