"""``mdr logs`` engine: ``--since`` parsing, and ``--follow``'s polling (backoff, no duplicates) against the
emulator's Log Search, with entries written through the real Logging Ingestion SDK."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import oci
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.world import World

from reconciler.adapters.cloud import Provider
from reconciler.core.errors import MdrError
from reconciler.engine.logs import MAX_BACKOFF_SECONDS, Entry, Follower, LogRef, parse_since, search

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaalogs"
SOURCE = "ocid1.datasciencemodeldeployment.oc1.iad.aaaaaaaalogs"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90", NOW - timedelta(seconds=90)),
        ("30s", NOW - timedelta(seconds=30)),
        ("10m", NOW - timedelta(minutes=10)),
        ("2h", NOW - timedelta(hours=2)),
        ("3d", NOW - timedelta(days=3)),
        ("2026-11-26T11:00:00Z", datetime(2026, 11, 26, 11, 0, tzinfo=UTC)),
        ("2026-11-26T13:00:00+02:00", datetime(2026, 11, 26, 11, 0, tzinfo=UTC)),
        ("2026-11-26T11:00:00", datetime(2026, 11, 26, 11, 0, tzinfo=UTC)),  # no zone: UTC
    ],
)
def test_since_takes_durations_and_iso_times(text: str, expected: datetime) -> None:
    assert parse_since(text, NOW) == expected


@given(st.text(max_size=30))
def test_since_never_fails_other_than_with_a_one_line_error(text: str) -> None:
    try:
        moment = parse_since(text, NOW)
    except MdrError as exc:
        assert "--since" in str(exc) and "\n" not in str(exc)
    else:
        assert moment <= NOW


def _log(world: World) -> LogRef:
    client = world.logging_sdk()
    created = client.create_log_group(
        oci.logging.models.CreateLogGroupDetails(compartment_id=COMPARTMENT, display_name="g")
    )
    group = _finished(client, created.headers["opc-work-request-id"])
    made = client.create_log(group, oci.logging.models.CreateLogDetails(display_name="l", log_type="CUSTOM"))
    log = _finished(client, made.headers["opc-work-request-id"])
    return LogRef(COMPARTMENT, group, log, ("predict",))


def _finished(client: Any, request: str) -> str:
    for _ in range(200):
        work = client.get_work_request(request).data
        if work.status == "SUCCEEDED":
            return str(work.resources[0].identifier)
        time.sleep(0.02)
    raise AssertionError("work request did not finish")


def _writer(world: World, ref: LogRef) -> Callable[[str], None]:
    kwargs = {"service_endpoint": world.emulator.url, "retry_strategy": oci.retry.NoneRetryStrategy()}
    ingestion = oci.loggingingestion.LoggingClient(world.emulator.oci_config(), **kwargs)
    models = oci.loggingingestion.models

    def write(message: str) -> None:
        batch = models.LogEntryBatch(
            entries=[models.LogEntry(data=message, id=message)],
            source=SOURCE,
            type="com.oraclecloud.datascience.modeldeployment.predict",
            defaultlogentrytime=datetime.now(UTC),
        )
        ingestion.put_logs(ref.log_id, models.PutLogsDetails(specversion="1.0", log_entry_batches=[batch]))

    return write


class Stop(Exception):
    """Ends the follower's loop where Ctrl-C would."""


def test_follow_backs_off_while_nothing_comes_and_prints_each_entry_once(world: World) -> None:
    ref = _log(world)
    write = _writer(world, ref)
    write("before-1")
    write("before-2")
    waits: list[float] = []
    printed: list[Entry] = []
    script = {3: "during-1", 6: "during-2"}  # an entry written before the n-th search after the first

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) in script:
            write(script[len(waits)])
        if len(waits) == 10:
            raise Stop

    with Provider(world.emulator.oci_config(), None, world.emulator.url, fast=True) as cloud:
        follower = Follower(cloud, [ref], SOURCE, interval=1.0, sleep=sleep)
        with pytest.raises(Stop):
            follower.run(datetime.now(UTC) - timedelta(minutes=5), limit=1, emit=printed.append)
        searches = cloud.stats.snapshot()["SearchLogs"]
    # --limit 1 prints only the newest entry at first, and the older one never comes back
    assert [e.message for e in printed] == ["before-2", "during-1", "during-2"]
    assert waits == [1.0, 2.0, 4.0, 1.0, 2.0, 4.0, 1.0, 2.0, 4.0, 8.0]
    assert max(waits) == min(8 * 1.0, MAX_BACKOFF_SECONDS)  # eight times the interval at most
    assert searches == 10  # the first one, then one per wait that ended


def test_search_lists_an_entry_of_a_log_holding_both_kinds_once_under_its_kind(world: World) -> None:
    ref = _log(world)
    both = LogRef(ref.compartment_id, ref.log_group_id, ref.log_id, ("access", "predict"))
    _writer(world, ref)("hello")
    with Provider(world.emulator.oci_config(), None, world.emulator.url, fast=True) as cloud:
        now = datetime.now(UTC) + timedelta(seconds=1)
        found = search(cloud, [both, both], SOURCE, now - timedelta(days=30), now, limit=None)
    assert [(e.kind, e.message) for e in found] == [("predict", "hello")]
    assert found[0].line().endswith("  predict  hello")
