"""Injection points for tests (named points an apply reaches, the upload body it sends), and the progress
events an apply reports to whoever shows it (a terminal, the controller's dashboard).

Production code only announces where it is (``after:CreateModel`` once the service accepted the write,
``recorded:CreateModel`` once the audit log has it, ``waiting:CreateModel`` before polling its work request)
and lets the hooks wrap an upload body. The default hooks do nothing. Crash-safety tests install hooks that
kill the process at one of those points (see ``tests/support/crash_mdr.py``); nothing here reads the
environment or sends a signal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from reconciler.core.plan import Change


class UploadBody(Protocol):
    """A streamed request body as the SDK consumes it (``ZipStream`` is one)."""

    def __len__(self) -> int: ...

    def read(self, size: int = -1) -> bytes: ...

    def seek(self, offset: int, whence: int = 0) -> int: ...

    def tell(self) -> int: ...


class ApplyHooks(Protocol):
    def reached(self, point: str) -> None:
        """The apply reached ``point`` (``after:Op``, ``recorded:Op``, ``waiting:Op``)."""

    def wrap_upload(self, body: UploadBody) -> UploadBody:
        """The body to send for an artifact upload (``CreateModelArtifact``) instead of ``body``."""


class NoHooks:
    """The default: every point passes, bodies are sent as they are."""

    def reached(self, point: str) -> None:
        return None

    def wrap_upload(self, body: UploadBody) -> UploadBody:
        return body


NO_HOOKS: ApplyHooks = NoHooks()

_lock = threading.Lock()
_installed: ApplyHooks = NO_HOOKS


def install(hooks: ApplyHooks | None) -> None:
    """Make ``hooks`` the process-wide default for applies whose options name none (None: no hooks).

    Meant for test entry points that run the real CLI, e.g. one that kills the process at a crash point."""
    global _installed
    with _lock:
        _installed = hooks if hooks is not None else NO_HOOKS


def installed() -> ApplyHooks:
    """The process-wide default hooks: ``NO_HOOKS`` unless a test entry point installed others."""
    with _lock:
        return _installed


def change_label(change: Change) -> str:
    """The name a person saw in the plan (``Model churn-model``), not the internal key (``Model/churn-api``):
    progress lines and the plan must name a change the same way, or the two cannot be matched up."""
    return f"{change.kind.value} {change.name}"


@dataclass(frozen=True)
class ProgressEvent:
    """One thing an apply did for one change: ``start`` (with ``action``), ``step`` (an API write is being
    sent), ``wait`` (a work request's status and percent), ``done`` or ``failed`` (with ``elapsed``)."""

    label: str
    phase: str
    action: str = ""
    operation: str | None = None
    status: str | None = None
    percent: float | None = None
    elapsed: float | None = None
    message: str = ""

    def line(self) -> str | None:
        """The plain-text line for logs and non-terminals (None: this event has none of its own)."""
        if self.phase == "done":
            return f"{self.label}: {self.action} complete after {self.elapsed or 0:.1f}s"
        if self.phase == "failed":
            return f"{self.label}: FAILED: {self.message}"
        if self.phase == "wait":
            return f"{self.label}: {self.operation} {self.status} {self.percent or 0:.0f}%"
        return None


ProgressSink = Callable[[ProgressEvent], None]


class _Reports(Protocol):
    @property
    def progress(self) -> Callable[[str], None]: ...

    @property
    def events(self) -> ProgressSink | None: ...


def announce(options: _Reports, event: ProgressEvent, plain: bool = True) -> None:
    """Give ``event`` to the options' event sink when there is one (a live view, the dashboard), else print
    its plain line through ``progress`` (when ``plain``: a frequent event is printed only now and then)."""
    if options.events is not None:
        options.events(event)
    elif plain and (line := event.line()) is not None:
        options.progress(line)
