"""The emulator's state: resources as wire-format dicts, blobs, retry tokens, and the lifecycle engine.

All mutations happen under one lock. Lifecycles are driven by work requests that complete after
``work_request_seconds``: ``tick()`` (called before every request and by a background thread) finishes
whatever is due and applies its effect, so clients observe CREATING → ACTIVE exactly as from the service.
With a state folder, everything is written atomically after each mutation and reloaded on start; work
requests that were in flight when the emulator stopped complete after the restart.
"""

from __future__ import annotations

import copy
import json
import os
import random
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REGION_KEYS = {"us-ashburn-1": "iad", "us-phoenix-1": "phx", "eu-frankfurt-1": "fra", "uk-london-1": "lhr"}


FINISHED = frozenset({"SUCCEEDED", "FAILED", "CANCELED"})


def now_rfc3339(at: float | None = None) -> str:
    return datetime.fromtimestamp(at if at is not None else time.time(), UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"
    )


def new_etag() -> str:
    return secrets.token_hex(16)


@dataclass
class FaultConfig:
    """Faults injected on purpose, for tests and benchmarks."""

    latency_ms: float = 0.0
    #: operation name (or "*") -> {HTTP status: probability}, e.g. {"*": {429: 0.1, 500: 0.05}}
    error_rates: dict[str, dict[int, float]] = field(default_factory=dict)
    #: probability that a work request ends FAILED (with an error in /errors)
    fail_work_requests: float = 0.0
    #: deployments of these models end FAILED
    fail_deployments_for_models: set[str] = field(default_factory=set)
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["fail_deployments_for_models"] = sorted(self.fail_deployments_for_models)
        data["error_rates"] = {
            op: {str(k): v for k, v in rates.items()} for op, rates in self.error_rates.items()
        }
        return data

    @staticmethod
    def from_dict(data: dict[str, Any]) -> FaultConfig:
        rates = {
            op: {int(status): float(p) for status, p in values.items()}
            for op, values in (data.get("error_rates") or {}).items()
        }
        return FaultConfig(
            latency_ms=float(data.get("latency_ms", 0.0)),
            error_rates=rates,
            fail_work_requests=float(data.get("fail_work_requests", 0.0)),
            fail_deployments_for_models=set(data.get("fail_deployments_for_models") or []),
            seed=data.get("seed"),
        )


class State:
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
        #: effects to run when a work request completes: wr id -> callable(succeeded: bool)
        self._effects: dict[str, Callable[[bool], None]] = {}
        self.on_deployment_change: Callable[[str], None] = lambda deployment_id: None
        #: work requests not finished yet (id -> collection), so a tick costs O(open), not O(all ever made)
        self._open: dict[str, str] = {}
        if directory is not None:
            self._load()

    # -- ids --

    def new_id(self, kind: str) -> str:
        alphabet = string.ascii_lowercase + string.digits
        suffix = "".join(secrets.choice(alphabet) for _ in range(60))
        middle = "" if kind in ("compartment", "tenancy") else self.region_key
        return f"ocid1.{kind}.oc1.{middle}.amaaaaaa{suffix}"

    # -- persistence --

    def _state_file(self) -> Path:
        assert self.directory is not None
        return self.directory / "state.json"

    def _load(self) -> None:
        assert self.directory is not None
        path = self._state_file()
        if not path.exists():
            return
        saved = json.loads(path.read_text(encoding="utf-8"))
        for name in self.COLLECTIONS:
            self.data[name] = saved.get(name, {})
        self.faults = FaultConfig.from_dict(saved.get("faults") or {})
        for collection in ("ds_work_requests", "log_work_requests"):
            for wr_id, wr in self.data[collection].items():
                if wr["status"] not in FINISHED:
                    self._open[wr_id] = collection

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

    # -- work requests --

    def new_work_request(
        self,
        service: str,
        operation: str,
        compartment_id: str,
        resource_id: str,
        entity_type: str,
        entity_uri: str,
        action: str,
        effect: Callable[[bool], None],
    ) -> str:
        collection = "ds_work_requests" if service == "ds" else "log_work_requests"
        kind = "datascienceworkrequest" if service == "ds" else "logworkrequest"
        wr_id = self.new_id(kind)
        fail = self.random.random() < self.faults.fail_work_requests
        self.data[collection][wr_id] = {
            "id": wr_id,
            "operationType": operation,
            "status": "ACCEPTED",
            "compartmentId": compartment_id,
            "percentComplete": 0.0,
            "resources": [
                {
                    "entityType": entity_type,
                    "actionType": "IN_PROGRESS",
                    "identifier": resource_id,
                    "entityUri": entity_uri,
                }
            ],
            "timeAccepted": now_rfc3339(),
            "_due": time.time() + self.work_request_seconds,
            "_fail": fail,
            "_final_action": action,
            "_errors": [],
            "_logs": [{"message": f"{operation} accepted", "timestamp": now_rfc3339()}],
        }
        self._effects[wr_id] = effect
        self._open[wr_id] = collection
        return wr_id

    def tick(self) -> bool:
        """Complete every work request that is due; returns True when something changed."""
        changed = False
        now = time.time()
        for wr_id, collection in list(self._open.items()):
            wr = self.data[collection].get(wr_id)
            if wr is None or wr["status"] in FINISHED:
                self._open.pop(wr_id, None)
                continue
            if wr["status"] == "ACCEPTED":
                wr["status"] = "IN_PROGRESS"
                wr["timeStarted"] = now_rfc3339()
                wr["percentComplete"] = 50.0
                changed = True
            if now < wr["_due"]:
                continue
            succeeded = not wr["_fail"]
            effect = self._effects.pop(wr["id"], None)
            if effect is not None:
                try:
                    effect(succeeded)
                except _EffectFailed as exc:
                    succeeded = False
                    wr["_errors"].append(
                        {"code": "InternalError", "message": str(exc), "timestamp": now_rfc3339()}
                    )
            else:
                self._resume_effect(wr, succeeded)
            wr["status"] = "SUCCEEDED" if succeeded else "FAILED"
            wr["percentComplete"] = 100.0
            wr["timeFinished"] = now_rfc3339()
            for resource in wr["resources"]:
                resource["actionType"] = wr["_final_action"] if succeeded else "FAILED"
            if not succeeded and not wr["_errors"]:
                wr["_errors"].append(
                    {
                        "code": "InternalServerError",
                        "message": f"{wr['operationType']} failed (injected fault)",
                        "timestamp": now_rfc3339(),
                    }
                )
            wr["_logs"].append(
                {"message": f"{wr['operationType']} {wr['status']}", "timestamp": now_rfc3339()}
            )
            changed = True
        if changed:
            self.save()
        return changed

    def _resume_effect(self, wr: dict[str, Any], succeeded: bool) -> None:
        """After a restart the effect closure is gone: re-derive it from the operation type."""
        from reconciler.emulator.services import resume_effect

        resume_effect(self, wr, succeeded)

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
        if entry is None or time.time() - entry["time"] > 24 * 3600:
            return None
        return copy.deepcopy(entry)


class _EffectFailed(Exception):
    """An effect could not be applied (e.g. the exported object is missing); the work request FAILS."""


EffectFailed = _EffectFailed
