"""The Resource Search for moved deployments: a fleet's stacks make one search per resync between them, each
keeping its own stack's compartments; a single stack (``mdr plan``) asks for its own tag only."""

from __future__ import annotations

import threading
from contextlib import ExitStack
from typing import Any

from support.world import World
from test_live_reader_raw import COMPARTMENT, deployment, load

from reconciler.adapters.cloud import Provider, Target, open_provider
from reconciler.adapters.live_reader import searched_compartments
from reconciler.adapters.shared_reads import SharedReads

MOVED_TO = "ocid1.compartment.oc1..aaaaaaaamovedaway"
STACKS = [f"team-{i}" for i in range(6)]


def tagged(index: int, stack: str, compartment: str = COMPARTMENT) -> dict[str, Any]:
    item = deployment(index)
    return {
        **item,
        "compartmentId": compartment,
        "freeformTags": {"mdr-stack": stack, "mdr-key": f"k{index}"},
    }


def seed(world: World) -> None:
    """Six stacks of 300 deployments in one compartment (1,800 tagged: two search pages of 1,000); one
    deployment of team-2 moved to another compartment, and one deployment nobody owns."""
    items = [tagged(i * 300 + j, s) for i, s in enumerate(STACKS) for j in range(300)]
    items[2 * 300] = tagged(2 * 300, "team-2", MOVED_TO)
    load(world, [*items[:900], deployment(99_999)])
    load(world, items[900:])


def providers(world: World, shared: SharedReads | None, stack: ExitStack) -> list[Provider]:
    target = Target(endpoint=world.emulator.url, config_file=str(world.config_file))
    made = [stack.enter_context(open_provider(target, "us-ashburn-1")) for _ in STACKS]
    for provider in made:
        provider.shared_reads = shared
    return made


def search_together(made: list[Provider]) -> dict[str, set[str]]:
    """Each stack searches at the same moment, as a fleet's resync makes them."""
    found: dict[str, set[str]] = {}

    def one(provider: Provider, stack: str) -> None:
        found[stack] = searched_compartments(provider, stack)

    threads = [threading.Thread(target=one, args=(p, s)) for p, s in zip(made, STACKS, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return found


def searches(world: World) -> int:
    return world.emulator.counters().get("SearchResources", 0)


def test_a_fleets_stacks_share_one_search_per_resync_and_each_keeps_its_own(world: World) -> None:
    seed(world)
    expected = {s: {COMPARTMENT} for s in STACKS} | {"team-2": {COMPARTMENT, MOVED_TO}}
    with ExitStack() as stack:
        shared = SharedReads(max_age=60)
        made = providers(world, shared, stack)
        world.emulator.reset_counters()
        assert search_together(made) == expected
        assert searches(world) == 2, "one search of 1,800 tagged resources (two pages) for the six stacks"
        made[0].call("UpdateModelDeployment", lambda: None)  # our own write does not make it stale
        assert search_together(made) == expected
        assert searches(world) == 2, "the same resync reuses it"
        load(world, [tagged(5_000, "team-4", MOVED_TO)])  # someone moves a deployment of team-4
        shared.new_resync()
        assert search_together(made)["team-4"] == {COMPARTMENT, MOVED_TO}
        assert searches(world) == 4, "the next resync searches afresh, once"


def test_a_single_stack_searches_for_its_own_tag_only(world: World) -> None:
    seed(world)
    with ExitStack() as stack:
        alone = providers(world, None, stack)
        world.emulator.reset_counters()
        assert searched_compartments(alone[2], "team-2") == {COMPARTMENT, MOVED_TO}
        assert searches(world) == 1, "its 300 resources: one page, not the 1,800 of the fleet"
        assert searched_compartments(alone[3], "TEAM-3") == {COMPARTMENT}, "= ignores case, as OCI's"
