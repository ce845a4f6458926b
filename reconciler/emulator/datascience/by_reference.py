"""Serving a model registered by reference: its artifact is ADS's ``model_description.json`` (type
``modelOSSReferenceDescription``), which names objects of a versioned bucket by name and version. The
service downloads exactly those versions when it starts the model; the emulator gathers them from its own
Object Storage into a zip, which the model server then extracts as it would an uploaded artifact.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from reconciler.emulator.core.errors import ApiError
from reconciler.emulator.objectstorage.backend import ObjectStorageBackend

DESCRIPTION_TYPE = "modelOSSReferenceDescription"
#: where the gathered zips are kept (named by the description's digest; object versions never change)
BY_REFERENCE_SCRATCH = Path(tempfile.gettempdir()) / "mdr-emulator-by-reference"


def description_of(artifact: Path) -> dict[str, Any] | None:
    """The description an artifact holds, or None for an ordinary (zip) artifact."""
    if zipfile.is_zipfile(artifact):
        return None
    try:
        description = json.loads(artifact.read_bytes())
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(description, dict) or description.get("type") != DESCRIPTION_TYPE:
        return None
    return description


def gathered(description: dict[str, Any], objects: ObjectStorageBackend, scratch: Path) -> Path:
    """A zip of the objects ``description`` names, at their versions, each under its name relative to its
    prefix (made once per description: it is named by its digest)."""
    text = json.dumps(description, sort_keys=True).encode()
    target = scratch / f"by-reference-{hashlib.sha256(text).hexdigest()[:24]}.zip"
    if target.exists():
        return target
    scratch.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for entry in description.get("models") or []:
            prefix = str(entry.get("prefix") or "")
            for item in entry.get("objects") or []:
                name = str(item.get("name") or "")
                relative = name[len(prefix) :] if name.startswith(prefix) else name
                if not relative or relative.startswith("/") or ".." in Path(relative).parts:
                    raise ApiError(500, "InternalServerError", f"model description names {name!r}")
                try:
                    _, record = objects.get(
                        str(entry.get("namespace")), str(entry.get("bucketName")), name, item.get("version")
                    )
                except ApiError as exc:  # as the service fails to start a model whose weights are gone
                    raise ApiError(
                        500, "InternalServerError", f"the model's weights cannot be read: {name}: {exc}"
                    ) from exc
                archive.write(objects.store.blob_path(record["blob"]), relative)
    partial.replace(target)
    return target
