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

from reconciler.core.cross_checks import cross_field_problems
from reconciler.core.document import Document, PathKey
from reconciler.core.errors import Issue
from reconciler.core.manifest import (
    API_VERSION,
    KIND_MODEL_DEPLOYMENT,
    ModelDeploymentManifest,
    StackConfig,
)
from reconciler.core.manifest_parts import FIELDS_ONLY

STACK_FILE = "mdr.yaml"
ARTIFACT_FIELD = ("spec", "model", "artifact")

#: resolves an artifact as written in a document (``model.artifact`` or a group member's) to a local path
#: (None for an ``oci://`` URI); the loader's, as it owns the file system. It is given the field naming the
#: artifact: the file that field came from (an overlay's patch, or the base) is what the path is relative to
ArtifactResolver = Callable[[str, Document, tuple[str | int, ...]], Path | None]


@dataclass(frozen=True)
class LocalArtifact:
    """A local artifact named by a manifest, valid or not: its files are checked either way."""

    document: Document
    path: Path
    #: ``conda`` or ``container``: which files the service needs in it
    runtime: str
    #: the manifest field naming it (a model group member's ``artifact`` names its own)
    field: tuple[str | int, ...] = ARTIFACT_FIELD


@dataclass(frozen=True)
class LoadedDeployment:
    """A validated deployment manifest with everything needed to locate it and resolve relative paths."""

    manifest: ModelDeploymentManifest
    document: Document
    compartment_id: str
    project_id: str
    #: the local artifact resolved (symlinks included) by the loader, which owns the file system
    artifact_file: Path | None = None
    #: a model group's local member artifacts, by inference key (resolved by the loader as well)
    member_files: dict[str, Path] = field(default_factory=dict)

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
    #: every local artifact whose ``model.artifact`` is valid, including those of invalid manifests
    artifacts: list[LocalArtifact] = field(default_factory=list)

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
    return [document.issue(path, message) for path, message in _located(document, exc, prefix)]


def _located(document: Document, exc: ValidationError, prefix: PathKey = ()) -> list[tuple[PathKey, str]]:
    located = []
    data = document.data
    for error in exc.errors():
        path = (*prefix, *_data_path(_subtree(data, prefix), tuple(error["loc"])))
        if error["type"] == "union_tag_invalid":
            path = (*path, "type")  # point at the discriminator the user wrote, not the whole block
        located.append((path, _message(error)))
    return located


def _subtree(data: Any, prefix: PathKey) -> Any:
    for part in prefix:
        data = data[part]
    return data


def validate_model(model: type[BaseModel], document: Document) -> tuple[Any, list[Issue]]:
    """The model, or every independent fault: the field errors, and the cross-field checks of every object
    run over the fields that did validate (pydantic alone would skip those checks)."""
    try:
        return model.model_validate(document.data), []
    except ValidationError:
        pass
    try:
        model.model_validate(document.data, context={FIELDS_ONLY: True})
        field_errors: list[tuple[PathKey, str]] = []
    except ValidationError as exc:
        field_errors = _located(document, exc)
    failed = {path for path, _ in field_errors}
    cross = [(path, problem.message) for path, problem in cross_field_problems(model, document.data, failed)]
    located = list(dict.fromkeys([*field_errors, *cross]))  # one report per fault, in document order
    return None, [document.issue(path, message) for path, message in located]


def add_document(
    stack: Stack,
    document: Document,
    config: StackConfig | None,
    first_seen: dict[str, Document],
    artifact_of: ArtifactResolver,
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
    spec = data.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    failed = {issue.path for issue in issues}
    placement: dict[str, str | None] = {}
    if config is not None:  # without a valid stack file the defaults are unknown: nothing to say
        placement = _placement(spec, config, failed)
        issues.extend(
            document.issue(("spec", field_name), f"{field_name} is not set here nor in the stack's defaults")
            for field_name, value in placement.items()
            if value is None
        )
    artifact = _local_artifact(document, spec, failed, artifact_of)
    if artifact is not None:
        stack.artifacts.append(artifact)
    members = _member_artifacts(document, spec, failed, artifact_of)
    stack.artifacts.extend(members.values())
    compartment, project = placement.get("compartmentId"), placement.get("projectId")
    if manifest is None or issues or compartment is None or project is None:
        stack.issues.extend(issues)
        _mark_invalid(stack, name)
        return
    path = artifact.path if artifact is not None else None
    member_files = {key: local.path for key, local in members.items()}
    stack.deployments.append(LoadedDeployment(manifest, document, compartment, project, path, member_files))


def _placement(spec: dict[str, Any], config: StackConfig, failed: set[str]) -> dict[str, str | None]:
    """compartmentId and projectId, each from the manifest or the stack's defaults (None: set nowhere),
    for the fields that are not wrong themselves."""
    defaults = {"compartmentId": config.defaults.compartmentId, "projectId": config.defaults.projectId}
    placement: dict[str, str | None] = {}
    for field_name, default in defaults.items():
        value = spec.get(field_name)
        if f"spec.{field_name}" not in failed:
            placement[field_name] = value if isinstance(value, str) else default
    return placement


def _local_artifact(
    document: Document, spec: dict[str, Any], failed: set[str], artifact_of: ArtifactResolver
) -> LocalArtifact | None:
    """The manifest's local artifact whenever ``model.artifact`` itself is valid, even if another field is
    wrong, so that its files are checked in the same run."""
    model = spec.get("model")
    artifact = model.get("artifact") if isinstance(model, dict) else None
    if not isinstance(artifact, str) or ".".join(ARTIFACT_FIELD) in failed:
        return None
    path = artifact_of(artifact, document, ARTIFACT_FIELD)
    if path is None:
        return None
    runtime = spec.get("runtime")
    kind = runtime.get("type") if isinstance(runtime, dict) else None
    # an unknown runtime: only what every artifact needs (readable, inside its folder), no conda files
    return LocalArtifact(document, path, kind if kind in ("conda", "container") else "container")


def _member_artifacts(
    document: Document, spec: dict[str, Any], failed: set[str], artifact_of: ArtifactResolver
) -> dict[str, LocalArtifact]:
    """A model group's local member artifacts whose ``artifact`` is valid, by inference key."""
    group = spec.get("modelGroup")
    members = group.get("members") if isinstance(group, dict) else None
    runtime = spec.get("runtime")
    kind = runtime.get("type") if isinstance(runtime, dict) else None
    found: dict[str, LocalArtifact] = {}
    for index, member in enumerate(members if isinstance(members, list) else []):
        where = ("spec", "modelGroup", "members", index, "artifact")
        artifact = member.get("artifact") if isinstance(member, dict) else None
        key = member.get("inferenceKey") if isinstance(member, dict) else None
        if not isinstance(artifact, str) or not isinstance(key, str) or _dotted(where) in failed:
            continue
        path = artifact_of(artifact, document, where)
        if path is not None:
            found[key] = LocalArtifact(
                document, path, kind if kind in ("conda", "container") else "container", where
            )
    return found


def _dotted(path: tuple[str | int, ...]) -> str:
    """A path as issues name it (``spec.modelGroup.members[0].artifact``)."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


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
