"""Read a stack's live state with a handful of paginated list calls.

List summaries carry the whole deployment configuration, so there is no per-resource GET: a stack of N
deployments costs ceil(N/100) list calls per resource type per compartment, plus one ``list_logs`` per log
group the stack uses. Ownership is decided client-side from freeform tags (``reconciler.core.live``).

Pages are read as plain JSON (``wire_json``): no SDK model objects, the next page fetched while one is
parsed, and each page dropped once its items are in the state, so memory grows with the stack, not with it
twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import oci

from reconciler.adapters.both_ends import pages_from_both_ends
from reconciler.adapters.cloud_errors import BadRequest, NotAuthorized, NotFound
from reconciler.adapters.live_groups import read_model_groups
from reconciler.adapters.wire_json import list_pages, raw_call
from reconciler.core.canonical import TAG_STACK
from reconciler.core.live import (
    LOGGING_GONE,
    LiveLog,
    LiveLogGroup,
    LiveModel,
    LiveState,
    Owned,
    add_deployment,
)


def wire_of(item: Any) -> dict[str, Any]:
    """An SDK model object as the snake_case dict the list readers yield (for GETs and other callers)."""
    data = oci.util.to_dict(item)
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items()}


def deployment_pages(provider: Any, compartment: str, expected: int = 0) -> Any:
    """ListModelDeployments of one compartment, page by page, as wire dicts (see ``wire_json``), read from
    both ends at once (``both_ends``): a stack of N deployments waits about N/200 round trips, not N/100.
    ``expected``: about how many there are (the stack's manifests)."""
    return pages_from_both_ends(
        provider,
        "ListModelDeployments",
        provider.data_science,
        "/modelDeployments",
        "list[ModelDeploymentSummary]",
        {"compartmentId": compartment},
        expected=expected,
    )


def _items(provider: Any, operation: str, client: Any, path: str, item_type: str, **params: str) -> Any:
    """Every item of a list call, as wire dicts; ``logGroupId`` is a path parameter, the rest query."""
    path_params = {"logGroupId": params.pop("logGroupId")} if "logGroupId" in params else None
    for page in list_pages(provider, operation, client, path, item_type, params, path_params):
        yield from page


def read_live(
    provider: Any,
    stack: str,
    compartments: Iterable[str],
    log_group_names: set[str],
    log_group_ids: Iterable[str] = (),
) -> LiveState:
    """Read this stack's live state with paginated list calls only (see the module docstring for costs).

    ``log_group_names`` and ``log_group_ids`` are the groups the manifests name or reference: their logs
    are listed even when another stack or a person owns the group, so that an existing log is reused
    instead of duplicated (a group given by id may live in a compartment no manifest names).
    """
    state = LiveState(stack)
    compartments = sorted(set(compartments))
    # deployment pages must be read one after the other; models and logs are read meanwhile (they fill
    # other lists of the state, so the two threads never touch the same list)
    with ThreadPoolExecutor(max_workers=1) as pool:
        others = pool.submit(
            read_models_and_logs, provider, state, compartments, log_group_names, set(log_group_ids)
        )
        read_deployments(provider, state, compartments)
        others.result()
    read_model_groups(provider, state, compartments)  # only when a deployment serves one
    state.api_calls = provider.stats.snapshot()
    return state


def read_deployments(provider: Any, state: LiveState, compartments: Iterable[str], expected: int = 0) -> None:
    """The stack's deployments, page after page (each page is parsed while the next is fetched);
    ``expected``: about how many the stack has (its manifests)."""
    for compartment in sorted(set(compartments)):
        for page in deployment_pages(provider, compartment, expected):
            for wire in page:
                add_deployment(state, wire)
    # the pages came from both ends in no set order: newest first, as the service lists them by default,
    # so that plans and messages (two deployments with one key) read the same from run to run
    state.deployments.sort(key=lambda d: (str(d.wire.get("time_created") or ""), d.id), reverse=True)


def read_models_and_logs(
    provider: Any,
    state: LiveState,
    compartments: Iterable[str],
    log_group_names: set[str],
    log_group_ids: set[str] | None = None,
) -> None:
    """Models, log groups and their logs: what a plan needs besides the deployments themselves."""
    stack = state.stack
    ids = log_group_ids or set()
    for compartment in sorted(set(compartments)):
        ds = provider.data_science
        for wire in _items(
            provider, "ListModels", ds, "/models", "list[ModelSummary]", compartmentId=compartment
        ):
            owned = Owned.from_tags(wire.get("freeform_tags"), stack)
            if owned.key and wire.get("lifecycle_state") != "DELETED":
                state.models.append(LiveModel(wire["id"], owned.key, wire))
        groups = _items(
            provider,
            "ListLogGroups",
            provider.logging,
            "/logGroups",
            "list[LogGroupSummary]",
            compartmentId=compartment,
        )
        for wire in groups:
            owned = Owned.from_tags(wire.get("freeform_tags"), stack)
            if (
                owned.key is None
                and wire.get("display_name") not in log_group_names
                and wire["id"] not in ids
            ):
                continue
            if wire.get("lifecycle_state") in LOGGING_GONE:
                continue
            group = LiveLogGroup(wire["id"], owned.key, wire.get("display_name") or "", compartment, wire)
            state.log_groups.append(group)
            _read_logs(provider, state, group.id)
    for group_id in sorted(ids - {g.id for g in state.log_groups}):
        try:  # a group referenced by id from a compartment the stack does not list
            _read_logs(provider, state, group_id)
        except NotFound:
            continue  # the create of its logs will say so, at the manifest's deployment
    state.api_calls = provider.stats.snapshot()


def _read_logs(provider: Any, state: LiveState, group_id: str) -> None:
    logs = _items(
        provider,
        "ListLogs",
        provider.logging,
        "/logGroups/{logGroupId}/logs",
        "list[LogSummary]",
        logGroupId=group_id,
    )
    for log_wire in logs:
        if log_wire.get("lifecycle_state") in LOGGING_GONE:
            continue
        owned = Owned.from_tags(log_wire.get("freeform_tags"), state.stack)
        state.logs.append(
            LiveLog(log_wire["id"], owned.key, group_id, log_wire.get("display_name") or "", log_wire)
        )


def searched_compartments(provider: Any, stack: str) -> set[str]:
    """Compartments holding anything tagged with this stack, anywhere in the tenancy (Resource Search).

    What a moved deployment needs when no local record says where it went (a new CI runner). A tenancy
    that does not allow the search (IAM) or a service without it answers nothing: the plan then reads the
    compartments it knows, as before. The answer names every resource of the stack (1,000 a page), so its
    pages are read as plain JSON and only each item's compartment is kept.

    A fleet's stacks (``shared_reads``) make one search per resync between them, for every resource with
    an ``mdr-stack`` tag, and each keeps its own stack's compartments: a resync of S stacks costs
    ceil(R/1000) pages for the R tagged resources, not S searches. Alone (``mdr plan``), the search asks
    for this stack's tag only: ceil(N/1000) pages for its N resources, as before.
    """
    shared = getattr(provider, "shared_reads", None)
    if shared is None:
        query = (
            f"query all resources where (freeformTags.key = '{TAG_STACK}' && freeformTags.value = '{stack}')"
        )
        return {compartment for _, compartment in _tagged_compartments(provider, query)}
    fleet_query = f"query all resources where freeformTags.key = '{TAG_STACK}'"

    def read() -> list[list[dict[str, Any]]]:
        pairs = sorted(_tagged_compartments(provider, fleet_query))
        return [[{"stack": name, "compartment": compartment} for name, compartment in pairs]]

    pages = shared.per_resync(("SearchResources", TAG_STACK), read)
    wanted = stack.lower()  # OCI Search's = ignores case, as the single-stack query does
    return {row["compartment"] for page in pages for row in page if row["stack"].lower() == wanted}


def _tagged_compartments(provider: Any, query: str) -> set[tuple[str, str]]:
    """(``mdr-stack`` value, compartment) of every resource the structured ``query`` finds, page by page;
    what was found before the search was refused (IAM, no such service) when it is."""
    details = oci.resource_search.models.StructuredSearchDetails(type="Structured", query=query)
    client = provider.resource_search
    found: set[tuple[str, str]] = set()
    page: str | None = None
    try:
        while True:  # the answer is a collection with .items, so not list_pages' shape
            params = {"limit": 1000, **({"page": page} if page else {})}
            response = provider.call(
                "SearchResources",
                raw_call,
                client,
                "/resources",
                params,
                "search_resources",
                None,
                "POST",
                details,
            )
            items = (json.loads(response.data) if response.data else {}).get("items") or []
            for item in items:
                if isinstance(item, dict) and item.get("compartmentId"):
                    tags = item.get("freeformTags") or {}
                    found.add((str(tags.get(TAG_STACK, "")), str(item["compartmentId"])))
            if not response.has_next_page:
                return found
            page = response.next_page
    except (NotFound, NotAuthorized, BadRequest):
        return found
