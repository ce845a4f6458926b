"""The primitives every step uses: audited and fenced writes, work-request waits, journal records.

Crash safety rests on three of them. ``write`` sends a mutating call only while the stack's lock is held
(the fence) and audits its outcome with request ids, never its body. ``record`` journals the OCID and
work-request id before a wait, so a re-run resumes waiting instead of acting again. ``retry_token`` makes
every create deterministic per (stack, key, operation, whole request body, retired attempts), so a create
retried after a crash is recognised by the service and never duplicates a resource, while a create whose
earlier result is gone (deleted, failed) or whose body changed is a new request. ``create_fresh`` is the
loop every create runs: a create the service answers with a resource that is gone (the replay of an old
create within the token's 24 hours) retires that id into the token and is sent again.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import oci

from reconciler.adapters.cloud import Cloud
from reconciler.adapters.journal import AuditLog, Journal, JournalEntry
from reconciler.core.canonical import TAG_KEY, TAG_STACK
from reconciler.core.plan import Change
from reconciler.engine.apply.hooks import ApplyHooks, ProgressEvent, announce, change_label, installed
from reconciler.engine.apply.options import ApplyOptions, ChangeFailed

WR_DONE = frozenset({"SUCCEEDED"})
WR_FAILED = frozenset({"FAILED", "CANCELED", "CANCELLED"})


#: creates of one resource in one run, at most (each new one retires a gone result of the one before)
MAX_CREATE_ATTEMPTS = 4
#: PBKDF2 rounds for a secret value's stand-in in a token's body digest (see ``sealed``)
SEAL_ROUNDS = 100_000


def body_digest(body: Any) -> str:
    """A digest of a whole request body: SDK models (as the JSON they are sent as), dicts, lists, a string."""
    data = oci.util.to_dict(body)
    text = (
        data
        if isinstance(data, str)
        else json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    )
    return hashlib.sha256(text.encode()).hexdigest()


def retry_token(stack: str, key: str, operation: str, body: Any, retired: Iterable[str] | None = None) -> str:
    """Deterministic per (stack, key, operation, the whole request body, retired attempts).

    The same create sent again (a retry after a crash) carries the same token, so the service answers it with
    the first answer instead of making a second resource. Anything else is a new request with a new token:
    another body (a field of it changed: the service would refuse a reused token with 409), or an earlier
    attempt whose resource failed or is gone (``retired``: the service would replay the old answer for 24
    hours, naming the dead resource). Secret values in ``body`` must already be ``sealed``."""
    attempts = ",".join(sorted(set(retired or [])))
    text = f"{stack}\0{key}\0{operation}\0{body_digest(body)}\0{attempts}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def sealed(stack: str, key: str, name: str, value: str) -> str:
    """A secret value's stand-in in a token's body digest: stable for the same value, costly to guess from
    (PBKDF2 salted with stack, key and name), so a token never offers a cheap test of a guessed secret."""
    salt = f"{stack}\0{key}\0{name}".encode()
    return "sealed:" + hashlib.pbkdf2_hmac("sha256", value.encode(), salt, SEAL_ROUNDS).hex()


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
        announce(self.options, ProgressEvent(change_label(change), "step", operation=operation))
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
            due = time.monotonic() - last_report > 10  # a plain line now and then; a live view every poll
            event = ProgressEvent(
                change_label(change),
                "wait",
                operation=operation,
                status=status,
                percent=float(request.percent_complete or 0),
            )
            announce(self.options, event, plain=due)
            if due:
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

    def create_fresh(
        self,
        change: Change,
        what: str,
        retired: Sequence[str],
        create: Callable[[list[str]], str],
        gone: Callable[[str], bool],
    ) -> str:
        """Run ``create`` (given the ids to retire into its retry token) until it answers with a resource that
        is not ``gone``: a create answered with a deleted resource was the replay of an old create under the
        same token, and the next attempt, with that id retired, is a new request."""
        attempts = sorted(set(retired))
        for _ in range(MAX_CREATE_ATTEMPTS):
            resource_id = create(attempts)
            if not gone(resource_id):
                return resource_id
            self.options.progress(
                f"{change_label(change)}: the service answered with {what} {resource_id}, which is gone (the replay of "
                "an earlier create); creating it again"
            )
            attempts = sorted({*attempts, resource_id})
        raise ChangeFailed(
            f"{what}: {MAX_CREATE_ATTEMPTS} creates in a row answered with resources that are gone "
            f"({', '.join(attempts)}); re-run apply"
        )
