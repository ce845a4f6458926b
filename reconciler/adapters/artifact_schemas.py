"""A model's input and output schemas, taken from its artifact: ``input_schema.json`` and
``output_schema.json`` at the artifact's root, as Oracle ADS writes them (``prepare()`` /
``populate_schema()``). The model catalog shows them, and they travel with the model: mdr sends them with
``CreateModel`` when the artifact has them. They are part of the artifact's file set, so a changed schema is
a new artifact identity and so a new model: there is nothing to update in place.
"""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.adapters.artifact import list_files, read_member, where
from reconciler.core.errors import ArtifactError

#: CreateModelDetails field -> the file of the artifact it is read from
SCHEMA_FILES = {"inputSchema": "input_schema.json", "outputSchema": "output_schema.json"}


class SchemaError(ArtifactError):
    """A schema file that is not a JSON object: the catalog would keep text nobody can use."""


def artifact_schemas(source: Path) -> dict[str, str]:
    """``{"inputSchema": <JSON text>, ...}`` for the schema files the artifact (folder or .zip) holds."""
    files = list_files(source)
    found: dict[str, str] = {}
    for field, name in SCHEMA_FILES.items():
        try:
            raw = read_member(source, name, files)
        except KeyError:
            continue
        try:
            parsed = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SchemaError(f"{where(source, name)}: not a JSON document ({exc})") from None
        if not isinstance(parsed, dict):
            raise SchemaError(f"{where(source, name)}: a schema must be a JSON object")
        found[field] = json.dumps(parsed, sort_keys=True, separators=(",", ":"))
    return found
