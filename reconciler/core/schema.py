"""JSON Schema files generated from the manifest models, for yaml-language-server and other editors."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from reconciler.core.manifest import ModelDeploymentManifest, StackConfig

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


# --- the manifest reference (docs/manifest-reference.md), generated from the same schemas ------------------

REFERENCE_HEADER = """# Manifest reference

Generated from the JSON Schemas (`mdr schema --out schemas --docs docs/manifest-reference.md`); do not edit by
hand. Every object rejects unknown keys. Editors that speak yaml-language-server complete and check these
fields when a file starts with the `$schema` modeline shown in `manifests/`.

Values are strict: a value of another type is an error, never converted (`replicas: "2"`, `replicas: true`
and `protect: "off"` are refused; a whole number is a number, so `ocpus: 1` is fine; quote a date or a number
where a string is wanted). A pattern matches the whole value. Only plain YAML is read: strings, numbers,
booleans, null, dates, lists and mappings nested at most 64 deep; other tags (`!!binary`, `!!set`, `!custom`)
and merge keys are errors.
"""


def _type_of(node: dict[str, Any]) -> str:
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in node:
        kinds = [_type_of(n) for n in node["anyOf"] if n.get("type") != "null"]
        return " or ".join(kinds) + (
            " (optional)" if any(n.get("type") == "null" for n in node["anyOf"]) else ""
        )
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    kind = node.get("type", "any")
    if kind == "array":
        return f"list of {_type_of(node.get('items', {}))}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"map of {_type_of(node['additionalProperties'])}"
    return str(kind)


def _limits(node: dict[str, Any]) -> str:
    parts = []
    for sub in [node, *node.get("anyOf", [])]:
        for key, label in (
            ("minimum", "≥"),
            ("exclusiveMinimum", ">"),
            ("maximum", "≤"),
            ("minLength", "length ≥"),
            ("maxLength", "length ≤"),
            ("multipleOf", "multiple of"),
        ):
            if key in sub:
                parts.append(f"{label} {sub[key]}")
        if "pattern" in sub:
            parts.append(f"pattern `{sub['pattern']}`")
    return ", ".join(parts)


def _table(title: str, node: dict[str, Any], level: str = "###") -> list[str]:
    lines = [f"{level} {title}", ""]
    if node.get("description"):
        lines += [node["description"], ""]
    required = set(node.get("required", []))
    lines += ["| Field | Type | Default | Limits | Description |", "| --- | --- | --- | --- | --- |"]
    for name, prop in node.get("properties", {}).items():
        default = (
            "required" if name in required else json.dumps(prop.get("default")) if "default" in prop else ""
        )
        description = (prop.get("description") or "").replace("|", "\\|")
        lines.append(f"| `{name}` | {_type_of(prop)} | {default} | {_limits(prop)} | {description} |")
    return [*lines, ""]


def render_reference() -> str:
    parts = [REFERENCE_HEADER]
    seen: set[str] = set()
    for file_name, model in SCHEMAS.items():
        schema: dict[str, Any] = model.model_json_schema(by_alias=True)
        parts += _table(f"`{file_name}`: {schema.get('title', model.__name__)}", schema, "##")
        for name, definition in sorted(schema.get("$defs", {}).items()):
            if name not in seen and "properties" in definition:
                seen.add(name)
                parts += _table(name, definition)
    return "\n".join(parts).rstrip() + "\n"
