"""Write what ``mdr import`` converted: the stack file and one manifest per deployment, re-importing in place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from reconciler.core.errors import MdrError
from reconciler.core.from_live import common_project, manifest_from_live, manifest_text, slug, stack_file
from reconciler.core.manifest import ADOPT_ANNOTATION


def write_import(
    items: list[dict[str, Any]],
    out: Path,
    *,
    stack: str,
    region: str,
    compartment: str,
    schemas: str | None = None,
) -> tuple[list[Path], list[str]]:
    """Write mdr.yaml (unless present) and one manifest per deployment; returns files and warnings."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    warnings: list[str] = []
    project = common_project(items)
    stack_path = out / "mdr.yaml"
    if stack_path.exists():
        warnings.append(f"{stack_path} exists: kept as it is (check its stack name and defaults)")
    else:
        stack_path.write_text(stack_file(stack, region, compartment, project, schemas), encoding="utf-8")
        written.append(stack_path)
    existing = _adopted_in(out)
    taken = {p.stem for p in out.glob("*.yaml")}
    defaults = {"compartmentId": compartment, **({"projectId": project} if project else {})}
    for wire in items:
        name = existing.get(wire["id"]) or slug(wire.get("display_name") or "deployment", taken)
        imported = manifest_from_live(wire, name, defaults)
        path = out / f"{imported.name}.yaml"
        path.write_text(manifest_text(imported.manifest, schemas), encoding="utf-8")
        written.append(path)
        warnings.extend(imported.warnings)
    return written, warnings


def _adopted_in(out: Path) -> dict[str, str]:
    """Deployment OCID -> manifest name, for manifests an earlier import wrote (re-importing overwrites them)."""
    found: dict[str, str] = {}
    for path in sorted(out.glob("*.yaml")):
        try:
            for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
                metadata = document.get("metadata") if isinstance(document, dict) else None
                if not isinstance(metadata, dict):
                    continue
                target = (metadata.get("annotations") or {}).get(ADOPT_ANNOTATION)
                if target and path.stem == metadata.get("name"):
                    found[str(target)] = path.stem
        except (OSError, yaml.YAMLError, AttributeError):
            continue  # not ours to understand: left alone
    return found


def read_terraform_state(path: Path) -> Any:
    """A Terraform state file as JSON data; a one-line error naming the file (and the line) when it is not."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MdrError(f"{path}: cannot read it: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MdrError(
            f"{path}:{exc.lineno}:{exc.colno}: not a Terraform state (JSON expected): {exc.msg}"
        ) from None


def region_of(ocid: str, default: str = "us-ashburn-1") -> str:
    """The region an OCID names (``ocid1.x.oc1.iad.…`` -> us-ashburn-1), for a new mdr.yaml."""
    import oci

    parts = ocid.split(".")
    key = parts[3] if len(parts) > 4 else ""
    return str(oci.regions.REGIONS_SHORT_NAMES.get(key, key if key in oci.regions.REGIONS else default))
