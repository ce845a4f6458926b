"""``mdr logs``: print a deployment's access and predict log entries, oldest first; ``--follow`` for new ones."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from reconciler.adapters.cloud import open_provider
from reconciler.cli.common import EXIT_OK, Subparsers, add_target_options, target_from_args
from reconciler.core.errors import MdrError

if TYPE_CHECKING:
    from reconciler.core.stack import Stack
    from reconciler.engine.logs import Entry

DEFAULT_SINCE = "14d"  # the window ADS show_logs() reads by default
DEFAULT_LIMIT = 100
DEFAULT_INTERVAL = 3.0


def cmd_logs(args: argparse.Namespace) -> int:
    from reconciler.engine.logs import parse_since
    from reconciler.engine.workflows import load_valid_stack

    if args.limit < 1:
        raise MdrError(f"--limit {args.limit}: give 1 or more entries")
    if not 0 < args.interval <= 3600:  # also refuses nan and inf
        raise MdrError(f"--interval {args.interval}: give a number of seconds above 0, at most 3600")
    since = parse_since(args.since, datetime.now(UTC))
    stack = load_valid_stack(Path(args.path))
    assert stack.config is not None

    def emit(entry: Entry) -> None:
        print(entry.line(), flush=True)

    try:
        return _print_logs(args, stack, since, emit)
    except BrokenPipeError:  # `mdr logs ... | head`: the reader has all it wants
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _print_logs(
    args: argparse.Namespace, stack: Stack, since: datetime, emit: Callable[[Entry], None]
) -> int:
    from reconciler.engine.logs import Follower, deployment_id, log_refs, search

    assert stack.config is not None
    manifest = stack.deployment(args.name)
    if manifest is None:
        raise MdrError(f"no deployment named {args.name!r} in the manifests")
    with open_provider(target_from_args(args), stack.config.region) as provider:
        found = deployment_id(provider, stack.config.stack, manifest.key, manifest.compartment_id, args.name)
        refs = log_refs(provider, found, args.name, args.kind)
        if not args.follow:
            for entry in search(provider, refs, found, since, datetime.now(UTC), args.limit):
                emit(entry)
            return EXIT_OK
        previous = signal.signal(signal.SIGTERM, _interrupt)  # stopped like Ctrl-C (e.g. by a supervisor)
        try:
            Follower(provider, refs, found, args.interval).run(since, args.limit, emit)
        except KeyboardInterrupt:
            return EXIT_OK  # the way --follow ends
        finally:
            signal.signal(signal.SIGTERM, previous)
    return EXIT_OK


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def register(sub: Subparsers) -> None:
    p = sub.add_parser("logs", help="print a deployment's access and predict log entries (Log Search)")
    p.add_argument("path", help="manifest tree (folder holding mdr.yaml)")
    p.add_argument("name", help="deployment name (metadata.name)")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new entries until Ctrl-C")
    p.add_argument(
        "--since",
        default=DEFAULT_SINCE,
        metavar="WHEN",
        help=f"a duration back from now (30s, 10m, 2h, 3d) or an ISO time (default {DEFAULT_SINCE})",
    )
    p.add_argument(
        "--kind", choices=["access", "predict", "all"], default="all", help="which log (default all)"
    )
    p.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"print the newest N entries found (default {DEFAULT_LIMIT})",
    )
    p.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL,
        metavar="SECONDS",
        help=f"--follow: seconds between searches while entries come (default {DEFAULT_INTERVAL:g})",
    )
    add_target_options(p)
    p.set_defaults(handler=cmd_logs)
