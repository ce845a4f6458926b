"""``mdr doctor``: check that a target is reachable and that this caller may read what a plan reads."""

from __future__ import annotations

import argparse
from pathlib import Path

from reconciler.adapters.cloud import open_provider
from reconciler.cli.common import EXIT_ERROR, EXIT_OK, Subparsers, add_target_options, target_from_args
from reconciler.core.errors import ValidationFailed


def cmd_doctor(args: argparse.Namespace) -> int:
    from reconciler.engine.doctor import WRITES_NOT_PROBED, run_checks
    from reconciler.engine.validate import validate_tree

    stack, issues = validate_tree(Path(args.path))
    if stack.config is None:  # no stack file: no region, compartments or buckets to check
        raise ValidationFailed(issues)
    checks = failed = 0
    if issues:  # the target is still checked for the manifests that are valid
        checks, failed = 1, 1
        print(f"FAIL manifests: {len(issues)} error(s); fix: run mdr validate {args.path}", flush=True)
    with open_provider(target_from_args(args), stack.config.region) as provider:
        for check in run_checks(stack, provider, local=args.local):
            print(check.line(), flush=True)
            checks += 1
            failed += not check.ok
    print(f"{checks} check(s), {failed} failed; {WRITES_NOT_PROBED}")
    return EXIT_ERROR if failed else EXIT_OK


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "doctor",
        help="check that the target is reachable and allows every read a plan of the stack makes",
    )
    p.add_argument("path", help="manifest tree (folder holding mdr.yaml)")
    add_target_options(p)
    p.set_defaults(handler=cmd_doctor)
