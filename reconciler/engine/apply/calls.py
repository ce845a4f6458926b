"""The primitives every step uses: audited and fenced writes, work-request waits, journal records.

Crash safety rests on three of them. ``write`` sends a mutating call only while the stack's lock is held
(the fence) and audits its outcome with request ids, never its body. ``record`` journals the OCID and
work-request id before a wait, so a re-run resumes waiting instead of acting again. ``retry_token`` makes
every create deterministic per (stack, key, operation, spec hash), so a create retried after a crash is
recognised by the service and never duplicates a resource.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import oci

from reconciler.adapters.cloud import Cloud
from reconciler.adapters.journal import AuditLog, Journal, JournalEntry
from reconciler.core.canonical import TAG_KEY, TAG_STACK
from reconciler.core.plan import Change
from reconciler.engine.apply.hooks import ApplyHooks, installed
from reconciler.engine.apply.options import ApplyOptions, ChangeFailed

WR_DONE = frozenset({"SUCCEEDED"})
WR_FAILED = frozenset({"FAILED", "CANCELED", "CANCELLED"})


def retry_token(stack: str, key: str, operation: str, spec: str, retired: list[str] | None = None) -> str:
    """Deterministic per (stack, key, operation, spec hash, earlier failed attempts): a create retried after a
    crash is recognised by the service, while a new attempt after a failure is not mistaken for the old one."""
    attempts = ",".join(retired or [])
    return hashlib.sha256(f"{stack}\0{key}\0{operation}\0{spec}\0{attempts}".encode()).hexdigest()[:32]


class Calls:
    """One apply's cloud, journal, audit log, options and hooks, and the write/wait primitives over them."""

    def __init__(
        self, provider: Cloud, stack: str, journal: Journal, audit: AuditLog, options: ApplyOptions
    ) -> None:
        self.provider = provider
        self.stack = stack
        self.journal = journal
        self.audit = audit
        self.options = options
        self.hooks: ApplyHooks = options.hooks if options.hooks is not None else installed()
        #: what an earlier, interrupted run left in flight: (change id, operation) -> last entry
        self.pending = journal.pending()

    def write(self, change: Change, operation: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A mutating call, audited with its outcome and request ids (never its body)."""
        if self.options.fence is not None and self.options.fence.is_set():
            raise ChangeFailed(f"{operation}: not sent, the stack lock was lost (another writer may hold it)")
        try:
            response = self.provider.call(operation, fn, *args, **kwargs)
        except oci.exceptions.ServiceError as exc:
            self.audit.write(change.key, operation, f"error {exc.status} {exc.code}", exc.request_id)
            raise
        headers = response.headers or {}
        resource_id = getattr(response.data, "id", None) if response.data is not None else None
        self.hooks.reached(f"after:{operation}")
        self.audit.write(
            change.key,
            operation,
            "accepted",
            headers.get("opc-request-id"),
            headers.get("opc-work-request-id"),
            resource_id or change.live_id,
        )
        self.hooks.reached(f"recorded:{operation}")
        return response

    def wait_work_request(self, client: Any, work_request_id: str, change: Change, operation: str) -> Any:
        """Poll a work request until it succeeds; fail with the service's errors, on timeout or on abort."""
        started = time.monotonic()
        deadline = started + self.options.timeout_seconds
        last_report = 0.0
        self.hooks.reached(f"waiting:{operation}")
        while True:
            request = self.provider.call("GetWorkRequest", client.get_work_request, work_request_id).data
            status = str(request.status)
            if status in WR_DONE:
                return request
            if status in WR_FAILED:
                errors = self.provider.call(
                    "ListWorkRequestErrors", client.list_work_request_errors, work_request_id
                ).data
                detail = "; ".join(f"{e.code}: {e.message}" for e in errors) or "no error detail"
                raise ChangeFailed(f"{operation} work request {work_request_id} {status}: {detail}")
            self.check_abort(operation)
            if time.monotonic() > deadline:
                raise ChangeFailed(
                    f"{operation} still {status} after {self.options.timeout_seconds:g}s (work request "
                    f"{work_request_id}); re-run apply to keep waiting"
                )
            if time.monotonic() - last_report > 10:
                self.options.progress(
                    f"{change.key}: {operation} {status} {request.percent_complete or 0:.0f}%"
                )
                last_report = time.monotonic()
            time.sleep(self.poll_delay(started))

    def poll_delay(self, started: float) -> float:
        """A tenth of the time already waited, within the options' bounds."""
        waited = time.monotonic() - started
        return min(max(self.options.poll_initial_seconds, waited / 10), self.options.poll_max_seconds)

    def check_abort(self, what: str) -> None:
        if self.options.abort is not None and self.options.abort.is_set():
            raise ChangeFailed(f"{what}: abandoned on shutdown; the next run resumes it from the journal")

    def record(self, change: Change, op: str, resource_id: str | None, wr: str | None, status: str) -> None:
        self.journal.record(JournalEntry(change.id, op, resource_id, wr, status))

    def ownership(self, key: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {TAG_STACK: self.stack, TAG_KEY: key, **(extra or {})}
