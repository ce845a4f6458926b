"""Environment commands, manifests only: ``mdr diff-env`` and ``mdr promote``."""

from __future__ import annotations

import argparse
from pathlib import Path

from reconciler.cli.common import EXIT_OK, Subparsers


def cmd_diff_env(args: argparse.Namespace) -> int:
    from reconciler.core.envdiff import render_environment_diff
    from reconciler.engine.environments import diff_env

    print(render_environment_diff(diff_env(args.left, args.right, Path(args.envs))))
    return EXIT_OK


def cmd_promote(args: argparse.Namespace) -> int:
    from reconciler.engine.environments import promote

    done = promote(args.name, args.source, args.target, Path(args.envs))
    if not done.changed:
        print(
            f"{args.target} already runs what {args.source} runs for {done.name}: {done.after}; nothing written"
        )
        return EXIT_OK
    print(f"{done.name}: {args.target} {done.before}")
    print(f"{' ' * len(done.name)}  → {done.after}, as {args.source} has it")
    print(f"wrote {done.file}; review it, commit it, and the {args.target} plan carries it out")
    return EXIT_OK


def register(sub: Subparsers) -> None:
    envs_help = "folder whose subfolders are environments, for names that are not a path (default: envs)"
    p = sub.add_parser(
        "diff-env",
        help="show how two environments differ, field by field, after their overlays (no cloud access)",
        description="Compare two environments (folders with an mdr.yaml, usually overlays of one base): the "
        "stack settings and each deployment as mdr would plan it.",
    )
    p.add_argument("left", help="an environment: its folder, or its name under --envs")
    p.add_argument("right", help="the environment to compare it with")
    p.add_argument("--envs", default="envs", help=envs_help)
    p.set_defaults(handler=cmd_diff_env)
    p = sub.add_parser(
        "promote",
        help="write the model one environment runs for a deployment into another's overlay, ready to commit",
        description="Copy the model (local artifact, object URI or model OCID) that --from's manifests give "
        "deployment NAME into --to's promotions.yaml. Nothing in the cloud changes until --to is applied.",
    )
    p.add_argument("name", help="the deployment (metadata.name)")
    p.add_argument("--from", dest="source", required=True, help="the environment to promote from")
    p.add_argument("--to", dest="target", required=True, help="the environment to promote to")
    p.add_argument("--envs", default="envs", help=envs_help)
    p.set_defaults(handler=cmd_promote)
