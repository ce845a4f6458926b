"""Saved plan files (``mdr plan --out``): written atomically, read back for ``mdr apply PLANFILE``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from reconciler.core.errors import MdrError
from reconciler.core.plan import Plan
from reconciler.core.render import render_json


def write_plan(plan: Plan, path: Path) -> None:
    """Saved plans hold no secret values; written atomically so a crash never leaves half a plan.

    Artifact folders inside the working directory are saved relative to it, so that the plan applies from
    another checkout of the same repository (CI runners rarely share a workspace path).
    """
    for change in plan.changes:
        source = change.desired.get("artifactPath")
        if source and Path(source).is_absolute():
            relative = os.path.relpath(source)
            if not relative.startswith(".."):
                change.desired["artifactPath"] = relative
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(render_json(plan), encoding="utf-8")
    os.replace(tmp, path)


def read_plan(path: Path) -> Plan:
    try:
        return Plan.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError) as exc:
        raise MdrError(f"{path} is not a readable mdr plan: {exc}") from exc
