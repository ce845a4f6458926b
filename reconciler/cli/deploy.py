"""``mdr plan`` and ``mdr apply``: the reviewed change, and exactly that change."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reconciler.adapters.cloud import open_provider
from reconciler.cli.common import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    Subparsers,
    add_apply_options,
    add_target_options,
    apply_options,
    confirm,
    provider_factory,
    target_from_args,
)
from reconciler.core.errors import MdrError


def cmd_plan(args: argparse.Namespace) -> int:
    from reconciler.adapters.planfile import write_plan
    from reconciler.core.render import render
    from reconciler.engine.workflows import compute_plan, load_valid_stack

    stack = load_valid_stack(Path(args.path))
    with open_provider(target_from_args(args), stack.config.region if stack.config else None) as provider:
        result = compute_plan(stack, provider, prune=args.prune or None, allow_deletes=args.allow_deletes)
    plan = result.plan
    sys.stdout.write(render(plan, args.output, sys.stdout, verbose=args.verbose))
    if args.out:
        write_plan(plan, Path(args.out))
        print(f"Saved the plan to {args.out}; apply exactly it with: mdr apply {args.out}", file=sys.stderr)
    if plan.errors:
        return EXIT_ERROR
    if args.detailed_exitcode and plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK


def cmd_apply(args: argparse.Namespace) -> int:
    from reconciler.cli.progress import live_progress
    from reconciler.engine.workflows import ApplyRequest, apply_saved_plan, apply_tree, report

    path = Path(args.path)
    if path.is_file() and path.suffix == ".json":
        if args.prune or args.allow_deletes is not None:
            raise MdrError(
                "--prune and --allow-deletes belong to plan time; a saved plan is applied as it is"
            )
        from reconciler.adapters.planfile import read_plan

        saved = read_plan(path)
        with (
            open_provider(target_from_args(args), saved.region) as provider,
            live_progress(apply_options(args)) as options,
        ):
            result = apply_saved_plan(path, provider, args.lock_timeout, options)
    else:
        with live_progress(apply_options(args)) as options:
            request = ApplyRequest(
                path=path,
                auto_approve=args.auto_approve,
                prune=args.prune or None,
                allow_deletes=args.allow_deletes,
                lock_timeout=args.lock_timeout,
                options=options,
            )
            _plan, maybe = apply_tree(request, provider_factory(args), confirm)
        if maybe is None:
            return EXIT_OK
        result = maybe
    report(result, sys.stdout)
    return EXIT_OK if result.ok else EXIT_ERROR


def register(sub: Subparsers) -> None:
    p = sub.add_parser("plan", help="show what apply would change")
    p.add_argument("path", help="manifest tree (folder holding mdr.yaml)")
    p.add_argument("--out", help="save the plan (JSON) for mdr apply PLANFILE")
    p.add_argument("--output", choices=["text", "json", "markdown"], default="text")
    p.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when there are changes")
    p.add_argument("--prune", action="store_true", help="plan deletes of owned resources no manifest names")
    p.add_argument("--allow-deletes", type=int, metavar="N", help="allow up to N deletes/replaces")
    p.add_argument("-v", "--verbose", action="store_true", help="also print API call counts")
    add_target_options(p)
    p.set_defaults(handler=cmd_plan)

    p = sub.add_parser("apply", help="apply the manifests (plan, confirm, apply) or exactly a saved plan")
    p.add_argument("path", help="manifest tree, or a plan file saved by mdr plan --out")
    p.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation")
    p.add_argument("--prune", action="store_true", help="delete owned resources no manifest names")
    p.add_argument("--allow-deletes", type=int, metavar="N", help="allow up to N deletes/replaces")
    add_apply_options(p)
    add_target_options(p)
    p.set_defaults(handler=cmd_apply)
