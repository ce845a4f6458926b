"""What every command shares: exit codes, error printing, target and apply options."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from reconciler.adapters.cloud import AUTH_MODES, Target, open_provider
from reconciler.core.errors import Issue, MdrError
from reconciler.engine.apply import ApplyOptions

Subparsers = Any  # argparse's _SubParsersAction, which has no public name


EXIT_OK = 0


EXIT_ERROR = 1


EXIT_CHANGES = 2


Handler = Callable[[argparse.Namespace], int]


EXAMPLE_INPUT = "mdr.io/example-input"


def print_issues(issues: list[Issue]) -> None:
    for issue in issues:
        print(f"error: {issue}", file=sys.stderr)
    files = len({i.file for i in issues})
    print(f"{len(issues)} error(s) in {files} file(s)", file=sys.stderr)


def target_from_args(args: argparse.Namespace) -> Target:
    if args.local and args.endpoint:
        raise MdrError("choose one of --local and --endpoint")
    return Target(
        local=args.local,
        endpoint=args.endpoint,
        profile=args.profile,
        config_file=args.config_file,
        auth=args.auth,
        region=args.region,
    )


def provider_factory(args: argparse.Namespace) -> Callable[[str | None], Any]:
    target = target_from_args(args)
    return lambda region: open_provider(target, region)


def confirm(plan: object) -> bool:
    if not sys.stdin.isatty():
        raise MdrError(
            "refusing to ask for confirmation without a terminal; review the plan and pass --auto-approve"
        )
    answer = input("Do you want to perform these actions? Only 'yes' will be accepted: ")
    return answer.strip() == "yes"


def apply_options(args: argparse.Namespace) -> ApplyOptions:
    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    return ApplyOptions(
        concurrency=args.concurrency,
        per_compartment=args.per_compartment,
        timeout_seconds=args.timeout,
        progress=progress,
    )


def add_emulator_target_options(parser: argparse.ArgumentParser) -> None:
    """For commands that only ever talk to an emulator (embedded, or a running one at --endpoint)."""
    group = parser.add_argument_group("target (default: the embedded emulator)")
    group.add_argument("--endpoint", help="a running mdr emulator instead of the embedded one")
    group.add_argument("--config-file", help="the OCI config that emulator wrote (with --endpoint)")
    parser.set_defaults(local=False, profile="DEFAULT", auth="api_key", region=None)


def add_target_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("target (default: real OCI with ~/.oci/config)")
    group.add_argument(
        "--local",
        action="store_true",
        help="use the embedded emulator (state in $MDR_STATE_DIR/local, default .mdr/local)",
    )
    group.add_argument("--endpoint", help="one base URL for all OCI services, e.g. a running mdr emulator")
    group.add_argument(
        "--profile", default=os.environ.get("OCI_CLI_PROFILE", "DEFAULT"), help="OCI config profile"
    )
    group.add_argument("--config-file", help="OCI config file (default ~/.oci/config)")
    group.add_argument("--auth", choices=AUTH_MODES, default="api_key", help="OCI authentication")
    group.add_argument("--region", help="override the stack's region")


def add_apply_options(parser: argparse.ArgumentParser, lock_timeout: bool = True) -> None:
    """``lock_timeout`` is False for the controller: it waits for the lock as a standby, for as long as it takes."""
    group = parser.add_argument_group("apply")
    group.add_argument(
        "--concurrency", type=int, default=64, help="changes applied at once, at most (default 64)"
    )
    group.add_argument(
        "--per-compartment",
        type=int,
        default=32,
        help="changes at once per compartment, at most: each starts at 8 and grows while the service "
        "accepts work, halved when it throttles (default 32; lower it for compartments shared with others)",
    )
    group.add_argument(
        "--timeout", type=float, default=1800, help="seconds to wait for one operation (default 1800)"
    )
    if lock_timeout:
        group.add_argument(
            "--lock-timeout", type=float, default=60, help="seconds to wait for the stack lock (default 60)"
        )
