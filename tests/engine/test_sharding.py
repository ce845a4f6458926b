"""The sharding decision: replicas that each follow ``decide`` share the stacks evenly, never claim a stack
another replica holds, and rebalance when a replica joins or dies."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from reconciler.engine.controller.sharding import decide, shares


def run_rounds(owner: dict[str, str], replicas: list[str], folders: list[str], rng: random.Random) -> None:
    """Replicas look in a random order, round after round, as their timers fire."""
    for _ in range(6):
        for replica in rng.sample(replicas, len(replicas)):
            mine = {f for f, o in owner.items() if o == replica}
            taken = {f for f, o in owner.items() if o != replica}
            decision = decide(replica, folders, mine, taken, replicas)
            assert not set(decision.claim) & taken, "a replica never claims a stack another one holds"
            assert set(decision.release) <= mine
            for folder in decision.release:
                del owner[folder]
            for folder in decision.claim:
                owner[folder] = replica


def assert_even(owner: dict[str, str], replicas: list[str], folders: list[str]) -> None:
    assert set(owner) == set(folders), "every stack is served"
    counts = Counter({r: 0 for r in replicas}) + Counter(owner.values())
    held = [counts[r] for r in replicas]
    assert max(held) - min(held) <= 1, counts


@given(st.integers(0, 40), st.integers(1, 5), st.randoms(use_true_random=False))
def test_replicas_share_the_stacks_within_one_of_each_other(stacks: int, n: int, rng: random.Random) -> None:
    replicas = [f"replica-{i}" for i in range(n)]
    folders = [f"teams/t{i}" for i in range(stacks)]
    owner: dict[str, str] = {}
    run_rounds(owner, replicas, folders, rng)
    assert_even(owner, replicas, folders)


@given(st.integers(1, 40), st.integers(1, 4), st.randoms(use_true_random=False))
def test_a_new_replica_gets_its_share_and_a_dead_ones_stacks_move(
    stacks: int, n: int, rng: random.Random
) -> None:
    replicas = [f"replica-{i}" for i in range(n)]
    folders = [f"teams/t{i}" for i in range(stacks)]
    owner: dict[str, str] = {}
    run_rounds(owner, replicas, folders, rng)
    replicas.append("replica-new")  # its heartbeat appears: the others release, it claims
    run_rounds(owner, replicas, folders, rng)
    assert_even(owner, replicas, folders)
    dead = replicas.pop(0)  # its heartbeat and leases expire
    owner = {f: o for f, o in owner.items() if o != dead}
    run_rounds(owner, replicas, folders, rng)
    assert_even(owner, replicas, folders)


def test_shares_add_up_and_differ_by_at_most_one() -> None:
    assert shares(7, ["b", "a", "c"]) == {"a": 3, "b": 2, "c": 2}
    assert shares(0, ["a"]) == {"a": 0}
    assert shares(5, []) == {}


def test_a_vanished_stack_lease_is_released() -> None:
    decision = decide("a", ["x"], {"x", "gone"}, set(), ["a"])
    assert decision.release == ["gone"] and decision.claim == []
