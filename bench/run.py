"""mdr benchmarks, side by side with baselines, against the emulator with injected per-call latency.

    python bench/run.py            # full run (plan at N = 100, 1000, 10000 and apply of 100, each at 20 and
                                   # 150 ms per call; 1 GiB packaging)
    python bench/run.py --quick    # a smaller run for a laptop or CI (N = 100, 1000; apply of 30; 256 MiB)

Prints a table and writes ``bench/results.json``. Each measured strategy runs in its own process
(``bench/workers.py``) so its peak RSS is its own; API calls are counted by the emulator, not by the client.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bed import REPO, Bed, make_bed, mdr, worker
from fleet import bench_fleet, fleet_table
from scale import apply_table, bench_apply, bench_plan, plan_table

from reconciler.emulator import Emulator


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
    lines = plan_table(results.get("plan") or [])
    lines += apply_table(results.get("apply") or [])
    lines += fleet_table(results.get("fleet"))
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
    parser.add_argument(
        "--sizes", help="plan sizes, comma-separated (default 100,1000,10000; quick 100,1000)"
    )
    parser.add_argument(
        "--latencies", help="ms injected per call, comma-separated (default 20,150; quick 20)"
    )
    parser.add_argument(
        "--baseline-budget",
        type=float,
        default=200,
        help="skip a plan baseline expected to take longer than this many seconds (default 200)",
    )
    parser.add_argument("--only", help="comma-separated sections: plan,apply,packaging,controller,fleet")
    parser.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    parser.add_argument(
        "--workdir",
        default=str(Path(__file__).with_name(".work")),
        help="scratch folder (default bench/.work); packaging writes its zip here, so its disk speed shows",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in (args.sizes or ("100,1000" if args.quick else "100,1000,10000")).split(",")]
    latencies = [float(x) for x in (args.latencies or ("20" if args.quick else "20,150")).split(",")]
    sections = set((args.only or "plan,apply,packaging,controller,fleet").split(","))
    # as installed by pip, which compiles every module: with PYTHONDONTWRITEBYTECODE set (as in some CI
    # images) each worker would otherwise compile mdr's ~70 modules again, inside its timed window
    compileall.compile_dir(str(REPO / "reconciler"), quiet=1)
    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "system": platform.platform(),
        },
        "latencies_ms": latencies,
        "quick": args.quick,
    }
    out = Path(args.out)
    if args.only and out.exists():  # a partial run updates its sections of the last results
        results = {**json.loads(out.read_text()), **results}
        results.pop("latency_ms", None)  # from before the latencies were a list

    def save() -> None:  # after every section, so a failure later keeps what was measured
        out.write_text(json.dumps(results, indent=2) + "\n")

    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mdr-bench-", dir=args.workdir) as tmp:
        root = Path(tmp)
        if "plan" in sections:
            results["plan"] = bench_plan(sizes, latencies, root, args.baseline_budget)
            save()
        if "apply" in sections:
            count, wrs = (30, 1.0) if args.quick else (100, 1.5)
            results["apply"] = [
                bench_apply(count, wrs, latency, root, tight=index == 0)
                for index, latency in enumerate(latencies)
            ]
            save()
        if "packaging" in sections:
            results["packaging"] = bench_packaging([64, 256] if args.quick else [256, 1024], root)
            results["noop_upload"] = bench_noop_upload(root)
            save()
        if "controller" in sections:
            results["controller"] = bench_controller(root, 5 if args.quick else 10, 10 if args.quick else 30)
            save()
        if "fleet" in sections:
            results["fleet"] = bench_fleet(root, args.quick)
            save()
    print(table({"plan": [], **results}))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
