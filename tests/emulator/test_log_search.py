"""Log Search (/20190909 SearchLogs) and Logging Ingestion (/20200831 PutLogs) through the real SDK, and the
access and predict entries a served /predict writes (what ADS ``logs()`` and ``show_logs()`` read)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import oci
import pytest
from conftest import COMPARTMENT, client_kwargs, wait_for
from oci.data_science import models as dm
from oci.logging import models as lm
from test_emulator_sdk import deployment_details, model_with_artifact, project, service_error

from reconciler.emulator import Emulator


def _clients(emulator: Emulator) -> tuple[Any, Any]:
    config = emulator.oci_config()
    ingestion = oci.loggingingestion.LoggingClient(config, **client_kwargs(emulator))
    search = oci.loggingsearch.LogSearchClient(config, **client_kwargs(emulator))
    return ingestion, search


def _log(logging_client: Any, group_name: str = "app-logs", name: str = "app") -> tuple[str, str]:
    created = logging_client.create_log_group(
        lm.CreateLogGroupDetails(compartment_id=COMPARTMENT, display_name=group_name)
    )
    request = created.headers["opc-work-request-id"]
    wait_for(lambda: logging_client.get_work_request(request).data.status == "SUCCEEDED")
    group = logging_client.get_work_request(request).data.resources[0].identifier
    made = logging_client.create_log(group, lm.CreateLogDetails(display_name=name, log_type="CUSTOM"))
    request = made.headers["opc-work-request-id"]
    wait_for(lambda: logging_client.get_work_request(request).data.status == "SUCCEEDED")
    return group, logging_client.list_logs(group, display_name=name).data[0].id


def _put(ingestion: Any, log_id: str, source: str, *messages: str) -> None:
    entries = [oci.loggingingestion.models.LogEntry(data=m, id=f"id-{i}-{m}") for i, m in enumerate(messages)]
    batch = oci.loggingingestion.models.LogEntryBatch(
        entries=entries, source=source, type="app.event", defaultlogentrytime=datetime.now(UTC)
    )
    ingestion.put_logs(
        log_id, oci.loggingingestion.models.PutLogsDetails(specversion="1.0", log_entry_batches=[batch])
    )


def _search(search: Any, query: str, minutes: int = 10) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    details = oci.loggingsearch.models.SearchLogsDetails(
        time_start=now - timedelta(minutes=minutes), time_end=now + timedelta(minutes=1), search_query=query
    )
    return [result.data for result in search.search_logs(details).data.results]


def test_entries_put_are_found_by_scope_and_source_newest_first(
    emulator: Emulator, logging_client: Any
) -> None:
    ingestion, search = _clients(emulator)
    group, log = _log(logging_client)
    _put(ingestion, log, "ocid1.datasciencemodeldeployment.oc1.iad.aaaafirst", "one")
    _put(ingestion, log, "ocid1.datasciencemodeldeployment.oc1.iad.aaaasecond", "two", '{"level": "ERROR"}')
    everything = _search(search, f'search "{COMPARTMENT}/{group}/{log}" | sort by datetime desc')
    assert len(everything) == 3
    assert [r["datetime"] for r in everything] == sorted((r["datetime"] for r in everything), reverse=True)
    ads_query = (
        f"search \"{COMPARTMENT}/{group}/{log}\" | WHERE source = '*aaaasecond' | SORT BY datetime DESC"
    )
    second = _search(search, ads_query)
    assert sorted(str(r["logContent"]["data"]) for r in second) == [
        "{'level': 'ERROR'}",
        "{'message': 'two'}",
    ]
    assert all(r["logContent"]["oracle"]["logid"] == log for r in second)
    errors = _search(search, f"search \"{COMPARTMENT}\" | where data.level = 'error'")
    assert [r["logContent"]["data"] for r in errors] == [{"level": "ERROR"}]


def test_a_time_window_and_another_log_keep_entries_out(emulator: Emulator, logging_client: Any) -> None:
    ingestion, search = _clients(emulator)
    group, log = _log(logging_client)
    _, other = _log(logging_client, "other-logs", "other")
    _put(ingestion, log, "src", "mine")
    assert _search(search, f'search "{COMPARTMENT}/{group}/{other}"') == []
    now = datetime.now(UTC)
    past = oci.loggingsearch.models.SearchLogsDetails(
        time_start=now - timedelta(days=2),
        time_end=now - timedelta(days=1),
        search_query=f'search "{COMPARTMENT}"',
    )
    assert search.search_logs(past).data.results == []


@pytest.mark.parametrize(
    "query",
    ['search "a/b/c" | stats count()', "select * from logs", "search \"a\" | where source != 'x'"],
)
def test_queries_outside_the_subset_are_refused_not_answered_wrongly(emulator: Emulator, query: str) -> None:
    _, search = _clients(emulator)
    error = service_error(lambda: _search(search, query))
    assert error.status == 400 and error.code == "InvalidParameter"


def test_a_served_predict_writes_access_and_predict_entries(
    emulator: Emulator, ds: Any, logging_client: Any
) -> None:
    from oci._vendor import requests

    group, log = _log(logging_client, "md-logs", "md")
    project_id = project(ds)
    details = deployment_details(project_id, model_with_artifact(ds, project_id))
    both = dm.LogDetails(log_group_id=group, log_id=log)
    details.category_log_details = dm.CategoryLogDetails(access=both, predict=both)
    deployment = ds.create_model_deployment(details).data
    wait_for(lambda: ds.get_model_deployment(deployment.id).data.lifecycle_state == "ACTIVE")
    url = ds.get_model_deployment(deployment.id).data.model_deployment_url + "/predict"
    answer = requests.post(url, json={"x": [1]}, auth=ds.base_client.signer, timeout=30)
    assert answer.status_code == 200
    _, search = _clients(emulator)
    found = _search(
        search, f"search \"{COMPARTMENT}/{group}/{log}\" | where source = '*{deployment.id[-12:]}'"
    )
    assert sorted(r["logContent"]["subject"] for r in found) == ["access", "predict"]
    [access] = [r for r in found if r["logContent"]["subject"] == "access"]
    assert access["logContent"]["data"]["status"] == 200
