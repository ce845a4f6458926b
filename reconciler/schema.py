"""JSON Schema files generated from the manifest models, for yaml-language-server and other editors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from reconciler.manifest.models import ModelDeploymentManifest, StackConfig

SCHEMAS: dict[str, type[BaseModel]] = {
    "stack.schema.json": StackConfig,
    "modeldeployment.schema.json": ModelDeploymentManifest,
}


def render_schemas() -> dict[str, str]:
    """File name -> schema text; deterministic so that CI can compare it with the committed files."""
    out: dict[str, str] = {}
    for name, model in SCHEMAS.items():
        schema: dict[str, Any] = model.model_json_schema(by_alias=True)
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": name, **schema}
        out[name] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_schemas().items():
        target = directory / name
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written
