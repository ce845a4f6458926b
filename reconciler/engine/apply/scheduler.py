"""The executor: runs a plan's changes in dependency order with adaptive concurrency.

Independent changes run concurrently: at most ``concurrency`` overall, and per compartment as many as its
gate admits (``adaptive``): it starts at ``initial_concurrency``, grows while the service accepts work and is
halved when it throttles, up to ``per_compartment``. A change starts once everything it depends on is done,
and a failed change stops only the changes that depend on it (they are reported "not attempted"). Each
change's steps live in the ``*_steps`` modules.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any, cast

import oci

from reconciler.adapters.cloud import Cloud
from reconciler.adapters.cloud_errors import cloud_errors, describe_cloud_error
from reconciler.adapters.journal import AuditLog, Journal
from reconciler.core.canonical import is_ref
from reconciler.core.concurrency import AimdLimit
from reconciler.core.errors import MdrError
from reconciler.core.plan import Action, Change, Kind, Plan
from reconciler.engine.apply.adaptive import AdaptiveCloud, Gate
from reconciler.engine.apply.calls import Calls
from reconciler.engine.apply.deployment_steps import DeploymentSteps
from reconciler.engine.apply.hooks import ProgressEvent, announce, change_label
from reconciler.engine.apply.logging_steps import LoggingSteps
from reconciler.engine.apply.model_group_steps import ModelGroupSteps
from reconciler.engine.apply.model_steps import ModelSteps
from reconciler.engine.apply.options import ApplyOptions, ApplyResult, ChangeFailed, ChangeResult

Handler = Callable[[Change, dict[str, Any]], str | None]
#: how often the scheduler looks again for changes a gate can admit (its limit may have grown meanwhile)
RECHECK_SECONDS = 0.05


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
        self.cloud = AdaptiveCloud(provider)
        self.plan = plan
        self.stack = plan.stack
        self.journal = journal
        self.audit = audit
        self.options = options
        self.outputs: dict[str, str] = {}
        self._outputs_lock = threading.Lock()
        self.gates: dict[str, Gate] = {}
        self._gates_lock = threading.Lock()
        self.calls = Calls(cast(Cloud, self.cloud), plan.stack, journal, audit, options)
        logging, models, deployments = (
            LoggingSteps(self.calls),
            ModelSteps(self.calls),
            DeploymentSteps(self.calls),
        )
        self._handlers: dict[Kind, Handler] = {
            Kind.LOG_GROUP: logging.log_group,
            Kind.LOG: logging.log,
            Kind.MODEL: models.model,
            Kind.MODEL_GROUP: ModelGroupSteps(self.calls).model_group,
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
        most = max(1, self.options.concurrency)
        with self.cloud.watching_429s(), ThreadPoolExecutor(max_workers=most) as pool:
            while len(results) < len(changes):
                started = set(running.values())
                for change_id, change in changes.items():
                    if change_id in results or change_id in started:
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
                    ready = len(running) < most and all(b in results for b in blockers)
                    if ready and self._gate(change).try_acquire():  # released when the change ends
                        running[pool.submit(self._run_change, change)] = change_id
                if not running:
                    continue
                done, _ = wait(list(running), timeout=RECHECK_SECONDS, return_when=FIRST_COMPLETED)
                for future in done:
                    change_id = running.pop(future)
                    results[change_id] = future.result()
        return ApplyResult([results[c.id] for c in self.plan.actionable])

    def _gate(self, change: Change) -> Gate:
        """The change's compartment's gate (one per compartment: the service limits work per compartment)."""
        compartment = str(change.desired.get("compartmentId") or "")
        with self._gates_lock:
            if compartment not in self.gates:
                options = self.options
                ceiling = max(1, min(options.per_compartment, options.concurrency))
                limit = AimdLimit(start=options.initial_concurrency, ceiling=ceiling)
                pace = options.poll_initial_seconds / max(1, options.initial_concurrency)
                self.gates[compartment] = Gate(limit, options.progress, poll_interval=pace)
            return self.gates[compartment]

    @contextmanager
    def _slot(self, change: Change) -> Iterator[None]:
        """Run in the slot the scheduler took for ``change``; its calls steer that gate; then free it."""
        gate = self._gate(change)
        try:
            with self.cloud.holding(gate):
                yield
        finally:
            gate.release()

    def _run_change(self, change: Change) -> ChangeResult:
        with self._slot(change):
            started = time.monotonic()
            label, action = change_label(change), change.action.value
            announce(self.options, ProgressEvent(label, "start", action))
            try:
                resource_id = self._execute(change)
            except (ChangeFailed, oci.exceptions.ServiceError, MdrError, OSError) as exc:
                message = _describe_error(exc)
                elapsed = time.monotonic() - started
                announce(
                    self.options, ProgressEvent(label, "failed", action, elapsed=elapsed, message=message)
                )
                return ChangeResult(
                    change.id, change.key, change.action.value, "failed", message, change.live_id
                )
            if resource_id:
                with self._outputs_lock:
                    self.outputs[change.id] = resource_id
            elapsed = time.monotonic() - started
            announce(self.options, ProgressEvent(label, "done", action, elapsed=elapsed))
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
