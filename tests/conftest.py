"""Shared fixtures: one emulator per test, a working directory for mdr's local state, the example stack.

The tree mirrors the package (core/, adapters/, engine/, cli/, emulator/, e2e/); helpers shared by several
folders live in ``tests/support``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `support` for every folder's tests

from support.world import World, copy_example_stack

from reconciler.emulator import Emulator


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """An emulator (fast work requests), an OCI config for it, and an empty working directory."""
    # the buckets the tests' stacks keep leases in exist, as an administrator would have created them;
    # any other bucket is a 404 BucketNotFound, as on OCI
    emulator = Emulator(work_request_seconds=0.05, buckets=("mdr-locks", "mdr-state")).start()
    config = emulator.write_oci_config(tmp_path / "oci")
    workdir = tmp_path / "work"
    workdir.mkdir()
    try:
        yield World(emulator, config, workdir)
    finally:
        emulator.stop()


@pytest.fixture
def stack(world: World) -> Path:
    """A copy of the example stack in the world's working directory, free to edit."""
    return copy_example_stack(world.workdir / "manifests")
