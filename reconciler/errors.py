"""Error types shared by every layer.

Every error a user can see is an ``MdrError``; the CLI turns it into a message and exit code 1.
Validation problems are collected as ``Issue`` values (file, line, column, field path, message) so that
``mdr validate`` can print every problem at once instead of stopping at the first.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Issue:
    """One problem in a user's input, located precisely enough to jump to it in an editor."""

    file: str
    line: int  # 1-based; 0 when unknown
    column: int  # 1-based; 0 when unknown
    path: str  # dotted field path, e.g. "spec.infrastructure.ocpus"; "" for the whole document
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}"
            if self.column:
                where += f":{self.column}"
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"


class MdrError(Exception):
    """Base class of every error mdr reports to a user (exit code 1)."""


class ValidationFailed(MdrError):
    """Input (manifests, stack file, artifacts) is invalid; carries every issue found."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = sorted(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class ArtifactError(MdrError):
    """A model artifact cannot be read, packaged or is unsafe (e.g. a symlink leaving its folder)."""


def cloud_errors() -> tuple[type[BaseException], ...]:
    """What the ``oci`` SDK raises when OCI (or the network, or the local OCI config) says no.

    A function, so that commands that never talk to OCI (validate, schema) need not import the SDK.
    """
    import oci

    return (
        oci.exceptions.ServiceError,
        oci.exceptions.ClientError,
        oci.exceptions.RequestException,
        oci.exceptions.ConnectTimeout,
        oci.exceptions.MultipartUploadError,
    )


def describe_cloud_error(exc: BaseException) -> str:
    """One line a user can act on; never the request body (it may hold secret values)."""
    import oci

    if isinstance(exc, oci.exceptions.ServiceError):
        operation = f" to {exc.operation_name}" if getattr(exc, "operation_name", None) else ""
        return f"OCI answered {exc.status} {exc.code}{operation}: {exc.message} (opc-request-id {exc.request_id})"
    if isinstance(exc, oci.exceptions.ClientError):
        return f"the OCI configuration is not usable: {exc}"
    return f"cannot reach OCI: {exc}"
