"""Environment overlays: a base tree of deployments plus, per environment, patches merged onto it.

An environment is its own stack (its own ``mdr.yaml``, stack name, region and defaults) whose ``base:``
names a shared tree of ``ModelDeployment`` documents. In the environment's folder, a
``kind: ModelDeploymentPatch`` document changes one base deployment, matched by ``metadata.name``; a
``kind: ModelDeployment`` adds one that only this environment has. Patches merge like a JSON Merge Patch
(RFC 7386), as kustomize's strategic merge does for plain fields: mappings merge key by key, any other value
(lists included) replaces the base's, and ``null`` removes the key.

Patches are explicit on purpose. A patch whose name matches no base deployment is an error, never a new,
half-written deployment; two patches that set the same field of one deployment are an error naming both
files, never an order-dependent winner. Every value of a merged document remembers the file it came from, so
an error points into the overlay or into the base, with its line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.document import Document, PathKey
from reconciler.core.errors import Issue
from reconciler.core.manifest import API_VERSION

KIND_PATCH = "ModelDeploymentPatch"
_PATCH_KEYS = {"apiVersion", "kind", "metadata", "spec"}
_PATCH_METADATA_KEYS = {"name", "labels"}


def is_patch(document: Document) -> bool:
    return isinstance(document.data, dict) and document.data.get("kind") == KIND_PATCH


@dataclass
class OverlayResult:
    """The base documents with the patches merged in, and every problem found on the way."""

    documents: list[Document] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    #: deployments a broken patch was meant for: never pruned, never planned from their unpatched base
    invalid_names: set[str] = field(default_factory=set)


def apply_patches(bases: Iterable[Document], patches: Iterable[Document]) -> OverlayResult:
    """Merge each patch onto the base document of the same name (patches in the order given)."""
    result = OverlayResult()
    bases = list(bases)
    by_name = {_name(d): d for d in bases if _name(d) is not None}
    merged: dict[str, Document] = {}
    #: deployment -> path -> the patch that set it, to refuse two patches of one field
    claimed: dict[str, dict[PathKey, Document]] = {}
    for patch in patches:
        name, problems = _check_patch(patch)
        if problems:
            result.issues.extend(problems)
            if name is not None:
                result.invalid_names.add(name)
            continue
        assert name is not None
        base = merged.get(name) or by_name.get(name)
        if base is None:
            result.issues.append(
                patch.issue(
                    ("metadata", "name"),
                    f"no base deployment is named {name!r}; a {KIND_PATCH} changes a base deployment "
                    f"(to add one only this environment has, write a kind: ModelDeployment)",
                )
            )
            continue
        conflicts = _conflicts(patch, claimed.setdefault(name, {}))
        if conflicts:
            result.issues.extend(conflicts)
            result.invalid_names.add(name)
            continue
        merged[name] = merge_document(base, patch)
    result.documents = [merged.get(_name(d) or "", d) for d in bases]
    return result


def merge_document(base: Document, patch: Document) -> Document:
    """``base`` with ``patch``'s metadata.labels and spec merged in; positions and origins follow the values."""
    data = dict(base.data)
    positions = dict(base.positions)
    origins = dict(base.origins)
    for section in (("metadata", "labels"), ("spec",)):
        value = _get(patch.data, section)
        if value is _MISSING:
            continue
        _merge_at(data, section, value, patch, positions, origins)
    return Document(base.file, base.index, data, positions, base.start, origins)


_MISSING = object()


def _get(data: Any, path: PathKey) -> Any:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return _MISSING
        data = data[part]
    return data


