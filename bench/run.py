"""mdr benchmarks, side by side with baselines, against the emulator with injected per-call latency.

    python bench/run.py            # full run (plan at N = 100, 1000, 5000; apply of 100; 1 GiB packaging)
    python bench/run.py --quick    # a smaller run for a laptop or CI (N = 100, 1000; apply of 30; 256 MiB)

Prints a table and writes ``bench/results.json``. Each measured strategy runs in its own process
(``bench/workers.py``) so its peak RSS is its own; API calls are counted by the emulator, not by the client.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import oci
from oci.data_science import models as dm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from reconciler.emulator import Emulator, FaultConfig  # noqa: E402

COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaabench"
LATENCY_MS = 20.0
WORKERS = Path(__file__).with_name("workers.py")

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


def worker(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(WORKERS), *args], capture_output=True, text=True, check=False, cwd=REPO
    )
    if done.returncode != 0:
        raise SystemExit(f"worker {args[0]} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def seed(bed: Bed, state_dir: Path) -> float:
    """Create the N deployments with mdr itself (no latency, instant work requests), so that every
    strategy then plans a stack that is in sync: the steady state a refresh sees."""
    started = time.perf_counter()
    done = mdr(
        bed,
        state_dir,
        "apply",
        str(bed.stack),
        "--auto-approve",
        "--concurrency",
        "32",
        "--per-compartment",
        "32",
    )
    if done.returncode != 0:
        raise SystemExit(f"seeding failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def bench_plan(sizes: list[int], root: Path) -> list[dict[str, Any]]:
    rows = []
    for count in sizes:
        bed = make_bed(root / f"plan-{count}", count, work_request_seconds=0.0)
        try:
            seed_seconds = seed(bed, root / f"plan-{count}" / "state")
            ids = [
                d.id
                for d in oci.pagination.list_call_get_all_results(
                    bed.sdk().list_model_deployments, COMPARTMENT
                ).data
            ]
            ids_file = root / f"plan-{count}" / "ids.json"
            ids_file.write_text(json.dumps(ids))
            bed.emulator.set_faults(FaultConfig(latency_ms=LATENCY_MS))
            row: dict[str, Any] = {"n": count, "seed_seconds": round(seed_seconds, 2)}
            for strategy in ("mdr", "parallel10", "sequential"):
                bed.emulator.reset_counters()
                result = worker(
                    "plan",
                    "--strategy",
                    strategy,
                    "--stack",
                    str(bed.stack),
                    "--ids",
                    str(ids_file),
                    "--endpoint",
                    bed.emulator.url,
                    "--config-file",
                    str(bed.config_file),
                )
                result["api_calls"] = sum(bed.emulator.counters().values())
                row[strategy] = result
                print(
                    f"  plan N={count:>5} {strategy:<10} {result['seconds']:8.2f} s "
                    f"{result['api_calls']:>6} calls {result['rss_mb']:7.1f} MB",
                    flush=True,
                )
            row["speedup_vs_sequential"] = round(row["sequential"]["seconds"] / row["mdr"]["seconds"], 1)
            row["speedup_vs_parallel10"] = round(row["parallel10"]["seconds"] / row["mdr"]["seconds"], 1)
            row["call_ceiling"] = math.ceil(count / 100) + 10
            rows.append(row)
        finally:
            bed.emulator.stop()
    return rows


def active_deployments(bed: Bed) -> int:
    items = oci.pagination.list_call_get_all_results(bed.sdk().list_model_deployments, COMPARTMENT).data
    return sum(1 for d in items if d.lifecycle_state == "ACTIVE")


def bench_apply(count: int, work_request_seconds: float, root: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"n": count, "work_request_seconds": work_request_seconds}
    bed = make_bed(root / "apply-mdr", count, work_request_seconds)
    try:
        bed.emulator.set_faults(FaultConfig(latency_ms=LATENCY_MS))
        started = time.perf_counter()
        done = mdr(bed, root / "apply-mdr" / "state", "apply", str(bed.stack), "--auto-approve")
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"mdr apply failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        result["mdr"] = {"seconds": seconds, "active": active_deployments(bed)}
        print(f"  apply N={count} mdr        {seconds:8.2f} s", flush=True)
        bed.emulator.reset_counters()
        again = mdr(bed, root / "apply-mdr" / "state", "apply", str(bed.stack), "--auto-approve")
        result["noop_apply_mutating_calls"] = bed.emulator.mutating_calls() if again.returncode == 0 else None
    finally:
        bed.emulator.stop()
    bed = make_bed(root / "apply-seq", count, work_request_seconds)
    try:
        bed.emulator.set_faults(FaultConfig(latency_ms=LATENCY_MS))
        spec = root / "apply-seq" / "spec.json"
        names = [f"d{i:05d}" for i in range(count)]
        spec.write_text(
            json.dumps(
                {"compartment": COMPARTMENT, "project": bed.project, "model": bed.model, "names": names}
            )
        )
        sequential = worker(
            "sequential-apply",
            "--spec",
            str(spec),
            "--endpoint",
            bed.emulator.url,
            "--config-file",
            str(bed.config_file),
        )
        sequential["active"] = active_deployments(bed)
        result["sequential"] = sequential
        print(f"  apply N={count} sequential {sequential['seconds']:8.2f} s", flush=True)
    finally:
        bed.emulator.stop()
    result["speedup"] = round(result["sequential"]["seconds"] / result["mdr"]["seconds"], 1)
    return result


def bench_noop_upload(root: Path) -> dict[str, Any]:
    """A second apply of a stack with local artifacts uploads nothing: models are found by identity."""
    emulator = Emulator(work_request_seconds=0.05).start()
    try:
        config = emulator.write_oci_config(root / "noop" / "oci")
        stack = root / "noop" / "manifests"
        shutil.copytree(REPO / "manifests", stack, ignore=shutil.ignore_patterns("__pycache__"))
        bed = Bed(emulator, config, stack, "", "")
        runs = []
        for _ in range(2):
            emulator.reset_counters()
            done = mdr(bed, root / "noop" / "state", "apply", str(stack), "--auto-approve")
            if done.returncode != 0:
                raise SystemExit(f"apply failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
            counts = emulator.counters()
            runs.append({op: counts.get(op, 0) for op in ("CreateModelArtifact", "PutObject", "CreateModel")})
        result = {"first_apply": runs[0], "second_apply": runs[1]}
        print(f"  no-op re-apply: uploads {runs[1]} (first apply: {runs[0]})", flush=True)
        return result
    finally:
        emulator.stop()


def make_artifact(folder: Path, total_bytes: int) -> None:
    """A model folder: score.py, runtime.yaml and incompressible weights split over four files."""
    shutil.copytree(REPO / "manifests" / "models" / "fraud-scorer", folder)
    part = total_bytes // 4
    block = os.urandom(4 * 1024 * 1024)
    for index in range(4):
        with (folder / f"weights-{index}.bin").open("wb") as handle:
            written = 0
            while written < part:
                # vary each block so no two are equal, cheaply
                chunk = block[: min(len(block), part - written)]
                handle.write(chunk[:-8] + written.to_bytes(8, "big"))
                written += len(chunk)


def _disk_write_speed(root: Path) -> int:
    """Raw write throughput where the zip goes: the ceiling for packaging, shown beside the result."""
    block = os.urandom(4 * 1024 * 1024)
    target = root / "write-probe.bin"
    started = time.perf_counter()
    with target.open("wb") as handle:
        for _ in range(64):
            handle.write(block)
    seconds = time.perf_counter() - started
    target.unlink()
    return round(256 / seconds)


def bench_packaging(sizes_mb: list[int], root: Path) -> list[dict[str, Any]]:
    rows = []
    for size in sizes_mb:
        folder = root / f"artifact-{size}"
        make_artifact(folder, size * 1024 * 1024)
        worker("sha256", "--folder", str(folder))  # warm the page cache so both read from memory
        plain = worker("sha256", "--folder", str(folder))
        identity = worker("identity", "--folder", str(folder))
        streamed = worker("stream", "--folder", str(folder))
        packaged = worker("package", "--folder", str(folder), "--dest", str(root / f"artifact-{size}.zip"))
        mb = plain["bytes"] / 1024 / 1024
        row = {
            "mb": round(mb),
            "disk_write_mb_s": _disk_write_speed(root),
            "sha256_mb_s": round(mb / plain["seconds"]),
            "identity_mb_s": round(mb / identity["seconds"]),
            "identity_ratio": round(plain["seconds"] / identity["seconds"], 2),
            "identity_rss_mb": round(identity["rss_mb"], 1),
            "stream_mb_s": round(mb / streamed["seconds"]),
            "stream_ratio": round(plain["seconds"] / streamed["seconds"], 2),
            "stream_prepare_mb_s": round(mb / streamed["prepare_seconds"]),
            "stream_prepare_ratio": round(plain["seconds"] / streamed["prepare_seconds"], 2),
            "stream_rss_mb": round(streamed["rss_mb"], 1),
            "package_mb_s": round(mb / packaged["seconds"]),
            "ratio": round(plain["seconds"] / packaged["seconds"], 2),
            "package_rss_mb": round(packaged["rss_mb"], 1),
            "sha256_rss_mb": round(plain["rss_mb"], 1),
        }
        print(
            f"  package {size:>5} MiB: sha256 {row['sha256_mb_s']} MB/s, identity {row['identity_mb_s']} MB/s, "
            f"streamed zip {row['stream_mb_s']} MB/s ({row['stream_ratio']}x), "
            f"package {row['package_mb_s']} "
            f"MB/s ({row['ratio']}x), RSS {row['package_rss_mb']} MB",
            flush=True,
        )
        rows.append(row)
        shutil.rmtree(folder)
        (root / f"artifact-{size}.zip").unlink()
    return rows


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_controller(root: Path, edits: int, idle_seconds: float) -> dict[str, Any]:
    """Latency from saving a manifest to the controller starting a reconcile, and CPU while idle."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bed = make_bed(root / "controller", 3, work_request_seconds=0.05)
    log_path = root / "controller" / "controller.log"
    env = {**os.environ, "MDR_STATE_DIR": str(root / "controller" / "state"), "NO_COLOR": "1"}
    command = [
        sys.executable,
        "-m",
        "reconciler",
        "controller",
        str(bed.stack),
        "--interval",
        "1h",
        "--listen",
        f"127.0.0.1:{port}",
        "--log-format",
        "json",
        "--endpoint",
        bed.emulator.url,
        "--config-file",
        str(bed.config_file),
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    try:

        def reconciles() -> int:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as answer:
                    return int(json.loads(answer.read()).get("reconciles", 0))
            except OSError:
                return 0

        def wait(check: Any, timeout: float = 60) -> None:
            deadline = time.monotonic() + timeout
            while not check():
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit(f"controller did not get there; log:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.02)

        wait(lambda: reconciles() >= 1)
        time.sleep(1.0)
        latencies = []
        manifest = bed.stack / "d00000.yaml"
        for index in range(edits):
            seen = log_path.read_text().count('"reconcile started"')
            manifest.write_text(
                manifest.read_text().replace(f"ocpus: {1 + index % 2}", f"ocpus: {2 - index % 2}")
            )
            saved = time.time()
            wait(lambda seen=seen: log_path.read_text().count('"reconcile started"') > seen)
            started_line = [ln for ln in log_path.read_text().splitlines() if '"reconcile started"' in ln][-1]
            stamp = json.loads(started_line)["time"]
            started = time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
            started += float("0." + stamp[20:-1])
            latencies.append(started - saved)
            wait(lambda target=index + 2: reconciles() >= target)
            time.sleep(0.5)
        cpu_before = _cpu_seconds(process.pid)
        time.sleep(idle_seconds)
        idle_cpu = (_cpu_seconds(process.pid) - cpu_before) / idle_seconds * 100
        latencies.sort()
        result = {
            "edits": edits,
            "save_to_reconcile_ms_median": round(latencies[len(latencies) // 2] * 1000),
            "save_to_reconcile_ms_max": round(latencies[-1] * 1000),
            "idle_cpu_percent": round(idle_cpu, 2),
            "idle_seconds": idle_seconds,
        }
        print(
            f"  controller: save->reconcile median {result['save_to_reconcile_ms_median']} ms, "
            f"max {result['save_to_reconcile_ms_max']} ms; idle CPU {result['idle_cpu_percent']} %"
        )
        return result
    finally:
        process.terminate()
        process.wait(timeout=30)
        bed.emulator.stop()


def table(results: dict[str, Any]) -> str:
    lines = ["", f"Plan (emulator latency {LATENCY_MS:g} ms per call; wall time incl. loading manifests)"]
    lines.append(
        f"{'N':>6} {'strategy':<12} {'seconds':>9} {'API calls':>10} {'peak RSS MB':>12} {'mdr is':>10}"
    )
    for row in results["plan"]:
        for strategy in ("mdr", "parallel10", "sequential"):
            r = row[strategy]
            speed = "" if strategy == "mdr" else f"{r['seconds'] / row['mdr']['seconds']:.1f}x faster"
            lines.append(
                f"{row['n']:>6} {strategy:<12} {r['seconds']:>9.2f} {r['api_calls']:>10} "
                f"{r['rss_mb']:>12.1f} {speed:>10}"
            )
    lines.append("")
    lines.append("Growth (seconds per 1000 deployments; flat = linear)")
    for row in results["plan"]:
        per = {s: row[s]["seconds"] / row["n"] * 1000 for s in ("mdr", "parallel10", "sequential")}
        lines.append(f"{row['n']:>6} " + "  ".join(f"{s} {v:.2f}" for s, v in per.items()))
    a = results.get("apply")
    if a:
        lines.append("")
        lines.append(f"Apply of {a['n']} new deployments (work requests take {a['work_request_seconds']} s)")
        lines.append(
            f"  mdr {a['mdr']['seconds']:.1f} s, sequential create-and-wait "
            f"{a['sequential']['seconds']:.1f} s: {a['speedup']}x; no-op re-apply: "
            f"{a['noop_apply_mutating_calls']} mutating calls"
        )
    if results.get("packaging"):
        lines.append("")
        lines.append("Artifacts (throughput vs plain sha256 of the same bytes, page cache warm)")
        for p in results["packaging"]:
            lines.append(
                f"  {p['mb']:>5} MiB: identity (every plan) {p['identity_mb_s']} MB/s = {p['identity_ratio']}x; "
                f"packaging before an upload {p['stream_prepare_mb_s']} MB/s = {p['stream_prepare_ratio']}x; "
                f"with every zip byte streamed out too {p['stream_mb_s']} MB/s = {p['stream_ratio']}x "
                f"(peak RSS {p['stream_rss_mb']} MB); zip file on disk (>2 GiB path) {p['package_mb_s']} "
                f"MB/s = {p['ratio']}x [disk write {p['disk_write_mb_s']} MB/s]"
            )
    n = results.get("noop_upload")
    if n:
        lines.append(
            f"  no-op re-apply of the example stack: {n['second_apply']} (first: {n['first_apply']})"
        )
    c = results.get("controller")
    if c:
        lines.append("")
        lines.append(
            f"Controller: file save -> reconcile start median {c['save_to_reconcile_ms_median']} ms "
            f"(max {c['save_to_reconcile_ms_max']} ms over {c['edits']} edits); "
            f"idle CPU {c['idle_cpu_percent']} %"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a few minutes)")
    parser.add_argument("--sizes", help="plan sizes, comma-separated (default 100,1000,5000; quick 100,1000)")
    parser.add_argument("--only", help="comma-separated sections: plan,apply,packaging,controller")
    parser.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    parser.add_argument(
        "--workdir",
        default=str(Path(__file__).with_name(".work")),
        help="scratch folder (default bench/.work); packaging writes its zip here, so its disk speed shows",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in (args.sizes or ("100,1000" if args.quick else "100,1000,5000")).split(",")]
    sections = set((args.only or "plan,apply,packaging,controller").split(","))
    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "system": platform.platform(),
        },
        "latency_ms": LATENCY_MS,
        "quick": args.quick,
    }
    out = Path(args.out)
    if args.only and out.exists():  # a partial run updates its sections of the last results
        results = {**json.loads(out.read_text()), **results}

    def save() -> None:  # after every section, so a failure later keeps what was measured
        out.write_text(json.dumps(results, indent=2) + "\n")

    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mdr-bench-", dir=args.workdir) as tmp:
        root = Path(tmp)
        if "plan" in sections:
            results["plan"] = bench_plan(sizes, root)
            save()
        if "apply" in sections:
            results["apply"] = bench_apply(30 if args.quick else 100, 1.0 if args.quick else 1.5, root)
            save()
        if "packaging" in sections:
            results["packaging"] = bench_packaging([64, 256] if args.quick else [256, 1024], root)
            results["noop_upload"] = bench_noop_upload(root)
            save()
        if "controller" in sections:
            results["controller"] = bench_controller(root, 5 if args.quick else 10, 10 if args.quick else 30)
            save()
    print(table({"plan": [], **results}))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
