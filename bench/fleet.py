"""A fleet of stacks served by one controller process, side by side with per-stack reads (issue 15, item 8).

One emulator holds S stacks x D deployments spread over C compartments (default 100 x 50 over 10), seeded
in bulk so every stack is already in sync; the bench plans each stack first and stops unless every plan is
empty. Those S separate plans are the baseline: each reads what a single-stack controller's resync reads,
counted by the emulator one stack at a time (launching S controller processes on a shared 2-CPU box would
measure the box, not mdr). Then, against the same emulator:

- **resync**: one ``mdr controller TREE`` serves every stack; after its first reconcile of all of them the
  emulator's counters are zeroed and one whole periodic resync is counted: list calls per compartment vs
  the target ``ceil(N/100) + 10`` (N = deployments in the compartment), vs the baseline's;
- **footprint**: the controller's RSS (``VmRSS`` and peak ``VmHWM`` from ``/proc/PID/status``) and its CPU
  while idle between two resyncs (``utime + stime`` from ``/proc/PID/stat``);
- **failover**: two replicas with ``--shard-bucket`` and a short ``--shard-ttl`` share the stacks; one is
  killed with SIGKILL and the survivor's ``/status`` is polled until it leads every stack.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import oci
from bed import BULK_CHUNK, MANIFEST, REPO, Bed, admin, mdr
from oci.data_science import models as dm

from reconciler.adapters.cloud import Target, open_provider
from reconciler.adapters.manifests import load_stack
from reconciler.emulator import Emulator
from reconciler.engine.workflows import compute_plan

SHARD_BUCKET = "mdr-shards"
#: the list calls that read a compartment's contents (deployments, models, log groups); the shape list is
#: per compartment too, and the Resource Search spans the tenancy (one per resync for a fleet, one per stack
#: for the baseline's single-stack plans)
COMPARTMENT_LISTS = ("ListModelDeployments", "ListModels", "ListLogGroups")


@dataclass
class Fleet:
    """The emulator, its OCI config, the tree of stacks and their compartments."""

    emulator: Emulator
    config_file: Path
    tree: Path
    compartments: list[str]
    stacks: int
    deployments: int


def _compartment(index: int) -> str:
    return f"ocid1.compartment.oc1..aaaaaaaafleet{index:03d}"


def make_fleet(root: Path, stacks: int, deployments: int, compartments: int) -> Fleet:
    """A tree ``c{j}/s{i}/`` of stacks, each stack in compartment j with its own project and model."""
    emulator = Emulator(work_request_seconds=0.0, buckets=(SHARD_BUCKET,)).start()
    config = emulator.write_oci_config(root / "oci")
    sdk = oci.data_science.DataScienceClient(emulator.oci_config(), service_endpoint=emulator.url)
    tree = root / "tree"
    names = [_compartment(j) for j in range(compartments)]
    for j, compartment in enumerate(names):
        project = sdk.create_project(dm.CreateProjectDetails(compartment_id=compartment)).data.id
        model = sdk.create_model(
            dm.CreateModelDetails(compartment_id=compartment, project_id=project)
        ).data.id
        sdk.create_model_artifact(model, b"PK\x05\x06" + b"\0" * 18)
        for i in range(j, stacks, compartments):
            folder = tree / f"c{j:02d}" / f"s{i:03d}"
            folder.mkdir(parents=True)
            (folder / "mdr.yaml").write_text(
                f"stack: s{i:03d}\nregion: us-ashburn-1\n"
                f"defaults: {{compartmentId: {compartment}, projectId: {project}}}\n"
            )
            for index in range(deployments):
                (folder / f"d{index:05d}.yaml").write_text(MANIFEST.format(index=index, model=model))
    return Fleet(emulator, config, tree, names, stacks, deployments)


def seed_fleet(fleet: Fleet, state_dir: Path) -> float:
    """Bring every stack in sync: per compartment, mdr applies one deployment of its first stack for real;
    every other deployment of every stack there is a bulk-loaded copy with its own name and ``mdr-stack`` /
    ``mdr-key`` tags (``mdr-spec`` depends on neither), so each is what applying its manifest would make."""
    started = time.perf_counter()
    for j, compartment in enumerate(fleet.compartments):
        folders = sorted((fleet.tree / f"c{j:02d}").iterdir())
        template = state_dir.parent / f"template-{j}"
        template.mkdir(parents=True)
        shutil.copy(folders[0] / "mdr.yaml", template / "mdr.yaml")
        shutil.copy(folders[0] / "d00000.yaml", template / "d00000.yaml")
        done = mdr(
            Bed(fleet.emulator, fleet.config_file, template, "", ""),
            state_dir,
            "apply",
            str(template),
            "--auto-approve",
        )
        if done.returncode != 0:
            raise SystemExit(f"seeding failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        with fleet.emulator.store.lock:
            (first,) = [
                dict(d)
                for d in fleet.emulator.store.data["deployments"].values()
                if d["compartmentId"] == compartment
            ]
        stack0 = first["freeformTags"]["mdr-stack"]
        first = {k: v for k, v in first.items() if not k.startswith("_") and k not in ("id", "timeCreated")}
        first["modelDeploymentUrl"] = first["modelDeploymentUrl"].rsplit("/", 1)[0] + "/{id}"
        copies = []
        for folder in folders:
            for index in range(fleet.deployments):
                name = f"d{index:05d}"
                if folder.name == stack0 and index == 0:
                    continue
                tags = {
                    **first["freeformTags"],
                    "mdr-stack": folder.name,
                    "mdr-key": f"ModelDeployment/{name}",
                }
                copies.append({**first, "displayName": name, "freeformTags": tags})
        for start in range(0, len(copies), BULK_CHUNK):
            admin(
                Bed(fleet.emulator, fleet.config_file, fleet.tree, "", ""),
                "/_emulator/bulk",
                {"collection": "deployments", "items": copies[start : start + BULK_CHUNK]},
            )
    return time.perf_counter() - started


def _list_calls(counts: dict[str, int]) -> dict[str, int]:
    return {op: n for op, n in sorted(counts.items()) if op.startswith(("List", "Search"))}


def plan_every_stack(fleet: Fleet) -> dict[str, Any]:
    """Plan each stack on its own (the baseline's reads), stopping at the first plan that is not empty."""
    per_stack: list[dict[str, int]] = []
    started = time.perf_counter()
    # the plans' local records (compartments, manifest cache) go to the bench's scratch, not ./.mdr
    previous = os.environ.get("MDR_STATE_DIR")
    os.environ["MDR_STATE_DIR"] = str(fleet.tree.parent / "plan-state")
    try:
        _plan_each(fleet, per_stack)
    finally:
        if previous is None:
            os.environ.pop("MDR_STATE_DIR")
        else:
            os.environ["MDR_STATE_DIR"] = previous
    totals: dict[str, int] = {}
    for calls in per_stack:
        for op, n in calls.items():
            totals[op] = totals.get(op, 0) + n
    total = sum(totals.values())
    scoped = sum(totals.get(op, 0) for op in COMPARTMENT_LISTS)
    return {
        "stacks_planned_empty": len(per_stack),
        "seconds": round(time.perf_counter() - started, 1),
        "list_calls_one_stack": per_stack[0],
        "list_calls_total": total,
        "list_calls_by_operation": totals,
        "list_calls_per_compartment": round(total / len(fleet.compartments), 1),
        "compartment_list_calls_per_compartment": round(scoped / len(fleet.compartments), 1),
    }


def _plan_each(fleet: Fleet, per_stack: list[dict[str, int]]) -> None:
    """Plan each stack with a provider of its own (nothing shared); its list calls, counted by the emulator."""
    target = Target(endpoint=fleet.emulator.url, config_file=str(fleet.config_file))
    for mdr_yaml in sorted(fleet.tree.glob("*/*/mdr.yaml")):
        stack = load_stack(mdr_yaml.parent)
        fleet.emulator.reset_counters()
        with open_provider(target, "us-ashburn-1") as provider:
            result = compute_plan(stack, provider)
        changes = [c for c in result.plan.changes if c.action != "noop"]
        if changes:
            raise SystemExit(
                f"{mdr_yaml.parent.name}: the plan has {len(changes)} changes "
                f"(first: {changes[0].action} {changes[0].key}); the fleet is not in sync"
            )
        per_stack.append(_list_calls(fleet.emulator.counters()))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Controller:
    """``mdr controller TREE`` as a process, read from outside: /status over HTTP, RSS and CPU from /proc."""

    def __init__(self, fleet: Fleet, state_dir: Path, log: Path, *args: str) -> None:
        self.port = _free_port()
        self.log_path = log
        env = {**os.environ, "MDR_STATE_DIR": str(state_dir), "NO_COLOR": "1"}
        command = [sys.executable, "-m", "reconciler", "controller", str(fleet.tree), *args]
        command += ["--listen", f"127.0.0.1:{self.port}", "--log-format", "json"]
        command += ["--endpoint", fleet.emulator.url, "--config-file", str(fleet.config_file)]
        with log.open("w") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)

    def status(self) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/status", timeout=10) as answer:
                return dict(json.loads(answer.read()))
        except OSError:
            return {}

    def leading(self) -> set[str]:
        return {name for name, state in self.status().get("stacks", {}).items() if state.get("leader")}

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory_mb(self) -> dict[str, float]:
        lines = Path(f"/proc/{self.process.pid}/status").read_text().splitlines()
        kb = {ln.split(":")[0]: int(ln.split()[1]) for ln in lines if ln.startswith(("VmRSS", "VmHWM"))}
        return {"rss_mb": round(kb["VmRSS"] / 1024, 1), "peak_rss_mb": round(kb["VmHWM"] / 1024, 1)}

    def wait(self, check: Any, what: str, timeout: float = 600) -> float:
        """Poll ``check`` until true; the seconds it took."""
        started = time.monotonic()
        while not check():
            if time.monotonic() - started > timeout or self.process.poll() is not None:
                raise SystemExit(
                    f"controller: {what} did not happen; log:\n{self.log_path.read_text()[-3000:]}"
                )
            time.sleep(0.1)
        return time.monotonic() - started

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _reconciles(controller: Controller, stacks: int) -> int:
    """The fewest reconciles of a stack, once the controller leads all ``stacks`` (else 0)."""
    status = controller.status()
    if len([s for s in status.get("stacks", {}).values() if s.get("leader")]) < stacks:
        return 0
    return int(status.get("reconciles", 0))


