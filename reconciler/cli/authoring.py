"""Commands that need no cloud: ``mdr validate`` and ``mdr schema``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from reconciler.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    Subparsers,
    print_issues,
)


def cmd_validate(args: argparse.Namespace) -> int:
    from reconciler.engine.validate import validate_tree

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
        print_issues(issues)
        return EXIT_ERROR
    assert stack.config is not None
    names = ", ".join(sorted(d.name for d in stack.deployments)) or "none"
    print(
        f"OK: stack {stack.config.stack} ({stack.config.region}): "
        f"{len(stack.deployments)} deployment(s) [{names}] in {len(stack.files) + 1} file(s)"
    )
    return EXIT_OK


DEFAULT_REFERENCE = "docs/manifest-reference.md"


def cmd_schema(args: argparse.Namespace) -> int:
    from reconciler.adapters.schema_files import write_schemas
    from reconciler.core.schema import render_reference, render_schemas

    out = Path(args.out)
    if args.docs is None and Path(DEFAULT_REFERENCE).is_file():
        args.docs = DEFAULT_REFERENCE  # the reference is generated from the same schemas: keep them together
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


def register(sub: Subparsers) -> None:
    p = sub.add_parser("validate", help="check manifests and artifacts; no cloud calls")
    p.add_argument("path", help="manifest tree (folder holding mdr.yaml)")
    p.add_argument("--output", choices=["text", "json"], default="text")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("schema", help="write the JSON Schemas of the manifests (for editors)")
    p.add_argument("--out", default="schemas", help="output folder (default: schemas)")
    p.add_argument(
        "--docs",
        help=f"also write the Markdown manifest reference to this file (default: {DEFAULT_REFERENCE} when it "
        "exists, so schemas and reference never drift apart)",
    )
    p.add_argument("--check", action="store_true", help="fail if the files in --out are out of date")
    p.set_defaults(handler=cmd_schema)
