"""``mdr controller``: the long-lived GitOps loop (like Argo CD's application controller, for one stack).

Triggers: a debounced file change (watchfiles), a new commit on the watched branch (git polling), and a
periodic resync with jitter that detects drift. Without ``--self-heal`` drift is reported, not corrected;
manifest changes are always applied (the ``mdr-spec`` tag tells the two apart).

One active writer: the controller holds the stack's lock (the same one ``mdr apply`` takes) for as long as
it runs; a second replica waits as a standby and takes over when the first dies. A bad manifest blocks only
its own deployment, and nothing is ever pruned from a tree that was not read completely.
"""

from __future__ import annotations

import json
import logging
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from reconciler.adapters.cloud import Provider, Target, open_provider
from reconciler.adapters.cloud_errors import cloud_errors, describe_cloud_error
from reconciler.adapters.lock import LockError, StackLock, lock_for
from reconciler.adapters.manifests import load_stack
from reconciler.adapters.source import GitSource, LocalSource, Snapshot, SourceError
from reconciler.core.budget import TokenBucket
from reconciler.core.errors import Issue, MdrError
from reconciler.core.plan import Action, Plan
from reconciler.core.stack import Stack
from reconciler.core.status import deployment_statuses
from reconciler.engine.apply import ApplyOptions
from reconciler.engine.metrics import ControllerMetrics
from reconciler.engine.validate import artifact_issues
from reconciler.engine.workflows import compute_plan, execute

log = logging.getLogger("mdr.controller")

BACKOFF_BASE_SECONDS = 10.0
BACKOFF_MAX_SECONDS = 600.0


@dataclass
class ControllerConfig:
    path: Path | None = None
    git_url: str | None = None
    branch: str = "main"
    git_subdir: str = "."
    git_interval: float = 30.0
    interval: float = 300.0
    jitter: float = 0.1
    self_heal: bool = False
    listen: tuple[str, int] | None = None
    debounce_ms: int = 500
    budget_rate: float = 10.0


@dataclass
class Backoff:
    failures: int = 0
    next_attempt: float = 0.0

    def fail(self, now: float) -> None:
        self.failures += 1
        delay = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (self.failures - 1))
        self.next_attempt = now + delay * random.uniform(0.8, 1.2)


