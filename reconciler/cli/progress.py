"""Apply progress in a terminal: a live table on a TTY (``rich``), the plain lines everywhere else.

On a TTY without ``NO_COLOR`` each change gets one row that is redrawn in place: its action, the API step
being sent, the work request's status and percent, and the time since it started. Piped output, CI logs
and ``NO_COLOR`` keep the plain one-line-per-event form, which is also what the controller logs. Both name
a change as the plan did (``Model churn-model``), so a person can match progress to the plan above it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

from rich.console import Console, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from reconciler.core.render import use_colour
from reconciler.engine.apply import ApplyOptions
from reconciler.engine.apply.hooks import ProgressEvent

#: redraws per second: smooth enough for an elapsed-seconds column, cheap on a slow terminal
REFRESH_PER_SECOND = 4
OUTCOME_STYLE = {"running": "yellow", "done": "green", "failed": "bold red"}


@dataclass
class _Row:
    """What the table shows for one change."""

    action: str = ""
    step: str = ""
    status: str = ""
    percent: float | None = None
    started: float = 0.0
    elapsed: float | None = None  # set once the change ended
    outcome: str = "running"
    message: str = ""


class LiveProgress:
    """One row per change, updated from the apply's worker threads and redrawn by ``rich.live``."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._rows: dict[str, _Row] = {}
        self._lock = threading.Lock()
        self._live: Live | None = None

    def event(self, event: ProgressEvent) -> None:
        """Fold one apply event into its change's row; the first event starts the live display, so
        nothing is drawn before the plan was confirmed."""
        with self._lock:
            row = self._rows.setdefault(event.label, _Row(started=time.monotonic()))
            _fold(row, event)
            if self._live is None:
                self._live = Live(
                    self,
                    console=self.console,
                    refresh_per_second=REFRESH_PER_SECOND,
                    transient=False,
                    # stdout printed meanwhile goes above the table when it is this terminal too; piped,
                    # it stays where it was sent
                    redirect_stdout=sys.stdout.isatty(),
                )
                self._live.start()

    def message(self, text: str) -> None:
        """A free-text note (waiting for a deployment to settle, resuming an earlier run): printed above the
        table, which stays at the bottom."""
        self.console.print(Text(text), soft_wrap=True)

    def close(self) -> None:
        """Draw the final state once more and leave it on screen."""
        with self._lock:
            live, self._live = self._live, None
        if live is not None:
            live.refresh()
            live.stop()

    def __rich__(self) -> RenderableType:
        table = Table(box=None, pad_edge=False, header_style="bold")
        for column in ("CHANGE", "ACTION", "STEP", "PROGRESS", "", "ELAPSED"):
            table.add_column(column, no_wrap=True)
        now = time.monotonic()
        with self._lock:
            rows = list(self._rows.items())
        for label, row in rows:
            percent = 100.0 if row.outcome == "done" else (row.percent or 0.0)
            elapsed = row.elapsed if row.elapsed is not None else now - row.started
            state = row.outcome if row.outcome != "running" else (row.status or "running")
            table.add_row(
                label,
                row.action,
                row.step or "-",
                ProgressBar(total=100, completed=percent, width=16),
                Text(f"{percent:3.0f}% {state}", style=OUTCOME_STYLE.get(row.outcome, "")),
                f"{elapsed:5.1f}s",
            )
        failed = [(label, row.message) for label, row in rows if row.outcome == "failed"]
        if not failed:
            return table
        grid = Table.grid()
        grid.add_row(table)
        for label, message in failed:
            grid.add_row(Text(f"{label}: FAILED: {message}", style="red"))
        return grid


def _fold(row: _Row, event: ProgressEvent) -> None:
    if event.action:
        row.action = event.action
    if event.operation:
        row.step = event.operation
    if event.phase == "step":
        row.status, row.percent = "", None  # a new write: its work request has not been polled yet
    if event.phase == "wait":
        row.status, row.percent = event.status or "", event.percent
    if event.phase in ("done", "failed"):
        row.outcome, row.elapsed, row.message = event.phase, event.elapsed, event.message


def wants_live_view(stream: TextIO) -> bool:
    """A live view only on a terminal that can redraw: not piped, not ``NO_COLOR``, not ``TERM=dumb``."""
    return use_colour(stream) and os.environ.get("TERM", "") != "dumb"


@contextmanager
def live_progress(options: ApplyOptions, stream: TextIO | None = None) -> Iterator[ApplyOptions]:
    """Show ``options``' apply progress live on ``stream`` (stderr) when it is a terminal that wants it;
    otherwise leave the options' plain lines as they are. The table is finished before the block ends,
    so a report written after it comes below it."""
    out = stream or sys.stderr
    if not wants_live_view(out):
        yield options
        return
    view = LiveProgress(Console(file=out, stderr=out is sys.stderr))
    options.events, options.progress = view.event, view.message
    try:
        yield options
    finally:
        view.close()