def bench_resync(fleet: Fleet, root: Path, interval: int, idle_seconds: float) -> dict[str, Any]:
    """One controller for the whole tree: a resync's list calls, RSS, and CPU while idle."""
    controller = Controller(fleet, root / "state-one", root / "controller.log", "--interval", f"{interval}s")
    try:
        first = controller.wait(
            lambda: _reconciles(controller, fleet.stacks) >= 1, "a first reconcile of every stack"
        )
        fleet.emulator.reset_counters()
        time.sleep(2)  # let the last reconcile's logging and bookkeeping settle
        cpu_before = controller.cpu_seconds()
        time.sleep(idle_seconds)
        idle_cpu = (controller.cpu_seconds() - cpu_before) / idle_seconds * 100
        idle_calls = sum(fleet.emulator.counters().values())
        fleet.emulator.reset_counters()
        controller.wait(lambda: _reconciles(controller, fleet.stacks) >= 2, "a periodic resync")
        time.sleep(1)
        counts = fleet.emulator.counters()
        lists = _list_calls(counts)
        n = fleet.stacks * fleet.deployments // len(fleet.compartments)
        per_compartment = sum(lists.values()) / len(fleet.compartments)
        scoped = sum(lists.get(op, 0) for op in COMPARTMENT_LISTS) / len(fleet.compartments)
        result = {
            "interval_seconds": interval,
            "first_reconcile_of_all_seconds": round(first, 1),
            "list_calls_total": sum(lists.values()),
            "list_calls_by_operation": lists,
            "list_calls_per_compartment": round(per_compartment, 1),
            "compartment_list_calls_per_compartment": round(scoped, 1),
            "deployments_per_compartment": n,
            "target_per_compartment": math.ceil(n / 100) + 10,
            "mutating_calls": fleet.emulator.mutating_calls(),
            "idle_cpu_percent": round(idle_cpu, 2),
            "idle_seconds": idle_seconds,
            "idle_api_calls": idle_calls,
            **controller.memory_mb(),
        }
        print(
            f"  fleet resync: {result['list_calls_per_compartment']} list calls per compartment "
            f"(target {result['target_per_compartment']}), RSS {result['rss_mb']} MB "
            f"(peak {result['peak_rss_mb']}), idle CPU {result['idle_cpu_percent']} %",
            flush=True,
        )
        return result
    finally:
        controller.stop()


