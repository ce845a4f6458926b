"""The executor: runs a plan's changes in dependency order with bounded concurrency.

Independent changes run concurrently (``concurrency`` overall and ``per_compartment`` per compartment); a
change starts once everything it depends on is done, and a failed change stops only the changes that depend
on it (they are reported "not attempted"). Each change's steps live in the ``*_steps`` modules.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import oci

from reconciler.adapters.cloud import Cloud
from reconciler.adapters.cloud_errors import cloud_errors, describe_cloud_error
from reconciler.adapters.journal import AuditLog, Journal
from reconciler.core.canonical import is_ref
from reconciler.core.errors import MdrError
from reconciler.core.plan import Action, Change, Kind, Plan
from reconciler.engine.apply.calls import Calls
from reconciler.engine.apply.deployment_steps import DeploymentSteps
from reconciler.engine.apply.logging_steps import LoggingSteps
from reconciler.engine.apply.model_steps import ModelSteps
from reconciler.engine.apply.options import ApplyOptions, ApplyResult, ChangeFailed, ChangeResult

Handler = Callable[[Change, dict[str, Any]], str | None]


class Executor:
    def __init__(
        self,
        provider: Cloud,
        plan: Plan,
        journal: Journal,
        audit: AuditLog,
        options: ApplyOptions,
    ) -> None:
        self.provider = provider
        self.plan = plan
        self.stack = plan.stack
        self.journal = journal
        self.audit = audit
        self.options = options
        self.outputs: dict[str, str] = {}
        self._outputs_lock = threading.Lock()
        self._compartment_slots: dict[str, threading.Semaphore] = {}
        self._slots_lock = threading.Lock()
        self.calls = Calls(provider, plan.stack, journal, audit, options)
        logging, models, deployments = (
            LoggingSteps(self.calls),
            ModelSteps(self.calls),
            DeploymentSteps(self.calls),
        )
        self._handlers: dict[Kind, Handler] = {
            Kind.LOG_GROUP: logging.log_group,
            Kind.LOG: logging.log,
            Kind.MODEL: models.model,
            Kind.DEPLOYMENT: deployments.deployment,
        }

    def _dependencies(self) -> dict[str, set[str]]:
        changes = self.plan.actionable
        ids = {c.id for c in changes}
        deployment_ids = {c.id for c in changes if c.kind == Kind.DEPLOYMENT}
        log_ids = {c.id for c in changes if c.kind == Kind.LOG}
        deps: dict[str, set[str]] = {}
        for change in changes:
            needs = {d for d in change.depends_on if d in ids}
            if change.action in (Action.DELETE, Action.ORPHAN) and change.kind != Kind.DEPLOYMENT:
                needs |= deployment_ids  # deployments move off models and logs before those go
                if change.kind == Kind.LOG_GROUP:
                    needs |= log_ids
            deps[change.id] = needs - {change.id}
        return deps

    def run(self) -> ApplyResult:
        changes = {c.id: c for c in self.plan.actionable}
        for change in self.plan.changes:
            if change.action == Action.NOOP and change.live_id:
                self.outputs[change.id] = change.live_id
        deps = self._dependencies()
        results: dict[str, ChangeResult] = {}
        running: dict[Future[ChangeResult], str] = {}
        with ThreadPoolExecutor(max_workers=max(1, self.options.concurrency)) as pool:
            while len(results) < len(changes):
                for change_id, change in changes.items():
                    if change_id in results or change_id in running.values():
                        continue
                    blockers = deps[change_id]
                    failed = [b for b in blockers if b in results and results[b].status != "done"]
                    if failed:
                        results[change_id] = ChangeResult(
                            change_id,
                            change.key,
                            change.action.value,
                            "skipped",
                            f"not attempted: {failed[0]} failed",
                        )
                        continue
                    if all(b in results for b in blockers):
                        running[pool.submit(self._run_change, change)] = change_id
                if not running:
                    continue
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    change_id = running.pop(future)
                    results[change_id] = future.result()
        return ApplyResult([results[c.id] for c in self.plan.actionable])

    def _slot(self, change: Change) -> threading.Semaphore:
        compartment = str(change.desired.get("compartmentId") or "")
        with self._slots_lock:
            if compartment not in self._compartment_slots:
                self._compartment_slots[compartment] = threading.Semaphore(
                    max(1, self.options.per_compartment)
                )
            return self._compartment_slots[compartment]

    def _run_change(self, change: Change) -> ChangeResult:
        with self._slot(change):
            started = time.monotonic()
            try:
                resource_id = self._execute(change)
            except (ChangeFailed, oci.exceptions.ServiceError, MdrError, OSError) as exc:
                message = _describe_error(exc)
                self.options.progress(f"{change.key}: FAILED: {message}")
                return ChangeResult(
                    change.id, change.key, change.action.value, "failed", message, change.live_id
                )
            if resource_id:
                with self._outputs_lock:
                    self.outputs[change.id] = resource_id
            elapsed = time.monotonic() - started
            self.options.progress(f"{change.key}: {change.action.value} complete after {elapsed:.1f}s")
            return ChangeResult(change.id, change.key, change.action.value, "done", "", resource_id)

    def _execute(self, change: Change) -> str | None:
        with self._outputs_lock:
            outputs = dict(self.outputs)
        desired = resolve_refs(change.desired, outputs)
        return self._handlers[change.kind](change, desired)


def resolve_refs(value: Any, outputs: dict[str, str]) -> Any:
    """``value`` with every ``ref:<change id>`` replaced by the OCID that change produced."""
    if isinstance(value, dict):
        return {k: resolve_refs(v, outputs) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_refs(v, outputs) for v in value]
    if is_ref(value):
        target = value[len("ref:") :]
        if target not in outputs:
            raise ChangeFailed(f"depends on {target}, which was not applied")
        return outputs[target]
    return value


def _describe_error(exc: BaseException) -> str:
    return describe_cloud_error(exc) if isinstance(exc, cloud_errors()) else str(exc)
