"""The laptop commands: ``mdr quickstart`` and ``mdr emulator``."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

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
    from reconciler.engine.predict import parse_payload
    from reconciler.engine.workflows import ApplyRequest, apply_tree, compute_plan, load_valid_stack, report

    if not args.endpoint:
        args.local = True  # the point of the quickstart: no cloud account needed
    if args.example and args.path is not None:
        raise MdrError(
            f"give PATH or --example, not both (--example {args.example} runs examples/{args.example})"
        )
    args.path = str(example_path(args.example)) if args.example else args.path or "manifests"
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
    with open_provider(target_from_args(args), stack.config.region) as provider:
        call_example(stack, target, payload, provider)
        print(f"\n== 3/3 mdr plan {args.path}", flush=True)
        plan = compute_plan(stack, provider).plan
    sys.stdout.write(render(plan, "text", sys.stdout))
    if not args.example and _more_examples():
        print(_more_examples())
    print(_dashboard_hint(args))
    return EXIT_OK if not plan.has_changes else EXIT_ERROR


def call_example(stack: Any, target: Any, payload: Any, provider: Any) -> None:
    """Step 2: call the deployment as its kind is called. Each member of a model group by its inference key
    (``--member``); a body asking to ``"stream"`` on ``/predictWithResponseStream``, its tokens printed as they
    arrive; anything else on ``/predict``."""
    from reconciler.engine.event_text import EventText
    from reconciler.engine.predict import JSON, Payload, Target, predict, predict_raw, predict_stream

    body = Payload(json.dumps(payload).encode(), JSON)
    group = target.manifest.spec.modelGroup
    if group is not None:
        for member in group.members:
            key = str(member.inferenceKey)
            print(f"\n== 2/3 POST {target.name}/predict --member {key} {json.dumps(payload)}", flush=True)
            answer = predict_raw(stack, target.name, body, provider, target=Target(member=key))
            print(json.dumps(answer.value(), indent=2))
        return
    if isinstance(payload, dict) and payload.get("stream") is True:
        print(f"\n== 2/3 POST {target.name}/predictWithResponseStream {json.dumps(payload)}", flush=True)
        text = EventText()
        for chunk in predict_stream(stack, target.name, body, provider):
            sys.stdout.write(text.feed(chunk).decode("utf-8", errors="replace"))
            sys.stdout.flush()  # the tokens as they arrive
        print(text.end().decode("utf-8", errors="replace"))
        return
    print(f"\n== 2/3 POST {target.name}/predict {json.dumps(payload)}", flush=True)
    print(json.dumps(predict(stack, target.name, payload, provider), indent=2))


#: what ``mdr quickstart --example NAME`` runs: examples/NAME of the working folder or of mdr's checkout
EXAMPLES = {
    "multi-model": "three standard-library models behind one MODEL_GROUP endpoint, each called by its key",
    "llm": "a chat model with the OpenAI request shape whose answer streams token by token",
}


def example_path(name: str) -> Path:
    """``examples/NAME`` in the working folder, else in the checkout mdr runs from (an editable install)."""
    for root in (Path.cwd(), Path(__file__).resolve().parents[2]):  # parents[2]: the checkout
        folder = root / "examples" / name
        if (folder / "mdr.yaml").is_file():
            return folder.relative_to(Path.cwd()) if folder.is_relative_to(Path.cwd()) else folder
    raise MdrError(
        f"examples/{name} is not here: run mdr quickstart --example {name} from a checkout of mdr "
        "(the examples are not part of an installed package)"
    )


def _more_examples() -> str:
    """Point to the other examples, when they are there to run."""
    lines = []
    for name, what in EXAMPLES.items():
        try:
            example_path(name)
        except MdrError:
            continue
        lines.append(f"  mdr quickstart --example {name:<12} # {what}")
    return "\n== more examples\n" + "\n".join(lines) if lines else ""


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
    p.add_argument("path", nargs="?", default=None, help="manifest tree (default: manifests)")
    p.add_argument("--name", help="the deployment to call (default: the first with an example input)")
    p.add_argument("--data", help="JSON to send (or @file.json) instead of the example input annotation")
    p.add_argument(
        "--example",
        choices=sorted(EXAMPLES),
        help="run examples/NAME instead of PATH: multi-model (a model group) or llm (a streaming chat model)",
    )
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
