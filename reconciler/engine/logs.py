"""``mdr logs``: a deployment's access and predict log entries, read through Log Search as ADS reads them.

The deployment's ``categoryLogDetails`` name its logs; each is searched with the query ADS ``show_logs()``
sends (``search "<compartment>/<group>/<log>" | where source = '*<deployment OCID>'``), at most 14 days per
request (Log Search's window, which ADS splits the same way), 1000 results per page.

``--follow`` searches again from three minutes before its last search ended (entries are ingested late;
ADS's ``stream()`` overlaps its windows the same way) and prints only entries whose id it has not printed.
It waits ``interval`` between searches, doubling the wait while nothing comes, up to eight times the interval
(30 s at most), and back to ``interval`` as soon as something does.

Every call runs on the main thread, so Ctrl-C interrupts whatever is waiting (a search, a backoff, the
sleep between searches) and ``mdr logs`` ends at once. The deployment is found with one list call
(:func:`deployment_id`) rather than ``read_live``, whose worker thread Python waits for at exit: while the
cloud was slow, a Ctrl-C there took as long as all of that thread's calls and retries (over 30 s).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import oci

from reconciler.core.errors import MdrError, one_line
from reconciler.core.live import GONE_STATES, Owned
from reconciler.engine.controller.config import parse_duration

KINDS = ("access", "predict")
#: the longest window one SearchLogs request may cover
SEARCH_WINDOW = timedelta(days=14)
#: the longest a log keeps its entries (OCI Logging's retention is 30 to 180 days): nothing older is searched
RETENTION = timedelta(days=180)
PAGE_SIZE = 1000
#: how far before the newest entry seen ``--follow`` searches again (late ingestion)
FOLLOW_OVERLAP = timedelta(minutes=3)
MAX_BACKOFF_SECONDS = 30.0
LOGGING_HINT = (
    "add `logging: {logGroup: {name: GROUP}, access: {name: LOG}, predict: {name: LOG}}` to its spec "
    "and run mdr apply"
)


class LogsNotConfigured(MdrError):
    """The deployment writes no log of the kind asked for."""


@dataclass(frozen=True)
class LogRef:
    """One log to search, and which of the deployment's log kinds it holds."""

    compartment_id: str
    log_group_id: str
    log_id: str
    kinds: tuple[str, ...]

    def query(self, deployment_id: str) -> str:
        scope = f"{self.compartment_id}/{self.log_group_id}/{self.log_id}"
        return f"search \"{scope}\" | where source = '*{deployment_id}' | sort by datetime desc"


@dataclass(frozen=True)
class Entry:
    """One log entry as ``mdr logs`` prints it."""

    time: datetime
    id: str
    kind: str
    message: str

    def line(self) -> str:
        stamp = self.time.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.time.microsecond // 1000:03d}Z"
        return f"{stamp}  {self.kind:<7}  {self.message}"


def parse_since(text: str, now: datetime) -> datetime:
    """``--since``: a duration back from now (``90``, ``30s``, ``10m``, ``2h``, ``3d``) or an ISO 8601 time."""
    cleaned = text.strip()
    wrong = MdrError(
        f"--since {text!r} is neither a duration (90, 30s, 10m, 2h, 3d) nor an ISO time (2026-01-31T09:00:00Z)"
    )
    if "-" in cleaned[1:] or "T" in cleaned:
        try:
            moment = datetime.fromisoformat(cleaned.replace("z", "Z"))
        except ValueError:
            raise wrong from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if moment > now:
            raise MdrError(f"--since {text!r} is in the future")
        return moment.astimezone(UTC)
    days = cleaned.endswith("d")
    try:
        seconds = parse_duration(cleaned[:-1] if days else cleaned) * (86400 if days else 1)
    except MdrError:
        raise wrong from None
    if seconds > 10 * 365 * 86400:
        raise MdrError(f"--since {text!r} reaches back more than ten years; give a shorter duration")
    return now - timedelta(seconds=seconds)


def deployment_id(provider: Any, stack: str, key: str, compartment_id: str, name: str) -> str:
    """The OCID of this stack's live deployment of ``key`` (``ModelDeployment/NAME``), in any state but gone.

    One paginated list call, on this thread: a deployment is all ``mdr logs`` needs to find (see the module
    docstring for why not ``read_live``)."""
    found = provider.list_all(
        "ListModelDeployments", provider.data_science.list_model_deployments, compartment_id=compartment_id
    )
    for summary in found:
        if summary.lifecycle_state in GONE_STATES:
            continue
        if Owned.from_tags(summary.freeform_tags, stack).key == key:
            return str(summary.id)
    raise MdrError(f"{name} is not deployed; run mdr apply first")


