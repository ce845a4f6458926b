"""Object versioning: what a bucket with ``versioning: Enabled`` keeps when an object is overwritten or deleted.

Every object has a ``versionId``. In a versioned bucket, writing over an object or deleting it keeps the
previous version (its bytes moved aside, under a blob of its own) and a delete leaves a *delete marker*;
ListObjectVersions lists, per name, the current version first and then the older ones, newest first, as
OCI does. A bucket whose versioning is Disabled or Suspended replaces objects in place. Model-by-reference
descriptions pin these version ids, which is why mdr refuses a bucket without versioning.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from reconciler.emulator.core.store import Store, now_rfc3339

VERSIONING_VALUES = ("Enabled", "Disabled")  # at CreateBucket
UPDATE_VERSIONING_VALUES = ("Enabled", "Suspended")  # at UpdateBucket: once on, it can only be suspended
#: the ObjectVersionSummary fields ``fields=`` may ask for (name, versionId, isDeleteMarker always come)
VERSION_FIELDS = frozenset(
    {"size", "etag", "md5", "timeCreated", "timeModified", "storageTier", "archivalState"}
)


def new_version_id() -> str:
    return str(uuid.uuid4())


class Versions:
    """Noncurrent versions, by object key (``namespace/bucket/name``), newest first."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def older(self) -> dict[str, list[dict[str, Any]]]:
        return self.store.data["object_versions"]

    def retire(self, key: str, current: dict[str, Any]) -> None:
        """Keep ``current`` (about to be replaced or deleted) as a noncurrent version, bytes included."""
        version_id = current.setdefault("versionId", new_version_id())
        blob = f"version-{current['blob']}-{version_id}"
        os.replace(self.store.blob_path(current["blob"]), self.store.blob_path(blob))
        self.older.setdefault(key, []).insert(0, {**current, "blob": blob})

    def mark_deleted(self, key: str) -> None:
        marker = {"versionId": new_version_id(), "isDeleteMarker": True, "timeCreated": now_rfc3339()}
        self.older.setdefault(key, []).insert(0, marker)

    def find(self, key: str, version_id: str) -> dict[str, Any] | None:
        return next((v for v in self.older.get(key, []) if v["versionId"] == version_id), None)

    def any_under(self, folder: str) -> bool:
        return any(k.startswith(folder) and versions for k, versions in self.older.items())

    def listing(
        self, folder: str, current: dict[str, dict[str, Any]], prefix: str, fields: frozenset[str]
    ) -> list[dict[str, Any]]:
        """ObjectVersionSummary items of every name under ``folder + prefix``: current, then older."""
        names = {k[len(folder) :] for k in current if k.startswith(folder)}
        names |= {k[len(folder) :] for k, v in self.older.items() if k.startswith(folder) and v}
        wanted = fields & VERSION_FIELDS
        items: list[dict[str, Any]] = []
        for name in sorted(n for n in names if n.startswith(prefix)):
            record = current.get(folder + name)
            chain = ([record] if record is not None else []) + self.older.get(folder + name, [])
            items.extend(_summary(name, version, wanted) for version in chain)
        return items


def _summary(name: str, version: dict[str, Any], wanted: frozenset[str]) -> dict[str, Any]:
    item: dict[str, Any] = {
        "name": name,
        "versionId": version.get("versionId"),
        "isDeleteMarker": bool(version.get("isDeleteMarker")),
    }
    if item["isDeleteMarker"]:
        return {**item, **({"timeCreated": version["timeCreated"]} if "timeCreated" in wanted else {})}
    values = {
        "size": version["size"],
        "etag": version["etag"],
        "md5": version["md5"],
        "timeCreated": version["timeCreated"],
        "timeModified": version["timeCreated"],
        "storageTier": "Standard",
        "archivalState": None,
    }
    return {**item, **{k: v for k, v in values.items() if k in wanted}}
