"""Environments side by side: ``mdr diff-env`` and ``mdr promote``.

An environment is a folder holding an ``mdr.yaml`` (usually an overlay of a shared base, see
``reconciler.core.overlay``), named by its path or by its folder's name under ``--envs``. Both commands
read manifests only; neither touches the cloud. A promotion is a file change to review and commit, which
the target environment's plan (or its controller) then carries out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.adapters.artifact import artifact_identity
from reconciler.adapters.promotions import (
    PROMOTIONS_FILE,
    read_promotions,
    render_promotions,
    write_atomically,
)
from reconciler.core.envdiff import EnvironmentDiff, diff_environments
from reconciler.core.errors import MdrError, ValidationFailed
from reconciler.core.manifest_parts import ModelSpec
from reconciler.core.stack import STACK_FILE, LoadedDeployment, Stack
from reconciler.engine.environment_groups import group_identity, group_patch
from reconciler.engine.validate import validate_tree


class EnvironmentProblem(MdrError):
    """An environment cannot be found, or a promotion cannot be made as asked."""


def environment_folder(name: str, envs: Path) -> Path:
    """``name`` as a folder holding an mdr.yaml, else ``envs/name``."""
    for candidate in (Path(name), envs / name):
        if (candidate / STACK_FILE).is_file():
            return candidate
    raise EnvironmentProblem(
        f"no environment {name!r}: neither {name} nor {envs / name} holds an {STACK_FILE} "
        "(name an environment's folder, or its name under --envs)"
    )


def load_environment(folder: Path) -> Stack:
    """The environment's stack, refusing one with any error: comparing or promoting from a tree mdr could
    not read in full would compare or copy the wrong thing."""
    stack, issues = validate_tree(folder)
    if issues:
        raise ValidationFailed(issues)
    return stack


def diff_env(left: str, right: str, envs: Path) -> EnvironmentDiff:
    return diff_environments(
        left,
        load_environment(environment_folder(left, envs)),
        right,
        load_environment(environment_folder(right, envs)),
    )


@dataclass(frozen=True)
class Promotion:
    name: str
    file: Path
    #: the spec patch written: ``model`` (artifact path relative to the target's folder, or model id), or
    #: ``modelGroup`` (the group's type and members, each member's artifact written the same way)
    model: dict[str, Any]
    #: what the target ran before, as a one-line description
    before: str
    after: str
    changed: bool


def promote(name: str, source: str, target: str, envs: Path) -> Promotion:
    """Write the model ``source`` runs for deployment ``name`` into ``target``'s promotions file."""
    source_folder, target_folder = environment_folder(source, envs), environment_folder(target, envs)
    from_deployment = _deployment(load_environment(source_folder), name, source)
    to_deployment = _deployment(load_environment(target_folder), name, target)
    _same_kind(from_deployment, to_deployment, source, target)
    if from_deployment.manifest.spec.modelGroup is not None:
        model = {"modelGroup": group_patch(from_deployment, to_deployment, target_folder)}
        (before_key, before), (after_key, after) = (
            group_identity(to_deployment),
            group_identity(from_deployment),
        )
    else:
        model = {"model": _model_patch(from_deployment, target_folder)}
        (before_key, before), (after_key, after) = _identity(to_deployment), _identity(from_deployment)
    file = target_folder / PROMOTIONS_FILE
    if before_key == after_key:
        return Promotion(name, file, model, before, after, changed=False)
    promoted = read_promotions(target_folder)
    previous_text = file.read_text(encoding="utf-8") if file.exists() else None
    write_atomically(file, render_promotions({**promoted, name: model}))
    _, issues = validate_tree(target_folder)
    if issues:
        if previous_text is None:
            file.unlink()
        else:
            write_atomically(file, previous_text)
        details = "\n".join(str(issue) for issue in issues)
        raise EnvironmentProblem(
            f"promoting {name} would leave {target} invalid, so nothing was written:\n{details}"
        )
    return Promotion(name, file, model, before, after, changed=True)


def _deployment(stack: Stack, name: str, environment: str) -> LoadedDeployment:
    for deployment in stack.deployments:
        if deployment.name == name:
            return deployment
    known = ", ".join(sorted(d.name for d in stack.deployments)) or "none"
    raise EnvironmentProblem(f"environment {environment} has no deployment named {name!r} (it has: {known})")


def _same_kind(source: LoadedDeployment, target: LoadedDeployment, source_env: str, target_env: str) -> None:
    """A promotion moves a model onto a model, or a group's members onto a group: switching a deployment
    between the two is a replacement, a change to the base manifest rather than a promotion."""
    kinds = {
        env: "a model group (spec.modelGroup)" if d.manifest.spec.modelGroup is not None else "one model"
        for env, d in ((source_env, source), (target_env, target))
    }
    if kinds[source_env] != kinds[target_env]:
        raise EnvironmentProblem(
            f"{source.name} serves {kinds[source_env]} in {source_env} but {kinds[target_env]} in "
            f"{target_env}; a promotion cannot switch between the two (change the manifests instead)"
        )


def _single_model(deployment: LoadedDeployment) -> ModelSpec:
    """The one model a deployment serves."""
    model = deployment.manifest.spec.model
    assert model is not None  # _same_kind sent model group deployments elsewhere
    return model


def _model_patch(deployment: LoadedDeployment, target_folder: Path) -> dict[str, Any]:
    """The source's model, written so that it means the same thing from the target's folder."""
    model = _single_model(deployment)
    if deployment.artifact_file is not None:
        relative = os.path.relpath(deployment.artifact_file.resolve(), target_folder.resolve())
        return {"artifact": Path(relative).as_posix(), "id": None, "weights": None}
    if model.id is not None:
        return {"id": model.id, "artifact": None, "weights": None}
    if model.weights is not None:  # weights by reference: the same prefix, whatever the folder
        return {"weights": model.weights, "artifact": None, "id": None}
    return {"artifact": model.artifact, "id": None, "weights": None}


def _identity(deployment: LoadedDeployment) -> tuple[str, str]:
    """What a deployment runs, and how to say it: a local artifact is known by its content hash (the same
    files under two paths are the same model), otherwise by its object URI or model OCID."""
    if deployment.artifact_file is not None:
        digest = artifact_identity(deployment.artifact_file)
        return digest, f"{deployment.artifact_file} ({digest[:19]})"
    model = _single_model(deployment)
    key = f"model {model.id}" if model.id is not None else f"artifact {model.artifact or ''}"
    key = f"weights {model.weights}" if model.weights is not None else key
    return key, key