def bench_failover(fleet: Fleet, root: Path, ttl: int, *extra: str) -> dict[str, Any]:
    """Two sharded replicas (``extra``: more controller flags); kill -9 one; seconds until the survivor
    leads every stack."""
    args = ("--shard-bucket", SHARD_BUCKET, "--shard-ttl", f"{ttl}s", "--interval", "1h", *extra)
    folder = root / f"failover-{len(list(root.glob('failover-*')))}"
    folder.mkdir()
    state = folder / "state"  # one machine: the replicas share the stack locks' folder
    replicas = [Controller(fleet, state, folder / f"replica-{k}.log", *args) for k in range(2)]
    try:
        everything = {f"s{i:03d}" for i in range(fleet.stacks)}

        def balanced() -> bool:
            sets = [r.leading() for r in replicas]
            even = all(len(s) == len(everything) // 2 for s in sets)
            return sets[0] | sets[1] == everything and not sets[0] & sets[1] and even

        replicas[0].wait(balanced, "two replicas sharing the stacks evenly")
        victim, survivor = replicas
        theirs = victim.leading()
        orphaned = len(theirs)
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait()
        killed_wall = time.time()
        # watched in the survivor's JSON log, not its /status: at 100 stacks x 50 deployments one /status
        # is 3 MB of JSON and ~85 ms of the survivor's CPU, so polling it would slow what it measures
        led = _watch_log(survivor, LEADING, theirs, killed_wall, "the survivor leading their stacks")
        taken = max(led.values()) - killed_wall
        done = _watch_log(survivor, RECONCILED, theirs, killed_wall, "their first reconciles")
        first_reconciles = max(done.values()) - killed_wall
        if survivor.leading() != everything:
            raise SystemExit("the survivor does not lead every stack")
        claims = _log_times(survivor.log_path, "claimed a stack", killed_wall)
        result = {
            "replicas": 2,
            "shard_ttl_seconds": ttl,
            "stacks_of_killed_replica": orphaned,
            "served_again_seconds": round(taken, 2),
            # until every taken stack has finished its first reconcile on the survivor (all 50 plan at once)
            "first_reconciles_done_seconds": round(first_reconciles, 2),
            "target_seconds": ttl + 2,
            # from the survivor's log: its first and last claims, before the claimed stacks' controllers start
            "first_claim_seconds": round(min(claims) - killed_wall, 2) if claims else None,
            "claimed_seconds": round(max(claims) - killed_wall, 2) if claims else None,
        }
        print(
            f"  fleet failover: {orphaned} stacks claimed after {result['claimed_seconds']} s, "
            f"served again after {taken:.1f} s (TTL {ttl} s), their first reconciles done after "
            f"{first_reconciles:.1f} s",
            flush=True,
        )
        return result
    finally:
        for replica in replicas:
            replica.stop()


LEADING = "leading: holding the stack lock"
RECONCILED = "reconcile finished"


def _watch_log(
    replica: Controller, message: str, stacks: set[str], since: float, what: str
) -> dict[str, float]:
    """When each of ``stacks`` first logged ``message`` after ``since`` (wall clock), once all have."""
    seen: dict[str, float] = {}

    def check() -> bool:
        seen.clear()
        for line in replica.log_path.read_text().splitlines():
            if f'"{message}"' not in line:
                continue
            record = json.loads(line)
            stamp = datetime.fromisoformat(record["time"].replace("Z", "+00:00")).timestamp()
            if stamp >= since and record.get("stack") in stacks:
                seen.setdefault(record["stack"], stamp)
        return set(seen) == stacks

    replica.wait(check, what, timeout=300)
    return seen


def _log_times(log: Path, message: str, since: float) -> list[float]:
    """Wall-clock times of the JSON log lines with ``message`` logged after ``since``."""
    times = []
    for line in log.read_text().splitlines():
        if f'"{message}"' not in line:
            continue
        stamp = datetime.fromisoformat(json.loads(line)["time"].replace("Z", "+00:00")).timestamp()
        if stamp >= since:
            times.append(stamp)
    return times


def bench_fleet(root: Path, quick: bool) -> dict[str, Any]:
    stacks, deployments, compartments = (20, 20, 2) if quick else (100, 50, 10)
    interval, idle, ttl = (40, 10.0, 6) if quick else (90, 20.0, 6)
    load_before = os.getloadavg()
    fleet = make_fleet(root / "fleet", stacks, deployments, compartments)
    try:
        seed_seconds = seed_fleet(fleet, root / "fleet" / "seed-state")
        print(
            f"  fleet: {stacks} stacks x {deployments} deployments seeded in {seed_seconds:.1f} s", flush=True
        )
        baseline = plan_every_stack(fleet)
        print(
            f"  fleet: every plan empty; per-stack reads {baseline['list_calls_per_compartment']} "
            f"list calls per compartment",
            flush=True,
        )
        result: dict[str, Any] = {
            "stacks": stacks,
            "deployments_per_stack": deployments,
            "compartments": compartments,
            "seed_seconds": round(seed_seconds, 1),
            "baseline_per_stack_reads": baseline,
        }
        result["one_controller"] = bench_resync(fleet, root / "fleet", interval, idle)
        result["failover"] = bench_failover(fleet, root / "fleet", ttl)
        one = result["one_controller"]
        result["load_average"] = [[round(x, 1) for x in load_before], [round(x, 1) for x in os.getloadavg()]]
        result["list_calls_ratio_vs_per_stack"] = round(
            baseline["list_calls_per_compartment"] / max(one["list_calls_per_compartment"], 1), 1
        )
        return result
    finally:
        fleet.emulator.stop()


def fleet_table(f: dict[str, Any] | None) -> list[str]:
    if not f:
        return []
    one, base, fo = f["one_controller"], f["baseline_per_stack_reads"], f["failover"]
    return [
        "",
        f"Fleet: {f['stacks']} stacks x {f['deployments_per_stack']} deployments in {f['compartments']} "
        f"compartments, one controller process (load average before/after {f.get('load_average')})",
        f"  resync list calls per compartment: {one['list_calls_per_compartment']} (target "
        f"{one['target_per_compartment']}), of which deployments/models/log groups "
        f"{one['compartment_list_calls_per_compartment']}; per-stack reads {base['list_calls_per_compartment']} "
        f"({base['compartment_list_calls_per_compartment']}): {f['list_calls_ratio_vs_per_stack']}x more",
        f"  by operation: {one['list_calls_by_operation']} vs {base['list_calls_by_operation']}",
        f"  RSS {one['rss_mb']} MB (peak {one['peak_rss_mb']} MB; target 300); idle CPU "
        f"{one['idle_cpu_percent']} % over {one['idle_seconds']} s (target 2 %)",
        f"  failover: {fo['stacks_of_killed_replica']} stacks of a killed replica claimed after "
        f"{fo['claimed_seconds']} s, served again after {fo['served_again_seconds']} s "
        f"(target TTL {fo['shard_ttl_seconds']} s + 2 s), first reconciles done after "
        f"{fo.get('first_reconciles_done_seconds')} s",
    ]
