"""``mdr controller``: the long-lived GitOps loop (like Argo CD's application controller, for one stack).

Triggers: a debounced file change (watchfiles), a new commit on the watched branch (git polling), and a
periodic resync with jitter that detects drift. Without ``--self-heal`` drift is reported, not corrected;
manifest changes are always applied (the ``mdr-spec`` tag tells the two apart).

One active writer: the controller holds the stack's lock (the same one ``mdr apply`` takes) for as long as
it runs; a second replica waits as a standby and takes over when the first dies. A bad manifest blocks only
its own deployment, and nothing is ever pruned from a tree that was not read completely.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import UTC, datetime
from typing import Any

from reconciler.adapters.cloud import Provider, Target, open_provider
from reconciler.adapters.cloud_errors import cloud_errors, describe_cloud_error
from reconciler.adapters.journal import AuditLog
from reconciler.adapters.lock import StackLock, lock_for
from reconciler.adapters.manifests import load_stack
from reconciler.adapters.source import GitSource, LocalSource, Snapshot, SourceError
from reconciler.core.budget import TokenBucket
from reconciler.core.errors import MdrError
from reconciler.core.plan import Plan
from reconciler.core.status import deployment_statuses
from reconciler.engine.apply import ApplyOptions
from reconciler.engine.controller.apistats import ApiStatsExport
from reconciler.engine.controller.config import Backoff, ControllerConfig, ControllerState
from reconciler.engine.controller.dashboard_model import Activity, DashboardSnapshot
from reconciler.engine.controller.leadership import wait_for_leadership
from reconciler.engine.controller.manual import ManualSync
from reconciler.engine.controller.metrics import ControllerMetrics
from reconciler.engine.controller.selection import ChangeGate
from reconciler.engine.controller.triggers import watch_source
from reconciler.engine.health import HealthMonitor
from reconciler.engine.notify.observe import ControllerNotifications
from reconciler.engine.validate import checked_stack
from reconciler.engine.workflows import compute_plan, execute

log = logging.getLogger("mdr.controller")

#: lifecycle states that end by themselves; the controller looks again soon instead of at --interval
SETTLING_STATES = frozenset({"CREATING", "UPDATING", "DELETING"})


class Controller:
    def __init__(self, config: ControllerConfig, target: Target, options: ApplyOptions) -> None:
        self.config = config
        self.target = target
        self.options = options
        self.stop = threading.Event()
        self.trigger = threading.Event()
        self.poke = threading.Event()  # fetch the git source now (a push webhook)
        self.busy = threading.Lock()  # held during a reconcile: a fleet hands a stack over between two
        self.shared_reads: Any = None  # a fleet's list pages, shared by its stacks (adapters.shared_reads)
        self.options.abort = self.stop
        self.metrics = ControllerMetrics()
        self.state = ControllerState()
        self._state_lock = threading.Lock()
        self.gate = ChangeGate(config.self_heal, config.prune_settle)
        self.notify = ControllerNotifications()  # events to the sinks of mdr.yaml's notifications:
        #: whole-reconcile backoff while OCI cannot be reached (retries sooner than --interval)
        self._cloud_backoff = Backoff()
        self._reasons: list[str] = []
        self._snapshot: Snapshot | None = None
        self.source: LocalSource | GitSource
        if config.git_url:
            self.source = GitSource(config.git_url, config.branch, config.git_subdir)
        else:
            assert config.path is not None
            self.source = LocalSource(config.path)
        self.manual = ManualSync()  # the pending plan of a syncPolicy: manual stack
        self.health = HealthMonitor()  # periodic spec.healthCheck runs (engine.health)
        self.api_stats = ApiStatsExport(self.metrics)
        #: what the dashboard shows beyond ``state``: the last plan, where it was computed, apply progress
        self._plan: Plan | None = None
        self._stack_name: str | None = None
        self._target_label: str | None = None
        self.activity = Activity(log=self.options.progress)  # kept for the dashboard, and logged
        self.options.events = self.activity.record

    # -- lifecycle --

    def request(self, reason: str) -> None:
        with self._state_lock:
            self._reasons.append(reason)
        self.trigger.set()

    def pull(self, reason: str) -> None:
        """A git push webhook: fetch now (the watcher polls at once) and reconcile what changed."""
        if isinstance(self.source, GitSource):
            self.poke.set()
        else:
            self.request(reason)

    def run(self) -> int:
        try:
            snapshot = self._refresh_source()
            if snapshot is None:
                raise MdrError("cannot read the manifests at start; see the error above")
            stack = load_stack(snapshot.root)
            if stack.config is None:
                raise MdrError("; ".join(str(i) for i in stack.issues) or "no stack configuration")
            with self._state_lock:
                self._stack_name = stack.config.stack
            with open_provider(self.target, stack.config.region) as provider:
                provider.shared_reads = self.shared_reads
                with self._state_lock:
                    self._target_label = provider.label
                provider.attach_budget(
                    TokenBucket(rate=self.config.budget_rate, burst=self.config.budget_rate * 2)
                )
                lock = lock_for(
                    stack.config.stack,
                    stack.config.lock.model_dump() if stack.config.lock else None,
                    provider,
                )
                if stack.config.lock is None:
                    log.warning(
                        "no lock: in mdr.yaml; the stack lock is a local file, so replicas on other "
                        "machines (and CI) are not kept out. Set lock: {bucket: ...} for a shared lease"
                    )
                self.notify.start(stack, provider, self.metrics.notifications, provider.label, lock.holder)
                del stack  # each reconcile parses the tree afresh; a fleet would hold every stack twice
                if self.config.watch:  # in a fleet, the fleet watches the whole tree
                    self._start_watcher()
                while not self.stop.is_set():
                    if not wait_for_leadership(lock, self.stop, self._on_lead):
                        break
                    self.options.fence = getattr(lock, "lost", None)
                    try:
                        self._loop(provider, lock)
                    finally:
                        lock.release()
                        with self._state_lock:
                            self.state.leader = False
                        self.metrics.lease.clear()
                        log.info("released the stack lock")
                    if not self.stop.is_set():
                        log.warning("standing by again: this replica lost the stack lock")
        finally:
            self.notify.close()
        return 0

    def _on_lead(self, lock: StackLock) -> None:
        with self._state_lock:
            self.state.leader = True
            self.state.holder = lock.holder
        self.metrics.lease.labels(lock.holder).set(1)

    def _start_watcher(self) -> None:
        watcher = threading.Thread(
            target=watch_source,
            args=(
                self.source,
                self.stop,
                self.request,
                self._refresh_source,
                self.config.git_interval,
                self.config.debounce_ms,
                self.poke,
            ),
            name="mdr-watch",
            daemon=True,
        )
        watcher.start()

    def _loop(self, provider: Provider, lock: StackLock) -> None:
        """Reconcile while leading: at once (a new leader may inherit half-done work), then on triggers."""
        self.request("leading")
        lost = getattr(lock, "lost", None)
        while not self.stop.is_set():
            timeout = self.config.interval * random.uniform(1 - self.config.jitter, 1 + self.config.jitter)
            if self._cloud_backoff.failures:
                timeout = min(timeout, self._retry_in())
            if self.gate.wake_at is not None:
                timeout = max(0.0, min(timeout, self.gate.wake_at - time.monotonic()))
            if not wait_for_trigger(self.trigger, timeout, lost):
                self.request("resync" if self.gate.wake_at is None else "settling")
            self.gate.wake_at = None
            if lost is not None and lost.is_set():
                log.error("lost the stack lease; stopping writes")
                return
            if self.stop.is_set():
                return
            self.trigger.clear()
            with self._state_lock:
                reasons, self._reasons = self._reasons, []
            with self.busy:
                self.reconcile(provider, ", ".join(dict.fromkeys(reasons)) or "resync")

    # -- sources --

    def _refresh_source(self) -> Snapshot | None:
        try:
            snapshot = self.source.refresh()
        except SourceError as exc:
            log.error("cannot refresh the manifests", extra={"error": str(exc)})
            with self._state_lock:
                self.state.last_error = str(exc)
            return self._snapshot
        with self._state_lock:
            self._snapshot = snapshot
            self.state.revision = snapshot.revision
        return snapshot

    # -- one reconcile --

    def reconcile(self, provider: Provider, reason: str) -> None:
        started = time.monotonic()
        snapshot = self._snapshot if isinstance(self.source, GitSource) else self._refresh_source()
        if snapshot is None:
            return
        log.info("reconcile started", extra={"reason": reason, "revision": snapshot.revision})
        self.notify.reconcile_started(reason, snapshot.revision)
        outcome = "error"
        try:
            self.manual.serve(provider, snapshot.root, self.options)  # sync requests first, on their plan
            stack, issues = checked_stack(snapshot.root)
            for issue in issues:
                log.warning("invalid manifest", extra={"issue": str(issue)})
            if stack.config is None:
                raise MdrError("mdr.yaml is invalid: " + "; ".join(str(i) for i in issues))
            result = compute_plan(stack, provider, strict=False)
            plan = result.plan
            drift = [c.key for c in plan.actionable if c.drift]
            selected = self.gate.select(plan)
            if stack.config.syncPolicy == "manual":
                selected = self.manual.hold(stack.config.stack, selected)
            else:
                self.manual.release()
            applied_ok = True
            failures: list[str] = []
            results: list[tuple[str, bool, str]] = []  # (key, done, message), for notifications
            if selected.has_changes:
                log.info(
                    "applying",
                    extra={"changes": [f"{c.action.value} {c.key}" for c in selected.actionable]},
                )
                apply_result = execute(selected, provider, self.options)
                now = time.monotonic()
                for item in apply_result.results:
                    if item.status == "done":
                        self.gate.backoff.pop(item.key, None)
                    else:
                        self.gate.backoff.setdefault(item.key, Backoff()).fail(now)
                        log.error("change failed", extra={"key": item.key, "error": item.message})
                applied_ok = apply_result.ok
                results = [(r.key, r.status == "done", r.message) for r in apply_result.results]
                failures = [f"{r.key}: {r.message}" for r in apply_result.results if r.status != "done"]
                if applied_ok:  # what is live now is what the plan wanted
                    result = compute_plan(stack, provider, strict=False)
            statuses = deployment_statuses(result.plan, result.live, {})
            self.health.update(statuses, result.plan, provider)  # spec.healthCheck every interval
            if any(d.lifecycle_state in SETTLING_STATES for d in result.live.deployments):
                self.gate.wake(time.monotonic() + self.config.settle_poll)  # finish what is in flight soon
            self.metrics.set_statuses([(s.name, s.sync, s.health) for s in statuses])
            self.metrics.drift.set(len(drift))
            self.notify.reconciled(stack, plan, results, statuses, self.gate.backoff)
            outcome = "success" if applied_ok and not issues else ("partial" if applied_ok else "failed")
            with self._state_lock:
                self._plan = result.plan
                self.state.deployments = [s.to_dict() for s in statuses]
                self.state.invalid = [str(i) for i in issues]
                self.state.drift = drift
                for warning in result.plan.warnings:
                    if warning not in self.state.warnings:  # logged once, not on every resync
                        log.warning("plan warning", extra={"warning": warning})
                self.state.warnings = list(result.plan.warnings)
                self.state.last_error = None if applied_ok else "; ".join(failures)[:2000]
                if applied_ok:
                    self.state.last_applied_revision = snapshot.revision
                    if snapshot.revision:
                        self.metrics.revision.clear()
                        self.metrics.revision.labels(snapshot.revision).set(1)
            if applied_ok:
                self.metrics.last_success.set(time.time())
        except MdrError as exc:
            log.error("reconcile failed", extra={"error": str(exc)})
            self.notify.reconcile_failed(str(exc))
            with self._state_lock:
                self.state.last_error = str(exc)
        except cloud_errors() as exc:  # OCI or the network is down: keep running, retry with backoff
            message = describe_cloud_error(exc)
            self._cloud_backoff.fail(time.monotonic())
            log.error("reconcile failed", extra={"error": message, "retry_in": self._retry_in()})
            self.notify.reconcile_failed(message)
            with self._state_lock:
                self.state.last_error = message
        else:
            self._cloud_backoff = Backoff()
        finally:
            elapsed = time.monotonic() - started
            self.notify.reconcile_finished(elapsed)
            self.metrics.reconciles.labels(outcome).inc()
            self.metrics.duration.observe(elapsed)
            self.api_stats.export(provider)
            with self._state_lock:
                self.state.reconciles += 1
                self.state.last_reconcile = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                now = time.monotonic()
                self.state.backoff = {k: round(b.next_attempt - now, 1) for k, b in self.gate.backoff.items()}
            log.info("reconcile finished", extra={"outcome": outcome, "seconds": round(elapsed, 3)})

    def _retry_in(self) -> float:
        return round(max(0.0, self._cloud_backoff.next_attempt - time.monotonic()), 1)

    # -- HTTP --

    def status(self) -> dict[str, Any]:
        with self._state_lock:
            state = {"stack": self._stack_name, **self.state.to_dict()}
        state["syncPolicy"] = "manual" if self.manual.enabled else "auto"
        state["pendingPlan"] = self.manual.view()
        return state

    def dashboard_snapshot(self) -> DashboardSnapshot:
        """The dashboard's view of this controller now, with this stack's audit records for this target."""
        with self._state_lock:
            state, plan = self.state.to_dict(), self._plan
            stack, target = self._stack_name, self._target_label
        audit = AuditLog.for_stack(stack).read(target) if stack else []
        pending = self.manual.view()
        return DashboardSnapshot(
            stack,
            target,
            state,
            plan,
            audit,
            self.activity.snapshot(),
            manual_sync=self.manual.enabled,
            pending_plan=pending["id"] if pending else None,
        )


def wait_for_trigger(trigger: threading.Event, timeout: float, lost: threading.Event | None) -> bool:
    """True when triggered; wakes within a second of losing the lease, so a paused leader that lost it
    stands by at once instead of at its next trigger."""
    deadline = time.monotonic() + timeout
    while not (lost is not None and lost.is_set()):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        if trigger.wait(min(1.0, remaining)):
            return True
    return True
