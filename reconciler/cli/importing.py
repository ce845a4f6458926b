"""``mdr import``: manifests for deployments that exist already, or converted from an ADS YAML."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reconciler.adapters.cloud import open_provider
from reconciler.cli.common import (
    EXIT_OK,
    Subparsers,
    add_apply_options,
    add_target_options,
    target_from_args,
)
from reconciler.cli.deploy import cmd_apply
from reconciler.core.errors import MdrError


def cmd_import(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.from_ads:
        return _import_ads(Path(args.from_ads), out, args)
    if not args.compartment:
        raise MdrError("mdr import needs --compartment OCID (live deployments) or --from-ads FILE.yaml")
    from reconciler.adapters.import_files import write_import
    from reconciler.adapters.live_reader import wire_of
    from reconciler.core.from_live import select

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

    from reconciler.core.from_ads import AdsFormatError, convert
    from reconciler.core.from_live import manifest_text, slug

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


def register(sub: Subparsers) -> None:
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
