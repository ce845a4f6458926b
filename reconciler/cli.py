"""The ``mdr`` command line: a thin shell that parses arguments and calls the core.

Exit codes (like Terraform): 0 success / no changes, 1 error, 2 changes present (``--detailed-exitcode``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from reconciler import __version__
from reconciler.apply import ApplyOptions
from reconciler.errors import Issue, MdrError, ValidationFailed, cloud_errors, describe_cloud_error
from reconciler.oci.provider import AUTH_MODES, Target, open_provider

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2

Handler = Callable[[argparse.Namespace], int]


def _print_issues(issues: list[Issue]) -> None:
    for issue in issues:
        print(f"error: {issue}", file=sys.stderr)
    files = len({i.file for i in issues})
    print(f"{len(issues)} error(s) in {files} file(s)", file=sys.stderr)


def cmd_validate(args: argparse.Namespace) -> int:
    from reconciler.validate import validate_tree

    stack, issues = validate_tree(Path(args.path))
    if args.output == "json":
        payload = {
            "valid": not issues,
            "stack": stack.config.stack if stack.config else None,
            "deployments": sorted(d.name for d in stack.deployments),
            "errors": [issue.__dict__ for issue in issues],
        }
        print(json.dumps(payload, indent=2))
        return EXIT_ERROR if issues else EXIT_OK
    if issues:
        _print_issues(issues)
        return EXIT_ERROR
    assert stack.config is not None
    names = ", ".join(sorted(d.name for d in stack.deployments)) or "none"
    print(
        f"OK: stack {stack.config.stack} ({stack.config.region}): "
        f"{len(stack.deployments)} deployment(s) [{names}] in {len(stack.files) + 1} file(s)"
    )
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from reconciler.schema import render_reference, render_schemas, write_schemas

    out = Path(args.out)
    expected = {out / name: text for name, text in render_schemas().items()}
    if args.docs:
        expected[Path(args.docs)] = render_reference()
    if args.check:
        stale = [
            str(path)
            for path, text in expected.items()
            if not path.is_file() or path.read_text("utf-8") != text
        ]
        if stale:
            again = f"mdr schema --out {out}" + (f" --docs {args.docs}" if args.docs else "")
            print(f"error: out of date: {', '.join(stale)}; run: {again}")
            return EXIT_ERROR
        print("schemas" + (" and the manifest reference" if args.docs else "") + " are up to date")
        return EXIT_OK
    for path in write_schemas(out):
        print(f"wrote {path}")
    if args.docs:
        Path(args.docs).write_text(render_reference(), encoding="utf-8")
        print(f"wrote {args.docs}")
    return EXIT_OK


EXAMPLE_INPUT = "mdr.io/example-input"


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


def cmd_plan(args: argparse.Namespace) -> int:
    from reconciler.planner import compute_plan, load_valid_stack, write_plan
    from reconciler.render import render

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


def _provider_factory(args: argparse.Namespace) -> Callable[[str | None], Any]:
    target = target_from_args(args)
    return lambda region: open_provider(target, region)


def _confirm(plan: object) -> bool:
    if not sys.stdin.isatty():
        raise MdrError(
            "refusing to ask for confirmation without a terminal; review the plan and pass --auto-approve"
        )
    answer = input("Do you want to perform these actions? Only 'yes' will be accepted: ")
    return answer.strip() == "yes"


def _apply_options(args: argparse.Namespace) -> ApplyOptions:
    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    return ApplyOptions(
        concurrency=args.concurrency,
        per_compartment=args.per_compartment,
        timeout_seconds=args.timeout,
        progress=progress,
    )


def cmd_apply(args: argparse.Namespace) -> int:
    from reconciler.workflow import ApplyRequest, apply_saved_plan, apply_tree, report

    path = Path(args.path)
    if path.is_file() and path.suffix == ".json":
        if args.prune or args.allow_deletes is not None:
            raise MdrError(
                "--prune and --allow-deletes belong to plan time; a saved plan is applied as it is"
            )
        from reconciler.planner import read_plan

        saved = read_plan(path)
        with open_provider(target_from_args(args), saved.region) as provider:
            result = apply_saved_plan(path, provider, args.lock_timeout, _apply_options(args))
    else:
        request = ApplyRequest(
            path=path,
            auto_approve=args.auto_approve,
            prune=args.prune or None,
            allow_deletes=args.allow_deletes,
            lock_timeout=args.lock_timeout,
            options=_apply_options(args),
        )
        _plan, maybe = apply_tree(request, _provider_factory(args), _confirm)
        if maybe is None:
            return EXIT_OK
        result = maybe
    report(result, sys.stdout)
    return EXIT_OK if result.ok else EXIT_ERROR


def cmd_import(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.from_ads:
        return _import_ads(Path(args.from_ads), out, args)
    if not args.compartment:
        raise MdrError("mdr import needs --compartment OCID (live deployments) or --from-ads FILE.yaml")
    from reconciler.importer import select, write_import
    from reconciler.live import wire_of

    target = target_from_args(args)
    with open_provider(target, args.region) as provider:
        ds = provider.data_science
        items = [
            wire_of(item)
            for item in provider.list_all("ListModelDeployments", ds.list_model_deployments, args.compartment)
        ]
        region = str(provider.region or args.region or "us-ashburn-1")
    chosen = select(items, args.project, args.name_filter)
    if not chosen:
        raise MdrError(f"no unowned, settled model deployment in {args.compartment} matches; nothing written")
    written, warnings = write_import(
        chosen, out, stack=args.stack or out.resolve().name, region=region, compartment=args.compartment
    )
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"Imported {len(chosen)} deployment(s) into {out} ({len(written)} file(s) written).")
    if not args.adopt:
        print(
            f"Review them, then adopt with: mdr apply {out}  (the plan shows one tag update per deployment)"
        )
        return EXIT_OK
    args.path = str(out)
    args.prune = False
    args.allow_deletes = None
    return cmd_apply(args)


def _import_ads(source: Path, out: Path, args: argparse.Namespace) -> int:
    import yaml

    from reconciler.ads_import import AdsFormatError, convert
    from reconciler.importer import manifest_text, slug

    try:
        documents = [d for d in yaml.safe_load_all(source.read_text(encoding="utf-8")) if d is not None]
    except (OSError, yaml.YAMLError) as exc:
        raise MdrError(f"{source}: cannot read it as YAML: {exc}") from exc
    out.mkdir(parents=True, exist_ok=True)
    taken = {p.stem for p in out.glob("*.yaml")}
    for index, document in enumerate(documents, 1):
        display = (document.get("spec") or {}).get("displayName") if isinstance(document, dict) else None
        name = slug(str(args.name or display or source.stem), taken)
        try:
            conversion = convert(document, name)
        except AdsFormatError as exc:
            raise MdrError(f"{source} (document {index}): {exc}") from exc
        path = out / f"{name}.yaml"
        path.write_text(manifest_text(conversion.manifest, None), encoding="utf-8")
        for warning in conversion.warnings:
            print(f"warning: {source}: {warning}", file=sys.stderr)
        print(f"Wrote {path} from {source}.")
        for variable, meaning in conversion.variables.items():
            print(f"  set {variable}: {meaning} (in mdr.yaml vars: or the environment)")
    if not (out / "mdr.yaml").exists():
        print(f"{out} has no mdr.yaml yet: add one (stack name, region, defaults) before planning.")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from reconciler.journal import AuditLog
    from reconciler.planner import compute_plan, load_valid_stack
    from reconciler.status import deployment_statuses, render_statuses

    stack = load_valid_stack(Path(args.path))
    assert stack.config is not None
    with open_provider(target_from_args(args), stack.config.region) as provider:
        result = compute_plan(stack, provider)
    last: dict[str, str] = {}
    for record in AuditLog.for_stack(stack.config.stack).read():
        if str(record.get("outcome")) == "accepted":
            last[str(record["key"])] = str(record["time"])
    statuses = deployment_statuses(result.plan, result.live, last)
    if args.output == "json":
        print(json.dumps([s.to_dict() for s in statuses], indent=2))
    else:
        sys.stdout.write(render_statuses(statuses))
    return EXIT_OK


def cmd_unlock(args: argparse.Namespace) -> int:
    from reconciler.lock import lock_for
    from reconciler.planner import load_valid_stack

    stack = load_valid_stack(Path(args.path))
    assert stack.config is not None
    config = stack.config
    with open_provider(target_from_args(args), config.region) as provider:
        lock = lock_for(config.stack, config.lock.model_dump() if config.lock else None, provider)
        holder = lock.force_unlock()
    print(f"unlocked {lock.describe()}" + (f" (was held by {holder})" if holder else " (it was not held)"))
    return EXIT_OK


def cmd_rollback(args: argparse.Namespace) -> int:
    from reconciler.rollback import rollback

    return rollback(
        Path(args.path), args.name, args.to, _provider_factory(args), args.lock_timeout, _apply_options(args)
    )


def cmd_controller(args: argparse.Namespace) -> int:
    import logging

    from reconciler.controller import (
        Controller,
        ControllerConfig,
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
    )
    progress_log = logging.getLogger("mdr.apply")
    options = _apply_options(args)
    options.progress = progress_log.info
    controller = Controller(config, target_from_args(args), options)
    controller.install_signal_handlers()
    return controller.run()


def cmd_predict(args: argparse.Namespace) -> int:
    from reconciler.planner import load_valid_stack
    from reconciler.predict import parse_payload, predict

    stack = load_valid_stack(Path(args.path))
    assert stack.config is not None
    payload = parse_payload(args.data)
    with open_provider(target_from_args(args), stack.config.region) as provider:
        result = predict(stack, args.name, payload, provider)
    print(json.dumps(result, indent=2))
    return EXIT_OK


def cmd_quickstart(args: argparse.Namespace) -> int:
    """Apply a stack to the embedded emulator, call one deployment's predict URL, then plan again."""
    from reconciler.journal import state_dir
    from reconciler.planner import compute_plan, load_valid_stack
    from reconciler.predict import parse_payload, predict
    from reconciler.render import render
    from reconciler.workflow import ApplyRequest, apply_tree, report

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
    request = ApplyRequest(path=Path(args.path), auto_approve=True, options=_apply_options(args))
    _plan, result = apply_tree(request, _provider_factory(args), _confirm)
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
    return EXIT_OK if not plan.has_changes else EXIT_ERROR


