"""Log groups and logs: found by display name before any create, created and deleted through work requests.

A create's retry token covers its whole body and the ids of earlier attempts that failed or are gone, and a
create answered with a resource that no longer exists (the replay of an old create, e.g. of a log deleted by
hand or pruned, then named again) is sent again with that id retired (``Calls.create_fresh``).
"""

from __future__ import annotations

from typing import Any

from oci.logging import models as lg

from reconciler.adapters.cloud_errors import NotFound
from reconciler.core.live import LOGGING_GONE
from reconciler.core.plan import Action, Change
from reconciler.engine.apply.calls import Calls, retry_token
from reconciler.engine.apply.options import ChangeFailed


class LoggingSteps:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls
        self.provider = calls.provider

    def log_group(self, change: Change, desired: dict[str, Any]) -> str | None:
        client = self.provider.logging
        if change.action in (Action.DELETE, Action.ORPHAN):
            assert change.live_id is not None
            response = self.calls.write(change, "DeleteLogGroup", client.delete_log_group, change.live_id)
            self._wait(response, change, "DeleteLogGroup")
            return None
        compartment, name = desired["compartmentId"], desired["displayName"]
        found, retired = self._find_log_group(compartment, name)
        if found:
            return found
        details = lg.CreateLogGroupDetails(
            compartment_id=compartment, display_name=name, freeform_tags=self.calls.ownership(change.key)
        )

        def create(attempts: list[str]) -> str:
            token = retry_token(self.calls.stack, change.key, "CreateLogGroup", details, attempts)
            response = self.calls.write(
                change, "CreateLogGroup", client.create_log_group, details, opc_retry_token=token
            )
            request = self._wait(response, change, "CreateLogGroup")
            created = resource_from(request) or self._find_log_group(compartment, name)[0]
            if created is None:
                raise ChangeFailed(f"CreateLogGroup {name}: the work request names no log group")
            return created

        def gone(group_id: str) -> bool:
            return self._gone("GetLogGroup", client.get_log_group, group_id)

        return self.calls.create_fresh(change, "log group", retired, create, gone)

    def log(self, change: Change, desired: dict[str, Any]) -> str | None:
        client = self.provider.logging
        if change.action in (Action.DELETE, Action.ORPHAN):
            assert change.live_id is not None
            group_id = change.desired.get("logGroupId") or self._log_group_of(change.live_id)
            response = self.calls.write(change, "DeleteLog", client.delete_log, group_id, change.live_id)
            self._wait(response, change, "DeleteLog")
            return None
        group_id, name = desired["logGroupId"], desired["displayName"]
        if change.action == Action.UPDATE:  # retention, on a log this stack owns
            assert change.live_id is not None
            details = lg.UpdateLogDetails(retention_duration=desired["retentionDays"])
            response = self.calls.write(
                change, "UpdateLog", client.update_log, group_id, change.live_id, details
            )
            self._wait(response, change, "UpdateLog")
            return change.live_id
        found, retired = self._find_log(group_id, name)
        if found:
            return found
        details = lg.CreateLogDetails(
            display_name=name,
            log_type="CUSTOM",
            is_enabled=True,
            retention_duration=desired.get("retentionDays", 30),
            freeform_tags=self.calls.ownership(change.key),
        )
        # the log group is in the path, not the body: it is part of what the token covers all the same
        body = {"logGroupId": group_id, "details": details}

        def create(attempts: list[str]) -> str:
            token = retry_token(self.calls.stack, change.key, "CreateLog", body, attempts)
            response = self.calls.write(
                change, "CreateLog", client.create_log, group_id, details, opc_retry_token=token
            )
            request = self._wait(response, change, "CreateLog")
            created = resource_from(request, "log") or self._find_log(group_id, name)[0]
            if created is None:
                raise ChangeFailed(f"CreateLog {name}: the work request names no log")
            return created

        def gone(log_id: str) -> bool:
            return self._gone("GetLog", client.get_log, group_id, log_id)

        return self.calls.create_fresh(change, "log", retired, create, gone)

    def _find_log_group(self, compartment: str, name: str) -> tuple[str | None, list[str]]:
        groups = self.provider.list_all(
            "ListLogGroups", self.provider.logging.list_log_groups, compartment, display_name=name
        )
        return _by_name(groups, name)

    def _find_log(self, group_id: str, name: str) -> tuple[str | None, list[str]]:
        logs = self.provider.list_all(
            "ListLogs", self.provider.logging.list_logs, group_id, display_name=name
        )
        return _by_name(logs, name)

    def _gone(self, operation: str, fn: Any, *args: str) -> bool:
        """The log group or log was deleted (Logging forgets deleted ones: a 404) or is going."""
        try:
            data = self.provider.call(operation, fn, *args).data
        except NotFound:
            return True
        return str(data.lifecycle_state) in LOGGING_GONE - {"FAILED"}

    def _log_group_of(self, log_id: str) -> str:
        raise ChangeFailed(f"cannot delete log {log_id}: its log group is unknown to this plan")

    def _wait(self, response: Any, change: Change, operation: str) -> Any:
        work_request_id = response.headers.get("opc-work-request-id")
        if not work_request_id:
            return None
        self.calls.record(change, operation, None, work_request_id, "started")
        request = self.calls.wait_work_request(self.provider.logging, work_request_id, change, operation)
        self.calls.record(change, operation, resource_from(request), work_request_id, "done")
        return request


def _by_name(items: list[Any], name: str) -> tuple[str | None, list[str]]:
    """The usable log group or log with that display name, and the ids of attempts at it that failed or are
    gone (they make the next create's retry token new, see ``retry_token``)."""
    named = [i for i in items if i.display_name == name]
    usable = [i.id for i in named if i.lifecycle_state not in LOGGING_GONE]
    return (usable[0] if usable else None), sorted(i.id for i in named if i.lifecycle_state in LOGGING_GONE)


def resource_from(request: Any, entity_hint: str = "") -> str | None:
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
