"""Resource Search state-free rules: the structured query language subset the emulator understands.

Supported grammar (keywords, resource types and field names are case-insensitive; whitespace is free)::

    query      := "query" types "resources" [ "where" condition ]
    types      := "all" | type { "," type }
    type       := "datasciencemodeldeployment" | "datasciencemodel" | "loggroup" | "log"
    condition  := clause { "&&" clause }
    clause     := "(" tagpair ")" | "(" condition ")" | comparison
    tagpair    := "freeformTags.key" "=" STRING "&&" "freeformTags.value" "=" STRING
    comparison := field "=" STRING
    field      := "freeformTags.key" | "displayName" | "lifecycleState" | "compartmentId" | "identifier"
    STRING     := "'" { any character but "'" } "'"

``(freeformTags.key = 'K' && freeformTags.value = 'V')`` matches a resource that has the tag ``K`` with the value
``V`` (the key and the value of one tag, as OCI Search reads a parenthesised pair); ``freeformTags.key = 'K'``
alone matches a resource that has the tag ``K``. String comparisons ignore case, as OCI Search's ``=`` does.
Anything else (``||``, ``!=``, ``sorted by``, ``return``, free-text search, other types or fields) is refused
with 400 InvalidParameter rather than answered wrongly. Search spans every compartment; its results come from
the services' own state, so they are never stale (OCI's index may lag by seconds).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.emulator.core.errors import invalid
from reconciler.emulator.core.store import Store

#: query type name -> (store collection, the resourceType results carry)
TYPES = {
    "datasciencemodeldeployment": ("deployments", "DataScienceModelDeployment"),
    "datasciencemodel": ("models", "DataScienceModel"),
    "loggroup": ("log_groups", "LogGroup"),
    "log": ("logs", "Log"),
}
#: the fields a comparison may name -> the resource's key
FIELDS = {"displayName": "displayName", "lifecycleState": "lifecycleState", "compartmentId": "compartmentId"}
FIELDS["identifier"] = "id"
TOKEN = re.compile(
    r"\s*(?:(?P<string>'[^']*')|(?P<op>&&|\|\||!=|=|\(|\)|,)|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)

Predicate = Callable[[dict[str, Any]], bool]


def _tokens(text: str) -> list[str]:
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        found = TOKEN.match(text, position)
        if found is None or found.end() == position:
            raise invalid(f"cannot parse the search query at {text[position : position + 20]!r}")
        tokens.append(found.group(found.lastgroup or "word"))
        position = found.end()
    return tokens


def _has_tag(resource: dict[str, Any], key: str, value: str | None) -> bool:
    tags = resource.get("freeformTags") or {}
    return any(
        k.lower() == key.lower() and (value is None or str(v).lower() == value.lower())
        for k, v in tags.items()
    )


@dataclass
class Query:
    types: list[str]
    predicate: Predicate


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.position = 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None:
            raise invalid(f"the search query ends early{f'; expected {expected!r}' if expected else ''}")
        if expected is not None and token.lower() != expected.lower():
            raise invalid(f"the search query has {token!r} where {expected!r} was expected")
        self.position += 1
        return token

    def string(self) -> str:
        token = self.take()
        if not (len(token) >= 2 and token[0] == token[-1] == "'"):
            raise invalid(f"the search query has {token!r} where a quoted string was expected")
        return token[1:-1]

    def query(self) -> Query:
        self.take("query")
        types = self.types()
        self.take("resources")
        predicate: Predicate = lambda resource: True  # noqa: E731
        if self.peek() is not None:
            self.take("where")
            predicate = self.condition()
        if self.peek() is not None:
            raise invalid(
                f"the emulator's search does not support {self.peek()!r} (see its supported grammar)"
            )
        return Query(types, predicate)

    def types(self) -> list[str]:
        first = self.take().lower()
        if first == "all":
            return list(TYPES)
        names = [first]
        while self.peek() == ",":
            self.take(",")
            names.append(self.take().lower())
        unknown = [n for n in names if n not in TYPES]
        if unknown:
            raise invalid(
                f"the emulator's search does not know the resource type(s) {', '.join(unknown)}; "
                f"it knows {', '.join(TYPES)}"
            )
        return names

    def condition(self) -> Predicate:
        clauses = [self.clause()]
        while self.peek() == "&&":
            self.take("&&")
            clauses.append(self.clause())
        return lambda resource: all(clause(resource) for clause in clauses)

    def clause(self) -> Predicate:
        if self.peek() != "(":
            return self.comparison()
        self.take("(")
        start = self.position
        if (self.peek() or "").lower() == "freeformtags.key":
            self.take()
            self.take("=")
            key = self.string()
            if (
                self.peek() == "&&"
                and (self.tokens[self.position + 1 : self.position + 2] or [""])[0].lower()
                == "freeformtags.value"
            ):
                self.take("&&")
                self.take()
                self.take("=")
                value = self.string()
                self.take(")")
                return lambda resource: _has_tag(resource, key, value)
            self.position = start
        inner = self.condition()
        self.take(")")
        return inner

    def comparison(self) -> Predicate:
        name = self.take()
        operator = self.take()
        if operator != "=":
            raise invalid(f"the emulator's search supports only '=', not {operator!r}")
        value = self.string()
        if name.lower() == "freeformtags.key":
            return lambda resource: _has_tag(resource, value, None)
        field = {k.lower(): v for k, v in FIELDS.items()}.get(name.lower())
        if field is None:
            raise invalid(
                f"the emulator's search cannot filter on {name!r}; it filters on freeformTags.key/value, "
                + ", ".join(FIELDS)
            )
        return lambda resource: str(resource.get(field) or "").lower() == value.lower()


def parse(text: str) -> Query:
    """The query, or 400 InvalidParameter naming what the emulator does not support."""
    if not isinstance(text, str) or not text.strip():
        raise invalid("the search query is empty")
    return _Parser(text).query()


class SearchBackend:
    def __init__(self, store: Store) -> None:
        self.store = store

    def search(self, text: str) -> list[dict[str, Any]]:
        """``ResourceSummary`` items of every compartment, newest first."""
        query = parse(text)
        found = []
        for type_name in query.types:
            collection, resource_type = TYPES[type_name]
            for resource in self.store.data[collection].values():
                if query.predicate(resource):
                    found.append(summary(resource, resource_type))
        return sorted(found, key=lambda r: (r["timeCreated"] or "", r["identifier"]), reverse=True)


def summary(resource: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return {
        "resourceType": resource_type,
        "identifier": resource["id"],
        "compartmentId": resource.get("compartmentId"),
        "timeCreated": resource.get("timeCreated"),
        "displayName": resource.get("displayName"),
        "availabilityDomain": None,
        "lifecycleState": resource.get("lifecycleState"),
        "freeformTags": resource.get("freeformTags") or {},
        "definedTags": resource.get("definedTags") or {},
        "systemTags": {},
        "searchContext": None,
        "identityContext": {},
        "additionalDetails": {},
    }