def cmd_audit(args: argparse.Namespace) -> int:
    from reconciler.journal import AuditLog
    from reconciler.manifest.stack import find_root, load_stack_config

    config, _, issues = load_stack_config(find_root(Path(args.path)))
    if config is None:
        raise ValidationFailed(issues)
    records = (
        AuditLog.for_stack(config.stack).read()[-args.last :]
        if args.last
        else AuditLog.for_stack(config.stack).read()
    )
    if args.output == "json":
        for record in records:
            print(json.dumps(record, sort_keys=True))
        return EXIT_OK
    for r in records:
        print(
            f"{r['time']}  {r['operation']:<34} {r['key']:<40} {r['outcome']:<12} "
            f"request={r.get('opcRequestId') or '-'} work_request={r.get('opcWorkRequestId') or '-'}"
        )
    return EXIT_OK


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
    group.add_argument("--concurrency", type=int, default=8, help="changes applied at once (default 8)")
    group.add_argument(
        "--per-compartment",
        type=int,
        default=8,
        help="changes at once per compartment (default 8; lower it for compartments shared with others)",
    )
    group.add_argument(
        "--timeout", type=float, default=1800, help="seconds to wait for one operation (default 1800)"
    )
    if lock_timeout:
        group.add_argument(
            "--lock-timeout", type=float, default=60, help="seconds to wait for the stack lock (default 60)"
        )


