"""Day-two commands: ``mdr status``, ``audit``, ``rollback``, ``unlock`` and ``predict``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from reconciler.adapters.cloud import open_provider
from reconciler.cli.common import (
    EXIT_OK,
    Subparsers,
    add_apply_options,
    add_target_options,
    apply_options,
    provider_factory,
    target_from_args,
)
from reconciler.core.errors import ValidationFailed


def cmd_status(args: argparse.Namespace) -> int:
    from reconciler.adapters.journal import AuditLog
    from reconciler.core.status import deployment_statuses, render_statuses
    from reconciler.engine.health import check_statuses
    from reconciler.engine.workflows import compute_plan, load_valid_stack

    stack = load_valid_stack(Path(args.path))
    assert stack.config is not None
    with open_provider(target_from_args(args), stack.config.region) as provider:
        result = compute_plan(stack, provider)
        target = provider.label
        last: dict[str, str] = {}
        for record in AuditLog.for_stack(stack.config.stack).read():
            if record.get("target") not in (target, None):
                continue  # a write to another cloud (the emulator, another region) is not this one's history
            if str(record.get("outcome")) == "accepted":
                last[str(record["key"])] = str(record["time"])
        statuses = deployment_statuses(result.plan, result.live, last)
        check_statuses(statuses, result.plan, provider)  # spec.healthCheck: Degraded when it fails now
    if args.output == "json":
        print(json.dumps([s.to_dict() for s in statuses], indent=2))
    else:
        sys.stdout.write(render_statuses(statuses))
        if args.local and any(s.url for s in statuses):
            sys.stdout.write(LOCAL_URLS_NOTE.format(path=args.path))
    return EXIT_OK


#: the embedded emulator serves its URLs only while the mdr command that started it runs
LOCAL_URLS_NOTE = """
note: with --local these URLs are temporary. The embedded emulator served them only while this
command ran; the next --local command serves the deployments on another port. To call one:
  mdr predict {path} NAME --local --data '{{"your": "input"}}'
