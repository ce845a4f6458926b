"""What the dashboard shows, built from the controller's state without any I/O (so it is tested as data).

The controller hands over a ``DashboardSnapshot`` (its published state, the last plan, the audit records of
this stack and target, the work-request activity); each page's view model is a pure function of it. Values
are kept as plain text here: the HTML templates escape every one of them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from reconciler.core.plan import Change, Kind, Plan
from reconciler.core.render import change_title, field_row, summary_line
from reconciler.core.status import predict_url
from reconciler.engine.apply.hooks import ProgressEvent, change_label

#: history rows on one page (newest first); the full log is ``mdr audit``
HISTORY_ROWS = 200
#: changes remembered by the activity page
ACTIVITY_ROWS = 100
#: a work request still running is logged at most this often (every poll goes to the page)
LOG_WAIT_EVERY_SECONDS = 10.0


@dataclass
class ActivityRow:
    """The latest that is known of one change being applied: its step, work request and outcome."""

    label: str
    action: str = ""
    step: str = ""
    status: str = ""
    percent: float = 0.0
    outcome: str = "running"  # running | done | failed
    elapsed: float | None = None
    message: str = ""
    started: str = ""
    started_at: float = 0.0


class Activity:
    """Work-request progress of the controller's applies, fed by the apply's progress events (thread-safe).

    Each event's plain line also goes to ``log`` as it did before there was a dashboard; a running work
    request's line at most every ``LOG_WAIT_EVERY_SECONDS`` per change, so the log does not fill with polls.
    """

    def __init__(self, log: Callable[[str], None] | None = None, limit: int = ACTIVITY_ROWS) -> None:
        self._rows: dict[str, ActivityRow] = {}
        self._lock = threading.Lock()
        self._limit = limit
        self._log = log
        self._logged: dict[str, float] = {}

    def record(self, event: ProgressEvent) -> None:
        self._log_line(event)
        with self._lock:
            row = self._rows.get(event.label)
            if row is None or (event.phase == "start" and row.outcome != "running"):
                row = ActivityRow(event.label, started=_utc_now(), started_at=time.monotonic())
                self._rows.pop(event.label, None)
                self._rows[event.label] = row  # newest last
                while len(self._rows) > self._limit:
                    self._rows.pop(next(iter(self._rows)))
            _fold(row, event)

    def _log_line(self, event: ProgressEvent) -> None:
        line = event.line()
        if self._log is None or line is None:
            return
        if event.phase == "wait":
            now = time.monotonic()
            with self._lock:
                if now - self._logged.get(event.label, -LOG_WAIT_EVERY_SECONDS) < LOG_WAIT_EVERY_SECONDS:
                    return
                self._logged[event.label] = now
        self._log(line)

    def snapshot(self) -> list[ActivityRow]:
        """Newest first; a running change's elapsed time is measured now."""
        now = time.monotonic()
        with self._lock:
            rows = [ActivityRow(**r.__dict__) for r in self._rows.values()]
        for row in rows:
            if row.elapsed is None:
                row.elapsed = now - row.started_at
        return rows[::-1]


def _fold(row: ActivityRow, event: ProgressEvent) -> None:
    if event.action:
        row.action = event.action
    if event.operation:
        row.step = event.operation
    if event.phase == "step":
        row.status, row.percent = "SENT", 0.0
    elif event.phase == "wait":
        row.status, row.percent = event.status or "", event.percent or 0.0
    elif event.phase in ("done", "failed"):
        row.outcome, row.elapsed, row.message = event.phase, event.elapsed, event.message
        if event.phase == "done":
            row.status, row.percent = "SUCCEEDED", 100.0


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@dataclass
class DashboardSnapshot:
    """Everything the pages are built from, copied out of the controller at one moment."""

    stack: str | None
    target: str | None
    state: dict[str, Any]
    plan: Plan | None
    audit: list[dict[str, Any]] = field(default_factory=list)
    activity: list[ActivityRow] = field(default_factory=list)
    #: the sync button shows only for a syncPolicy: manual stack with a pending plan, when a sync token is set
    manual_sync: bool = False
    auth_configured: bool = False
    pending_plan: str | None = None


@dataclass
class DiffRow:
    sign: str
    path: str
    before: str
    after: str


@dataclass
class ChangeView:
    key: str
    label: str
    symbol: str
    title: str
    action: str
    reason: str | None
    drift: bool
    blocked: str | None
    rows: list[DiffRow]
    steps: list[str]


@dataclass
class DeploymentRow:
    name: str
    sync: str
    health: str
    lifecycle: str
    model: str
    drift: list[str]
    predict_url: str | None
    last_change: str


@dataclass
class Header:
    """The strip at the top of every page."""

    stack: str
    target: str
    revision: str
    role: str
    last_reconcile: str
    reconciles: int
    last_error: str | None
    sync_button: bool
    #: the id of the pending plan the button applies (exactly that one; refused once it changed)
    sync_plan: str