def log_refs(provider: Any, deployment_id: str, name: str, kind: str) -> list[LogRef]:
    """The logs holding the deployment's ``kind`` entries (``access``, ``predict`` or ``all``)."""
    wanted = KINDS if kind == "all" else (kind,)
    details = provider.call(
        "GetModelDeployment", provider.data_science.get_model_deployment, deployment_id
    ).data
    categories = details.category_log_details
    by_log: dict[tuple[str, str], list[str]] = {}
    for category in wanted:
        log = getattr(categories, category, None) if categories is not None else None
        if log is not None and log.log_id:
            by_log.setdefault((log.log_group_id, log.log_id), []).append(category)
    if not by_log:
        what = "no access or predict log" if kind == "all" else f"no {kind} log"
        raise LogsNotConfigured(f"{name} has {what} configured; {LOGGING_HINT}")
    compartments: dict[str, str] = {}
    for group_id, _ in by_log:
        if group_id not in compartments:
            group = provider.call("GetLogGroup", provider.logging.get_log_group, group_id).data
            compartments[group_id] = str(group.compartment_id)
    return [
        LogRef(compartments[group_id], group_id, log_id, tuple(kinds))
        for (group_id, log_id), kinds in by_log.items()
    ]


def search(
    provider: Any,
    refs: list[LogRef],
    deployment_id: str,
    start: datetime,
    end: datetime,
    limit: int | None,
) -> list[Entry]:
    """The newest ``limit`` entries (all with ``None``) of the logs between ``start`` and ``end``, oldest
    first; an entry found in two logs (both kinds in one log) is listed once."""
    start = max(start, end - RETENTION)
    found: dict[str, Entry] = {}
    for ref in refs:
        for entry in _search_log(provider, ref, deployment_id, start, end, limit):
            found.setdefault(entry.id, entry)
    entries = sorted(found.values(), key=lambda e: (e.time, e.id))
    return entries[-limit:] if limit is not None else entries


def _search_log(
    provider: Any, ref: LogRef, deployment_id: str, start: datetime, end: datetime, limit: int | None
) -> Iterator[Entry]:
    """Newest first, window by window (14 days each) back from ``end``, page by page, until ``limit``."""
    count = 0
    window_end = end
    while window_end > start:
        window_start = max(start, window_end - SEARCH_WINDOW)
        details = oci.loggingsearch.models.SearchLogsDetails(
            time_start=window_start, time_end=window_end, search_query=ref.query(deployment_id)
        )
        page: str | None = None
        while True:
            size = PAGE_SIZE if limit is None else max(1, min(PAGE_SIZE, limit - count))
            extra = {"page": page} if page else {}
            response = provider.call(
                "SearchLogs", provider.log_search.search_logs, details, limit=size, **extra
            )
            for result in response.data.results or []:
                yield _entry(result.data, ref)
                count += 1
                if limit is not None and count >= limit:
                    return
            page = response.next_page
            if not page:
                break
        window_end = window_start


def _entry(data: dict[str, Any], ref: LogRef) -> Entry:
    content = data.get("logContent") or {}
    moment = _time(data.get("datetime"), content.get("time"))
    kind = ref.kinds[0] if len(ref.kinds) == 1 else _kind_of(content, ref.kinds)
    # ids are unique within a log: two logs may hold an entry of the same id
    entry_id = f"{ref.log_id}/{content.get('id') or moment.isoformat() + repr(content)}"
    return Entry(moment, entry_id, kind, one_line(_message(content.get("data"))))


def _time(epoch_ms: Any, text: Any) -> datetime:
    if isinstance(epoch_ms, int | float):
        return datetime.fromtimestamp(epoch_ms / 1000, UTC)
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return datetime.fromtimestamp(0, UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _kind_of(content: dict[str, Any], kinds: tuple[str, ...]) -> str:
    """Which kind an entry of a log holding several is: its type or subject says, as the service writes."""
    hints = f"{content.get('type') or ''} {content.get('subject') or ''}".lower()
    return next((k for k in kinds if k in hints), "/".join(kinds))


def _message(data: Any) -> str:
    """An entry's ``data``: its ``message`` when that is all it holds, else the whole of it as JSON."""
    if isinstance(data, dict) and set(data) == {"message"}:
        return str(data["message"])
    if isinstance(data, str):
        return data
    return json.dumps(data, separators=(", ", ": "), default=str)


@dataclass
class Follower:
    """``--follow``: search again and again, printing each entry once, until stopped (Ctrl-C)."""

    provider: Any
    refs: list[LogRef]
    deployment_id: str
    interval: float
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    sleep: Callable[[float], None] = time.sleep

    def run(self, since: datetime, limit: int, emit: Callable[[Entry], None]) -> None:
        end = self.clock()
        first = search(self.provider, self.refs, self.deployment_id, since, end, limit)
        for entry in first:
            emit(entry)
        seen = {e.id: e.time for e in first}
        # entries older than the first printed one were left out by --limit: they stay out
        floor = first[0].time if len(first) >= limit else since
        wait = self.interval
        ceiling = max(self.interval, min(MAX_BACKOFF_SECONDS, self.interval * 8))
        while True:
            self.sleep(wait)
            start = max(since, end - FOLLOW_OVERLAP)
            end = self.clock()
            if end <= start:
                continue
            found = search(self.provider, self.refs, self.deployment_id, start, end, None)
            fresh = [e for e in found if e.id not in seen and e.time >= floor]
            for entry in fresh:
                emit(entry)
                seen[entry.id] = entry.time
            horizon = end - FOLLOW_OVERLAP
            seen = {i: t for i, t in seen.items() if t >= horizon}  # older ones are never searched again
            wait = self.interval if fresh else min(wait * 2, ceiling)
