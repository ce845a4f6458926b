"""The ``mdr`` console script and ``python -m reconciler``.

Importing the command line (the OCI SDK, pydantic models) takes about a second; a Ctrl-C in that second
would otherwise print a traceback from deep inside an import. Here it ends the command as any other Ctrl-C
does: ``interrupted`` and exit code 130.
"""

from __future__ import annotations

import sys

INTERRUPTED = 130


def main() -> int:
    try:
        from reconciler.cli import main as run
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return INTERRUPTED
    try:
        return run()
    except KeyboardInterrupt:  # before the command's own handler is in place (parsing the arguments)
        print("interrupted", file=sys.stderr)
        return INTERRUPTED
