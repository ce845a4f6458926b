"""One writer per stack: the local file lock, and the Object Storage lease against the emulator."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.world import World

from reconciler.adapters.cloud import Provider
from reconciler.adapters.lock import FileLock, LockError, ObjectStorageLease

STACK = "risk-prod"
BUCKET = "mdr-state"


# ------------------------------------------------------------------------------------------ file lock


def test_a_second_file_lock_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    first, second = FileLock(STACK, tmp_path), FileLock(STACK, tmp_path)
    first.acquire(timeout=0)
    try:
        started = time.monotonic()
        with pytest.raises(LockError, match=f"locked by {first.holder}") as refused:
            second.acquire(timeout=0.3)
        assert time.monotonic() - started >= 0.3, "it waits the timeout before giving up"
        assert "mdr unlock" in str(refused.value)
    finally:
        first.release()

    second.acquire(timeout=0)  # free once released
    assert second.current_holder() == second.holder
    second.release()


def test_a_file_lock_left_by_a_killed_process_is_taken_at_once(tmp_path: Path) -> None:
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, signal, sys\n"
            "from pathlib import Path\n"
            "from reconciler.adapters.lock import FileLock\n"
            f"lock = FileLock({STACK!r}, Path(sys.argv[1]))\n"
            "lock.acquire(timeout=0)\n"
            "print(lock.holder, flush=True)\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert killed.returncode == -9, killed.stderr
    lock = FileLock(STACK, tmp_path)
    assert lock.current_holder() == killed.stdout.strip(), "the dead holder's name is still in the file"

    lock.acquire(timeout=0)

    assert lock.current_holder() == lock.holder
    lock.release()


def test_force_unlock_removes_the_lock_and_names_its_holder(tmp_path: Path) -> None:
    holder = FileLock(STACK, tmp_path)
    holder.acquire(timeout=0)
    try:
        assert FileLock(STACK, tmp_path).force_unlock() == holder.holder
        assert not holder.path.exists()
        assert FileLock(STACK, tmp_path).force_unlock() is None
    finally:
        holder.release()


# ------------------------------------------------------------------------------------------ lease


@pytest.fixture
def provider(world: World) -> Iterator[Provider]:
    provider = Provider(world.emulator.oci_config(), None, world.emulator.url, fast=True)
    yield provider
    provider.close()


def lease(provider: Provider, ttl: float = 30.0) -> ObjectStorageLease:
    return ObjectStorageLease(provider, STACK, BUCKET, None, "mdr/", ttl)


def test_a_free_lease_is_taken_and_a_held_one_refused(provider: Provider) -> None:
    first, second = lease(provider), lease(provider)

    first.acquire(timeout=0)
    try:
        assert not second.try_acquire()
        with pytest.raises(LockError, match=f"locked by {first.holder}"):
            second.acquire(timeout=0.2)
        assert second.current_holder() == first.holder
    finally:
        first.release()

    assert second.current_holder() is None, "release deletes the lease"
    assert second.try_acquire()


def test_the_lease_lives_in_the_stack_bucket_under_the_prefix(provider: Provider, world: World) -> None:
    holder = lease(provider)
    holder.acquire(timeout=0)
    try:
        assert holder.describe() == f"lease oci://{BUCKET}@{world.emulator.namespace}/mdr/locks/{STACK}.json"
        data = provider.object_storage.get_object(
            world.emulator.namespace, BUCKET, "mdr/locks/risk-prod.json"
        )
        assert holder.holder in data.data.content.decode()
    finally:
        holder.release()


def test_an_expired_lease_is_taken_over(provider: Provider) -> None:
    dead = lease(provider, ttl=0.3)
    assert dead.try_acquire()  # taken, then never renewed: its holder died
    successor = lease(provider)
    assert not successor.try_acquire()

    time.sleep(0.4)

    assert successor.try_acquire()
    assert successor.current_holder() == successor.holder


def test_a_holder_whose_lease_was_taken_over_learns_it_lost_it(provider: Provider) -> None:
    paused = lease(provider, ttl=0.3)
    assert paused.try_acquire()
    time.sleep(0.4)  # paused past its TTL, e.g. a stopped VM
    successor = lease(provider)
    assert successor.try_acquire()

    assert not paused.renew()
    assert paused.lost.is_set(), "the apply's fence: no further write may be sent"
    assert successor.current_holder() == successor.holder, "the loser's renewal did not overwrite it"


def test_a_held_lease_is_renewed_past_its_ttl(provider: Provider) -> None:
    holder = lease(provider, ttl=0.6)
    holder.acquire(timeout=0)  # renews every 0.2 s in the background
    try:
        time.sleep(1.5)
        assert not lease(provider).try_acquire()
        assert not holder.lost.is_set()
    finally:
        holder.release()
