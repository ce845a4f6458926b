"""``mdr emulator``: run the emulator in the foreground and print how to point the SDK and CLI at it."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path
from typing import Any

from reconciler.emulator.core.faults import FaultConfig
from reconciler.emulator.core.server import DEFAULT_MAX_UPLOAD_BYTES
from reconciler.emulator.emulator import Emulator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=12000, help="port (default 12000; 0 picks a free one)")
    parser.add_argument("--state", type=Path, help="folder to persist state in (default: in memory)")
    parser.add_argument("--config-out", type=Path, help="write an OCI config + key here (default: STATE/oci)")
    parser.add_argument(
        "--work-request-seconds", type=float, default=0.2, help="lifecycle duration (default 0.2)"
    )
    parser.add_argument("--no-verify-signatures", action="store_true", help="accept unsigned requests")
    parser.add_argument("--region", default="us-ashburn-1")
    parser.add_argument(
        "--bucket",
        action="append",
        default=[],
        metavar="NAME",
        help="an Object Storage bucket that exists from the start (e.g. your lock bucket); repeatable",
    )
    parser.add_argument(
        "--auto-create-buckets",
        action="store_true",
        help="create a missing bucket on the first write into it (default: 404 BucketNotFound, as on OCI)",
    )
    parser.add_argument(
        "--max-upload-mib",
        type=int,
        default=DEFAULT_MAX_UPLOAD_BYTES // 1024**2,
        help="largest object, part or model artifact accepted; larger is 413 (default 6144)",
    )
    parser.add_argument(
        "--cores-per-compartment",
        type=float,
        default=0,
        metavar="N",
        help="service limit: model deployment cores per compartment; beyond it 400 LimitExceeded (default 0: none)",
    )
    faults = parser.add_argument_group("faults (also settable at run time: POST /_emulator/faults)")
    faults.add_argument("--latency-ms", type=float, default=0.0, help="added to every OCI call")
    faults.add_argument(
        "--error-rate",
        action="append",
        default=[],
        metavar="[OPERATION=]STATUS:P",
        help="answer STATUS (429, 500, 503...) with probability P, for one operation or all "
        "(e.g. 429:0.1 or ListModelDeployments=503:0.2); repeatable",
    )
    faults.add_argument(
        "--fail-work-requests", type=float, default=0.0, metavar="P", help="work requests FAILED"
    )
    faults.add_argument("--seed", type=int, help="random seed, for reproducible faults")


def faults_from_args(args: argparse.Namespace) -> FaultConfig:
    """The start-time fault flags as a FaultConfig; a malformed --error-rate is a usage error."""
    rates: dict[str, dict[int, float]] = {}
    for spec in args.error_rate:
        operation, _, rest = spec.rpartition("=")
        status, _, probability = rest.partition(":")
        try:
            rates.setdefault(operation or "*", {})[int(status)] = float(probability)
        except ValueError as exc:
            raise SystemExit(f"mdr emulator: --error-rate {spec!r} is not [OPERATION=]STATUS:P") from exc
    return FaultConfig(
        latency_ms=args.latency_ms,
        error_rates=rates,
        fail_work_requests=args.fail_work_requests,
        seed=args.seed,
    )


def serve(args: argparse.Namespace) -> int:
    emulator = Emulator(
        state_dir=args.state,
        host=args.host,
        port=args.port,
        work_request_seconds=args.work_request_seconds,
        verify_signatures=not args.no_verify_signatures,
        region=args.region,
        max_upload_bytes=args.max_upload_mib * 1024**2,
        buckets=args.bucket,
        auto_create_buckets=args.auto_create_buckets,
        cores_per_compartment=args.cores_per_compartment,
    ).start()
    faults = faults_from_args(args)
    if faults != FaultConfig():
        emulator.set_faults(faults)
    config_dir = args.config_out or ((args.state / "oci") if args.state else Path(".mdr/emulator-oci"))
    config = emulator.write_oci_config(config_dir, profile="DEFAULT")
    print(f"mdr emulator listening on {emulator.url} (Ctrl-C to stop)")
    print(f"OCI config for it: {config} (profile DEFAULT)\n")
    print("  Point mdr at it:")
    print(f"    mdr plan manifests/ --endpoint {emulator.url} --config-file {config}")
    print("  The oci CLI:")
    print(
        f"    oci --config-file {config} --endpoint {emulator.url}/20190101 "
        "data-science model-deployment list --compartment-id <compartment OCID>"
    )
    print("  The Python SDK:")
    print(
        f"    oci.data_science.DataScienceClient(oci.config.from_file('{config}'), "
        f"service_endpoint='{emulator.url}')",
        flush=True,
    )
    if faults != FaultConfig():
        print(f"\nInjecting faults: {json.dumps(faults.to_dict())}", flush=True)
    stop = threading.Event()

    def handle(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    stop.wait()
    emulator.stop()
    print("emulator stopped")
    return 0
