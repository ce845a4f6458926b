"""Plan and apply at scale, side by side with their baselines and the floor, at each injected latency.

Plan strategies (each in its own process, ``bench/workers.py``), all through the same manifest loading,
diff and plan code except the floor:

- ``floor``: what no plan can beat: the manifests loaded cold, then the list pages mdr needs (deployments,
  models, log groups) fetched one after the other as raw bytes, nothing parsed;
- ``mdr_cold``: ``mdr plan`` with an empty state folder (a fresh CI runner: no manifest cache);
- ``mdr``: ``mdr plan`` again, with the manifests it cached (a second run, or the controller);
- ``parallel10`` / ``sequential``: a GetModelDeployment per deployment, 10 at a time or one by one. They are
  skipped where they would take longer than ``--baseline-budget`` seconds (they are linear, so the sizes
  they do run show their cost per deployment).

The floor and both mdr runs take seconds, so each runs three times and the median is reported.

Apply: 100 creates whose work requests take 1.5 s, mdr against a sequential create-and-wait loop, both under
the emulator's default limits (``/_emulator/limits`` preset ``default``); at the first latency also mdr under
tight limits, where it is throttled and must adapt.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

from bed import COMPARTMENT, Bed, active_deployments, make_bed, mdr, seed, worker

from reconciler.emulator import FaultConfig
from reconciler.emulator.core.limits import DEFAULT_LIMITS, LimitConfig

PLAN_STRATEGIES = ("floor", "mdr_cold", "mdr", "parallel10", "sequential")
#: the strategies that take seconds run this many times and report the median (a shared machine is noisy)
FAST = frozenset({"floor", "mdr_cold", "mdr"})
REPEATS = 3
#: limits under which mdr must slow down: few work requests at once, a low request rate
TIGHT_LIMITS = LimitConfig(requests_per_second=25.0, burst=25.0, work_requests_per_compartment=10)


def _estimate(strategy: str, count: int, latency_ms: float) -> float:
    """Rough seconds a baseline takes (calls x latency / parallelism), to skip what would take too long."""
    per_call = (latency_ms + 5) / 1000
    return {"sequential": count * per_call, "parallel10": count * per_call / 10}.get(strategy, 0.0)


def bench_plan(sizes: list[int], latencies: list[float], root: Path, budget: float) -> list[dict[str, Any]]:
    rows = []
    for count in sizes:
        folder = root / f"plan-{count}"
        bed = make_bed(folder, count, work_request_seconds=0.0)
        try:
            seed_seconds = seed(bed, folder / "seed-state")
            print(f"  plan N={count:>5}: seeded in {seed_seconds:.1f} s", flush=True)
            ids = [d.id for d in _listed(bed)]
            ids_file = folder / "ids.json"
            ids_file.write_text(json.dumps(ids))
            for latency in latencies:
                bed.emulator.set_faults(FaultConfig(latency_ms=latency))
                row: dict[str, Any] = {
                    "n": count,
                    "latency_ms": latency,
                    "seed_seconds": round(seed_seconds, 2),
                }
                state = folder / f"state-{latency:g}"
                shutil.rmtree(state, ignore_errors=True)
                for strategy in PLAN_STRATEGIES:
                    if _estimate(strategy, count, latency) > budget:
                        continue
                    runs = []
                    for attempt in range(REPEATS if strategy in FAST else 1):
                        bed.emulator.reset_counters()
                        # an empty state folder (no cached manifests), except for the warm mdr
                        fresh = folder / f"fresh-{strategy}-{latency:g}-{attempt}"
                        run = worker(
                            "plan",
                            "--strategy",
                            "mdr" if strategy.startswith("mdr") else strategy,
                            "--stack",
                            str(bed.stack),
                            "--ids",
                            str(ids_file),
                            "--endpoint",
                            bed.emulator.url,
                            "--config-file",
                            str(bed.config_file),
                            state_dir=state if strategy == "mdr" else fresh,
                        )
                        run["api_calls"] = sum(bed.emulator.counters().values())
                        runs.append(run)
                        if strategy == "mdr_cold" and attempt == 0:
                            shutil.copytree(fresh, state)  # what the warm mdr finds: one run's cache
                    result = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]  # the median
                    result["runs_seconds"] = [round(r["seconds"], 3) for r in runs]
                    if strategy != "floor" and result["changes"]:
                        raise SystemExit(
                            f"{strategy} planned {result['changes']} changes; the bed is not in sync"
                        )
                    row[strategy] = result
                    print(
                        f"  plan N={count:>5} {latency:>4g} ms {strategy:<10} {result['seconds']:8.2f} s "
                        f"{result['api_calls']:>6} calls {result['rss_mb']:7.1f} MB",
                        flush=True,
                    )
                _ratios(row)
                rows.append(row)
        finally:
            bed.emulator.stop()
    return rows


def _listed(bed: Bed) -> list[Any]:
    import oci

    return list(oci.pagination.list_call_get_all_results(bed.sdk().list_model_deployments, COMPARTMENT).data)


def _ratios(row: dict[str, Any]) -> None:
    mdr_seconds = row["mdr"]["seconds"]
    row["vs_floor"] = round(mdr_seconds / row["floor"]["seconds"], 2)
    row["cold_vs_floor"] = round(row["mdr_cold"]["seconds"] / row["floor"]["seconds"], 2)
    for baseline in ("parallel10", "sequential"):
        if baseline in row:
            row[f"speedup_vs_{baseline}"] = round(row[baseline]["seconds"] / mdr_seconds, 1)
    row["call_ceiling"] = math.ceil(row["n"] / 100) + 10


def _apply_once(root: Path, count: int, wrs: float, latency: float, limits: LimitConfig) -> dict[str, Any]:
    bed = make_bed(root, count, wrs)
    try:
        bed.emulator.set_faults(FaultConfig(latency_ms=latency))
        bed.emulator.limits.configure(limits)
        started = time.perf_counter()
        done = mdr(bed, root / "state", "apply", str(bed.stack), "--auto-approve")
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"mdr apply failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        bed.emulator.limits.configure(LimitConfig())
        calls = bed.emulator.counters()
        result = {
            "api_calls": sum(calls.values()),
            "calls_by_operation": calls,
            "seconds": seconds,
            "active": active_deployments(bed),
            "failed": done.stderr.count(": FAILED"),
            "refused": dict(bed.emulator.limits.refused),
            "slowed_down": done.stderr.count("changes at once in this compartment now"),
        }
        bed.emulator.reset_counters()
        again = mdr(bed, root / "state", "apply", str(bed.stack), "--auto-approve")
        result["noop_apply_mutating_calls"] = bed.emulator.mutating_calls() if again.returncode == 0 else None
        return result
    finally:
        bed.emulator.stop()


def bench_apply(count: int, wrs: float, latency: float, root: Path, tight: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"n": count, "work_request_seconds": wrs, "latency_ms": latency}
    result["mdr"] = _apply_once(root / f"apply-mdr-{latency:g}", count, wrs, latency, DEFAULT_LIMITS)
    print(f"  apply N={count} {latency:>4g} ms mdr        {result['mdr']['seconds']:8.2f} s", flush=True)
    if tight:
        result["mdr_tight"] = _apply_once(
            root / f"apply-tight-{latency:g}", count, wrs, latency, TIGHT_LIMITS
        )
        result["tight_limits"] = TIGHT_LIMITS.__dict__
        print(
            f"  apply N={count} {latency:>4g} ms mdr, tight limits {result['mdr_tight']['seconds']:8.2f} s "
            f"(refused {result['mdr_tight']['refused']})",
            flush=True,
        )
    folder = root / f"apply-seq-{latency:g}"
    bed = make_bed(folder, count, wrs)
    try:
        bed.emulator.set_faults(FaultConfig(latency_ms=latency))
        bed.emulator.limits.configure(DEFAULT_LIMITS)
        spec = folder / "spec.json"
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
        print(f"  apply N={count} {latency:>4g} ms sequential {sequential['seconds']:8.2f} s", flush=True)
    finally:
        bed.emulator.stop()
    result["limits"] = DEFAULT_LIMITS.__dict__
    result["speedup"] = round(result["sequential"]["seconds"] / result["mdr"]["seconds"], 1)
    return result


def plan_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "",
        "Plan (wall time incl. loading manifests; mdr = manifests cached, mdr_cold = empty state folder)",
    ]
    lines.append(
        f"{'N':>6} {'latency':>8} {'strategy':<11} {'seconds':>9} {'API calls':>10} {'peak RSS MB':>12} {'vs mdr':>9}"
    )
    for row in rows:
        for strategy in PLAN_STRATEGIES:
            if strategy not in row:
                continue
            r = row[strategy]
            ratio = f"{r['seconds'] / row['mdr']['seconds']:.2f}x"
            lines.append(
                f"{row['n']:>6} {row['latency_ms']:>6g}ms {strategy:<11} {r['seconds']:>9.2f} {r['api_calls']:>10} "
                f"{r['rss_mb']:>12.1f} {ratio:>9}"
            )
        lines.append(f"{'':>16} mdr within {row['vs_floor']}x of the floor (cold: {row['cold_vs_floor']}x)")
    lines.append("")
    lines.append("Growth (seconds per 1000 deployments; flat = linear)")
    for row in rows:
        per = {s: row[s]["seconds"] / row["n"] * 1000 for s in PLAN_STRATEGIES if s in row}
        lines.append(
            f"{row['n']:>6} {row['latency_ms']:>6g}ms " + "  ".join(f"{s} {v:.2f}" for s, v in per.items())
        )
    return lines


def apply_table(applies: list[dict[str, Any]]) -> list[str]:
    lines = []
    for a in applies:
        lines.append("")
        lines.append(
            f"Apply of {a['n']} new deployments at {a['latency_ms']:g} ms (work requests take "
            f"{a['work_request_seconds']} s; emulator default limits)"
        )
        m = a["mdr"]
        lines.append(
            f"  mdr {m['seconds']:.1f} s ({m['active']} ACTIVE, {m['failed']} failed, refused {m['refused']}), "
            f"sequential create-and-wait {a['sequential']['seconds']:.1f} s: {a['speedup']}x; "
            f"no-op re-apply: {m['noop_apply_mutating_calls']} mutating calls"
        )
        t = a.get("mdr_tight")
        if t:
            lines.append(
                f"  under tight limits {a['tight_limits']}: mdr {t['seconds']:.1f} s ({t['active']} ACTIVE, "
                f"{t['failed']} failed, refused {t['refused']}, slowed down {t['slowed_down']} times)"
            )
    return lines
