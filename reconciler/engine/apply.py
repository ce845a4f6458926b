"""Execute a plan: dependency order, bounded concurrency, work-request waits, idempotent creates.

Each change runs its steps in order; independent changes run concurrently (``concurrency`` overall and
``per_compartment`` per compartment). A failed change stops only the changes that depend on it.

Crash safety: every create carries a deterministic ``opc-retry-token`` derived from (stack, key, operation,
spec hash) and is preceded by a lookup by ownership tags, so a crash between "created" and "recorded" never
duplicates a resource; the OCID and work-request id are journaled before waiting, so a re-run resumes
waiting. A lookup that finds more than one owned candidate stops with an error instead of guessing.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import oci
from oci.data_science import models as ds
from oci.logging import models as lg

from reconciler.adapters.artifact import package
from reconciler.adapters.cloud_errors import Conflict, NotFound, cloud_errors, describe_cloud_error
from reconciler.adapters.journal import AuditLog, Journal, JournalEntry
from reconciler.adapters.wire import (
    create_deployment_details,
    metadata_lists,
    sections_for_paths,
    update_deployment_details,
)
from reconciler.adapters.zipstream import ZipStream, prepare
from reconciler.core.canonical import (
    OWNERSHIP_PREFIX,
    TAG_ARTIFACT,
    TAG_KEY,
    TAG_PENDING,
    TAG_SPEC,
    TAG_STACK,
    is_ref,
)
from reconciler.core.errors import MdrError
from reconciler.core.live import GONE_STATES, LOGGING_GONE, LiveState
from reconciler.core.plan import (
    Action,
    Change,
    Kind,
    Plan,
    deployment_fingerprint,
    model_fingerprint,
    simple_fingerprint,
)

WR_DONE = frozenset({"SUCCEEDED"})
WR_FAILED = frozenset({"FAILED", "CANCELED", "CANCELLED"})
SETTLED_STATES = frozenset({"ACTIVE", "INACTIVE", "FAILED", "NEEDS_ATTENTION", "DELETED"})


class StalePlan(MdrError):
    """Live resources changed since the saved plan was computed; nothing was applied."""


class ChangeFailed(MdrError):
    """One change could not be completed; the message says what the service reported."""


@dataclass
class ApplyOptions:
    concurrency: int = 8
    per_compartment: int = 8
    timeout_seconds: float = 1800.0
    #: polls wait a tenth of the time already waited, within these bounds: at most ~10 % late, and a
    #: 15-minute create costs ~60 polls instead of hundreds
    poll_initial_seconds: float = 0.5
    poll_max_seconds: float = 15.0
    large_artifact_bytes: int = 2 * 1024**3
    artifact_bucket: tuple[str, str | None, str] | None = None  # (bucket, namespace, prefix)
    progress: Callable[[str], None] = lambda message: None
    #: set on shutdown: waits stop at once (the journal lets the next run resume them)
    abort: threading.Event | None = None
    #: set when the stack's lock or lease is lost: no further write may be sent
    fence: threading.Event | None = None


@dataclass
class ChangeResult:
    change_id: str
    key: str
    action: str
    status: str  # done | failed | skipped
    message: str = ""
    resource_id: str | None = None


@dataclass
class ApplyResult:
    results: list[ChangeResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.status == "done" for r in self.results)

    def counts(self) -> dict[str, int]:
        out = {"done": 0, "failed": 0, "skipped": 0}
        for result in self.results:
            out[result.status] += 1
        return out


# --- stale-plan detection (pure) -------------------------------------------------------------------------


def stale_changes(plan: Plan, live: LiveState) -> list[str]:
    """Messages naming every touched resource whose live fingerprint differs from the plan's."""
    deployments = {d.id: d for d in live.deployments} | live.adoptable  # adoptions touch unowned ones
    models = {m.id: m for m in live.models}
    others = {g.id: g.wire for g in live.log_groups} | {x.id: x.wire for x in live.logs}
    by_key = live.deployments_by_key()
    problems: list[str] = []
    for change in plan.actionable:
        if change.live_id is None:
            if change.kind == Kind.DEPLOYMENT and change.action == Action.CREATE:
                existing = [d for d in by_key.get(change.key, []) if d.lifecycle_state not in GONE_STATES]
                if existing:
                    problems.append(f"{change.key}: was created since the plan ({existing[0].id})")
            continue
        if change.kind == Kind.DEPLOYMENT:
            current = deployments.get(change.live_id)
            now = deployment_fingerprint(current) if current else None
        elif change.kind == Kind.MODEL:
            model = models.get(change.live_id)
            now = model_fingerprint(model) if model else None
        else:
            wire = others.get(change.live_id)
            now = simple_fingerprint(change.live_id, wire) if wire is not None else None
        if now is None:
            problems.append(f"{change.key}: {change.live_id} no longer exists")
        elif now != change.fingerprint:
            problems.append(f"{change.key}: {change.live_id} changed since the plan")
    return problems


