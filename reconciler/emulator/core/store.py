"""The emulator's persisted state: resources as wire-format dicts, blobs, ids, etags and retry tokens.

All mutations happen under one lock. With a state folder, everything is written atomically after each
mutation and reloaded on start, so a restarted emulator (even on another port) carries on where it stopped.
The file keeps one JSON object per collection below; every service's collection is listed here so that the
file format is visible in one place and an existing state folder keeps loading.

Blobs (objects, multipart parts, model artifacts) are files, never held in memory whole: under
``<state>/blobs/``, or in a temporary folder removed at ``close()`` for an in-memory emulator. A request body
is written to a ``Staged`` file as it arrives (hashed on the way) and moved into place when accepted.
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
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from reconciler.emulator.core.errors import not_found
from reconciler.emulator.core.faults import FaultConfig

REGION_KEYS = {"us-ashburn-1": "iad", "us-phoenix-1": "phx", "eu-frankfurt-1": "fra", "uk-london-1": "lhr"}
RETRY_TOKEN_SECONDS = 24 * 3600
COPY_CHUNK = 1024 * 1024
STAGED_PREFIX = ".staged-"
#: lifecycle states of a resource on its way out
GONE = ("DELETED", "DELETING")


def now_rfc3339(at: float | None = None) -> str:
    return datetime.fromtimestamp(at if at is not None else time.time(), UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"
    )


def new_etag() -> str:
    return secrets.token_hex(16)


@dataclass(frozen=True)
class BlobInfo:
    size: int
    md5: str  # base64, as the Content-MD5 header carries it


class Staged:
    """Content on its way into the store: a temporary file in the blob folder, hashed as it is written.

    ``Store.keep`` moves it into place under a key; ``discard`` removes it (a refused request, a failed call).
    """

    def __init__(self, folder: Path) -> None:
        fd, name = tempfile.mkstemp(dir=folder, prefix=STAGED_PREFIX)
        self.path = Path(name)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        self._md5 = hashlib.md5()  # Content-MD5 is MD5 by definition of the header, not for security
        self._sha256 = hashlib.sha256()
        self.size = 0
        self.kept = False  # moved into place by Store.keep: nothing left to discard

    def write(self, data: bytes) -> None:
        assert self._file is not None, "already finished"
        self._file.write(data)
        self._md5.update(data)
        self._sha256.update(data)
        self.size += len(data)

    def finish(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    @property
    def md5(self) -> str:
        return base64.b64encode(self._md5.digest()).decode()

    @property
    def sha256(self) -> str:
        """Base64, as ``x-content-sha256`` carries it."""
        return base64.b64encode(self._sha256.digest()).decode()

    def discard(self) -> None:
        self.finish()
        if not self.kept:
            self.path.unlink(missing_ok=True)


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
        "object_versions",
        "multipart",
        "retry_tokens",
        "artifacts",
        "buckets",
        "signatures",
        "secrets",
        "topics",
        "topic_messages",
        "model_version_sets",
        "model_groups",
        "model_group_version_histories",
        "compute_targets",
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
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        if directory is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="mdr-emulator-blobs-")
            self.blob_folder = Path(self._scratch.name)
        else:
            self.blob_folder = directory / "blobs"
            self.blob_folder.mkdir(parents=True, exist_ok=True)
            for leftover in self.blob_folder.glob(f"{STAGED_PREFIX}*"):  # bodies of calls a crash cut short
                leftover.unlink(missing_ok=True)
            self._load()

    def close(self) -> None:
        """Remove the blobs of an in-memory store (a state folder keeps its own)."""
        if self._scratch is not None:
            self._scratch.cleanup()

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

    def stage(self) -> Staged:
        return Staged(self.blob_folder)

    def keep(self, key: str, content: bytes | Staged) -> BlobInfo:
        """Store ``content`` as the blob ``key`` (replacing any); bytes are for small content and tests."""
        staged = content if isinstance(content, Staged) else self._staged_bytes(content)
        staged.finish()
        os.replace(staged.path, self.blob_path(key))
        staged.kept = True
        return BlobInfo(staged.size, staged.md5)

    def _staged_bytes(self, content: bytes) -> Staged:
        staged = self.stage()
        staged.write(content)
        return staged

    def join(self, keys: Iterable[str], key: str) -> BlobInfo:
        """The blobs ``keys`` one after the other, as the blob ``key``, copied in chunks."""
        staged = self.stage()
        try:
            for source in keys:
                with self.open_blob(source) as file:
                    while chunk := file.read(COPY_CHUNK):
                        staged.write(chunk)
        except BaseException:
            staged.discard()
            raise
        return self.keep(key, staged)

    def copy(self, source: str, key: str) -> BlobInfo:
        return self.join([source], key)

    def blob_path(self, key: str) -> Path:
        return self.blob_folder / key

    def open_blob(self, key: str) -> BinaryIO:
        """An open file of the blob: it stays readable even if the blob is replaced or deleted meanwhile."""
        return self.blob_path(key).open("rb")

    def read_blob(self, key: str) -> bytes:
        """A small blob's content (a lease, a test's object); large ones are streamed with ``open_blob``."""
        return self.blob_path(key).read_bytes()

    def has_blob(self, key: str) -> bool:
        return self.blob_path(key).exists()

    def delete_blob(self, key: str) -> None:
        self.blob_path(key).unlink(missing_ok=True)

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
