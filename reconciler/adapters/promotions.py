"""The file ``mdr promote`` writes: one ``ModelDeploymentPatch`` per promoted deployment, in the target
environment's folder, as a change ready to review and commit.

mdr owns this file and rewrites it whole, so that a promotion never edits (and reformats, or loses the
comments of) a file a person wrote. Its patches set ``spec.model`` (or a model group's ``spec.modelGroup``
members) only; a person's patch that also sets them makes the overlay invalid, which ``promote`` detects
and refuses before writing.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from reconciler.core.document import parse_documents
from reconciler.core.errors import MdrError
from reconciler.core.manifest import API_VERSION
from reconciler.core.overlay import KIND_PATCH

PROMOTIONS_FILE = "promotions.yaml"
_HEADER = (
    "# Written by `mdr promote`: the model each deployment was promoted to. Review and commit it;\n"
    "# mdr rewrites this file whole on the next promotion, so keep hand-written patches in other files.\n"
)


class PromotionFileError(MdrError):
    """The promotions file cannot be read as mdr wrote it."""


def read_promotions(folder: Path) -> dict[str, dict[str, Any]]:
    """Deployment name -> the ``spec`` patch promoted to it (``model``, or ``modelGroup`` for a model group
    deployment), from the folder's promotions file."""
    path = folder / PROMOTIONS_FILE
    if not path.exists():
        return {}
    documents, issues = parse_documents(path.read_text(encoding="utf-8"), str(path), None)
    if issues:
        raise PromotionFileError(f"{issues[0]}; fix or delete {path} and promote again")
    promoted: dict[str, dict[str, Any]] = {}
    for document in documents:
        data = document.data
        try:
            spec = dict(data["spec"])
            if not spec or set(spec) - {"model", "modelGroup"}:
                raise KeyError("spec sets something other than model or modelGroup")
            promoted[data["metadata"]["name"]] = spec
        except (KeyError, TypeError) as exc:
            raise PromotionFileError(
                f"{path}: document {document.index + 1} is not a promotion mdr wrote ({exc}); "
                "move hand-written patches to another file"
            ) from exc
    return promoted


def render_promotions(promoted: Mapping[str, Mapping[str, Any]]) -> str:
    documents = [
        {
            "apiVersion": API_VERSION,
            "kind": KIND_PATCH,
            "metadata": {"name": name},
            "spec": dict(promoted[name]),
        }
        for name in sorted(promoted)
    ]
    return _HEADER + yaml.safe_dump_all(documents, sort_keys=False, default_flow_style=False)


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` in one step: a reader (the controller's file watch) never sees half a file."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
