"""``mdr controller``: reconcile continuously from a folder or a git branch."""

from __future__ import annotations

import argparse
from pathlib import Path

from reconciler.cli.common import (
    Subparsers,
    add_apply_options,
    add_target_options,
    apply_options,
    target_from_args,
)
from reconciler.core.errors import MdrError
from reconciler.engine.apply import ApplyOptions


def cmd_controller(args: argparse.Namespace) -> int:
    import logging

    from reconciler.engine.controller import (
        ApiSecrets,
        ControllerConfig,
        ControllerHost,
        configure_logging,
        parse_duration,
        parse_listen,
    )

    if not args.git_url and not args.path:
        raise MdrError("give a manifest PATH, or --git-url URL --branch B")
    configure_logging(args.log_format)
    config = ControllerConfig(
        path=Path(args.path) if args.path and not args.git_url else None,
        git_url=args.git_url,
        branch=args.branch,
        git_subdir=args.path or ".",
        git_interval=parse_duration(args.git_interval),
        interval=parse_duration(args.interval),
        self_heal=args.self_heal,
        listen=parse_listen(args.listen) if args.listen else None,
        budget_rate=args.api_rate,
        prune_settle=parse_duration(args.prune_settle),
        shard_bucket=args.shard_bucket,
        shard_ttl=_shard_ttl(args.shard_ttl),
    )
    progress_log = logging.getLogger("mdr.apply")

    def options() -> ApplyOptions:  # one per stack: each controller arms its own abort, fence and events
        made = apply_options(args)
        made.progress = progress_log.info
        return made

    host = ControllerHost(config, target_from_args(args), options, ApiSecrets.from_env())
    host.install_signal_handlers()
    return host.run()


def _shard_ttl(text: str) -> float:
    from reconciler.engine.controller import parse_duration

    seconds = parse_duration(text)
    if seconds < 5:
        raise MdrError(f"--shard-ttl {text}: at least 5s (replicas renew their leases every third of it)")
    return seconds


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "controller",
        help="reconcile continuously every stack of a folder or a git branch (one stack or many)",
    )
    p.add_argument(
        "path",
        nargs="?",
        help="a stack's folder, or a tree of stacks (every folder with an mdr.yaml); with --git-url, "
        "that folder inside the repo",
    )
    p.add_argument(
        "--interval", default="5m", help="drift resync period, e.g. 30s, 5m (default 5m, +-10%% jitter)"
    )
    p.add_argument("--git-url", help="keep a clone of this repository and reconcile its branch")
    p.add_argument("--branch", default="main", help="git branch to follow (default main)")
    p.add_argument("--git-interval", default="30s", help="git polling period (default 30s)")
    p.add_argument("--self-heal", action="store_true", help="correct drift (default: report it only)")
    p.add_argument("--listen", help="serve /healthz /readyz /metrics /status on [HOST]:PORT, e.g. :9000")
    p.add_argument("--log-format", choices=["text", "json"], default="text")
    p.add_argument(
        "--api-rate", type=float, default=10.0, help="API request budget, calls/s (adapts to 429s)"
    )
    p.add_argument(
        "--prune-settle",
        default="10s",
        help="run a prune only when tree reads this far apart agree on it (default 10s): an editor's "
        "truncate-then-write save never deletes anything",
    )
    p.add_argument(
        "--shard-bucket",
        help="a tree of stacks: share them among the replicas given the same bucket (per-stack leases, "
        "a heartbeat per replica); each serves its even share, a dead one's stacks move within --shard-ttl",
    )
    p.add_argument(
        "--shard-ttl", default="30s", help="how long a silent replica keeps its stacks (default 30s)"
    )
    add_apply_options(p, lock_timeout=False)
    add_target_options(p)
    p.set_defaults(handler=cmd_controller)
