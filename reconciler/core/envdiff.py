"""How two environments differ: the stack settings and each deployment, field by field, after overlays.

Compared are the manifests as mdr plans them (base and patches merged, defaults filled in), not the files:
two environments that write the same value differently do not differ, and a field set in the base and
changed in one overlay does. Local artifacts compare by the folder they resolve to, since the same folder is
written ``models/v1`` in the base and ``../../base/models/v1`` in an overlay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.core.stack import LoadedDeployment, Stack

#: stack settings that are per environment by nature; compared and shown like any other
_STACK_FIELDS = ("stack", "region", "defaults", "prune", "maxDeletes", "lock", "artifacts", "vars")
_MISSING = "(not set)"


@dataclass(frozen=True)
class FieldDifference:
    path: str
    left: Any
    right: Any


@dataclass(frozen=True)
class EnvironmentDiff:
    left: str
    right: str
    stack: list[FieldDifference]
    #: deployment name -> its differing fields (deployments in both environments only)
    deployments: dict[str, list[FieldDifference]]
    only_left: list[str]
    only_right: list[str]

    @property
    def empty(self) -> bool:
        return not (self.stack or self.deployments or self.only_left or self.only_right)


def diff_environments(left_name: str, left: Stack, right_name: str, right: Stack) -> EnvironmentDiff:
    assert left.config is not None and right.config is not None
    stack = _differences(
        {k: v for k, v in left.config.model_dump(mode="json").items() if k in _STACK_FIELDS},
        {k: v for k, v in right.config.model_dump(mode="json").items() if k in _STACK_FIELDS},
    )
    lefts = {d.name: d for d in left.deployments}
    rights = {d.name: d for d in right.deployments}
    deployments = {}
    for name in sorted(lefts.keys() & rights.keys()):
        found = _differences(deployment_fields(lefts[name]), deployment_fields(rights[name]))
        if found:
            deployments[name] = found
    return EnvironmentDiff(
        left_name,
        right_name,
        stack,
        deployments,
        only_left=sorted(lefts.keys() - rights.keys()),
        only_right=sorted(rights.keys() - lefts.keys()),
    )


def deployment_fields(deployment: LoadedDeployment) -> dict[str, Any]:
    """The deployment as planned: manifest fields, placement resolved, a local artifact as its folder."""
    data = deployment.manifest.model_dump(mode="json", exclude={"apiVersion", "kind"})
    spec = data["spec"]
    spec["compartmentId"] = deployment.compartment_id
    spec["projectId"] = deployment.project_id
    if deployment.artifact_file is not None:
        spec["model"]["artifact"] = str(deployment.artifact_file)
    return dict(data)


def _differences(left: Mapping[str, Any], right: Mapping[str, Any]) -> list[FieldDifference]:
    flat_left, flat_right = _flatten(left), _flatten(right)
    return [
        FieldDifference(path, flat_left.get(path, _MISSING), flat_right.get(path, _MISSING))
        for path in sorted(flat_left.keys() | flat_right.keys())
        if flat_left.get(path, _MISSING) != flat_right.get(path, _MISSING)
    ]


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted paths to leaf values; ``None`` leaves are dropped (unset), lists compare as a whole."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, child in value.items():
            out.update(_flatten(child, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {} if value is None else {prefix: value}


def render_environment_diff(diff: EnvironmentDiff) -> str:
    """Text for a terminal or a pull request: one line per differing field, ``left → right``."""
    if diff.empty:
        return f"{diff.left} and {diff.right} do not differ"
    lines = [f"--- {diff.left}", f"+++ {diff.right}"]
    if diff.stack:
        lines.append("stack (mdr.yaml):")
        lines += [_line(d) for d in diff.stack]
    for name, differences in diff.deployments.items():
        lines.append(f"{name}:")
        lines += [_line(d) for d in differences]
    lines += [f"only in {diff.left}: {name}" for name in diff.only_left]
    lines += [f"only in {diff.right}: {name}" for name in diff.only_right]
    return "\n".join(lines)


def _line(difference: FieldDifference) -> str:
    return f"  {difference.path}: {_value(difference.left)} → {_value(difference.right)}"


def _value(value: Any) -> str:
    if value == _MISSING:
        return value
    text = repr(value) if isinstance(value, str) else str(value).replace("'", "")
    return text if len(text) <= 120 else text[:117] + "..."
