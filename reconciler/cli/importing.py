"""``mdr import``: manifests for deployments that exist already, or converted from an ADS YAML."""

from __future__ import annotations

import argparse
import os
import shlex
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
    if args.from_terraform:
        return _import_terraform(Path(args.from_terraform), out, args)
    if not args.compartment:
        raise MdrError(
            "mdr import needs --compartment OCID (live deployments), --from-ads FILE.yaml or "
            "--from-terraform terraform.tfstate"
        )
    from reconciler.adapters.import_files import write_import
    from reconciler.adapters.live_groups import attach_model_groups
    from reconciler.adapters.live_reader import deployment_pages
    from reconciler.core.from_live import select

    target = target_from_args(args)
    with open_provider(target, args.region) as provider:
        # raw pages: a field this SDK does not know is kept, so that the import can name it
        items = [wire for page in deployment_pages(provider, args.compartment) for wire in page]
        region = str(provider.region or args.region or "us-ashburn-1")
        chosen = select(items, args.project, args.name_filter)
        attach_model_groups(provider, chosen)
    if not chosen:
        raise MdrError(f"no unowned, settled model deployment in {args.compartment} matches; nothing written")
    written, warnings = write_import(
        chosen, out, stack=args.stack or out.resolve().name, region=region, compartment=args.compartment
    )
    return _imported(args, out, len(chosen), written, warnings)


def _import_terraform(source: Path, out: Path, args: argparse.Namespace) -> int:
    """Manifests adopting the ``oci_datascience_model_deployment`` resources of a Terraform state."""
    from reconciler.adapters.import_files import read_terraform_state, region_of, write_import
    from reconciler.core.from_terraform import RESOURCE_TYPE, TerraformStateError, chosen_for_import

    try:
        chosen, notes = chosen_for_import(read_terraform_state(source))
    except TerraformStateError as exc:
        raise MdrError(f"{source}: {exc}") from exc
    for note in notes:
        print(f"warning: {source}: {note}", file=sys.stderr)
    if not chosen:
        raise MdrError(f"{source} has no {RESOURCE_TYPE} that mdr can import; nothing written")
    compartments = [str(w.get("compartment_id")) for w in chosen]
    compartment = max(sorted(set(compartments)), key=compartments.count)
    region = args.region or region_of(str(chosen[0]["id"]))
    written, warnings = write_import(
        chosen, out, stack=args.stack or out.resolve().name, region=region, compartment=compartment
    )
    return _imported(args, out, len(chosen), written, warnings)


def _imported(
    args: argparse.Namespace, out: Path, count: int, written: list[Path], warnings: list[str]
) -> int:
    """Report what an import wrote; then adopt (plan and apply) when asked to."""
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"Imported {count} deployment(s) into {out} ({len(written)} file(s) written).")
    if not args.adopt:
        adopt = shlex.join(["mdr", "apply", str(out), *_target_flags(args)])
        print(f"Review them, then adopt with: {adopt}  (the plan shows one tag update per deployment)")
        return EXIT_OK
    args.path = str(out)
    args.prune = False
    args.allow_deletes = None
    return cmd_apply(args)


def _target_flags(args: argparse.Namespace) -> list[str]:
    """The target options the user passed, so the printed adopt command reaches the same cloud."""
    flags = ["--local"] if args.local else []
    for flag, value, default in (
        ("--endpoint", args.endpoint, None),
        ("--config-file", args.config_file, None),
        ("--profile", args.profile, os.environ.get("OCI_CLI_PROFILE", "DEFAULT")),
        ("--auth", args.auth, "api_key"),
    ):
        if value is not None and value != default:
            flags += [flag, str(value)]
    return flags


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
    p.add_argument(
        "--from-terraform",
        metavar="terraform.tfstate",
        help="adopt the oci_datascience_model_deployment resources of a Terraform state (format 4) instead",
    )
    p.add_argument("--name", help="with --from-ads: the manifest name (default: from the display name)")
    add_target_options(p)
    add_apply_options(p)
    p.set_defaults(handler=cmd_import)