def retry_token(stack: str, key: str, operation: str, spec: str, retired: list[str] | None = None) -> str:
    """Deterministic per (stack, key, operation, spec hash, earlier failed attempts): a create retried after a
    crash is recognised by the service, while a new attempt after a failure is not mistaken for the old one."""
    attempts = ",".join(retired or [])
    return hashlib.sha256(f"{stack}\0{key}\0{operation}\0{spec}\0{attempts}".encode()).hexdigest()[:32]


def resolve_refs(value: Any, outputs: dict[str, str]) -> Any:
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


# --- the executor ----------------------------------------------------------------------------------------


class Executor:
    def __init__(
        self,
        provider: Any,
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
        self._pending = journal.pending()

    # -- scheduling --

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
        handlers: dict[Kind, Callable[[Change, dict[str, Any]], str | None]] = {
            Kind.LOG_GROUP: self._log_group,
            Kind.LOG: self._log,
            Kind.MODEL: self._model,
            Kind.DEPLOYMENT: self._deployment,
        }
        return handlers[change.kind](change, desired)

    # -- helpers --

    def _write(
        self, change: Change, operation: str, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
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
        crash_point(f"after:{operation}")
        self.audit.write(
            change.key,
            operation,
            "accepted",
            headers.get("opc-request-id"),
            headers.get("opc-work-request-id"),
            resource_id or change.live_id,
        )
        crash_point(f"recorded:{operation}")
        return response

    def _wait_work_request(self, client: Any, work_request_id: str, change: Change, operation: str) -> Any:
        started = time.monotonic()
        deadline = started + self.options.timeout_seconds
        last_report = 0.0
        crash_point(f"waiting:{operation}")
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
            self._check_abort(operation)
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
            time.sleep(self._poll_delay(started))

    def _poll_delay(self, started: float) -> float:
        waited = time.monotonic() - started
        return min(max(self.options.poll_initial_seconds, waited / 10), self.options.poll_max_seconds)

    def _check_abort(self, what: str) -> None:
        if self.options.abort is not None and self.options.abort.is_set():
            raise ChangeFailed(f"{what}: abandoned on shutdown; the next run resumes it from the journal")

    def _record(self, change: Change, op: str, resource_id: str | None, wr: str | None, status: str) -> None:
        self.journal.record(JournalEntry(change.id, op, resource_id, wr, status))

    def _ownership(self, key: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {TAG_STACK: self.stack, TAG_KEY: key, **(extra or {})}

    # -- log groups and logs --

    def _log_group(self, change: Change, desired: dict[str, Any]) -> str | None:
        client = self.provider.logging
        if change.action in (Action.DELETE, Action.ORPHAN):
            assert change.live_id is not None
            response = self._write(change, "DeleteLogGroup", client.delete_log_group, change.live_id)
            self._wait_logging(response, change, "DeleteLogGroup")
            return None
        compartment, name = desired["compartmentId"], desired["displayName"]
        found, failed = self._find_log_group(compartment, name)
        if found:
            return found
        details = lg.CreateLogGroupDetails(
            compartment_id=compartment, display_name=name, freeform_tags=self._ownership(change.key)
        )
        token = retry_token(self.stack, change.key, "CreateLogGroup", name, failed)
        response = self._write(
            change, "CreateLogGroup", client.create_log_group, details, opc_retry_token=token
        )
        request = self._wait_logging(response, change, "CreateLogGroup")
        return _resource_from(request) or self._find_log_group(compartment, name)[0]

    def _find_log_group(self, compartment: str, name: str) -> tuple[str | None, list[str]]:
        groups = self.provider.list_all(
            "ListLogGroups", self.provider.logging.list_log_groups, compartment, display_name=name
        )
        return _by_name(groups, name)

    def _wait_logging(self, response: Any, change: Change, operation: str) -> Any:
        work_request_id = response.headers.get("opc-work-request-id")
        if not work_request_id:
            return None
        self._record(change, operation, None, work_request_id, "started")
        request = self._wait_work_request(self.provider.logging, work_request_id, change, operation)
        self._record(change, operation, _resource_from(request), work_request_id, "done")
        return request

    def _log(self, change: Change, desired: dict[str, Any]) -> str | None:
        client = self.provider.logging
        if change.action in (Action.DELETE, Action.ORPHAN):
            assert change.live_id is not None
            group_id = change.desired.get("logGroupId") or self._log_group_of(change.live_id)
            response = self._write(change, "DeleteLog", client.delete_log, group_id, change.live_id)
            self._wait_logging(response, change, "DeleteLog")
            return None
        group_id, name = desired["logGroupId"], desired["displayName"]
        found, failed = self._find_log(group_id, name)
        if found:
            return found
        details = lg.CreateLogDetails(
            display_name=name,
            log_type="CUSTOM",
            is_enabled=True,
            retention_duration=desired.get("retentionDays", 30),
            freeform_tags=self._ownership(change.key),
        )
        token = retry_token(self.stack, change.key, "CreateLog", f"{group_id}/{name}", failed)
        response = self._write(
            change, "CreateLog", client.create_log, group_id, details, opc_retry_token=token
        )
        request = self._wait_logging(response, change, "CreateLog")
        return _resource_from(request, "log") or self._find_log(group_id, name)[0]

    def _find_log(self, group_id: str, name: str) -> tuple[str | None, list[str]]:
        logs = self.provider.list_all(
            "ListLogs", self.provider.logging.list_logs, group_id, display_name=name
        )
        return _by_name(logs, name)

    def _log_group_of(self, log_id: str) -> str:
        raise ChangeFailed(f"cannot delete log {log_id}: its log group is unknown to this plan")

    # -- models --

    def _model(self, change: Change, desired: dict[str, Any]) -> str | None:
        client = self.provider.data_science
        if change.action in (Action.DELETE, Action.ORPHAN):
            assert change.live_id is not None
            self._write(change, "DeleteModel", client.delete_model, change.live_id)
            return None
        identity = desired["identity"]
        model_id = self._find_model(desired["compartmentId"], change.key, identity)
        if model_id is None:
            defined, custom = metadata_lists(desired)
            details = ds.CreateModelDetails(
                compartment_id=desired["compartmentId"],
                project_id=desired["projectId"],
                display_name=desired["displayName"],
                description=desired.get("description"),
                defined_metadata_list=defined or None,
                custom_metadata_list=custom or None,
                freeform_tags=self._ownership(change.key, {TAG_ARTIFACT: identity, TAG_PENDING: "artifact"}),
            )
            token = retry_token(self.stack, change.key, "CreateModel", identity)
            response = self._write(change, "CreateModel", client.create_model, details, opc_retry_token=token)
            model_id = str(response.data.id)
            self._record(change, "CreateModel", model_id, None, "done")
        if not self._has_artifact(model_id):
            self._upload(change, desired, model_id)
        self._clear_pending(change, model_id)
        return model_id

    def _clear_pending(self, change: Change, model_id: str) -> None:
        """Mark the model usable: only now will plans (and deployments) pick it."""
        client = self.provider.data_science
        model = self.provider.call("GetModel", client.get_model, model_id).data
        tags = dict(model.freeform_tags or {})
        if TAG_PENDING in tags:
            del tags[TAG_PENDING]
            details = ds.UpdateModelDetails(freeform_tags=tags)
            self._write(change, "UpdateModel", client.update_model, model_id, details)

    def _find_model(self, compartment: str, key: str, identity: str) -> str | None:
        models = self.provider.list_all("ListModels", self.provider.data_science.list_models, compartment)
        owned = [
            m
            for m in models
            if (m.freeform_tags or {}).get(TAG_STACK) == self.stack
            and (m.freeform_tags or {}).get(TAG_KEY) == key
            and (m.freeform_tags or {}).get(TAG_ARTIFACT) == identity
            and m.lifecycle_state == "ACTIVE"
        ]
        if len(owned) > 1:
            ids = ", ".join(m.id for m in owned)
            raise ChangeFailed(
                f"{key}: more than one owned model with artifact {identity[:19]} ({ids}); delete extras"
            )
        return owned[0].id if owned else None

    def _has_artifact(self, model_id: str) -> bool:
        try:
            self.provider.call("HeadModelArtifact", self.provider.data_science.head_model_artifact, model_id)
        except NotFound:
            return False
        return True

    def _upload(self, change: Change, desired: dict[str, Any], model_id: str) -> None:
        client = self.provider.data_science
        source = desired.get("artifactPath")
        if source is None:
            self._export_from_object_storage(change, desired["artifact"], model_id)
            return
        prepared = prepare(Path(source))
        if prepared.identity != desired["identity"]:
            raise ChangeFailed(
                f"artifact {source} changed since the plan ({prepared.identity[:19]} != "
                f"{desired['identity'][:19]}); plan again"
            )
        if prepared.size > self.options.large_artifact_bytes:
            with tempfile.TemporaryDirectory(prefix="mdr-artifact-") as tmp:
                result = package(Path(source), Path(tmp) / "artifact.zip")
                uri = self._stage_large_artifact(change, result.path, result.size_bytes)
            self._export_from_object_storage(change, uri, model_id)
            return
        # streamed: the zip is made while the request is sent, with no temporary file (see zipstream)
        stream = ZipStream(prepared)
        body: Any = _CrashMidStream(stream) if crash_armed("during:CreateModelArtifact") else stream
        try:
            self._write(
                change,
                "CreateModelArtifact",
                client.create_model_artifact,
                model_id,
                body,
                content_length=prepared.size,
                content_disposition='attachment; filename="artifact.zip"',
            )
        except Conflict:
            pass  # already uploaded by an earlier, interrupted run

    def _stage_large_artifact(self, change: Change, path: Path, size: int) -> str:
        if self.options.artifact_bucket is None:
            raise ChangeFailed(
                f"artifact is {size} bytes, above the direct-upload threshold; set artifacts.bucket in mdr.yaml"
            )
        bucket, namespace, prefix = self.options.artifact_bucket
        namespace = namespace or self.provider.namespace()
        name = f"{prefix}artifacts/{change.id.replace('/', '_')}.zip"
        manager = oci.object_storage.UploadManager(self.provider.object_storage, allow_parallel_uploads=True)
        self.provider.stats.record("PutObject", ok=True)
        manager.upload_file(namespace, bucket, name, str(path))
        self.audit.write(
            change.key, "PutObject", "accepted", resource_id=f"oci://{bucket}@{namespace}/{name}"
        )
        return f"oci://{bucket}@{namespace}/{name}"

    def _export_from_object_storage(self, change: Change, uri: str, model_id: str) -> None:
        rest = uri[len("oci://") :]
        bucket_ns, _, name = rest.partition("/")
        bucket, _, namespace = bucket_ns.partition("@")
        details = ds.ExportModelArtifactDetails(
            artifact_export_details=ds.ArtifactExportDetailsObjectStorage(
                namespace=namespace,
                source_bucket=bucket,
                source_object_name=name,
                source_region=self.provider.region,
            )
        )
        client = self.provider.data_science
        response = self._write(change, "ExportModelArtifact", client.export_model_artifact, model_id, details)
        work_request_id = response.headers.get("opc-work-request-id")
        if work_request_id:
            self._record(change, "ExportModelArtifact", model_id, work_request_id, "started")
            self._wait_work_request(client, work_request_id, change, "ExportModelArtifact")
            self._record(change, "ExportModelArtifact", model_id, work_request_id, "done")

    # -- deployments --

    def _deployment(self, change: Change, desired: dict[str, Any]) -> str | None:
        current = change.live_id
        for step in change.steps:
            op = step.op
            if op == "DeleteModelDeployment":
                assert current is not None
                self._delete_deployment(change, current)
                current = None
            elif op == "CreateModelDeployment":
                current = self._create_deployment(change, desired)
            elif op == "UpdateModelDeployment":
                assert current is not None
                self._update_deployment(change, desired, current, list(step.paths), step.group)
            elif op in ("ActivateModelDeployment", "DeactivateModelDeployment"):
                assert current is not None
                self._toggle(change, current, op)
            elif op == "ChangeModelDeploymentCompartment":
                assert current is not None
                self._move(change, current, desired["compartmentId"])
            elif op == "UntagModelDeployment":
                assert current is not None
                self._untag(change, current)
            else:
                raise ChangeFailed(f"unknown step {op}")
        return current

    def _deployment_tags(self, change: Change, desired: dict[str, Any]) -> dict[str, str]:
        return {
            **desired.get("freeformTags", {}),
            **self._ownership(change.key),
            **desired.get("ownershipTags", {}),
        }

    def _secrets(self, change: Change, desired: dict[str, Any]) -> dict[str, str]:
        values = {}
        for name, source in (desired["runtime"].get("secretEnv") or {}).items():
            variable = source["fromEnv"]
            value = os.environ.get(variable)
            if value is None:
                raise ChangeFailed(
                    f"secret {name} needs the environment variable {variable}, which is not set"
                )
            values[name] = value
        return values

    def _find_deployment(self, compartment: str, key: str, display_name: str) -> tuple[Any | None, list[str]]:
        """The owned deployment for ``key`` if one exists, and the ids of earlier attempts that failed or
        were deleted (they make the next create's retry token new: the service would otherwise replay the
        failed attempt's response for 24 hours)."""
        items = self.provider.list_all(
            "ListModelDeployments",
            self.provider.data_science.list_model_deployments,
            compartment,
            display_name=display_name,
        )
        mine = [
            d
            for d in items
            if (d.freeform_tags or {}).get(TAG_STACK) == self.stack
            and (d.freeform_tags or {}).get(TAG_KEY) == key
        ]
        owned = [d for d in mine if d.lifecycle_state not in GONE_STATES]
        if len(owned) > 1:
            ids = ", ".join(d.id for d in owned)
            raise ChangeFailed(f"{key}: more than one owned deployment ({ids}); delete the extra one(s)")
        retired = sorted(d.id for d in mine if d.lifecycle_state in ("FAILED", *GONE_STATES))
        return (owned[0] if owned else None), retired

    def _create_deployment(self, change: Change, desired: dict[str, Any]) -> str:
        client = self.provider.data_science
        existing, retired = self._find_deployment(
            desired["compartmentId"], change.key, desired["displayName"]
        )
        if existing is not None and existing.lifecycle_state != "FAILED":
            self.options.progress(f"{change.key}: found {existing.id} from an earlier run; resuming")
            pending = self._pending.get((change.id, "CreateModelDeployment"))
            if pending and pending.work_request_id and pending.resource_id == existing.id:
                self._wait_work_request(client, pending.work_request_id, change, "CreateModelDeployment")
            return self._settle(change, existing.id, "ACTIVE")
        tags = self._deployment_tags(change, desired)
        details = create_deployment_details(desired, self._secrets(change, desired), tags)
        token = retry_token(self.stack, change.key, "CreateModelDeployment", tags[TAG_SPEC], retired)
        response = self._write(
            change, "CreateModelDeployment", client.create_model_deployment, details, opc_retry_token=token
        )
        deployment_id = str(response.data.id)
        work_request_id = response.headers.get("opc-work-request-id")
        self._record(change, "CreateModelDeployment", deployment_id, work_request_id, "started")
        if work_request_id:
            self._wait_work_request(client, work_request_id, change, "CreateModelDeployment")
        self._settle(change, deployment_id, "ACTIVE")
        self._record(change, "CreateModelDeployment", deployment_id, work_request_id, "done")
        return deployment_id

    def _get(self, deployment_id: str) -> Any:
        return self.provider.call(
            "GetModelDeployment", self.provider.data_science.get_model_deployment, deployment_id
        )

    def _settle(self, change: Change, deployment_id: str, expected: str | None) -> str:
        """Wait until the deployment leaves transitional states; verify it reached ``expected``."""
        started = time.monotonic()
        deadline = started + self.options.timeout_seconds
        while True:
            data = self._get(deployment_id).data
            state = str(data.lifecycle_state)
            if state in SETTLED_STATES:
                break
            self._check_abort(f"waiting for {deployment_id}")
            if time.monotonic() > deadline:
                raise ChangeFailed(f"{deployment_id} still {state} after {self.options.timeout_seconds:g}s")
            time.sleep(self._poll_delay(started))
        if expected is not None and state != expected:
            detail = f": {data.lifecycle_details}" if getattr(data, "lifecycle_details", None) else ""
            raise ChangeFailed(f"{deployment_id} ended {state}, expected {expected}{detail}")
        return deployment_id

    def _expected_state(self, desired: dict[str, Any], current: Any) -> str:
        return str(current.lifecycle_state) if current.lifecycle_state in ("ACTIVE", "INACTIVE") else "ACTIVE"

    def _update_deployment(
        self, change: Change, desired: dict[str, Any], deployment_id: str, paths: list[str], group: str | None
    ) -> None:
        client = self.provider.data_science
        self._settle(change, deployment_id, None)
        response = self._get(deployment_id)
        current = response.data
        live_model = current.model_deployment_configuration_details.model_configuration_details.model_id
        sections = sections_for_paths(paths)
        secrets = self._secrets(change, desired) if "environment" in sections else {}
        first_update = next(s for s in change.steps if s.op == "UpdateModelDeployment")
        is_first = first_update.paths == tuple(paths) and first_update.group == group
        # Tags ride on the first update of a planned change; a rollback carries no ownership tags to set.
        tags = self._deployment_tags(change, desired) if is_first and "ownershipTags" in desired else None
        details = update_deployment_details(desired, sections, live_model, secrets, tags)
        operation = "UpdateModelDeployment"
        response = self._write(
            change,
            operation,
            client.update_model_deployment,
            deployment_id,
            details,
            if_match=response.headers.get("etag"),
        )
        work_request_id = response.headers.get("opc-work-request-id")
        self._record(change, f"{operation}:{group}", deployment_id, work_request_id, "started")
        if work_request_id:
            self._wait_work_request(client, work_request_id, change, f"{operation} ({group})")
        self._settle(change, deployment_id, self._expected_state(desired, current))
        self._record(change, f"{operation}:{group}", deployment_id, work_request_id, "done")

    def _toggle(self, change: Change, deployment_id: str, operation: str) -> None:
        client = self.provider.data_science
        activate = operation == "ActivateModelDeployment"
        self._settle(change, deployment_id, None)
        state = str(self._get(deployment_id).data.lifecycle_state)
        if state == ("ACTIVE" if activate else "INACTIVE"):
            return  # already there (e.g. a re-run after a crash)
        fn = client.activate_model_deployment if activate else client.deactivate_model_deployment
        response = self._write(change, operation, fn, deployment_id)
        work_request_id = response.headers.get("opc-work-request-id")
        if work_request_id:
            self._wait_work_request(client, work_request_id, change, operation)
        self._settle(change, deployment_id, "ACTIVE" if activate else "INACTIVE")

    def _move(self, change: Change, deployment_id: str, compartment: str) -> None:
        client = self.provider.data_science
        details = ds.ChangeModelDeploymentCompartmentDetails(compartment_id=compartment)
        response = self._write(
            change,
            "ChangeModelDeploymentCompartment",
            client.change_model_deployment_compartment,
            deployment_id,
            details,
        )
        work_request_id = response.headers.get("opc-work-request-id")
        if work_request_id:
            self._wait_work_request(client, work_request_id, change, "ChangeModelDeploymentCompartment")
        self._settle(change, deployment_id, None)

    def _delete_deployment(self, change: Change, deployment_id: str) -> None:
        client = self.provider.data_science
        try:
            response = self._write(
                change, "DeleteModelDeployment", client.delete_model_deployment, deployment_id
            )
        except NotFound:
            return
        work_request_id = response.headers.get("opc-work-request-id")
        self._record(change, "DeleteModelDeployment", deployment_id, work_request_id, "started")
        if work_request_id:
            self._wait_work_request(client, work_request_id, change, "DeleteModelDeployment")
        self._record(change, "DeleteModelDeployment", deployment_id, work_request_id, "done")

    def _untag(self, change: Change, deployment_id: str) -> None:
        client = self.provider.data_science
        self._settle(change, deployment_id, None)
        current = self._get(deployment_id).data
        tags = {k: v for k, v in (current.freeform_tags or {}).items() if not k.startswith(OWNERSHIP_PREFIX)}
        details = ds.UpdateModelDeploymentDetails(freeform_tags=tags)
        response = self._write(
            change, "UpdateModelDeployment", client.update_model_deployment, deployment_id, details
        )
        work_request_id = response.headers.get("opc-work-request-id")
        if work_request_id:
            self._wait_work_request(client, work_request_id, change, "UpdateModelDeployment (untag)")


def _by_name(items: list[Any], name: str) -> tuple[str | None, list[str]]:
    """The usable log group or log with that display name, and the ids of failed attempts at it (they make
    the next create's retry token new, see ``retry_token``)."""
    named = [i for i in items if i.display_name == name]
    usable = [i.id for i in named if i.lifecycle_state not in LOGGING_GONE]
    return (usable[0] if usable else None), sorted(i.id for i in named if i.lifecycle_state == "FAILED")


def crash_armed(name: str) -> bool:
    return os.environ.get("MDR_CRASH_AT") == name


class _CrashMidStream:
    """An upload body that kills the process once part of it has been sent (``during:`` crash points)."""

    def __init__(self, raw: ZipStream) -> None:
        self._raw = raw
        self._sent = 0

    def __len__(self) -> int:
        return len(self._raw)

    def read(self, size: int = -1) -> bytes:
        if self._sent:
            crash_point("during:CreateModelArtifact")
        chunk = self._raw.read(min(size, 512) if size > 0 else 512)  # small: there is a middle to crash in
        self._sent += len(chunk)
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()


def crash_point(name: str) -> None:
    """Fault injection for crash-safety tests: ``MDR_CRASH_AT=after:CreateModelDeployment`` kills the process
    (SIGKILL, no cleanup) the first time that point is reached. Never set in normal use."""
    if crash_armed(name):
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def _resource_from(request: Any, entity_hint: str = "") -> str | None:
    """The created resource's OCID from a work request's ``resources``."""
    if request is None:
        return None
    for resource in request.resources or []:
        identifier = getattr(resource, "identifier", None)
        entity = str(getattr(resource, "entity_type", "") or "").lower()
        if identifier and (not entity_hint or entity_hint in entity or f".{entity_hint}." in identifier):
            if entity_hint == "log" and "loggroup" in identifier:
                continue
            return str(identifier)
    return None


def _describe_error(exc: BaseException) -> str:
    return describe_cloud_error(exc) if isinstance(exc, cloud_errors()) else str(exc)
