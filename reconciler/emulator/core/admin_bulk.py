"""Admin writes that bypass the OCI API: bulk-loading resources, and patching a stored resource.

For benchmarks and tests only, under the unsigned ``/_emulator/`` prefix (documented in docs/cli.md), never
counted as API calls:

- ``POST /_emulator/bulk`` ``{"collection": "deployments", "items": [{...}, ...]}`` stores each item (the
  camelCase wire form the service answers with) directly, as if it had been created and had settled: an id,
  ``timeCreated``, ``lifecycleState`` ACTIVE, empty tags and an etag are filled in when the item leaves them
  out, and ``{id}`` in a top-level string (a predict URL) becomes the new id. Admin bodies are limited to
  1 MiB, so a large load goes in chunks (500 deployments a request): 10,000 deployments load in seconds,
  where creating them through the API takes minutes. Answers ``{"ids": [...]}`` in order.
- ``POST /_emulator/patch`` ``{"collection": ..., "id": ..., "fields": {...}}`` merges ``fields`` into one
  stored resource: how a test makes the service answer with a field the SDK does not know yet.
"""

from __future__ import annotations

from typing import Any

from reconciler.emulator.core.errors import ApiError, invalid, not_found
from reconciler.emulator.core.http import Request, Response, error_response
from reconciler.emulator.core.store import Store, new_etag, now_rfc3339

#: the collections the admin API writes, with the OCID kind of a new item's id
BULK_KINDS = {
    "projects": "datascienceproject",
    "models": "datasciencemodel",
    "deployments": "datasciencemodeldeployment",
    "log_groups": "loggroup",
    "logs": "log",
}


def _collection(body: dict[str, Any]) -> str:
    name = body.get("collection")
    if name not in BULK_KINDS:
        raise invalid(f"collection must be one of {', '.join(sorted(BULK_KINDS))}; got {name!r}")
    return str(name)


def bulk_load(store: Store, body: dict[str, Any]) -> list[str]:
    """Store ``body["items"]`` in ``body["collection"]`` directly; returns their ids, in order."""
    collection = _collection(body)
    items = body.get("items")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise invalid("items must be a list of JSON objects")
    for index, item in enumerate(items):
        if not item.get("compartmentId"):
            raise invalid(f"items[{index}] has no compartmentId")
    stored = store.data[collection]
    created = now_rfc3339()
    ids = []
    with store.lock:
        for item in items:
            resource_id = str(item.get("id") or store.new_id(BULK_KINDS[collection]))
            resource = {
                "id": resource_id,
                "timeCreated": created,
                "lifecycleState": "ACTIVE",
                "freeformTags": {},
                "definedTags": {},
                **{k: _with_id(v, resource_id) for k, v in item.items() if not k.startswith("_")},
                "_etag": new_etag(),
            }
            stored[resource_id] = resource
            ids.append(resource_id)
        store.save()
    return ids


def _with_id(value: Any, resource_id: str) -> Any:
    return value.replace("{id}", resource_id) if isinstance(value, str) else value


def patch(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    """Merge ``body["fields"]`` into one stored resource; returns it as stored."""
    collection = _collection(body)
    fields = body.get("fields")
    if not isinstance(fields, dict) or any(str(k).startswith("_") or k == "id" for k in fields):
        raise invalid("fields must be a JSON object, without id or keys starting with _")
    with store.lock:
        resource = store.data[collection].get(str(body.get("id")))
        if resource is None:
            raise not_found(f"{collection} {body.get('id')}")
        resource.update(fields)
        resource["_etag"] = new_etag()
        store.save()
        return {k: v for k, v in resource.items() if not k.startswith("_")}


def handle(store: Store, request: Request) -> Response | None:
    """The answer to a bulk or patch admin request; None for any other path."""
    if request.path not in ("/_emulator/bulk", "/_emulator/patch"):
        return None
    try:
        if request.method != "POST":
            raise ApiError(405, "MethodNotAllowed", f"{request.path} takes POST")
        if request.path == "/_emulator/bulk":
            return Response(200, {"ids": bulk_load(store, request.json_object())})
        return Response(200, patch(store, request.json_object()))
    except ApiError as exc:
        return error_response(exc)