def cmd_emulator(args: argparse.Namespace) -> int:
    from reconciler.emulator.cli import serve

    return serve(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mdr",
        description="Declarative GitOps reconciler for OCI Data Science model deployments.",
    )
    parser.add_argument("--version", action="version", version=f"mdr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check manifests and artifacts; no cloud calls")
    p.add_argument("path", help="manifest tree (folder holding mdr.yaml)")
    p.add_argument("--output", choices=["text", "json"], default="text")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("schema", help="write the JSON Schemas of the manifests (for editors)")
    p.add_argument("--out", default="schemas", help="output folder (default: schemas)")
    p.add_argument("--docs", help="also write the Markdown manifest reference to this file")
    p.add_argument("--check", action="store_true", help="fail if the files in --out are out of date")
    p.set_defaults(handler=cmd_schema)

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

    p = sub.add_parser("status", help="sync and health of each managed deployment")
    p.add_argument("path", help="manifest tree (folder holding mdr.yaml)")
    p.add_argument("--output", choices=["text", "json"], default="text")
    add_target_options(p)
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser("rollback", help="point a deployment back at its previous owned model")
    p.add_argument("path", help="manifest tree (folder holding mdr.yaml)")
    p.add_argument("name", help="deployment name (metadata.name)")
    p.add_argument("--to", metavar="MODEL_OCID", help="a specific owned model (default: the previous one)")
    add_apply_options(p)
    add_target_options(p)
    p.set_defaults(handler=cmd_rollback)

    p = sub.add_parser("controller", help="reconcile continuously from a folder or a git branch")
    p.add_argument("path", nargs="?", help="manifest tree; with --git-url, the tree's folder inside the repo")
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
    add_apply_options(p, lock_timeout=False)
    add_target_options(p)
    p.set_defaults(handler=cmd_controller)

    p = sub.add_parser("predict", help="call a deployment's /predict endpoint (signed) and print the answer")
    p.add_argument("path", help="manifest tree (folder holding mdr.yaml)")
    p.add_argument("name", help="deployment name (metadata.name)")
    p.add_argument("--data", required=True, help="request JSON, or @file.json")
    add_target_options(p)
    p.set_defaults(handler=cmd_predict)

    p = sub.add_parser("audit", help="print the audit log of API writes for the stack")
    p.add_argument("path", help="manifest tree (folder holding mdr.yaml)")
    p.add_argument("--output", choices=["text", "json"], default="text")
    p.add_argument("--last", type=int, default=0, metavar="N", help="only the last N entries")
    p.set_defaults(handler=cmd_audit)

    p = sub.add_parser("unlock", help="remove a stale stack lock left by a dead writer")
    p.add_argument("path", help="manifest tree (folder holding mdr.yaml)")
    add_target_options(p)
    p.set_defaults(handler=cmd_unlock)

    p = sub.add_parser(
        "import",
        help="write manifests for existing deployments (or an ADS YAML) and optionally adopt them",
        description="Write manifests for model deployments that exist already, so that mdr can manage them "
        "without a redeploy. Each manifest carries mdr.io/adopt: the first apply tags the deployment as owned "
        "(a reviewable update) instead of creating a second one. --from-ads converts an Oracle ADS YAML.",
    )
    p.add_argument("--out", required=True, help="folder for mdr.yaml and one manifest per deployment")
    p.add_argument("--compartment", help="compartment OCID to import from")
    p.add_argument("--project", help="only deployments of this Data Science project")
    p.add_argument(
        "--name-filter", help="only deployments whose display name matches this regular expression"
    )
    p.add_argument("--stack", help="stack name for a new mdr.yaml (default: the --out folder's name)")
    p.add_argument("--adopt", action="store_true", help="then plan and apply the adoption (tags only)")
    p.add_argument("--auto-approve", action="store_true", help="with --adopt: apply without asking")
    p.add_argument("--from-ads", metavar="FILE.yaml", help="convert an Oracle ADS deployment YAML instead")
    p.add_argument("--name", help="with --from-ads: the manifest name (default: from the display name)")
    add_target_options(p)
    add_apply_options(p)
    p.set_defaults(handler=cmd_import)

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
    add_target_options(p)
    add_apply_options(p)
    p.set_defaults(handler=cmd_quickstart)

    p = sub.add_parser(
        "emulator",
        help="run the local OCI emulator (Data Science, Logging, Object Storage)",
        description="Run the local OCI emulator and print how to point mdr, the SDK and the oci CLI at it.",
    )
    from reconciler.emulator.cli import add_arguments

    add_arguments(p)
    p.set_defaults(handler=cmd_emulator)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ValidationFailed as exc:
        _print_issues(exc.issues)
        return EXIT_ERROR
    except MdrError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except cloud_errors() as exc:
        print(f"error: {describe_cloud_error(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
