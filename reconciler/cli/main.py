"""The ``mdr`` command line: a thin shell that parses arguments and calls the engine.

Exit codes (like Terraform): 0 success / no changes, 1 error, 2 changes present (``--detailed-exitcode``).
One module per command group registers its subcommands; this one builds the parser and maps errors to exit
codes, so no command prints a traceback for a failure a user can act on.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from reconciler import __version__
from reconciler.adapters.cloud_errors import cloud_errors, describe_cloud_error
from reconciler.cli import (
    authoring,
    controller,
    deploy,
    doctor,
    environments,
    importing,
    local,
    logs,
    operate,
    sync,
)
from reconciler.cli.common import EXIT_ERROR, Handler, print_issues
from reconciler.core.errors import MdrError, ValidationFailed, one_line

COMMAND_GROUPS = (authoring, deploy, environments, operate, logs, doctor, controller, sync, importing, local)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mdr",
        description="Declarative GitOps reconciler for OCI Data Science model deployments.",
    )
    parser.add_argument("--version", action="version", version=f"mdr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ValidationFailed as exc:
        print_issues(exc.issues)
        return EXIT_ERROR
    except MdrError as exc:  # printable whatever a path in it holds; only mdr's own line breaks remain
        print("error: " + "\n".join(one_line(line) for line in str(exc).split("\n")), file=sys.stderr)
        return EXIT_ERROR
    except cloud_errors() as exc:
        print(f"error: {describe_cloud_error(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
