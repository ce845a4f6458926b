"""The audit log says which cloud each write went to, and commands read the history of their own target."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support.world import World


def _records(world: World, *args: str) -> list[dict[str, object]]:
    out = world.mdr("audit", "manifests", "--output", "json", *args)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_writes_are_recorded_with_their_target_and_filtered_by_it(world: World, stack: Path) -> None:
    assert world.mdr("apply", "manifests", "--auto-approve").returncode == 0
    local = subprocess.run(
        [sys.executable, "-m", "reconciler", "apply", "manifests", "--local", "--auto-approve"],
        cwd=world.workdir,
        env={**os.environ, "MDR_STATE_DIR": str(world.workdir / ".mdr")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert local.returncode == 0, local.stdout + local.stderr
    everything = _records(world)
    targets = {str(r["target"]).split(":", 1)[0] for r in everything}
    assert targets == {"endpoint", "local"}
    remote = _records(world, "--target", "endpoint:")
    assert remote and all(str(r["target"]) == f"endpoint:{world.emulator.url}" for r in remote)
    assert len(remote) + len(_records(world, "--target", "local:")) == len(everything)
    status = json.loads(world.mdr("status", "manifests", "--output", "json").stdout)
    last_remote = max(str(r["time"]) for r in remote if r["key"] == "ModelDeployment/fraud-scorer")
    [fraud] = [s for s in status if s["name"] == "fraud-scorer"]
    assert fraud["last_change"] == last_remote  # not the later write to the local emulator