def _merge_at(
    data: dict[str, Any],
    path: PathKey,
    value: Any,
    patch: Document,
    positions: dict[PathKey, tuple[int, int]],
    origins: dict[PathKey, str],
) -> None:
    """Set ``path`` in ``data`` (copying the mappings on the way) to ``value`` merged into what is there."""
    parent = data
    for part in path[:-1]:
        child = parent.get(str(part))
        parent[str(part)] = child = dict(child) if isinstance(child, dict) else {}
        parent = child
    key = str(path[-1])
    if value is None:
        parent.pop(key, None)
        _forget(path, positions, origins, itself=True)
        return
    if isinstance(value, dict):
        current = parent.get(key)
        if not isinstance(current, dict):
            _forget(path, positions, origins, itself=False)
            _take(path, path, patch, positions, origins)
        parent[key] = dict(current) if isinstance(current, dict) else {}
        for child_key, child_value in value.items():
            _merge_at(data, (*path, child_key), child_value, patch, positions, origins)
        return
    parent[key] = value
    _forget(path, positions, origins, itself=False)
    for where in patch.positions:
        if where[: len(path)] == path:
            _take(where, where, patch, positions, origins)


def _take(
    where: PathKey,
    source: PathKey,
    patch: Document,
    positions: dict[PathKey, tuple[int, int]],
    origins: dict[PathKey, str],
) -> None:
    if source in patch.positions:
        positions[where] = patch.positions[source]
        origins[where] = patch.file


def _forget(
    path: PathKey,
    positions: dict[PathKey, tuple[int, int]],
    origins: dict[PathKey, str],
    itself: bool,
) -> None:
    """Drop the positions under ``path`` (and of ``path`` itself when its key is removed)."""
    shortest = len(path) if itself else len(path) + 1
    for table in (positions, origins):
        for where in [w for w in table if w[: len(path)] == path and len(w) >= shortest]:
            del table[where]


def _leaves(value: Any, path: PathKey) -> Iterable[PathKey]:
    """The paths a patch value sets: every non-mapping value (a list or scalar replaces as a whole)."""
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from _leaves(child, (*path, key))
    else:
        yield path


def _conflicts(patch: Document, claimed: dict[PathKey, Document]) -> list[Issue]:
    issues: list[Issue] = []
    mine: list[PathKey] = []
    for section in (("metadata", "labels"), ("spec",)):
        value = _get(patch.data, section)
        if value is not _MISSING:
            mine.extend(_leaves(value, section))
    for path in mine:
        for other_path, other in claimed.items():
            if path[: len(other_path)] == other_path or other_path[: len(path)] == path:
                file, line, _ = other.where(other_path)
                issues.append(
                    patch.issue(
                        path,
                        f"also set by the patch at {file}:{line}; one field of a deployment may be "
                        "patched by one patch only",
                    )
                )
                break
    if not issues:
        claimed.update(dict.fromkeys(mine, patch))
    return issues


def _name(document: Document) -> str | None:
    data = document.data
    if not isinstance(data, dict) or not isinstance(data.get("metadata"), dict):
        return None
    name = data["metadata"].get("name")
    return name if isinstance(name, str) else None


def _check_patch(patch: Document) -> tuple[str | None, list[Issue]]:
    """The patch's target name and the shape problems of the patch itself (its values are checked once
    merged, where the full manifest's rules apply)."""
    data = patch.data
    issues: list[Issue] = []
    name = _name(patch)
    if data.get("apiVersion") != API_VERSION:
        issues.append(patch.issue(("apiVersion",), f"apiVersion must be {API_VERSION!r}"))
    for key in sorted(set(data) - _PATCH_KEYS):
        issues.append(
            patch.issue((key,), f"unknown key {key!r} in a {KIND_PATCH}; it holds metadata and spec")
        )
    metadata = data.get("metadata")
    if not isinstance(metadata, dict) or name is None:
        issues.append(
            patch.issue(("metadata", "name"), "a patch needs metadata.name: the deployment it changes")
        )
    else:
        for key in sorted(set(metadata) - _PATCH_METADATA_KEYS):
            issues.append(
                patch.issue(("metadata", key), f"a patch may change metadata.labels only, not metadata.{key}")
            )
        if "labels" in metadata and not isinstance(metadata["labels"], dict | None):
            issues.append(patch.issue(("metadata", "labels"), "labels must be a mapping"))
    if "spec" in data and not isinstance(data["spec"], dict):
        issues.append(patch.issue(("spec",), "spec must be a mapping of the fields to change"))
    return name, issues
