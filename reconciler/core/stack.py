"""A manifest tree as data: the stack, its deployments, and the pure validation of one YAML document.

Reading files is the loader's job (``reconciler.adapters.manifests``); everything here works on parsed
``Document``s, so the rules are tested without a file system.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from reconciler.core.document import Document, PathKey
from reconciler.core.errors import Issue
from reconciler.core.manifest import (
    API_VERSION,
    KIND_MODEL_DEPLOYMENT,
    ModelDeploymentManifest,
    StackConfig,
)

STACK_FILE = "mdr.yaml"


@dataclass(frozen=True)
class LoadedDeployment:
    """A validated deployment manifest with everything needed to locate it and resolve relative paths."""

    manifest: ModelDeploymentManifest
    document: Document
    compartment_id: str
    project_id: str
    #: the local artifact resolved (symlinks included) by the loader, which owns the file system
    artifact_file: Path | None = None

    @property
    def name(self) -> str:
        return self.manifest.metadata.name

    @property
    def key(self) -> str:
        return self.manifest.key

    @property
    def base_dir(self) -> Path:
        return Path(self.document.file).parent

    def artifact_path(self) -> Path | None:
        """The local artifact (folder or .zip) as resolved when the tree was read; None otherwise."""
        return self.artifact_file


@dataclass
class Stack:
    root: Path
    config: StackConfig | None
    deployments: list[LoadedDeployment] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    #: names of deployments whose manifest exists but is invalid (they must be neither changed nor pruned)
    invalid_names: set[str] = field(default_factory=set)
    files: list[Path] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when every file was read and every document validated: the only state in which to prune."""
        return self.config is not None and not self.issues

    def deployment(self, name: str) -> LoadedDeployment | None:
        return next((d for d in self.deployments if d.name == name), None)


def _data_path(data: Any, loc: tuple[Any, ...]) -> PathKey:
    """Map a pydantic error location onto the data, dropping union tags pydantic inserts into ``loc``."""
    path: list[str | int] = []
    current = data
    for part in loc:
        in_dict = isinstance(current, dict) and isinstance(part, str) and part in current
        if in_dict or (isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)):
            path.append(part)
            current = current[part]
        elif isinstance(current, dict) and isinstance(part, str | int) and not _is_union_tag(part):
            path.append(part)  # a missing key: point at it by name (its parent's line)
            current = None
        # else: a union/function tag in loc; it names no data, skip it
    return tuple(path)


def _is_union_tag(part: str | int) -> bool:
    return isinstance(part, str) and (
        part in {"conda", "container"} or "[" in part or part.startswith("function")
    )


def _type_hint(kind: str, value: Any) -> str:
    """What YAML read instead of the type a field wants, and the fix: mdr converts no types."""
    if kind in ("int_type", "float_type", "bool_type"):
        if isinstance(value, str):
            return f", not the string {value!r} (mdr converts no types: write it without quotes)"
        if isinstance(value, bool):
            return f", not the boolean {str(value).lower()}"
    if kind == "string_type":
        if isinstance(value, bool):
            return ", not a boolean (YAML reads true, yes and on as booleans): quote it"
        if isinstance(value, int | float):
            return ", not a number: quote it"
        if isinstance(value, date):
            return ", not a date: quote it"
    return ""


def _message(error: Any) -> str:
    kind = error["type"]
    loc = error["loc"]
    if kind == "extra_forbidden":
        return f"unknown field {loc[-1]!r}"
    if kind == "missing":
        return f"required field {loc[-1]!r} is missing"
    msg = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    return msg + _type_hint(kind, error.get("input"))


def validation_issues(document: Document, exc: ValidationError, prefix: PathKey = ()) -> list[Issue]:
    """Turn a pydantic ValidationError into located Issues, one per error."""
    issues = []
    data = document.data
    for error in exc.errors():
        path = (*prefix, *_data_path(_subtree(data, prefix), tuple(error["loc"])))
        if error["type"] == "union_tag_invalid":
            path = (*path, "type")  # point at the discriminator the user wrote, not the whole block
        issues.append(document.issue(path, _message(error)))
    return issues


def _subtree(data: Any, prefix: PathKey) -> Any:
    for part in prefix:
        data = data[part]
    return data


