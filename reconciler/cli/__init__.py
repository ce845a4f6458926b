"""The ``mdr`` command line (``reconciler.cli.main``)."""

from reconciler.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
