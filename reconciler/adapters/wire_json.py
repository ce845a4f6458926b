"""List pages read as plain JSON, through the SDK's own signed and retried request path, without models.

Building an SDK model object for every item of a list page and flattening it again with ``oci.util.to_dict``
was most of a plan's CPU. Here a page comes back as bytes (``response_type="bytes"``: the SDK still signs,
retries, breaks circuits and raises ``ServiceError``), is parsed with ``json``, and each item is converted
straight into the dict ``to_dict`` would have produced, by a converter compiled once per SDK model type from
that type's ``swagger_types`` and ``attribute_map``:

- every field the SDK knows appears under its snake_case name (``None`` when the service left it out), with
  the SDK's own value conversions (``float`` for float fields, dates as the ISO strings ``to_dict`` writes,
  ``UNKNOWN_ENUM_VALUE`` for an enum value the SDK does not know, the polymorphic subtype a discriminator
  names);
- map-valued fields (freeform and defined tags, environment variables, ``object`` fields) keep their keys;
- a field the SDK does **not** know is kept too, its name (and the keys below it) turned from camelCase into
  snake_case: a service newer than the SDK shows what it added instead of silently hiding it.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import oci

Convert = Callable[[Any], Any]

#: the value the SDK's enum setters store for a value they do not know
UNKNOWN_ENUM = "UNKNOWN_ENUM_VALUE"
_PROBE = "\x00mdr-probe"
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_LIST = re.compile(r"list\[(.*)\]")
_DICT = re.compile(r"dict\(([^,]*), (.*)\)")
_SDK_DATETIME = "%Y-%m-%dT%H:%M:%S.%fZ"


def snake(name: str) -> str:
    """``modelDeploymentUrl`` -> ``model_deployment_url``, for field names the SDK does not know."""
    return _CAMEL.sub(r"\1_\2", name).lower()


def _key(key: Any) -> Any:
    """``oci.util.to_dict`` renames these two keys wherever they appear; so do we, to stay identical."""
    return "self" if key in ("_self", "self_uri") else key


def plain(value: Any) -> Any:
    """A JSON value as ``to_dict`` returns an ``object`` field or a map: keys kept, containers copied."""
    if isinstance(value, dict):
        return {_key(_text(k)): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return _text(value) if type(value) is str else value


def unknown(value: Any) -> Any:
    """A field the SDK does not know: kept, with camelCase keys turned into snake_case all the way down."""
    if isinstance(value, dict):
        return {snake(k): unknown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unknown(v) for v in value]
    return value


def iso_datetime(value: Any, fallback: Callable[[Any, str], Any]) -> Any:
    """A service timestamp as ``to_dict`` writes it (``...+00:00``), parsed as the SDK parses it: its own
    format here, anything else by ``fallback`` (the SDK's deserializer)."""
    if not isinstance(value, str):
        return value
    try:
        parsed = datetime.strptime(value, _SDK_DATETIME).replace(tzinfo=UTC)
    except ValueError:
        return oci.util.to_dict(fallback(value, "datetime"))
    return parsed.isoformat(sep="T")


def _primitive(kind: type) -> Convert:
    def convert(value: Any) -> Any:
        try:
            return kind(value)
        except TypeError:  # what the SDK's __deserialize_primitive does
            return value

    return convert


#: strings up to this long are interned: the values repeated across a large stack's items (compartment,
#: project and model ids, states, shapes, tag values) are then held once, not once per deployment
INTERN_MAX = 128


def _text(value: str) -> str:
    return sys.intern(value) if len(value) <= INTERN_MAX else value


def _identity(value: Any) -> Any:
    if type(value) is str:
        return _text(value)
    return plain(value) if isinstance(value, dict | list) else value


def _none_safe(convert: Convert) -> Convert:
    return lambda value: None if value is None else convert(value)


class Converters:
    """Converters per SDK type name, compiled on first use from one client's type mappings; thread-safe."""

    def __init__(self, type_mappings: dict[str, Any], deserialize: Callable[[bytes, str], Any]) -> None:
        self._types = type_mappings
        self._deserialize = deserialize
        self._cache: dict[str, Convert] = {}
        self._models: dict[type, tuple[dict[str, Any], dict[str, tuple[str, Convert]]]] = {}
        self._lock = threading.RLock()

    def for_type(self, name: str) -> Convert:
        convert = self._cache.get(name)
        if convert is None:
            with self._lock:
                convert = self._cache.get(name) or self._compile(name)
                self._cache[name] = convert
        return convert

    def _compile(self, name: str) -> Convert:
        listed = _LIST.fullmatch(name)
        if listed:
            item = _none_safe(self.for_type(listed.group(1)))
            return lambda value: [item(v) for v in value] if isinstance(value, list) else _identity(value)
        mapped = _DICT.fullmatch(name)
        if mapped:
            entry = _none_safe(self.for_type(mapped.group(2)))
            return lambda value: (
                {_key(_text(k)): entry(v) for k, v in value.items()} if isinstance(value, dict) else value
            )
        kind = self._types.get(name)
        if kind is None or name in ("str", "object"):  # the SDK keeps these as they came (enums: ``_enum``)
            return _identity
        if kind in (int, float, bool):
            return _primitive(kind)
        if kind is datetime:
            return lambda value: iso_datetime(value, self._sdk)
        if kind.__name__ == "date":
            return lambda value: (
                oci.util.to_dict(self._sdk(value, "date")) if isinstance(value, str) else value
            )
        return lambda value: self.model(kind, value) if isinstance(value, dict) else value

    def _sdk(self, value: Any, type_name: str) -> Any:
        """One value deserialized by the SDK itself (the rare formats the fast paths leave to it)."""
        return self._deserialize(json.dumps(value).encode(), type_name)

    def model(self, cls: type, data: dict[str, Any]) -> dict[str, Any]:
        """One JSON object as ``to_dict`` of the SDK model ``cls`` (or the subtype its discriminator names)."""
        if hasattr(cls, "get_subtype"):
            cls = self._types[cls.get_subtype(data)]
        compiled = self._models.get(cls)
        if compiled is None:
            with self._lock:
                compiled = self._models.get(cls) or self._compile_model(cls)
                self._models[cls] = compiled
        template, fields = compiled
        out = dict(template)
        for key, value in data.items():
            field = fields.get(key)
            if field is None:
                out[snake(key)] = unknown(value)
            elif value is not None:
                out[field[0]] = field[1](value)
        return out

    def _compile_model(self, cls: type) -> tuple[dict[str, Any], dict[str, tuple[str, Convert]]]:
        probe = cls()
        swagger: dict[str, str] = probe.swagger_types
        attribute_map: dict[str, str] = probe.attribute_map
        template = {_key(attr): None for attr in swagger}
        fields: dict[str, tuple[str, Convert]] = {}
        for attr, type_name in swagger.items():
            convert = self.for_type(type_name)
            convert = _enum(probe, attr, type_name) or convert
            fields[attribute_map[attr]] = (_key(attr), convert)
        return template, fields


def _enum(probe: Any, attr: str, type_name: str) -> Convert | None:
    """For an enum field (its setter stores ``UNKNOWN_ENUM_VALUE`` for a value it does not know): a
    converter that asks that very setter, once per distinct value."""
    if type_name not in ("str", "list[str]"):
        return None
    sample: Any = _PROBE if type_name == "str" else [_PROBE]
    try:
        setattr(probe, attr, sample)
        stored = getattr(probe, attr)
    except (TypeError, ValueError):
        return None
    if stored not in (UNKNOWN_ENUM, [UNKNOWN_ENUM]):
        return None
    seen: dict[str, Any] = {}
    lock = threading.Lock()

    def one(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if value not in seen:
            with lock:
                setattr(probe, attr, value)
                seen[value] = getattr(probe, attr)
        return seen[value]

    if type_name == "str":
        return one
    return lambda value: [one(v) for v in value] if isinstance(value, list) else value


_CONVERTERS: dict[type, Converters] = {}
_CONVERTERS_LOCK = threading.Lock()


def converters(client: Any) -> Converters:
    """The converters of a service client's models (each SDK service has its own type mappings)."""
    with _CONVERTERS_LOCK:
        found = _CONVERTERS.get(type(client))
        if found is None:
            base = client.base_client
            found = _CONVERTERS[type(client)] = Converters(base.type_mappings, base.deserialize_response_data)
        return found


def raw_call(
    client: Any,
    resource_path: str,
    query: dict[str, Any],
    operation_name: str,
    path_params: dict[str, str] | None = None,
    method: str = "GET",
    body: Any = None,
) -> Any:
    """A call through the client's own signer, retry strategy and circuit breaker; the answer stays bytes.

    The same steps as the SDK's generated methods, with ``response_type="bytes"`` instead of a model.
    Only for reads (a GET, or a search sent as POST): a write would need a retry token.
    """
    base = client.base_client
    headers = {"accept": "application/json", "content-type": "application/json"}
    strategy = base.get_preferred_retry_strategy(
        operation_retry_strategy=None, client_retry_strategy=client.retry_strategy
    )
    if strategy is None:
        strategy = oci.retry.DEFAULT_RETRY_STRATEGY
    kwargs: dict[str, Any] = {
        "resource_path": resource_path,
        "method": method,
        "path_params": path_params,
        "query_params": query,
        "header_params": headers,
        "body": body,
        "response_type": "bytes",
        "operation_name": operation_name,
        # as the generated method names them (an endpoint template may use them)
        "required_arguments": sorted(path_params or {})
        + (["compartmentId"] if "compartmentId" in query else []),
    }
    if isinstance(strategy, oci.retry.NoneRetryStrategy):
        return base.call_api(**kwargs)
    base.add_opc_client_retries_header(headers)
    strategy.add_circuit_breaker_callback(client.circuit_breaker_callback)
    return strategy.make_retrying_call(base.call_api, **kwargs)


def list_pages(
    provider: Any,
    operation: str,
    client: Any,
    resource_path: str,
    item_type: str,
    query: dict[str, Any],
    path_params: dict[str, str] | None = None,
    page_size: int = 100,
) -> Iterator[list[dict[str, Any]]]:
    """Every page of a list call as to_dict-shaped dicts; the next page is fetched while one is parsed.

    Each page is one call counted by ``provider`` (with its budget and typed errors). A provider with
    ``shared_reads`` (a fleet's stacks) shares the pages with the other stacks' providers (``shared_reads``).
    """
    shared = getattr(provider, "shared_reads", None)
    if shared is not None:
        key = (operation, resource_path, json.dumps([query, path_params, page_size], sort_keys=True))
        pages = page_chain(
            provider, operation, client, resource_path, item_type, query, path_params, page_size
        )
        yield from shared.pages(key, lambda: list(pages))
        return
    yield from page_chain(
        provider, operation, client, resource_path, item_type, query, path_params, page_size
    )


def page_chain(
    provider: Any,
    operation: str,
    client: Any,
    resource_path: str,
    item_type: str,
    query: dict[str, Any],
    path_params: dict[str, str] | None,
    page_size: int,
) -> Iterator[list[dict[str, Any]]]:
    convert = converters(client).for_type(item_type)
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()

    def fetch(page: str | None) -> Any:
        params = {**query, "limit": page_size, **({"page": page} if page else {})}
        return provider.call(operation, raw_call, client, resource_path, params, name, path_params)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mdr-page") as pool:
        pending: Future[Any] | None = pool.submit(fetch, None)
        while pending is not None:
            response = pending.result()
            pending = pool.submit(fetch, response.next_page) if response.has_next_page else None
            items = json.loads(response.data) if response.data else []
            yield convert(items) if isinstance(items, list) else []
