"""Updating one member of a 20-model group vs one of 20 single-model deployments (issue 14).

Both stacks serve the same 20 tiny standard-library models from one emulator (20 ms injected on every call,
work requests of ``--work-request-seconds``): stack ``group`` as one MODEL_GROUP deployment (``spec.modelGroup``
with 20 members), stack ``singles`` as 20 SINGLE_MODEL deployments. Each is applied, then one model's score.py
is edited and ``mdr apply`` is timed; the emulator counts the API calls of that apply (reads and writes), and
the instances billed are read back (replicas of every ACTIVE deployment).

    python bench/model_groups.py [--members 20] [--latency-ms 20] [--work-request-seconds 1.0]

It prints a table and writes ``bench/model_groups.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from reconciler.emulator import Emulator  # noqa: E402

PROJECT = "ocid1.datascienceproject.oc1.iad.aaaaaaaabenchgroups"
SCORE = "def load_model():\n    return {factor}\n\n\ndef predict(data, model=None):\n    return data['x'] * model\n"
RUNTIME = (REPO / "examples" / "multi-model" / "models" / "tax" / "runtime.yaml").read_text()
INFRA = "  infrastructure: {shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16, replicas: 1}\n  runtime: {type: conda}\n"


def _models(folder: Path, count: int) -> None:
    for index in range(count):
        model = folder / "models" / f"m{index:02d}"
        model.mkdir(parents=True)
        (model / "score.py").write_text(SCORE.format(factor=index + 1))
        (model / "runtime.yaml").write_text(RUNTIME)


def _stack(folder: Path, name: str, compartment: str) -> None:
    folder.mkdir(parents=True)
    (folder / "mdr.yaml").write_text(
        f"stack: {name}\nregion: us-ashburn-1\ndefaults: {{compartmentId: {compartment}, projectId: {PROJECT}}}\n"
    )


def group_stack(root: Path, count: int) -> Path:
    folder = root / "group"
    _stack(folder, "group", "ocid1.compartment.oc1..aaaaaaaabenchgroup")
    _models(folder, count)
    members = "".join(
        f"      - {{inferenceKey: m{i:02d}, artifact: models/m{i:02d}}}\n" for i in range(count)
    )
    (folder / "all.yaml").write_text(
        "apiVersion: mdr/v1\nkind: ModelDeployment\nmetadata: {name: all}\nspec:\n"
        f"  modelGroup:\n    members:\n{members}{INFRA}"
    )
    return folder


def singles_stack(root: Path, count: int) -> Path:
    folder = root / "singles"
    _stack(folder, "singles", "ocid1.compartment.oc1..aaaaaaaabenchsingles")
    _models(folder, count)
    for i in range(count):
        (folder / f"m{i:02d}.yaml").write_text(
            f"apiVersion: mdr/v1\nkind: ModelDeployment\nmetadata: {{name: m{i:02d}}}\nspec:\n"
            f"  model: {{artifact: models/m{i:02d}}}\n{INFRA}"
        )
    return folder


def mdr(emulator: Emulator, config: Path, state: Path, *args: str) -> float:
    """Run ``mdr`` as a user does; its wall time (s). Fails loudly: a bench of a failed apply is no bench."""
    env = {**os.environ, "MDR_STATE_DIR": str(state), "NO_COLOR": "1"}
    command = [
        sys.executable,
        "-m",
        "reconciler",
        *args,
        "--endpoint",
        emulator.url,
        "--config-file",
        str(config),
    ]
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False, cwd=REPO)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"mdr {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def instances(emulator: Emulator, compartment: str) -> int:
    """Instances billed: the replicas of every ACTIVE deployment of the compartment."""
    total = 0
    for deployment in emulator.store.in_compartment("deployments", compartment):
        if deployment["lifecycleState"] != "ACTIVE":
            continue
        config = deployment["modelDeploymentConfigurationDetails"]
        holder = (
            config.get("modelConfigurationDetails") or config.get("infrastructureConfigurationDetails") or {}
        )
        total += int((holder.get("scalingPolicy") or {}).get("instanceCount") or 1)
    return total


def measure(emulator: Emulator, config: Path, root: Path, folder: Path, compartment: str) -> dict[str, Any]:
    state = root / f"state-{folder.name}"
    emulator.reset_counters()
    first = mdr(emulator, config, state, "apply", str(folder), "--auto-approve")
    first_calls = sum(emulator.counters().values())
    score = folder / "models" / "m07" / "score.py"
    score.write_text(score.read_text().replace("return 8", "return 80"))
    emulator.reset_counters()
    update = mdr(emulator, config, state, "apply", str(folder), "--auto-approve")
    counts = emulator.counters()
    writes = emulator.mutating_calls()
    return {
        "first_apply_seconds": round(first, 2),
        "first_apply_calls": first_calls,
        "update_seconds": round(update, 2),
        "update_calls": sum(counts.values()),
        "update_writes": writes,
        "update_calls_by_operation": dict(sorted(counts.items())),
        "instances_billed": instances(emulator, compartment),
        "deployments": sum(
            1
            for d in emulator.store.in_compartment("deployments", compartment)
            if d["lifecycleState"] == "ACTIVE"
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--work-request-seconds", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mdr-bench-groups-") as tmp:
        root = Path(tmp)
        emulator = Emulator(work_request_seconds=args.work_request_seconds).start()
        try:
            emulator.store.faults.latency_ms = args.latency_ms
            config = emulator.write_oci_config(root / "oci")
            results = {
                "group": measure(
                    emulator,
                    config,
                    root,
                    group_stack(root, args.members),
                    "ocid1.compartment.oc1..aaaaaaaabenchgroup",
                ),
                "singles": measure(
                    emulator,
                    config,
                    root,
                    singles_stack(root, args.members),
                    "ocid1.compartment.oc1..aaaaaaaabenchsingles",
                ),
            }
        finally:
            emulator.stop()
    results["settings"] = vars(args)
    (Path(__file__).with_name("model_groups.json")).write_text(json.dumps(results, indent=2) + "\n")
    rows = [
        ("deployments", "deployments"),
        ("instances billed", "instances_billed"),
        ("first apply: seconds", "first_apply_seconds"),
        ("first apply: API calls", "first_apply_calls"),
        ("update one model: seconds", "update_seconds"),
        ("update one model: API calls", "update_calls"),
        ("update one model: writes", "update_writes"),
    ]
    print(f"{'':32}{'1 group of ' + str(args.members):>18}{str(args.members) + ' singles':>14}")
    for label, key in rows:
        print(f"{label:32}{results['group'][key]!s:>18}{results['singles'][key]!s:>14}")


if __name__ == "__main__":
    main()
