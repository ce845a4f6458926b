"""The bench's test bed: an emulator with a project, a model and a stack of N manifests, and how it is
seeded, driven (``mdr`` and the workers as subprocesses) and read back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import oci
from oci.data_science import models as dm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from reconciler.emulator import Emulator  # noqa: E402
from reconciler.emulator.core.store import now_rfc3339  # noqa: E402

COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaabench"
WORKERS = Path(__file__).with_name("workers.py")
#: deployments per bulk-load request (the admin API takes bodies up to 1 MiB)
BULK_CHUNK = 500

MANIFEST = """apiVersion: mdr/v1
kind: ModelDeployment
metadata: {{name: d{index:05d}}}
spec:
  model: {{id: {model}}}
  infrastructure: {{shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16}}
  runtime: {{type: conda}}
"""


@dataclass
class Bed:
    """One emulator with a project, a model with an artifact, and a stack of N manifests using it."""

    emulator: Emulator
    config_file: Path
    stack: Path
    project: str
    model: str

    def sdk(self) -> Any:
        return oci.data_science.DataScienceClient(
            self.emulator.oci_config(),
            service_endpoint=self.emulator.url,
            retry_strategy=oci.retry.DEFAULT_RETRY_STRATEGY,
        )


def make_bed(root: Path, count: int, work_request_seconds: float) -> Bed:
    emulator = Emulator(work_request_seconds=work_request_seconds).start()
    config = emulator.write_oci_config(root / "oci")
    sdk = oci.data_science.DataScienceClient(emulator.oci_config(), service_endpoint=emulator.url)
    project = sdk.create_project(dm.CreateProjectDetails(compartment_id=COMPARTMENT)).data.id
    model = sdk.create_model(dm.CreateModelDetails(compartment_id=COMPARTMENT, project_id=project)).data.id
    sdk.create_model_artifact(model, b"PK\x05\x06" + b"\0" * 18)
    stack = root / "stack"
    stack.mkdir(parents=True)
    (stack / "mdr.yaml").write_text(
        f"stack: bench\nregion: us-ashburn-1\n"
        f"defaults: {{compartmentId: {COMPARTMENT}, projectId: {project}}}\n"
    )
    for index in range(count):
        (stack / f"d{index:05d}.yaml").write_text(MANIFEST.format(index=index, model=model))
    return Bed(emulator, config, stack, project, model)


def mdr(bed: Bed, state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MDR_STATE_DIR": str(state_dir), "NO_COLOR": "1"}
    command = [sys.executable, "-m", "reconciler", *args]
    command += ["--endpoint", bed.emulator.url, "--config-file", str(bed.config_file)]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False, cwd=REPO)


def worker(*args: str, state_dir: Path | None = None) -> dict[str, Any]:
    """One measurement in its own process (its own peak RSS); ``state_dir`` is its ``MDR_STATE_DIR``."""
    env = {**os.environ, **({"MDR_STATE_DIR": str(state_dir)} if state_dir else {})}
    done = subprocess.run(
        [sys.executable, str(WORKERS), *args], capture_output=True, text=True, check=False, cwd=REPO, env=env
    )
    if done.returncode != 0:
        raise SystemExit(f"worker {args[0]} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def admin(bed: Bed, path: str, body: dict[str, Any]) -> Any:
    """A call of the emulator's unsigned admin API (``/_emulator/...``), which is not the OCI API."""
    request = urllib.request.Request(
        bed.emulator.url + path, json.dumps(body).encode(), {"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=120) as answer:
        return json.loads(answer.read())


def seed(bed: Bed, state_dir: Path) -> float:
    """Bring the stack of N deployments in sync, so that every strategy plans the steady state a refresh sees.

    mdr applies the first manifest for real; the other N - 1 are copies of that deployment, bulk-loaded
    through the emulator's admin API (``POST /_emulator/bulk``) with their own name and ``mdr-key`` tag. The
    ``mdr-spec`` tag does not depend on the name, so each copy is exactly what applying its manifest would
    have made; each strategy's plan reports its changes, and the bench stops unless there are none.
    """
    started = time.perf_counter()
    template = bed.stack.parent / "template"
    template.mkdir()
    shutil.copy(bed.stack / "mdr.yaml", template / "mdr.yaml")
    shutil.copy(bed.stack / "d00000.yaml", template / "d00000.yaml")
    done = mdr(
        Bed(bed.emulator, bed.config_file, template, bed.project, bed.model),
        state_dir,
        "apply",
        str(template),
        "--auto-approve",
    )
    if done.returncode != 0:
        raise SystemExit(f"seeding failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    with bed.emulator.store.lock:
        (first,) = [dict(d) for d in bed.emulator.store.data["deployments"].values()]
    first = {k: v for k, v in first.items() if not k.startswith("_") and k not in ("id", "timeCreated")}
    first["modelDeploymentUrl"] = first["modelDeploymentUrl"].rsplit("/", 1)[0] + "/{id}"
    count = len(list(bed.stack.glob("d*.yaml")))
    copies = []
    # each copy created a millisecond after the one before, as deployments created one by one are (a bulk
    # load would otherwise stamp 500 at one instant, which no real compartment shows)
    start = time.time() - count / 1000
    for index in range(1, count):
        name = f"d{index:05d}"
        tags = {k: v.replace("d00000", name) for k, v in first["freeformTags"].items()}
        created = now_rfc3339(start + index / 1000)
        copies.append({**first, "displayName": name, "freeformTags": tags, "timeCreated": created})
    for start in range(0, len(copies), BULK_CHUNK):
        admin(
            bed, "/_emulator/bulk", {"collection": "deployments", "items": copies[start : start + BULK_CHUNK]}
        )
    return time.perf_counter() - started


def active_deployments(bed: Bed) -> int:
    items = oci.pagination.list_call_get_all_results(bed.sdk().list_model_deployments, COMPARTMENT).data
    return sum(1 for d in items if d.lifecycle_state == "ACTIVE")
