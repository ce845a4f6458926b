"""``mdr promote`` of a ``spec.modelGroup`` deployment: what its group holds, written for another environment.

A promotion of a group moves what the group serves: its type, its STACKED base, and its members, each
member's artifact rewritten relative to the target's folder (as ``spec.model`` artifacts are) or kept as a
catalog OCID. What stays per environment (display name, update type, version history and label, custom
metadata, ``keep``) is not touched. Two groups are the same when they hold the same members by content: a
local artifact is known by its content hash, so the same files under two paths promote nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from reconciler.adapters.artifact import artifact_identity
from reconciler.core.model_group_manifest import MemberSpec, ModelGroupSpec
from reconciler.core.stack import LoadedDeployment


def _group(deployment: LoadedDeployment) -> ModelGroupSpec:
    group = deployment.manifest.spec.modelGroup
    assert group is not None  # environments._same_kind checked both sides
    return group


def _member(deployment: LoadedDeployment, member: MemberSpec, target_folder: Path) -> dict[str, Any]:
    """A member as the target's promotions file writes it: its fields, its artifact relative to there."""
    written = member.model_dump(exclude_none=True, exclude_defaults=True)
    written["inferenceKey"] = member.inferenceKey
    local = deployment.member_files.get(member.inferenceKey)
    if local is not None:
        written["artifact"] = Path(os.path.relpath(local.resolve(), target_folder.resolve())).as_posix()
    return written


def group_patch(source: LoadedDeployment, target: LoadedDeployment, target_folder: Path) -> dict[str, Any]:
    """The ``spec.modelGroup`` patch that makes ``target`` serve what ``source`` serves."""
    group = _group(source)
    patch: dict[str, Any] = {"type": group.type}
    if group.baseModel is not None:
        patch["baseModel"] = group.baseModel
    elif _group(target).baseModel is not None:
        patch["baseModel"] = None  # a merge patch's null removes the target's base (it is not STACKED now)
    patch["members"] = [_member(source, member, target_folder) for member in group.members]
    return patch


def _source(deployment: LoadedDeployment, member: MemberSpec) -> str:
    local = deployment.member_files.get(member.inferenceKey)
    if local is not None:
        return artifact_identity(local)
    return f"model {member.id}" if member.id is not None else f"artifact {member.artifact}"


def group_identity(deployment: LoadedDeployment) -> tuple[str, str]:
    """What a group deployment serves, and how to say it in one line."""
    group = _group(deployment)
    sources = sorted((m.inferenceKey, _source(deployment, m)) for m in group.members)
    key = repr((group.type, group.baseModel, sources))
    shown = ", ".join(f"{k}={s.removeprefix('sha256:')[:12]}" for k, s in sources)
    base = f", base {group.baseModel}" if group.baseModel else ""
    return key, f"model group {group.type}{base} [{shown}]"