@dataclass
class OverviewView:
    header: Header
    deployments: list[DeploymentRow]
    plan_summary: str
    pending: int
    warnings: list[str]
    invalid: list[str]


@dataclass
class DeploymentView:
    header: Header
    deployment: DeploymentRow
    changes: list[ChangeView]
    history: list[dict[str, Any]]
    activity: list[ActivityRow]


def header(snapshot: DashboardSnapshot) -> Header:
    state = snapshot.state
    return Header(
        stack=snapshot.stack or "(not loaded yet)",
        target=snapshot.target or "-",
        revision=str(state.get("revision") or "-"),
        role="leader" if state.get("leader") else "standby",
        last_reconcile=str(state.get("last_reconcile") or "never"),
        reconciles=int(state.get("reconciles") or 0),
        last_error=state.get("last_error"),
        sync_button=sync_button_shown(snapshot),
        sync_plan=snapshot.pending_plan or "",
    )


def sync_button_shown(snapshot: DashboardSnapshot) -> bool:
    """A sync button writes to the cloud from a web page: only with manual sync on, a plan pending *and*
    a sync token configured (the form asks for it; without one the dashboard is read-only)."""
    return snapshot.manual_sync and snapshot.auth_configured and snapshot.pending_plan is not None


def deployment_rows(snapshot: DashboardSnapshot) -> list[DeploymentRow]:
    rows = []
    for status in snapshot.state.get("deployments") or []:
        model = status.get("model_name") or (f"…{status['model'][-12:]}" if status.get("model") else "-")
        rows.append(
            DeploymentRow(
                name=str(status["name"]),
                sync=str(status.get("sync") or "-"),
                health=str(status.get("health") or "-"),
                lifecycle=str(status.get("lifecycle") or "-"),
                model=str(model),
                drift=[str(path) for path in status.get("drift") or []],
                predict_url=predict_url(str(status["url"])) if status.get("url") else None,
                last_change=str(status.get("last_change") or "-")[:19].replace("T", " "),
            )
        )
    return rows


def change_view(change: Change) -> ChangeView:
    symbol, title = change_title(change)
    return ChangeView(
        key=change.key,
        label=change_label(change),
        symbol=symbol,
        title=title,
        action=change.action.value,
        reason=change.reason,
        drift=change.drift,
        blocked=change.blocked,
        rows=[DiffRow(*field_row(f)) for f in change.fields],
        steps=[f"{step.op} - {step.description}" for step in change.steps],
    )


def overview(snapshot: DashboardSnapshot) -> OverviewView:
    plan = snapshot.plan
    return OverviewView(
        header=header(snapshot),
        deployments=deployment_rows(snapshot),
        plan_summary=summary_line(plan)
        if plan is not None
        else "No plan yet: the first reconcile is running.",
        pending=len(plan.actionable) if plan is not None else 0,
        warnings=[str(w) for w in snapshot.state.get("warnings") or []],
        invalid=[str(i) for i in snapshot.state.get("invalid") or []],
    )


def plan_changes(snapshot: DashboardSnapshot) -> list[ChangeView]:
    """The pending plan's actionable changes with their field-level diff (as ``mdr plan`` shows them)."""
    return [change_view(c) for c in snapshot.plan.actionable] if snapshot.plan is not None else []


def history(snapshot: DashboardSnapshot, keys: set[str] | None = None) -> list[dict[str, Any]]:
    """Audit records, newest first (only those of ``keys`` when given)."""
    records = [r for r in snapshot.audit if keys is None or str(r.get("key")) in keys]
    return records[::-1][:HISTORY_ROWS]


def deployment_keys(name: str) -> set[str]:
    """The audit and plan keys that belong to a deployment: itself and its owned model."""
    return {f"{Kind.DEPLOYMENT.value}/{name}", f"{Kind.MODEL.value}/{name}"}


def deployment_page(snapshot: DashboardSnapshot, name: str) -> DeploymentView | None:
    """One deployment's page, or None when the stack has no deployment of that name."""
    found = [row for row in deployment_rows(snapshot) if row.name == name]
    if not found:
        return None
    keys = deployment_keys(name)
    changes = (
        [change_view(c) for c in snapshot.plan.actionable if c.key in keys]
        if snapshot.plan is not None
        else []
    )
    # progress events name a change as the plan does (``Model churn-model``), not by key
    labels = {c.label for c in changes} | {f"{Kind.DEPLOYMENT.value} {name}"}
    if found[0].model != "-":
        labels.add(f"{Kind.MODEL.value} {found[0].model}")
    return DeploymentView(
        header=header(snapshot),
        deployment=found[0],
        changes=changes,
        history=history(snapshot, keys),
        activity=[row for row in snapshot.activity if row.label in labels],
    )
