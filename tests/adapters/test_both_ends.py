"""A list read from both ends returns every item exactly once, whatever the creation times (ties included).

Against the emulator over HTTP with the real SDK, with small pages so that the two chains meet somewhere in
the middle of many pages.
"""

from __future__ import annotations

import itertools
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.adapters.both_ends import pages_from_both_ends
from reconciler.adapters.cloud import Provider, Target, open_provider
from reconciler.emulator import Emulator

_COMPARTMENTS = (f"ocid1.compartment.oc1..bothends{n:06d}" for n in itertools.count())


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    emulator = Emulator(work_request_seconds=0.0).start()
    config = emulator.write_oci_config(Path(tmp_path_factory.mktemp("oci")))
    try:
        yield Target(endpoint=emulator.url, config_file=str(config))
    finally:
        emulator.stop()


@pytest.fixture
def provider(target: Target) -> Iterator[Provider]:
    """A provider of its own for each test: its call counts are that test's alone (a chain that stopped
    may still finish the page it had asked for after its reader returned)."""
    with open_provider(target, "us-ashburn-1") as made:
        yield made


def load(provider: Provider, compartment: str, times: list[str]) -> list[str]:
    items = [
        {"compartmentId": compartment, "displayName": f"md-{i}", "timeCreated": moment}
        for i, moment in enumerate(times)
    ]
    url = provider.endpoint + "/_emulator/bulk"
    body = json.dumps({"collection": "deployments", "items": items}).encode()
    request = urllib.request.Request(url, body, {"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return list(json.loads(answer.read())["ids"])


def read(provider: Provider, compartment: str, page_size: int, expected: int = 0) -> list[str]:
    pages = pages_from_both_ends(
        provider,
        "ListModelDeployments",
        provider.data_science,
        "/modelDeployments",
        "list[ModelDeploymentSummary]",
        {"compartmentId": compartment},
        page_size,
        expected,
    )
    return [item["id"] for page in pages for item in page]


#: few distinct instants, written with more or fewer digits: many ties, and ties the text hides
moments = st.sampled_from(
    [
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00.000Z",
        "2026-01-01T00:00:00.5Z",
        "2026-01-01T00:00:00.500000Z",
        "2026-01-01T00:00:01Z",
        "2026-01-01T00:00:02.25Z",
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(times=st.lists(moments, max_size=40), page_size=st.integers(1, 7), expected=st.integers(0, 50))
def test_every_item_is_read_exactly_once(
    provider: Provider, times: list[str], page_size: int, expected: int
) -> None:
    """``expected`` (the caller's guess, right or wrong) only decides when the second chain starts."""
    compartment = next(_COMPARTMENTS)
    ids = load(provider, compartment, times)

    found = read(provider, compartment, page_size, expected)

    assert sorted(found) == sorted(ids)  # none lost, none twice


def test_distinct_times_meet_in_the_middle_with_a_few_calls_more(provider: Provider) -> None:
    compartment = next(_COMPARTMENTS)
    ids = load(provider, compartment, [f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z" for i in range(1000)])

    found = read(provider, compartment, 100)

    time.sleep(0.5)  # a stopped chain's last page, asked for before the chains met, is counted too
    calls = provider.stats.snapshot()["ListModelDeployments"]
    assert sorted(found) == sorted(ids)
    # 10 pages' worth: the first page, then each chain about half of the rest, one page of overlap where
    # they meet (a chain may run a page or two ahead of the other) and the page each had already asked for;
    # one chain would take 10 calls one after the other
    assert 11 <= calls <= 15


def test_a_single_page_costs_one_call(provider: Provider) -> None:
    compartment = next(_COMPARTMENTS)
    ids = load(provider, compartment, ["2026-01-01T00:00:00Z"] * 5)

    assert sorted(read(provider, compartment, 100)) == sorted(ids)
    time.sleep(0.5)
    assert provider.stats.snapshot()["ListModelDeployments"] == 1
