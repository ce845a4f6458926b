"""What the benchmark measures, one strategy per process (so that each peak RSS is its own).

Run by ``bench/run.py``; each worker prints one JSON line: {"seconds": ..., "rss_mb": ..., ...}.

Strategies for planning, all through the very same manifest loading, diff and plan code (but the floor):
  floor       the manifests loaded, then the list pages a plan needs fetched one after the other as raw
              bytes: nothing parsed, diffed or planned
  mdr         paginated list calls (what ``mdr plan`` does)
  sequential  one GetModelDeployment per deployment, one after the other (an ADS script)
  parallel10  one GetModelDeployment per deployment, 10 at a time (Terraform's refresh, -parallelism=10)
The baselines know every deployment OCID up front, as Terraform knows them from its state file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import oci

from reconciler.adapters.cloud import Target, open_provider
from reconciler.adapters.live_reader import wire_of
from reconciler.adapters.manifests import load_stack
from reconciler.core.live import LiveState, add_deployment
from reconciler.engine.workflows import DeploymentReader, compute_plan


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def per_resource_reader(ids: list[str], workers: int) -> DeploymentReader:
    def read(provider: Any, state: LiveState, compartments: list[str]) -> None:
        ds = provider.data_science

        def get(deployment_id: str) -> dict[str, Any]:
            return wire_of(provider.call("GetModelDeployment", ds.get_model_deployment, deployment_id).data)

        if workers <= 1:
            records = [get(i) for i in ids]
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                records = list(pool.map(get, ids))
        for record in records:
            add_deployment(state, record)

    return read


def floor_worker(args: argparse.Namespace) -> dict[str, Any]:
    """The least a plan can cost: load the manifests, fetch every page it needs in sequence, parse none."""
    from reconciler.adapters.wire_json import raw_call

    started = time.perf_counter()
    stack = load_stack(Path(args.stack))
    loaded = time.perf_counter()
    assert stack.config is not None
    compartment = str(stack.config.defaults.compartmentId)
    calls = 0
    with open_provider(
        Target(endpoint=args.endpoint, config_file=args.config_file), "us-ashburn-1"
    ) as provider:
        lists = [
            (provider.data_science, "/modelDeployments"),
            (provider.data_science, "/models"),
            (provider.logging, "/logGroups"),
        ]
        for client, path in lists:
            page = None
            while True:
                query = {"compartmentId": compartment, "limit": 100, **({"page": page} if page else {})}
                response = raw_call(client, path, query, "list")
                calls += 1
                if not response.has_next_page:
                    break
                page = response.next_page
    finished = time.perf_counter()
    return {
        "seconds": finished - started,
        "load_seconds": loaded - started,
        "changes": 0,
        "client_calls": calls,
        "rss_mb": _rss_mb(),
    }


def plan_worker(args: argparse.Namespace) -> dict[str, Any]:
    if args.strategy == "floor":
        return floor_worker(args)
    ids = json.loads(Path(args.ids).read_text()) if args.ids else []
    reader = {
        "mdr": None,
        "sequential": per_resource_reader(ids, 1),
        "parallel10": per_resource_reader(ids, 10),
    }[args.strategy]
    started = time.perf_counter()
    stack = load_stack(Path(args.stack))
    loaded = time.perf_counter()
    target = Target(endpoint=args.endpoint, config_file=args.config_file)
    with open_provider(target, "us-ashburn-1") as provider:
        result = compute_plan(stack, provider, reader=reader)
    finished = time.perf_counter()
    return {
        "seconds": finished - started,
        "load_seconds": loaded - started,
        "changes": sum(1 for c in result.plan.changes if c.action != "noop"),
        "client_calls": sum(result.plan.api_calls.values()),
        "rss_mb": _rss_mb(),
    }


def sequential_apply_worker(args: argparse.Namespace) -> dict[str, Any]:
    """Create and wait, one deployment after the other (polling every 0.1 s, as fast as mdr on an emulator)."""
    from oci.data_science import models as dm

    spec = json.loads(Path(args.spec).read_text())
    config = oci.config.from_file(args.config_file)
    client = oci.data_science.DataScienceClient(
        config, service_endpoint=args.endpoint, retry_strategy=oci.retry.DEFAULT_RETRY_STRATEGY
    )
    started = time.perf_counter()
    for name in spec["names"]:
        details = dm.CreateModelDeploymentDetails(
            compartment_id=spec["compartment"],
            project_id=spec["project"],
            display_name=name,
            model_deployment_configuration_details=dm.SingleModelDeploymentConfigurationDetails(
                model_configuration_details=dm.ModelConfigurationDetails(
                    model_id=spec["model"],
                    instance_configuration=dm.InstanceConfiguration(
                        instance_shape_name="VM.Standard.E4.Flex",
                        model_deployment_instance_shape_config_details=dm.ModelDeploymentInstanceShapeConfigDetails(
                            ocpus=1, memory_in_gbs=16
                        ),
                    ),
                    scaling_policy=dm.FixedSizeScalingPolicy(instance_count=1),
                )
            ),
        )
        response = client.create_model_deployment(details)
        work_request = response.headers["opc-work-request-id"]
        while client.get_work_request(work_request).data.status not in ("SUCCEEDED", "FAILED", "CANCELED"):
            time.sleep(0.1)
        state = client.get_model_deployment(response.data.id).data.lifecycle_state
        if state != "ACTIVE":
            raise SystemExit(f"{name} ended {state}")
    return {"seconds": time.perf_counter() - started, "rss_mb": _rss_mb()}


def sha256_worker(args: argparse.Namespace) -> dict[str, Any]:
    """The floor for packaging: read every byte of the folder once and sha256 it."""
    started = time.perf_counter()
    digest = hashlib.sha256()
    total = 0
    for path in sorted(Path(args.folder).rglob("*")):
        if path.is_file():
            with path.open("rb") as handle:
                while chunk := handle.read(1024 * 1024):
                    digest.update(chunk)
                    total += len(chunk)
    return {"seconds": time.perf_counter() - started, "bytes": total, "rss_mb": _rss_mb()}


def identity_worker(args: argparse.Namespace) -> dict[str, Any]:
    """What every plan and no-op apply does with a local artifact: its identity, no zip."""
    from reconciler.adapters.artifact import artifact_identity

    started = time.perf_counter()
    artifact_identity(Path(args.folder))
    return {"seconds": time.perf_counter() - started, "rss_mb": _rss_mb()}


def stream_worker(args: argparse.Namespace) -> dict[str, Any]:
    """What an upload costs mdr: identity + CRCs, then the zip streamed out (read in 64 KiB, as an HTTP
    client sends it) into a sink that drops it; no temporary file."""
    from reconciler.adapters.zipstream import ZipStream, prepare

    started = time.perf_counter()
    prepared = prepare(Path(args.folder))
    ready = time.perf_counter()
    stream = ZipStream(prepared)
    sent = 0
    while chunk := stream.read(64 * 1024):
        sent += len(chunk)
    assert sent == prepared.size
    finished = time.perf_counter()
    return {"seconds": finished - started, "prepare_seconds": ready - started, "rss_mb": _rss_mb()}


def package_worker(args: argparse.Namespace) -> dict[str, Any]:
    from reconciler.adapters.artifact import package

    started = time.perf_counter()
    result = package(Path(args.folder), Path(args.dest))
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "zip_bytes": result.size_bytes, "rss_mb": _rss_mb()}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench/workers.py")
    sub = parser.add_subparsers(dest="worker", required=True)
    plan = sub.add_parser("plan")
    plan.add_argument("--strategy", choices=["floor", "mdr", "sequential", "parallel10"], required=True)
    plan.add_argument("--stack", required=True)
    plan.add_argument("--ids")
    plan.add_argument("--endpoint", required=True)
    plan.add_argument("--config-file", required=True)
    seq = sub.add_parser("sequential-apply")
    seq.add_argument("--spec", required=True)
    seq.add_argument("--endpoint", required=True)
    seq.add_argument("--config-file", required=True)
    sha = sub.add_parser("sha256")
    sha.add_argument("--folder", required=True)
    ident = sub.add_parser("identity")
    ident.add_argument("--folder", required=True)
    stream = sub.add_parser("stream")
    stream.add_argument("--folder", required=True)
    pkg = sub.add_parser("package")
    pkg.add_argument("--folder", required=True)
    pkg.add_argument("--dest", required=True)
    args = parser.parse_args(argv)
    worker = {
        "plan": plan_worker,
        "sequential-apply": sequential_apply_worker,
        "sha256": sha256_worker,
        "identity": identity_worker,
        "stream": stream_worker,
        "package": package_worker,
    }[args.worker]
    print(json.dumps(worker(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
