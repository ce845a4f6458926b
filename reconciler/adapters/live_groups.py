"""This stack's model groups, read for the plan of ``spec.modelGroup`` deployments.

Read only when an owned deployment serves a model group (a stack without one pays no call for them): one
paginated ListModelGroups per compartment, then one GetModelGroup per group a live deployment serves, as a
list summary leaves out the members (what the plan compares, member by member).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from reconciler.adapters.cloud_errors import NotFound
from reconciler.adapters.wire_json import list_pages
from reconciler.core.from_live import GROUP_RECORD, group_record
from reconciler.core.live import GONE_STATES, LiveModelGroup, LiveState, Owned


def read_model_groups(provider: Any, state: LiveState, compartments: Iterable[str]) -> None:
    """Fill ``state.model_groups`` when a live deployment of the stack serves a model group."""
    served = {d.group_id for d in [*state.deployments, *state.adoptable.values()] if d.group_id}
    if not served:
        return
    client = provider.data_science
    for compartment in sorted(set(compartments)):
        pages = list_pages(
            provider,
            "ListModelGroups",
            client,
            "/modelGroups",
            "list[ModelGroupSummary]",
            {"compartmentId": compartment},
        )
        for page in pages:
            for wire in page:
                owned = Owned.from_tags(wire.get("freeform_tags"), state.stack)
                if (owned.key or wire["id"] in served) and wire.get("lifecycle_state") not in GONE_STATES:
                    state.model_groups.append(LiveModelGroup(wire["id"], owned.key, wire))
    for group in state.model_groups:
        if group.id in served:
            group.members = _members(provider, group.id)
    state.api_calls = provider.stats.snapshot()


def _members(provider: Any, group_id: str) -> dict[str, str] | None:
    """inference key (or the model OCID when it has none) -> model OCID; None when the group is gone."""
    try:
        data = provider.call("GetModelGroup", provider.data_science.get_model_group, group_id).data
    except NotFound:
        return None
    entries = getattr(data.member_model_entries, "member_model_details", None) or []
    return {str(e.inference_key or e.model_id): str(e.model_id) for e in entries}


def attach_model_groups(provider: Any, records: list[dict[str, Any]]) -> None:
    """Put each MODEL_GROUP deployment's group (type and members) into its record for ``mdr import``
    (``from_live.GROUP_RECORD``): one GetModelGroup per group deployment imported."""
    for wire in records:
        config = wire.get("model_deployment_configuration_details") or {}
        group_id = (config.get("model_group_configuration_details") or {}).get("model_group_id")
        if not group_id:
            continue
        try:
            data = provider.call("GetModelGroup", provider.data_science.get_model_group, group_id).data
        except NotFound:
            continue  # the import says the group could not be read
        entries = getattr(data.member_model_entries, "member_model_details", None) or []
        members = [(e.inference_key, str(e.model_id)) for e in entries]
        details = data.model_group_details
        base = getattr(details, "base_model_id", None)
        wire[GROUP_RECORD] = group_record(getattr(details, "type", None), members, base)
