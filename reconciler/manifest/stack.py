"""Load a manifest tree (``mdr.yaml`` + ``ModelDeployment`` documents) into validated models.

Loading never stops at the first problem: every issue in every file is collected, and the result says
whether the tree was read *completely*. Prune decisions depend on that flag: a tree that could not be read
in full must never cause a delete, because a missing manifest would look exactly like a removed one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from reconciler.errors import Issue
from reconciler.manifest.loader import Document, PathKey, load_file
from reconciler.manifest.models import (
    API_VERSION,
    KIND_MODEL_DEPLOYMENT,
    ModelDeploymentManifest,
    StackConfig,
)

STACK_FILE = "mdr.yaml"
MANIFEST_SUFFIXES = (".yaml", ".yml")
# A folder holding any of these is a model artifact, not part of the manifest tree.
ARTIFACT_MARKERS = ("score.py", "runtime.yaml", ".model-ignore")


@dataclass(frozen=True)
class LoadedDeployment:
    """A validated deployment manifest with everything needed to locate it and resolve relative paths."""

    manifest: ModelDeploymentManifest
    document: Document
    compartment_id: str
    project_id: str

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
        """The local artifact (folder or .zip), resolved against the manifest's folder; None otherwise."""
        artifact = self.manifest.spec.model.artifact
        if artifact is None or artifact.startswith("oci://"):
            return None
        return (self.base_dir / artifact).resolve()


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


def find_root(path: Path) -> Path:
    """Accept the tree's folder or its ``mdr.yaml``."""
    return path.parent if path.is_file() and path.name == STACK_FILE else path


def iter_manifest_files(root: Path) -> Iterator[Path]:
    """Manifest files under ``root`` in a stable order, skipping hidden folders and artifact folders."""
    if not root.is_dir():
        return
    entries = sorted(root.iterdir(), key=lambda p: p.name)
    if root.name.startswith(".") or any((root / marker).exists() for marker in ARTIFACT_MARKERS):
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            yield from iter_manifest_files(entry)
        elif entry.suffix in MANIFEST_SUFFIXES and entry.is_file():
            yield entry


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
    return msg


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


def _validate(model: type[BaseModel], document: Document) -> tuple[Any, list[Issue]]:
    try:
        return model.model_validate(document.data), []
    except ValidationError as exc:
        return None, validation_issues(document, exc)


def load_stack_config(root: Path) -> tuple[StackConfig | None, Document | None, list[Issue]]:
    stack_file = root / STACK_FILE
    if not stack_file.is_file():
        return None, None, [Issue(str(stack_file), 0, 0, "", f"no {STACK_FILE} stack file in {root}")]
    documents, issues = load_file(stack_file, variables={})
    if issues:
        return None, None, issues
    if len(documents) != 1 or not isinstance(documents[0].data, dict):
        return None, None, [Issue(str(stack_file), 1, 1, "", f"{STACK_FILE} must hold exactly one mapping")]
    config, issues = _validate(StackConfig, documents[0])
    return config, documents[0], issues


def load_stack(path: Path) -> Stack:
    """Load and validate a whole manifest tree; never raises for bad input, returns issues instead."""
    root = find_root(path)
    if not root.exists():
        return Stack(root, None, issues=[Issue(str(root), 0, 0, "", "no such file or directory")])
    config, _, issues = load_stack_config(root)
    stack = Stack(root, config, issues=list(issues))
    # Without a valid stack file, ${VAR}s and defaults are unknown: manifests are checked for everything
    # else, instead of burying the stack file's own error under one consequence per manifest
    variables = config.vars if config else None
    first_seen: dict[str, Document] = {}
    for file in iter_manifest_files(root):
        if file == root / STACK_FILE:
            continue
        stack.files.append(file)
        if file.name == STACK_FILE:
            stack.issues.append(
                Issue(str(file), 0, 0, "", f"{STACK_FILE} is only allowed at the tree's root")
            )
            continue
        documents, file_issues = load_file(file, variables)
        stack.issues.extend(file_issues)
        for document in documents:
            _load_document(stack, document, config, first_seen)
    return stack


def _load_document(
    stack: Stack, document: Document, config: StackConfig | None, first_seen: dict[str, Document]
) -> None:
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
    manifest, issues = _validate(ModelDeploymentManifest, document)
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
    stack.deployments.append(LoadedDeployment(manifest, document, compartment, project))


def _name_of(data: dict[str, Any]) -> str | None:
    metadata = data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else None


def _mark_invalid(stack: Stack, name: str | None) -> None:
    if name is not None:
        stack.invalid_names.add(name)
