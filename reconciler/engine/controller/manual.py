"""Manual sync (``syncPolicy: manual``): the controller plans and shows the pending plan; a person applies it.

Each reconcile of a manual stack saves what it *would* apply as a plan file under ``.mdr/pending/`` (the
format of ``mdr plan --out``) and publishes its id (a digest of its changes, stable while nothing changes).
A sync request names that id; the controller's loop, which holds the stack's lock, re-reads live state and
applies exactly that plan, refusing it when it has gone stale (``refuse_stale``, as ``mdr apply PLANFILE``
does) or when the pending plan is no longer the one the requester saw.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.adapters.cloud_errors import cloud_errors, describe_cloud_error
from reconciler.adapters.journal import make_state_dir, state_dir
from reconciler.adapters.planfile import read_plan, write_plan
from reconciler.core.errors import MdrError
from reconciler.core.plan import Action, Plan
from reconciler.core.render import render_json
from reconciler.engine.apply import ApplyOptions
from reconciler.engine.validate import checked_stack
from reconciler.engine.workflows import execute, refuse_stale

log = logging.getLogger("mdr.controller")


@dataclass
class SyncOutcome:
    """What a sync request got: an HTTP status (200 applied, 409 refused, 500 a change failed, 503 OCI
    unreachable) and a message a person can act on."""

    status: int
    message: str
    results: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "message": self.message, "results": self.results}


@dataclass
class SyncTicket:
    plan_id: str | None
    done: threading.Event = field(default_factory=threading.Event)
    outcome: SyncOutcome | None = None

    def finish(self, outcome: SyncOutcome) -> None:
        self.outcome = outcome
        self.done.set()


def plan_id(plan: Plan) -> str:
    """The digest of what the plan would change (not of when it was made): stable across resyncs that
    find the same work, so an id a person looked at stays valid until the work itself changes."""
    data = json.loads(render_json(plan))
    changes = [c for c in data.get("changes", []) if c.get("action") != Action.NOOP.value]
    body = json.dumps({"stack": plan.stack, "changes": changes}, sort_keys=True)
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()[:32]


class ManualSync:
    """The pending plan of one manual stack and the sync requests waiting for the controller's loop."""

    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory
        self._lock = threading.Lock()
        self._tickets: list[SyncTicket] = []
        self._pending: dict[str, Any] | None = None
        self._path: Path | None = None
        self.enabled = False

    def hold(self, stack: str, selected: Plan) -> Plan:
        """Publish ``selected`` as the pending plan; return what may run now (nothing but no-ops)."""
        self.enabled = True
        actionable = [c for c in selected.changes if c.action != Action.NOOP]
        if not actionable or selected.errors:
            with self._lock:
                self._pending = None
        else:
            self._publish(stack, selected, actionable)
        held = copy.copy(selected)  # what is in flight still settles, as in auto
        held.changes = [c for c in selected.changes if c.action == Action.NOOP]
        return held

    def release(self) -> None:
        """The stack is ``auto`` (again): nothing is pending, and requests are answered."""
        self.enabled = False
        with self._lock:
            self._pending = None

    def _publish(self, stack: str, plan: Plan, actionable: list[Any]) -> None:
        ident = plan_id(plan)
        with self._lock:
            if self._pending is not None and self._pending["id"] == ident:
                return  # the same work: keep the file (and its time) a person may be looking at
        directory = self._directory or state_dir() / "pending"
        make_state_dir(directory)
        path = directory / f"{stack}.json"
        write_plan(plan, path)
        view = {
            "id": ident,
            "created_at": plan.created_at,
            "changes": [f"{c.action.value} {c.key}" for c in actionable],
            "file": str(path),
        }
        with self._lock:
            self._pending, self._path = view, path
        log.info("manual sync: a plan is pending", extra={"plan": ident, "changes": view["changes"]})

    def view(self) -> dict[str, Any] | None:
        with self._lock:
            return dict(self._pending) if self._pending else None

    def submit(self, ident: str | None) -> SyncTicket:
        ticket = SyncTicket(ident)
        with self._lock:
            self._tickets.append(ticket)
        return ticket

    def serve(self, provider: Any, root: Path, options: ApplyOptions) -> None:
        """Answer every waiting request (in the loop, holding the stack's lock)."""
        with self._lock:
            tickets, self._tickets = self._tickets, []
        for ticket in tickets:
            outcome = self._sync(ticket, provider, root, options)
            log.info("manual sync", extra={"status": outcome.status, "detail": outcome.message})
            ticket.finish(outcome)

    def _sync(self, ticket: SyncTicket, provider: Any, root: Path, options: ApplyOptions) -> SyncOutcome:
        with self._lock:
            pending, path = self._pending, self._path
        if not self.enabled:
            return SyncOutcome(409, "this stack is not syncPolicy: manual; the controller applies it itself")
        if pending is None or path is None:
            return SyncOutcome(409, "nothing is pending: the stack is in sync with its manifests")
        if ticket.plan_id and ticket.plan_id != pending["id"]:
            return SyncOutcome(
                409,
                f"the pending plan is now {pending['id']}, not {ticket.plan_id}: the manifests or the cloud "
                "changed since you looked. Review the new plan and sync again",
            )
        try:
            plan = read_plan(path)
            stack, _issues = checked_stack(root)
            if getattr(provider, "shared_reads", None) is not None:
                provider.shared_reads.invalidate()  # the staleness check reads the cloud as it is now
            refuse_stale(plan, stack, provider)
            result = execute(plan, provider, options)
        except MdrError as exc:
            return SyncOutcome(409, str(exc))
        except cloud_errors() as exc:
            return SyncOutcome(503, describe_cloud_error(exc))
        results = [{"key": r.key, "status": r.status, "message": r.message} for r in result.results]
        with self._lock:
            self._pending = None
        if result.ok:
            return SyncOutcome(200, f"applied plan {pending['id']}", results)
        return SyncOutcome(500, f"plan {pending['id']} applied with failures", results)
