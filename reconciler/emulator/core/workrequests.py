"""One work-request engine for every service, driven by a transition table per operation.

A mutating call that OCI finishes asynchronously starts a work request; it completes after
``work_request_seconds``. ``tick()`` (called before every request and by a background thread) finishes
whatever is due and applies the operation's effect, so clients observe CREATING → ACTIVE exactly as from the
service.

Each service registers a table ``operationType -> Transition``. A transition's effect is written once and
reads everything it needs from the persisted work request (the resource id and the ``_params`` saved when it
started), never from a closure: so the live tick and a restarted emulator finishing the work requests that
were in flight when it stopped run the very same code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.emulator.core.errors import incorrect_state, not_found
from reconciler.emulator.core.store import Store, now_rfc3339

FINISHED = frozenset({"SUCCEEDED", "FAILED", "CANCELED"})


class EffectFailed(Exception):
    """An effect could not be applied (e.g. the exported object is missing); the work request FAILS."""


@dataclass(frozen=True)
class Outcome:
    """What an effect learns about the work request that finished."""

    resource_id: str
    succeeded: bool
    params: Mapping[str, Any] = field(default_factory=dict)


Effect = Callable[[Outcome], None]


def no_effect(outcome: Outcome) -> None:
    """For operations whose change was made when they were accepted (an update of tags, a move)."""


@dataclass(frozen=True)
class WorkRequestKind:
    """One service's work requests: the state collection that holds them and their OCID kind."""

    collection: str
    ocid_kind: str


@dataclass(frozen=True)
class Transition:
    """How a work request of one operation ends: the one place its lifecycle effect is written."""

    kind: WorkRequestKind
    entity_type: str  # resources[].entityType
    action: str  # resources[].actionType once SUCCEEDED (CREATED, UPDATED, DELETED, RELATED)
    effect: Effect = no_effect  # applied once, when it finishes; raising EffectFailed makes it FAIL


class WorkRequests:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.transitions: dict[str, Transition] = {}
        #: work requests not finished yet (id -> collection), so a tick costs O(open), not O(all ever made)
        self._open: dict[str, str] = {}

    def register(self, transitions: Mapping[str, Transition]) -> None:
        """Add a service's table; its work requests left open by a previous run are picked up again."""
        self.transitions.update(transitions)
        for collection in {t.kind.collection for t in transitions.values()}:
            for wr_id, wr in self.store.data[collection].items():
                if wr["status"] not in FINISHED:
                    self._open[wr_id] = collection

    def start(
        self,
        operation: str,
        compartment_id: str,
        resource_id: str,
        entity_uri: str,
        params: Mapping[str, Any] | None = None,
    ) -> str:
        """Accept a work request for ``operation``; ``params`` is what its effect needs besides the id."""
        transition = self.transitions[operation]
        collection = transition.kind.collection
        wr_id = self.store.new_id(transition.kind.ocid_kind)
        fail = self.store.random.random() < self.store.faults.fail_work_requests
        self.store.data[collection][wr_id] = {
            "id": wr_id,
            "operationType": operation,
            "status": "ACCEPTED",
            "compartmentId": compartment_id,
            "percentComplete": 0.0,
            "resources": [
                {
                    "entityType": transition.entity_type,
                    "actionType": "IN_PROGRESS",
                    "identifier": resource_id,
                    "entityUri": entity_uri,
                }
            ],
            "timeAccepted": now_rfc3339(),
            "_due": time.time() + self.store.work_request_seconds,
            "_fail": fail,
            "_final_action": transition.action,
            "_params": dict(params or {}),
            "_errors": [],
            "_logs": [{"message": f"{operation} accepted", "timestamp": now_rfc3339()}],
        }
        self._open[wr_id] = collection
        return wr_id

    def tick(self) -> bool:
        """Complete every work request that is due; returns True when something changed."""
        changed = False
        now = time.time()
        for wr_id, collection in list(self._open.items()):
            wr = self.store.data[collection].get(wr_id)
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
            self._finish(wr)
            self._open.pop(wr_id, None)
            changed = True
        if changed:
            self.store.save()
        return changed

    def _finish(self, wr: dict[str, Any]) -> None:
        succeeded = not wr["_fail"]
        transition = self.transitions.get(wr["operationType"])
        if transition is not None:
            resource_id = wr["resources"][0]["identifier"] if wr["resources"] else ""
            try:
                transition.effect(Outcome(resource_id, succeeded, wr.get("_params") or {}))
            except EffectFailed as exc:
                succeeded = False
                wr["_errors"].append(
                    {"code": "InternalError", "message": str(exc), "timestamp": now_rfc3339()}
                )
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
        wr["_logs"].append({"message": f"{wr['operationType']} {wr['status']}", "timestamp": now_rfc3339()})

    # -- reading and cancelling --

    def get(self, kind: WorkRequestKind, wr_id: str) -> dict[str, Any]:
        wr = self.store.data[kind.collection].get(wr_id)
        if wr is None:
            raise not_found(f"work request {wr_id}")
        return wr

    def find(
        self, kind: WorkRequestKind, compartment_id: str, filters: Mapping[str, str], resource_id: str | None
    ) -> list[dict[str, Any]]:
        """A compartment's work requests, newest first, filtered on equal fields and on a resource."""
        items = [w for w in self.store.data[kind.collection].values() if w["compartmentId"] == compartment_id]
        for name, value in filters.items():
            items = [w for w in items if w.get(name) == value]
        if resource_id:
            items = [w for w in items if any(r["identifier"] == resource_id for r in w["resources"])]
        items.sort(key=lambda w: w["timeAccepted"], reverse=True)
        return items

    def cancel(self, kind: WorkRequestKind, wr_id: str) -> None:
        wr = self.get(kind, wr_id)
        if wr["status"] in FINISHED:
            raise incorrect_state(f"work request is {wr['status']}")
        wr["status"] = "CANCELING"
