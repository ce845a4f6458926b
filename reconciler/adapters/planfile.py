"""Saved plan files (``mdr plan --out``): written atomically, read back for ``mdr apply PLANFILE``."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

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
    data = json.loads(render_json(plan))
    data["digest"] = plan_digest(data)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def plan_digest(data: dict[str, Any]) -> str:
    """Over everything but the digest itself: an edit anywhere in the file shows."""
    body = {k: v for k, v in data.items() if k != "digest"}
    return "sha256:" + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def read_plan(path: Path) -> Plan:
    """A saved plan exactly as mdr wrote it; an edited file is refused (apply re-plans to check the rest)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if data.get("digest") != plan_digest(data):
            raise MdrError(
                f"{path} was edited after mdr wrote it (its digest does not match); nothing was applied. "
                "Plan again and apply the new file"
            )
        return Plan.from_dict(data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MdrError(f"{path} is not a readable mdr plan: {exc}") from exc