def validate_model(model: type[BaseModel], document: Document) -> tuple[Any, list[Issue]]:
    try:
        return model.model_validate(document.data), []
    except ValidationError as exc:
        return None, validation_issues(document, exc)


def add_document(
    stack: Stack,
    document: Document,
    config: StackConfig | None,
    first_seen: dict[str, Document],
    artifact_of: Callable[[ModelDeploymentManifest, Document], Path | None],
) -> None:
    """Validate one document into ``stack``; ``artifact_of`` resolves a manifest's local artifact (I/O)."""
    data = document.data
    if not isinstance(data, dict):
        stack.issues.append(document.issue((), "a manifest document must be a mapping"))
        return
    name = _name_of(data)
    if data.get("apiVersion") != API_VERSION:
        stack.issues.append(document.issue(("apiVersion",), f"apiVersion must be {API_VERSION!r}"))
        _mark_invalid(stack, name)
        return
    if data.get("kind") != KIND_MODEL_DEPLOYMENT:
        stack.issues.append(
            document.issue(
                ("kind",), f"unknown kind {data.get('kind')!r}; expected {KIND_MODEL_DEPLOYMENT!r}"
            )
        )
        _mark_invalid(stack, name)
        return
    manifest, issues = validate_model(ModelDeploymentManifest, document)
    if name is not None and name in first_seen:
        other = first_seen[name]
        line, _ = other.locate(("metadata", "name"))
        issues.append(
            document.issue(
                ("metadata", "name"), f"deployment {name!r} is already defined at {other.file}:{line}"
            )
        )
    elif name is not None:
        first_seen[name] = document
    if manifest is None or issues:
        stack.issues.extend(issues)
        _mark_invalid(stack, name)
        return
    if config is None:  # the stack file's own error is reported; defaults are unknown, so nothing more
        _mark_invalid(stack, name)
        return
    compartment = manifest.spec.compartmentId or config.defaults.compartmentId
    project = manifest.spec.projectId or config.defaults.projectId
    missing = [
        (field_name, value) for field_name, value in (("compartmentId", compartment), ("projectId", project))
    ]
    problems = [
        document.issue(("spec", field_name), f"{field_name} is not set here nor in the stack's defaults")
        for field_name, value in missing
        if value is None
    ]
    if problems or compartment is None or project is None:
        stack.issues.extend(problems)
        _mark_invalid(stack, name)
        return
    stack.deployments.append(
        LoadedDeployment(manifest, document, compartment, project, artifact_of(manifest, document))
    )


def _name_of(data: dict[str, Any]) -> str | None:
    metadata = data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else None


def _mark_invalid(stack: Stack, name: str | None) -> None:
    if name is not None:
        stack.invalid_names.add(name)


def log_retention_issues(deployments: list[LoadedDeployment]) -> list[Issue]:
    """One log named by several manifests must be kept for one period: the second that differs is an error.

    A log is its log group (by name or OCID) and its own name, as the desired state keys it. The issue
    points at the second manifest's ``retentionDays`` when it is written there, else at the log's name.
    """
    first: dict[tuple[str, str], tuple[int, LoadedDeployment]] = {}
    issues: list[Issue] = []
    for deployment in deployments:
        logging = deployment.manifest.spec.logging
        if logging is None:
            continue
        group = logging.logGroup.name or logging.logGroup.id or ""
        for category in ("access", "predict"):
            log = getattr(logging, category)
            if log is None or log.name is None:
                continue
            key = (group, log.name)
            seen = first.setdefault(key, (logging.retentionDays, deployment))
            if seen[0] == logging.retentionDays:
                continue
            other = seen[1]
            other_line, _ = other.document.locate(("spec", "logging", "retentionDays"))
            written = ("spec", "logging", "retentionDays") in deployment.document.positions
            path: PathKey = (
                ("spec", "logging", "retentionDays") if written else ("spec", "logging", category, "name")
            )
            issues.append(
                deployment.document.issue(
                    path,
                    f"log {group}/{log.name} is kept {logging.retentionDays} days here but {seen[0]} days at "
                    f"{other.document.file}:{other_line}; a log has one retention period",
                )
            )
    return issues
