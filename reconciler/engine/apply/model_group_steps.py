"""Model groups: a group version is looked up by its ownership tags and content digest (``mdr-artifact``)
before any create, so a crash between "created" and "recorded" never makes a second one; it is created with
its members' OCIDs (resolved from the models this apply made), joined to its version history (found by name,
created when missing, never deleted by mdr), and waited for until ACTIVE.
"""

from __future__ import annotations

import time
from typing import Any

from oci.data_science import models as ds

from reconciler.adapters.wire import metadata_lists
from reconciler.core.canonical import TAG_ARTIFACT, TAG_KEY, TAG_STACK
from reconciler.core.live import GONE_STATES
from reconciler.core.plan import Change
from reconciler.engine.apply.calls import Calls, retry_token
from reconciler.engine.apply.options import ChangeFailed

GROUP_TYPES = {
    "HOMOGENEOUS": ds.HomogeneousModelGroupDetails,
    "HETEROGENEOUS": ds.HeterogeneousModelGroupDetails,
}


def group_details(desired: dict[str, Any], custom: list[Any]) -> ds.ModelGroupDetails:
    """The type-specific part of a group: a STACKED group also names its base model (one of its members,
    resolved from this apply's models like every member)."""
    if desired["type"] == "STACKED":
        return ds.StackedModelGroupDetails(
            custom_metadata_list=custom or None, base_model_id=desired["baseModelId"]
        )
    return GROUP_TYPES[desired["type"]](custom_metadata_list=custom or None)


class ModelGroupSteps:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls
        self.provider = calls.provider
        self.options = calls.options

    def model_group(self, change: Change, desired: dict[str, Any]) -> str | None:
        existing = self._find(desired["compartmentId"], change.key, desired["digest"])
        group_id = existing or self._create(change, desired)
        self._settle(group_id)
        self.calls.record(change, "CreateModelGroup", group_id, None, "done")
        return group_id

    def _find(self, compartment: str, key: str, digest: str) -> str | None:
        """An owned group of ``key`` holding exactly this (an earlier run made it), not being deleted."""
        client = self.provider.data_science
        items = self.provider.list_all("ListModelGroups", client.list_model_groups, compartment)
        found = [
            g
            for g in items
            if (g.freeform_tags or {}).get(TAG_STACK) == self.calls.stack
            and (g.freeform_tags or {}).get(TAG_KEY) == key
            and (g.freeform_tags or {}).get(TAG_ARTIFACT) == digest
            and g.lifecycle_state not in (*GONE_STATES, "FAILED")
        ]
        return str(found[0].id) if found else None

    def _create(self, change: Change, desired: dict[str, Any]) -> str:
        client = self.provider.data_science
        _, custom = metadata_lists(desired)
        details = ds.CreateModelGroupDetails(
            compartment_id=desired["compartmentId"],
            project_id=desired["projectId"],
            display_name=desired["displayName"],
            description=desired.get("description"),
            model_group_details=group_details(desired, custom),
            member_model_entries=ds.MemberModelEntries(
                member_model_details=[
                    ds.MemberModelDetails(inference_key=m["inferenceKey"], model_id=m["modelId"])
                    for m in desired["members"]
                ]
            ),
            model_group_version_history_id=self._version_history(change, desired),
            version_label=desired.get("versionLabel"),
            freeform_tags=self.calls.ownership(change.key, {TAG_ARTIFACT: desired["digest"]}),
        )
        token = retry_token(self.calls.stack, change.key, "CreateModelGroup", details)
        response = self.calls.write(
            change, "CreateModelGroup", client.create_model_group, details, opc_retry_token=token
        )
        group_id = str(response.data.id)
        work_request_id = response.headers.get("opc-work-request-id")
        self.calls.record(change, "CreateModelGroup", group_id, work_request_id, "started")
        if work_request_id:
            self.calls.wait_work_request(client, work_request_id, change, "CreateModelGroup")
        return group_id

    def _version_history(self, change: Change, desired: dict[str, Any]) -> str | None:
        """The OCID of the version history the manifest names, created when missing."""
        name = desired.get("versionHistory")
        if not name:
            return None
        client = self.provider.data_science
        compartment = desired["compartmentId"]
        found = [
            h
            for h in self.provider.list_all(
                "ListModelGroupVersionHistories",
                client.list_model_group_version_histories,
                compartment,
                display_name=name,
            )
            if h.lifecycle_state == "ACTIVE"
        ]
        if found:
            return str(found[0].id)
        details = ds.CreateModelGroupVersionHistoryDetails(
            compartment_id=compartment,
            project_id=desired["projectId"],
            display_name=name,
            description=f"versions of {change.key.split('/', 1)[-1]}'s model group (created by mdr)",
        )
        response = self.calls.write(
            change, "CreateModelGroupVersionHistory", client.create_model_group_version_history, details
        )
        return str(response.data.id)

    def _settle(self, group_id: str) -> None:
        """Wait until the group is ACTIVE (a deployment can serve no other)."""
        started = time.monotonic()
        deadline = started + self.options.timeout_seconds
        while True:
            data = self.provider.call(
                "GetModelGroup", self.provider.data_science.get_model_group, group_id
            ).data
            if data.lifecycle_state == "ACTIVE":
                return
            if data.lifecycle_state != "CREATING":
                detail = f": {data.lifecycle_details}" if data.lifecycle_details else ""
                raise ChangeFailed(f"model group {group_id} is {data.lifecycle_state}{detail}")
            self.calls.check_abort(f"waiting for model group {group_id}")
            if time.monotonic() > deadline:
                raise ChangeFailed(
                    f"model group {group_id} still CREATING after {self.options.timeout_seconds:g}s"
                )
            time.sleep(self.calls.poll_delay(started))
