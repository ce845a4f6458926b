"""The emulator's persisted state: resources as wire-format dicts, blobs, ids, etags and retry tokens.

All mutations happen under one lock. With a state folder, everything is written atomically after each
mutation and reloaded on start, so a restarted emulator (even on another port) carries on where it stopped.
The file keeps one JSON object per collection below; every service's collection is listed here so that the
file format is visible in one place and an existing state folder keeps loading.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import random
import secrets
import string
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.emulator.core.errors import not_found
from reconciler.emulator.core.faults import FaultConfig

REGION_KEYS = {"us-ashburn-1": "iad", "us-phoenix-1": "phx", "eu-frankfurt-1": "fra", "uk-london-1": "lhr"}
RETRY_TOKEN_SECONDS = 24 * 3600
#: lifecycle states of a resource on its way out
GONE = ("DELETED", "DELETING")


def now_rfc3339(at: float | None = None) -> str:
    return datetime.fromtimestamp(at if at is not None else time.time(), UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"
    )


def new_etag() -> str:
    return secrets.token_hex(16)


def content_md5(content: bytes) -> str:
    """The base64 ``Content-MD5`` of a body (MD5 by definition of the header, not for security)."""
    return base64.b64encode(hashlib.md5(content).digest()).decode()


class Store:
    COLLECTIONS = (
        "projects",
        "models",
        "deployments",
        "ds_work_requests",
        "log_groups",
        "logs",
        "log_work_requests",
        "objects",
        "multipart",
        "retry_tokens",
        "artifacts",
    )

    def __init__(self, directory: Path | None, region: str, work_request_seconds: float) -> None:
        self.directory = directory
        self.region = region
        self.region_key = REGION_KEYS.get(region, region.split("-")[1][:3] if "-" in region else "iad")
        self.work_request_seconds = work_request_seconds
        self.lock = threading.RLock()
        self.faults = FaultConfig()
        self.random = random.Random()
        self.data: dict[str, dict[str, Any]] = {name: {} for name in self.COLLECTIONS}
        self.blobs: dict[str, bytes] = {}  # in-memory mode only
        if directory is not None:
            self._load()

    # -- ids --

    def new_id(self, kind: str) -> str:
        alphabet = string.ascii_lowercase + string.digits
        suffix = "".join(secrets.choice(alphabet) for _ in range(60))
        middle = "" if kind in ("compartment", "tenancy") else self.region_key
        return f"ocid1.{kind}.oc1.{middle}.amaaaaaa{suffix}"

    def in_compartment(self, collection: str, compartment_id: str) -> list[dict[str, Any]]:
        return [r for r in self.data[collection].values() if r.get("compartmentId") == compartment_id]

    def find(self, collection: str, resource_id: str, what: str) -> dict[str, Any]:
        """The resource, or the 404 the service answers for an unknown (or foreign) id."""
        resource = self.data[collection].get(resource_id)
        if resource is None:
            raise not_found(f"{what} {resource_id}")
        return resource

    # -- persistence --

    def _state_file(self) -> Path:
        assert self.directory is not None
        return self.directory / "state.json"

    def _load(self) -> None:
        path = self._state_file()
        if not path.exists():
            return
        saved = json.loads(path.read_text(encoding="utf-8"))
        for name in self.COLLECTIONS:
            self.data[name] = saved.get(name, {})
        self.faults = FaultConfig.from_dict(saved.get("faults") or {})

    def save(self) -> None:
        """Write the whole state atomically; a crash leaves either the old or the new file."""
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._state_file()
        tmp = path.with_suffix(".tmp")
        payload = {**self.data, "faults": self.faults.to_dict()}
        tmp.write_text(json.dumps(payload, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)

    # -- blobs: artifacts, objects and parts, kept out of state.json --

    def put_blob(self, key: str, data: bytes) -> None:
        if self.directory is None:
            self.blobs[key] = data
            return
        folder = self.directory / "blobs"
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{key}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, folder / key)

    def get_blob(self, key: str) -> bytes:
        if self.directory is None:
            return self.blobs[key]
        return (self.directory / "blobs" / key).read_bytes()

    def delete_blob(self, key: str) -> None:
        if self.directory is None:
            self.blobs.pop(key, None)
        else:
            (self.directory / "blobs" / key).unlink(missing_ok=True)

    # -- retry tokens --

    def remember(self, key: str, body_hash: str, response: tuple[int, dict[str, str], Any]) -> None:
        self.data["retry_tokens"][key] = {
            "bodyHash": body_hash,
            "status": response[0],
            "headers": response[1],
            "body": response[2],
            "time": time.time(),
        }

    def recall(self, key: str) -> dict[str, Any] | None:
        entry = self.data["retry_tokens"].get(key)
        if entry is None or time.time() - entry["time"] > RETRY_TOKEN_SECONDS:
            return None
        return copy.deepcopy(entry)
