"""Shared reads: the stacks of one controller process list a compartment once per resync, and never see
a list from before their own write."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack

from support.world import World
from test_live_reader_raw import COMPARTMENT, deployment, load

from reconciler.adapters.cloud import Provider, Target, open_provider
from reconciler.adapters.live_reader import read_live
from reconciler.adapters.shared_reads import SharedReads


def providers(world: World, count: int, shared: SharedReads | None, stack: ExitStack) -> list[Provider]:
    target = Target(endpoint=world.emulator.url, config_file=str(world.config_file))
    made = [stack.enter_context(open_provider(target, "us-ashburn-1")) for _ in range(count)]
    for provider in made:
        provider.shared_reads = shared
    return made


def lists(made: list[Provider], operation: str) -> int:
    return sum(p.stats.snapshot().get(operation, 0) for p in made)


def read_together(made: list[Provider]) -> None:
    """Each stack reads its live state at the same moment, as a fleet's resync makes them."""
    threads = [
        threading.Thread(target=read_live, args=(p, f"stack-{i}", [COMPARTMENT], set()))
        for i, p in enumerate(made)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_stacks_in_one_compartment_share_one_paginated_read(world: World) -> None:
    load(world, [deployment(i) for i in range(250)])  # 3 pages
    with ExitStack() as stack:
        alone = providers(world, 5, None, stack)
        read_together(alone)
        shared = providers(world, 5, SharedReads(max_age=60), stack)
        read_together(shared)
        # alone, each stack reads its 3 pages from both ends (both_ends: a few calls more, less waiting)
        assert lists(alone, "ListModelDeployments") >= 5 * 3
        assert lists(shared, "ListModelDeployments") == 3, (
            "one paginated read (one chain) for the five stacks"
        )
        assert lists(shared, "ListModels") == 1 and lists(shared, "ListLogGroups") == 1


def test_a_write_by_any_sharing_stack_drops_the_shared_pages(world: World) -> None:
    load(world, [deployment(i) for i in range(3)])
    with ExitStack() as stack:
        first, second = providers(world, 2, SharedReads(max_age=60), stack)
        before = read_live(first, "raw", [COMPARTMENT], set())
        first.call("PutObject", lambda: None)  # any write, whatever its outcome
        load(world, [deployment(3)])
        after = read_live(second, "raw", [COMPARTMENT], set())
        assert after.unowned_deployments == before.unowned_deployments + 1, (
            "the write's effect is seen at once"
        )
        assert lists([first, second], "ListModelDeployments") == 2


def test_a_read_in_flight_across_a_write_is_not_kept() -> None:
    shared = SharedReads(max_age=60)
    key = ("ListModels", "/models", "{}")

    def read_during_a_write() -> list[list[dict[str, str]]]:
        shared.after_call("UpdateModelDeployment")  # a write lands while the pages are being read
        return [[{"state": "before the write"}]]

    assert shared.pages(key, read_during_a_write) == [[{"state": "before the write"}]]
    assert shared.pages(key, lambda: [[{"state": "after"}]]) == [[{"state": "after"}]]
    assert list(shared.pages(key, lambda: [[{"state": "not read again"}]])) == [[{"state": "after"}]]
    shared.after_call("GetWorkRequest")  # reads drop nothing
    assert list(shared.pages(key, lambda: [[{"state": "not read again"}]])) == [[{"state": "after"}]]


def test_a_reader_changing_its_pages_changes_nobody_elses() -> None:
    shared = SharedReads(max_age=60)
    key = ("ListModels", "/models", "{}")
    shared.pages(key, lambda: [[{"name": "a"}], [{"name": "b"}]])
    mine = list(shared.pages(key, lambda: [[{"name": "not read again"}]]))
    mine[0][0]["name"] = "changed by one stack"
    assert list(shared.pages(key, lambda: [[{"name": "not read again"}]])) == [
        [{"name": "a"}],
        [{"name": "b"}],
    ]


def test_pages_too_old_to_serve_are_not_kept() -> None:
    shared = SharedReads(max_age=0.2)
    shared.pages(("ListModels", "/models", "{}"), lambda: [[{"name": "a"}]])
    assert shared.held() == 1
    deadline = time.monotonic() + 5
    while shared.held() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert shared.held() == 0, "a controller idle between resyncs holds no list"


def test_what_is_kept_for_a_resync_survives_writes_until_the_next_resync() -> None:
    shared = SharedReads(max_age=60)
    key = ("SearchResources", "mdr-stack")
    assert shared.per_resync(key, lambda: [[{"stack": "a"}]]) == [[{"stack": "a"}]]
    shared.after_call("CreateModelDeployment")
    assert shared.per_resync(key, lambda: [[{"stack": "read again"}]]) == [[{"stack": "a"}]]
    shared.new_resync()
    assert shared.per_resync(key, lambda: [[{"stack": "b"}]]) == [[{"stack": "b"}]]
