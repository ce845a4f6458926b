"""Log entries and Log Search: ``PutLogs`` (Logging Ingestion) writes entries, ``SearchLogs`` finds them.

Entries are kept in memory, at most ``MAX_ENTRIES_PER_LOG`` per log (the oldest go first); a restarted
emulator starts with none. Where they come from: ``PutLogs`` (what an application, or ``score.py``, sends),
and the emulator's own ``/predict`` answers, which write one entry to the deployment's access log and one
to its predict log, as the service does.

The query language subset (keywords in any case), which is what Oracle ADS's ``logs()`` and
``show_logs()`` and ``oci logging-search search-logs`` send::

    search "<compartment>[/<log group>[/<log>]]" {, "<scope>"} [| where <cond> {and <cond>}]
           [| sort by datetime (asc|desc)]
    cond := <field> = '<value>'     field: source, type, subject, id, data.<key>, logContent.<path>

A value may start or end with ``*`` (a wildcard, as ``source = '*<ocid>'`` in ADS). Anything else (other
operators, ``or``, ``not``, ``stats``, ``rename``) is refused with 400 InvalidParameter rather than answered
wrongly.
"""

from __future__ import annotations

import fnmatch
import json
import re
import threading
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from reconciler.emulator.core.errors import invalid, missing
from reconciler.emulator.core.signing import TENANCY
from reconciler.emulator.core.store import now_rfc3339

MAX_ENTRIES_PER_LOG = 10_000
MAX_RESULTS = 1000
SEARCH_RE = re.compile(r'^\s*search\s+(?P<scopes>"[^"]*"(?:\s*,\s*"[^"]*")*)\s*(?P<rest>.*)$', re.I | re.S)
WHERE_RE = re.compile(r"^where\s+(?P<conditions>.+)$", re.I | re.S)
SORT_RE = re.compile(r"^sort\s+by\s+datetime(?:\s+(?P<order>asc|desc))?$", re.I)
CONDITION_RE = re.compile(r"^(?P<field>[A-Za-z][A-Za-z0-9_.]*)\s*=\s*'(?P<value>[^']*)'$")


@dataclass
class Query:
    scopes: list[tuple[str, ...]]  # (compartment[, group[, log]])
    conditions: list[tuple[str, str]] = field(default_factory=list)
    descending: bool = True


def parse_query(text: str) -> Query:
    """The query's scopes, conditions and order; 400 InvalidParameter for anything outside the subset."""
    found = SEARCH_RE.match(text or "")
    if found is None:
        raise invalid('a search query starts with search "<compartment>[/<log group>[/<log>]]"')
    scopes = [tuple(s.strip('"').split("/")) for s in re.findall(r'"[^"]*"', found["scopes"])]
    if any(not 1 <= len(scope) <= 3 or not all(scope) for scope in scopes):
        raise invalid("a search scope is compartment, compartment/log group or compartment/log group/log")
    query = Query(scopes)
    for stage in (part.strip() for part in found["rest"].split("|")[1:]):
        where, sort = WHERE_RE.match(stage), SORT_RE.match(stage)
        if where is not None:
            query.conditions += [
                _condition(c) for c in re.split(r"\s+and\s+", where["conditions"], flags=re.I)
            ]
        elif sort is not None:
            query.descending = (sort["order"] or "desc").lower() == "desc"
        else:
            raise invalid(f"the emulator's log search understands where and sort by datetime, not {stage!r}")
    if found["rest"].strip() and not found["rest"].strip().startswith("|"):
        raise invalid(f"unexpected text after the search scopes: {found['rest'].strip()[:40]!r}")
    return query


def _condition(text: str) -> tuple[str, str]:
    found = CONDITION_RE.match(text.strip())
    if found is None:
        raise invalid(f"a where condition is <field> = '<value>', not {text.strip()!r}")
    return found["field"], found["value"]


class LogEntries:
    """Entries by log OCID, each in the shape Log Search returns as a result's ``logContent``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: defaultdict[str, deque[dict[str, Any]]] = defaultdict(
            lambda: deque(maxlen=MAX_ENTRIES_PER_LOG)
        )

    def add(
        self,
        log: dict[str, Any],
        source: str,
        kind: str,
        data: Any,
        subject: str | None = None,
        time: str | None = None,
    ) -> None:
        """One entry in ``log`` (the log's resource dict: its group and compartment name the entry)."""
        now = now_rfc3339()
        if time is not None:
            try:
                _parse_time(time)
            except ValueError as exc:
                raise invalid(f"an entry's time must be an RFC 3339 time: {exc}") from exc
        content = {
            "data": data,
            "id": str(uuid.uuid4()),
            "oracle": {
                "compartmentid": log["compartmentId"],
                "ingestedtime": now,
                "loggroupid": log["logGroupId"],
                "logid": log["id"],
                "tenantid": TENANCY,
            },
            "source": source,
            "specversion": "1.0",
            "subject": subject or "",
            "time": time or now,
            "type": kind,
        }
        with self._lock:
            self._entries[log["id"]].append(content)

    def search(
        self, logs: list[dict[str, Any]], query: Query, start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        """``SearchResult`` items (``{"data": {"datetime", "logContent"}}``) of the logs in the query's
        scopes, between ``start`` and ``end``, matching every condition, in datetime order."""
        chosen = [log["id"] for log in logs if any(_in_scope(log, scope) for scope in query.scopes)]
        with self._lock:
            contents = [dict(c) for log_id in chosen for c in self._entries.get(log_id, ())]
        found: list[tuple[int, str, dict[str, Any]]] = []
        for content in contents:
            moment = _parse_time(content["time"])
            if start <= moment < end and all(_matches(content, f, v) for f, v in query.conditions):
                found.append((int(moment.timestamp() * 1000), content["id"], content))
        found.sort(key=lambda item: (item[0], item[1]), reverse=query.descending)
        return [{"data": {"datetime": when, "logContent": content}} for when, _, content in found]


def _in_scope(log: dict[str, Any], scope: tuple[str, ...]) -> bool:
    wanted = (log["compartmentId"], log["logGroupId"], log["id"])
    return all(part == wanted[index] for index, part in enumerate(scope))


def _matches(content: dict[str, Any], name: str, pattern: str) -> bool:
    path = name.split(".")
    if path[0].lower() == "logcontent":
        path = path[1:]
    value: Any = content
    for part in path:
        if not isinstance(value, dict):
            return False
        value = next((v for k, v in value.items() if k.lower() == part.lower()), None)
    if value is None:
        return False
    text = value if isinstance(value, str) else json.dumps(value)
    return fnmatch.fnmatchcase(text.lower(), pattern.lower())


def _parse_time(text: str) -> datetime:
    value = text.replace("Z", "+00:00")
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def search_window(body: dict[str, Any]) -> tuple[datetime, datetime]:
    """``timeStart`` and ``timeEnd`` of a SearchLogs body (both required, start before end)."""
    for name in ("timeStart", "timeEnd"):
        if not body.get(name):
            raise missing(name)
    try:
        start, end = _parse_time(str(body["timeStart"])), _parse_time(str(body["timeEnd"]))
    except ValueError as exc:
        raise invalid(f"timeStart and timeEnd must be RFC 3339 times: {exc}") from exc
    if start >= end:
        raise invalid("timeStart must be before timeEnd")
    return start, end


def entry_data(raw: Any) -> Any:
    """What a PutLogs entry's ``data`` (a string) becomes in a search result: the JSON object it holds, or
    ``{"message": <the text>}``."""
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            return {"message": raw}
        return parsed if isinstance(parsed, dict) else {"message": raw}
    return raw