For URLs that stay up, run `mdr emulator` in another terminal and use the --endpoint and
--config-file it prints instead of --local.
"""


def cmd_audit(args: argparse.Namespace) -> int:
    from reconciler.adapters.journal import AuditLog
    from reconciler.adapters.manifests import find_root, load_stack_config

    config, _, issues = load_stack_config(find_root(Path(args.path)))
    if config is None:
        raise ValidationFailed(issues)
    records = AuditLog.for_stack(config.stack).read(args.target)
    records = records[-args.last :] if args.last else records
    if args.output == "json":
        for record in records:
            print(json.dumps(record, sort_keys=True))
        return EXIT_OK
    for r in records:
        print(
            f"{r['time']}  {r.get('target') or '-'}  {r['operation']:<34} {r['key']:<40} {r['outcome']:<12} "
            f"request={r.get('opcRequestId') or '-'} work_request={r.get('opcWorkRequestId') or '-'}"
        )
    return EXIT_OK


def cmd_rollback(args: argparse.Namespace) -> int:
    from reconciler.cli.progress import live_progress
    from reconciler.engine.rollback import rollback

    with live_progress(apply_options(args)) as options:
        return rollback(
            Path(args.path), args.name, args.to, provider_factory(args), args.lock_timeout, options
        )


def cmd_unlock(args: argparse.Namespace) -> int:
    from reconciler.adapters.lock import lock_for
    from reconciler.engine.workflows import load_valid_stack

    stack = load_valid_stack(Path(args.path))
    assert stack.config is not None
    config = stack.config
    with open_provider(target_from_args(args), config.region) as provider:
        lock = lock_for(config.stack, config.lock.model_dump() if config.lock else None, provider)
        holder = lock.force_unlock()
    print(f"unlocked {lock.describe()}" + (f" (was held by {holder})" if holder else " (it was not held)"))
    return EXIT_OK


def cmd_predict(args: argparse.Namespace) -> int:
    from reconciler.engine.predict import payload_from_options, predict_raw, target_from_options
    from reconciler.engine.workflows import load_valid_stack

    target = target_from_options(args.member, args.route, args.method)
    optional = target.method in ("GET", "DELETE")
    payload = payload_from_options(args.data, args.data_file, args.content_type, optional=optional)
    stack = load_valid_stack(Path(args.path))
    assert stack.config is not None
    out = sys.stdout.buffer
    with open_provider(target_from_args(args), stack.config.region) as provider:
        if args.stream:
            return _print_stream(args, stack, payload, provider, target)
        answer = predict_raw(stack, args.name, payload, provider, target=target)
    value = answer.value()
    if isinstance(value, bytes):
        out.write(value)  # binary answers as they are (redirect them to a file)
    elif isinstance(value, str):
        print(value)
    else:
        print(json.dumps(value, indent=2))
    return EXIT_OK


def _print_stream(args: argparse.Namespace, stack: Any, payload: Any, provider: Any, target: Any) -> int:
    """Print each chunk as it arrives: the tokens of OpenAI-style events (``--raw``: the events as sent)."""
    from reconciler.engine.event_text import EventText
    from reconciler.engine.predict import predict_stream

    out = sys.stdout.buffer
    text = None if args.raw else EventText()
    last = b"\n"
    for chunk in predict_stream(stack, args.name, payload, provider, target=target):
        shown = chunk if text is None else text.feed(chunk)
        if shown:
            out.write(shown)
            out.flush()  # each chunk as it arrives, not when the answer ends
            last = shown
    rest = b"" if text is None else text.end()
    if rest:
        out.write(rest)
        last = rest
    if not last.endswith(b"\n") and (sys.stdout.isatty() or (text is not None and text.events)):
        out.write(b"\n")
    out.flush()
    return EXIT_OK


def register(sub: Subparsers) -> None:
    p = sub.add_parser("status", help="sync and health of each managed deployment")
    p.add_argument("path", help="manifest tree (folder holding mdr.yaml)")
    p.add_argument("--output", choices=["text", "json"], default="text")
    add_target_options(p)
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser(
        "rollback", help="point a deployment back at its previous owned model (or model group version)"
    )
    p.add_argument("path", help="manifest tree (folder holding mdr.yaml)")
    p.add_argument("name", help="deployment name (metadata.name)")
    p.add_argument(
        "--to",
        metavar="OCID",
        help="a specific owned model, or model group version for a spec.modelGroup deployment "
        "(default: the previous one)",
    )
    add_apply_options(p)
    add_target_options(p)
    p.set_defaults(handler=cmd_rollback)

    p = sub.add_parser("predict", help="call a deployment's /predict endpoint (signed) and print the answer")
    p.add_argument("path", help="manifest tree (folder holding mdr.yaml)")
    p.add_argument("name", help="deployment name (metadata.name)")
    p.add_argument("--data", metavar="JSON", help="request JSON, or @file.json (sent as application/json)")
    p.add_argument("--data-file", metavar="FILE", help="send this file's bytes as the request body")
    p.add_argument(
        "--content-type",
        metavar="TYPE",
        help="content type of --data-file (default: guessed from its name, else application/octet-stream)",
    )
    p.add_argument(
        "--stream",
        action="store_true",
        help="call /predictWithResponseStream and print the answer as it arrives "
        "(the tokens of OpenAI-style server-sent events)",
    )
    p.add_argument("--raw", action="store_true", help="with --stream: print server-sent events as sent")
    p.add_argument(
        "--member",
        metavar="KEY",
        help="the model group member to call, by inference key or model OCID (sent as the model-key header)",
    )
    p.add_argument(
        "--route",
        metavar="SUFFIX",
        help="call an endpoint the deployment allows (predictApiSpecification, customHttpEndpoints), "
        "e.g. /v1/chat/completions: POST <URL>/predict/v1/chat/completions",
    )
    p.add_argument(
        "--method",
        choices=["POST", "GET", "PUT", "DELETE"],
        default="POST",
        type=str.upper,
        help="HTTP method of the call (GET and DELETE need no body)",
    )
    add_target_options(p)
    p.set_defaults(handler=cmd_predict)

    p = sub.add_parser("audit", help="print the audit log of API writes for the stack")
    p.add_argument("path", help="manifest tree (folder holding mdr.yaml)")
    p.add_argument("--output", choices=["text", "json"], default="text")
    p.add_argument("--last", type=int, default=0, metavar="N", help="only the last N entries")
    p.add_argument(
        "--target",
        metavar="TEXT",
        help="only writes to a target containing TEXT (e.g. oci:, local:, a region)",
    )
    p.set_defaults(handler=cmd_audit)

    p = sub.add_parser("unlock", help="remove a stale stack lock left by a dead writer")
    p.add_argument("path", help="manifest tree (folder holding mdr.yaml)")
    add_target_options(p)
    p.set_defaults(handler=cmd_unlock)
