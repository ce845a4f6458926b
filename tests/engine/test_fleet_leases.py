"""A sharded fleet looks at its leases on a cadence of its own: the stacks it is granted are served within a
look or two (a tenth of the TTL each), never at the fleet's resync interval, and the ones it gives up are
stopped. In-process, against the emulator; the leases are a stand-in ``Shards`` the test grants and revokes
(the lease protocol itself is ``test_sharding``'s and the e2e kill -9 test's)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.world import World

from reconciler.adapters.cloud import Target
from reconciler.adapters.source import LocalSource
from reconciler.engine.apply import ApplyOptions
from reconciler.engine.controller.config import ControllerConfig
from reconciler.engine.controller.fleet import Fleet

STACKS = [f"team-{i}" for i in range(6)]


class Grants:
    """Leases as the test hands them out: ``choose`` answers the granted stacks among those found."""

    period = 0.2
    next_change = None

    def __init__(self) -> None:
        self.granted: set[str] = set()
        self.looks = 0
        self.closed = False

    def choose(self, folders: list[str], serving: set[str]) -> set[str]:
        self.looks += 1
        return {f for f in folders if f in self.granted}

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fleet(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Fleet, Grants]]:
    monkeypatch.setenv("MDR_STATE_DIR", str(world.workdir / ".mdr"))
    tree = world.workdir / "tree"
    for name in STACKS:
        folder = tree / name
        folder.mkdir(parents=True)
        (folder / "mdr.yaml").write_text(
            f"stack: {name}\nregion: us-ashburn-1\n"
            "defaults: {compartmentId: ocid1.compartment.oc1..aaaaaaaariskprod}\n"
        )
    grants = Grants()
    config = ControllerConfig(path=tree, interval=3600, watch=False)
    target = Target(endpoint=world.emulator.url, config_file=str(world.config_file))
    made = Fleet(config, target, ApplyOptions, LocalSource(Path(tree)), grants)
    thread = threading.Thread(target=made.run, daemon=True)
    thread.start()
    try:
        yield made, grants
    finally:
        made.shutdown()
        thread.join(60)
    assert grants.closed, "the leases are given back when the fleet stops"


def leading(fleet: Fleet) -> set[str]:
    return {name for name, state in fleet.status()["stacks"].items() if state.get("leader")}


def seconds_until(check: Callable[[], bool], timeout: float = 30.0) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, "timed out"
        time.sleep(0.05)
    return time.monotonic() - started


def test_granted_stacks_are_served_within_a_look_and_revoked_ones_stopped(
    fleet: tuple[Fleet, Grants],
) -> None:
    made, grants = fleet
    grants.granted = set(STACKS[:3])
    seconds_until(lambda: leading(made) == set(STACKS[:3]))
    looks = grants.looks
    time.sleep(1.0)  # the fleet's interval is an hour: only the lease loop's own cadence looks meanwhile
    assert grants.looks - looks >= 3, "the leases are looked at every period, apart from the fleet's loop"
    grants.granted = set(STACKS)  # a dead replica's leases expired: three more at once
    taken = seconds_until(lambda: leading(made) == set(STACKS))
    assert taken <= 2.0, f"the three were served after {taken:.1f}s (looks every {Grants.period}s)"
    grants.granted = set(STACKS[3:])  # a new replica took the first three
    seconds_until(lambda: set(made.status()["stacks"]) == set(STACKS[3:]))
    assert leading(made) == set(STACKS[3:])
    assert made.status()["elsewhere"] == sorted(STACKS[:3])