@dataclass
class ControllerState:
    revision: str | None = None
    last_applied_revision: str | None = None
    last_reconcile: str | None = None
    last_error: str | None = None
    reconciles: int = 0
    leader: bool = False
    holder: str | None = None
    deployments: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)
    backoff: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def parse_duration(text: str) -> float:
    """``90``, ``30s``, ``5m``, ``1h`` -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    text = text.strip()
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def parse_listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "0.0.0.0", int(port)


class Controller:
    def __init__(self, config: ControllerConfig, target: Target, options: ApplyOptions) -> None:
        self.config = config
        self.target = target
        self.options = options
        self.stop = threading.Event()
        self.trigger = threading.Event()
        self.options.abort = self.stop
        self.metrics = ControllerMetrics()
        self.state = ControllerState()
        self._state_lock = threading.Lock()
        self._backoff: dict[str, Backoff] = {}
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
        self._server: ThreadingHTTPServer | None = None
        self._last_stats: dict[str, int] = {}
        self._last_errors: dict[str, int] = {}

    # -- lifecycle --

    def request(self, reason: str) -> None:
        with self._state_lock:
            self._reasons.append(reason)
        self.trigger.set()

    def install_signal_handlers(self) -> None:
        def handle(signum: int, frame: Any) -> None:
            log.info("shutdown requested", extra={"signal": signal.Signals(signum).name})
            self.stop.set()
            self.trigger.set()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def run(self) -> int:
        if self.config.listen:
            self._start_server(*self.config.listen)
        try:
            snapshot = self._refresh_source()
            if snapshot is None:
                raise MdrError("cannot read the manifests at start; see the error above")
            stack = load_stack(snapshot.root)
            if stack.config is None:
                raise MdrError("; ".join(str(i) for i in stack.issues) or "no stack configuration")
            with open_provider(self.target, stack.config.region) as provider:
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
                if not self._lead(lock):
                    return 0
                self.options.fence = getattr(lock, "lost", None)
                try:
                    self._loop(provider, lock)
                finally:
                    lock.release()
                    with self._state_lock:
                        self.state.leader = False
                    self.metrics.lease.clear()
                    log.info("released the stack lock")
        finally:
            if self._server is not None:
                self._server.shutdown()
                self._server.server_close()
        return 0

    def _lead(self, lock: StackLock) -> bool:
        """Wait (as a standby) until this replica holds the stack's lock; False if stopped meanwhile."""
        waiting_logged = False
        while not self.stop.is_set():
            try:
                lock.acquire(timeout=1.0)
            except cloud_errors() as exc:  # the lease bucket is unreachable: keep standing by
                log.warning("cannot reach the stack lease", extra={"error": describe_cloud_error(exc)})
                self.stop.wait(5.0)
                continue
            except LockError:
                if not waiting_logged:
                    log.info(
                        "standby: another writer holds the stack lock",
                        extra={"holder": lock.current_holder()},
                    )
                    waiting_logged = True
                continue
            with self._state_lock:
                self.state.leader = True
                self.state.holder = lock.holder
            self.metrics.lease.labels(lock.holder).set(1)
            log.info(
                "leading: holding the stack lock", extra={"holder": lock.holder, "lock": lock.describe()}
            )
            return True
        return False

    def _loop(self, provider: Provider, lock: StackLock) -> None:
        watcher = threading.Thread(target=self._watch, name="mdr-watch", daemon=True)
        watcher.start()
        self.request("start")
        while not self.stop.is_set():
            lost = getattr(lock, "lost", None)
            if lost is not None and lost.is_set():
                log.error("lost the stack lease; stopping writes")
                return
            timeout = self.config.interval * random.uniform(1 - self.config.jitter, 1 + self.config.jitter)
            if self._cloud_backoff.failures:
                timeout = min(timeout, self._retry_in())
            if not self.trigger.wait(timeout):
                self.request("resync")
            if self.stop.is_set():
                return
            self.trigger.clear()
            with self._state_lock:
                reasons, self._reasons = self._reasons, []
            self.reconcile(provider, ", ".join(dict.fromkeys(reasons)) or "resync")

    # -- triggers --

    def _watch(self) -> None:
        if isinstance(self.source, GitSource):
            while not self.stop.wait(self.config.git_interval):
                previous = self.source.revision
                snapshot = self._refresh_source()
                if snapshot is not None and snapshot.revision != previous:
                    self.request(f"git {snapshot.revision}")
            return
        from watchfiles import watch

        for changes in watch(
            self.source.path, stop_event=self.stop, debounce=self.config.debounce_ms, step=50, recursive=True
        ):
            paths = sorted({Path(p).name for _, p in changes})
            if any(not name.startswith(".") for name in paths):
                self.request("file change: " + ", ".join(paths[:5]))

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

    def _load(self, root: Path) -> tuple[Stack, list[Issue]]:
        """The stack with invalid deployments (schema or artifact) set aside, and every issue found."""
        stack = load_stack(root)
        issues = list(stack.issues)
        for deployment in list(stack.deployments):
            problems = artifact_issues(deployment)
            if problems:
                issues.extend(problems)
                stack.deployments.remove(deployment)
                stack.invalid_names.add(deployment.name)
        stack.issues = issues
        return stack, issues

    def reconcile(self, provider: Provider, reason: str) -> None:
        started = time.monotonic()
        snapshot = self._snapshot if isinstance(self.source, GitSource) else self._refresh_source()
        if snapshot is None:
            return
        log.info("reconcile started", extra={"reason": reason, "revision": snapshot.revision})
        outcome = "error"
        try:
            stack, issues = self._load(snapshot.root)
            for issue in issues:
                log.warning("invalid manifest", extra={"issue": str(issue)})
            if stack.config is None:
                raise MdrError("mdr.yaml is invalid: " + "; ".join(str(i) for i in issues))
            result = compute_plan(stack, provider)
            plan = result.plan
            drift = [c.key for c in plan.actionable if c.drift]
            selected = self._select(plan)
            applied_ok = True
            if selected.has_changes:
                log.info(
                    "applying",
                    extra={"changes": [f"{c.action.value} {c.key}" for c in selected.actionable]},
                )
                apply_result = execute(selected, provider, self.options)
                now = time.monotonic()
                for item in apply_result.results:
                    if item.status == "done":
                        self._backoff.pop(item.key, None)
                    else:
                        self._backoff.setdefault(item.key, Backoff()).fail(now)
                        log.error("change failed", extra={"key": item.key, "error": item.message})
                applied_ok = apply_result.ok
                if applied_ok:  # what is live now is what the plan wanted
                    result = compute_plan(stack, provider)
            statuses = deployment_statuses(result.plan, result.live, {})
            self.metrics.set_statuses([(s.name, s.sync, s.health) for s in statuses])
            self.metrics.drift.set(len(drift))
            outcome = "success" if applied_ok and not issues else ("partial" if applied_ok else "failed")
            with self._state_lock:
                self.state.deployments = [s.to_dict() for s in statuses]
                self.state.invalid = [str(i) for i in issues]
                self.state.drift = drift
                self.state.warnings = list(result.plan.warnings)
                self.state.last_error = None if applied_ok else "some changes failed; see the log"
                if applied_ok:
                    self.state.last_applied_revision = snapshot.revision
                    if snapshot.revision:
                        self.metrics.revision.clear()
                        self.metrics.revision.labels(snapshot.revision).set(1)
            if applied_ok:
                self.metrics.last_success.set(time.time())
        except MdrError as exc:
            log.error("reconcile failed", extra={"error": str(exc)})
            with self._state_lock:
                self.state.last_error = str(exc)
        except cloud_errors() as exc:  # OCI or the network is down: keep running, retry with backoff
            message = describe_cloud_error(exc)
            self._cloud_backoff.fail(time.monotonic())
            log.error("reconcile failed", extra={"error": message, "retry_in": self._retry_in()})
            with self._state_lock:
                self.state.last_error = message
        else:
            self._cloud_backoff = Backoff()
        finally:
            elapsed = time.monotonic() - started
            self.metrics.reconciles.labels(outcome).inc()
            self.metrics.duration.observe(elapsed)
            self._export_api_stats(provider)
            with self._state_lock:
                self.state.reconciles += 1
                self.state.last_reconcile = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                now = time.monotonic()
                self.state.backoff = {k: round(b.next_attempt - now, 1) for k, b in self._backoff.items()}
            log.info("reconcile finished", extra={"outcome": outcome, "seconds": round(elapsed, 3)})

    def _retry_in(self) -> float:
        return round(max(0.0, self._cloud_backoff.next_attempt - time.monotonic()), 1)

    def _select(self, plan: Plan) -> Plan:
        """What this run may apply: manifest changes always, drift only with self-heal, nothing in backoff."""
        now = time.monotonic()
        chosen = []
        for change in plan.changes:
            if change.action == Action.NOOP:
                chosen.append(change)
                continue
            backoff = self._backoff.get(change.key)
            if backoff is not None and backoff.next_attempt > now:
                log.info(
                    "in backoff", extra={"key": change.key, "seconds": round(backoff.next_attempt - now, 1)}
                )
                continue
            if change.drift and not self.config.self_heal:
                log.warning("drift detected (not corrected without --self-heal)", extra={"key": change.key})
                continue
            chosen.append(change)
        selected = Plan(
            plan.stack, plan.region, chosen, plan.warnings, plan.errors, plan.complete, plan.created_at
        )
        selected.context = plan.context
        if plan.errors:
            log.error("plan refused", extra={"errors": plan.errors})
            selected.changes = [c for c in chosen if c.action == Action.NOOP]
            selected.errors = []
        return selected

    def _export_api_stats(self, provider: Provider) -> None:
        counts = provider.stats.snapshot()
        errors = dict(provider.stats.errors)
        new_errors = {k: v - self._last_errors.get(k, 0) for k, v in errors.items()}
        self.metrics.add_api_calls(self._last_stats, counts, new_errors)
        self._last_stats, self._last_errors = counts, errors
        if provider.budget is not None:
            self.metrics.budget_rate.set(provider.budget.rate)

    # -- HTTP --

    def status(self) -> dict[str, Any]:
        with self._state_lock:
            return self.state.to_dict()

    def _start_server(self, host: str, port: int) -> None:
        controller = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/healthz":
                    self._send(200, b"ok\n", "text/plain")
                elif path == "/readyz":
                    # a healthy standby is ready too (to take over); only a leader before its first
                    # reconcile is not, so rolling updates of a leader/standby pair go through
                    state = controller.status()
                    if not state["leader"]:
                        self._send(200, b"standby\n", "text/plain")
                    elif state["reconciles"] > 0:
                        self._send(200, b"ready\n", "text/plain")
                    else:
                        self._send(503, b"starting\n", "text/plain")
                elif path == "/metrics":
                    self._send(200, controller.metrics.render(), "text/plain; version=0.0.4; charset=utf-8")
                elif path == "/status":
                    body = json.dumps(controller.status(), indent=2, default=str).encode()
                    self._send(200, body, "application/json")
                else:
                    self._send(404, b"not found\n", "text/plain")

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        thread = threading.Thread(target=self._server.serve_forever, name="mdr-http", daemon=True)
        thread.start()
        log.info(
            "serving health, metrics and status", extra={"address": f"{host}:{self._server.server_port}"}
        )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, message and every ``extra`` field."""

    _standard = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update({k: v for k, v in record.__dict__.items() if k not in self._standard})
        return json.dumps(payload, default=str)


class TextFormatter(logging.Formatter):
    _standard = JsonFormatter._standard

    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(f"{k}={v}" for k, v in record.__dict__.items() if k not in self._standard)
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        return f"{stamp} {record.levelname.lower():7} {record.getMessage()}" + (
            f" {extras}" if extras else ""
        )


def configure_logging(log_format: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger("mdr")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
