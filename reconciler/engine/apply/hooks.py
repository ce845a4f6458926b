"""Injection points for tests: named points an apply reaches, and the upload body it sends.

Production code only announces where it is (``after:CreateModel`` once the service accepted the write,
``recorded:CreateModel`` once the audit log has it, ``waiting:CreateModel`` before polling its work request)
and lets the hooks wrap an upload body. The default hooks do nothing. Crash-safety tests install hooks that
kill the process at one of those points (see ``tests/support/crash_mdr.py``); nothing here reads the
environment or sends a signal.
"""

from __future__ import annotations

import threading
from typing import Protocol


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
