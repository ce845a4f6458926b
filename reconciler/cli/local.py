"""The laptop commands: ``mdr quickstart`` and ``mdr emulator``."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from reconciler.adapters.cloud import open_provider
from reconciler.cli.common import (
    EXAMPLE_INPUT,
    EXIT_ERROR,
    EXIT_OK,
    Subparsers,
    add_apply_options,
    add_emulator_target_options,
    apply_options,
    confirm,
    provider_factory,
    target_from_args,
)
from reconciler.core.errors import MdrError
from reconciler.emulator.cli import add_arguments


def cmd_quickstart(args: argparse.Namespace) -> int:
    """Apply a stack to the embedded emulator, call one deployment's predict URL, then plan again."""
    from reconciler.adapters.journal import state_dir
    from reconciler.cli.progress import live_progress
    from reconciler.core.render import render
    from reconciler.engine.predict import parse_payload, predict
    from reconciler.engine.workflows import ApplyRequest, apply_tree, compute_plan, load_valid_stack, report

    if not args.endpoint:
        args.local = True  # the point of the quickstart: no cloud account needed
    stack = load_valid_stack(Path(args.path))
    assert stack.config is not None
    chosen = [
        d
        for d in stack.deployments
        if (args.name is None or d.name == args.name)
        and (args.data or EXAMPLE_INPUT in d.manifest.metadata.annotations)
    ]
    if not chosen:
        raise MdrError(
            f"no deployment {'named ' + repr(args.name) + ' ' if args.name else ''}with an "
            f"{EXAMPLE_INPUT} annotation to call; pass --name and --data"
        )
    target = chosen[0]
    payload = parse_payload(args.data or target.manifest.metadata.annotations[EXAMPLE_INPUT])
    print(
        f"== 1/3 mdr apply {args.path} (embedded OCI emulator, state in {state_dir() / 'local'}/)", flush=True
    )
    with live_progress(apply_options(args)) as options:
        request = ApplyRequest(path=Path(args.path), auto_approve=True, options=options)
        _plan, result = apply_tree(request, provider_factory(args), confirm)
    if result is not None:
        report(result, sys.stdout)
        if not result.ok:
            return EXIT_ERROR
    print(f"\n== 2/3 POST {target.name}/predict {json.dumps(payload)}", flush=True)
    with open_provider(target_from_args(args), stack.config.region) as provider:
        print(json.dumps(predict(stack, target.name, payload, provider), indent=2))
        print(f"\n== 3/3 mdr plan {args.path}", flush=True)
        plan = compute_plan(stack, provider).plan
    sys.stdout.write(render(plan, "text", sys.stdout))
    print(_dashboard_hint(args))
    return EXIT_OK if not plan.has_changes else EXIT_ERROR


#: where the quickstart suggests serving the dashboard (loopback only: it is a local look)
DASHBOARD_LISTEN = "127.0.0.1:9000"


def _dashboard_hint(args: argparse.Namespace) -> str:
    """How to see the same stack in the controller's web dashboard, on the same target as this run."""
    target = ["--endpoint", args.endpoint] if args.endpoint else ["--local"]
    if args.endpoint and args.config_file:
        target += ["--config-file", args.config_file]
    command = shlex.join(["mdr", "controller", args.path, *target, "--listen", DASHBOARD_LISTEN])
    return (
        "\n== next: watch it in the dashboard\n"
        f"  {command}\n"
        f"then open http://{DASHBOARD_LISTEN}/ (sync, health, drift, the pending diff, history and predict\n"
        "URLs; the controller keeps the stack in line with the manifests until Ctrl-C)."
    )


def cmd_emulator(args: argparse.Namespace) -> int:
    from reconciler.emulator.cli import serve

    try:
        return serve(args)
    except OSError as exc:  # the port is taken, the state folder is not writable, ...
        raise MdrError(f"cannot run the emulator on {args.host}:{args.port}: {exc.strerror or exc}") from exc


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "quickstart",
        help="apply a stack to the embedded emulator, call a deployment's predict URL, then plan (no changes)",
        description="The whole loop on a laptop: apply PATH to the embedded OCI emulator, POST the example "
        f"input (the {EXAMPLE_INPUT} annotation, or --data) to a deployment's predict URL and show the answer, "
        "then plan again to show that nothing is left to change.",
    )
    p.add_argument("path", nargs="?", default="manifests", help="manifest tree (default: manifests)")
    p.add_argument("--name", help="the deployment to call (default: the first with an example input)")
    p.add_argument("--data", help="JSON to send (or @file.json) instead of the example input annotation")
    add_emulator_target_options(p)
    add_apply_options(p)
    p.set_defaults(handler=cmd_quickstart)

    p = sub.add_parser(
        "emulator",
        help="run the local OCI emulator (Data Science, Logging, Object Storage)",
        description="Run the local OCI emulator and print how to point mdr, the SDK and the oci CLI at it.",
    )
    add_arguments(p)
    p.set_defaults(handler=cmd_emulator)
