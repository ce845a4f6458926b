"""Cross-field checks over a document that did not validate, so that one run reports every fault.

Pydantic skips a model's ``after`` validators as soon as one of its fields fails, so a wrong ``replicas``
would hide a memory size out of the shape's range until it is fixed. The manifest models therefore keep
those checks as plain functions (``Strict.cross_checks``); here they are run over the raw document, object
by object, with only the fields that validated on their own. A check never sees a field that failed, so
no fault is reported twice.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from reconciler.core.document import PathKey
from reconciler.core.manifest_parts import Problem, Strict


def cross_field_problems(
    model: type[BaseModel], data: Any, failed: set[PathKey]
) -> list[tuple[PathKey, Problem]]:
    """Every cross-field fault in ``data`` (validated as ``model``), located from the document's root.

    ``failed`` holds the data paths of the field errors already reported; a field at or under one of them
    is left out of the checks of its object (a nested object keeps counting as *present*: the checks of
    its parent only ask whether it is set).
    """
    return list(_walk(model, data, (), failed))


def _walk(
    model: type[BaseModel], data: Any, path: PathKey, failed: set[PathKey]
) -> Iterator[tuple[PathKey, Problem]]:
    if not isinstance(data, dict):
        return
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        here = (*path, name)
        broken = [loc for loc in failed if loc[: len(here)] == here]
        present = name in data
        nested = _nested_models(info.annotation)
        if present:
            value = data[name]
            inside_only = all(len(loc) > len(here) for loc in broken)
            if not broken or (nested and inside_only and isinstance(value, dict | list)):
                values[name] = value
            yield from _walk_nested(nested, get_origin(info.annotation), value, here, failed)
        elif not broken and not info.is_required():
            values[name] = info.get_default(call_default_factory=True)
    for check in getattr(model, "cross_checks", ()):
        for problem in check(values):
            yield (*path, *problem.loc), problem


def _walk_nested(
    nested: list[type[Strict]], origin: Any, value: Any, path: PathKey, failed: set[PathKey]
) -> Iterator[tuple[PathKey, Problem]]:
    if not nested:
        return
    if origin is list and isinstance(value, list):
        for index, item in enumerate(value):
            model = _pick(nested, item)
            if model is not None:
                yield from _walk(model, item, (*path, index), failed)
    elif origin is not list and isinstance(value, dict):
        model = _pick(nested, value)
        if model is not None:
            yield from _walk(model, value, path, failed)


def _nested_models(annotation: Any) -> list[type[Strict]]:
    """The manifest models a field holds directly, optionally, as one of a union, or as list items
    (a ``dict`` of models is a map of names, never an object with cross-field checks of its own)."""
    if isinstance(annotation, type) and issubclass(annotation, Strict):
        return [annotation]
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType, list):
        return [model for arg in get_args(annotation) for model in _nested_models(arg)]
    return []


def _pick(models: list[type[Strict]], data: Any) -> type[Strict] | None:
    """The model for ``data``: the only candidate, or the one whose ``type`` literal the data names."""
    if len(models) == 1:
        return models[0]
    kind = data.get("type") if isinstance(data, dict) else None
    for model in models:
        field = model.model_fields.get("type")
        if (
            field is not None
            and get_origin(field.annotation) is Literal
            and kind in get_args(field.annotation)
        ):
            return model
    return None
