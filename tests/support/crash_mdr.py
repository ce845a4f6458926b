"""Run mdr with a crash point armed: ``python tests/support/crash_mdr.py POINT mdr-args...``.

The process kills itself with SIGKILL (no cleanup, as a power cut or the OOM killer would) the first time
the apply reaches POINT: ``after:Op`` (the service accepted the write, nothing recorded yet), ``recorded:Op``
(audited), ``waiting:Op`` (before polling its work request), or ``during:CreateModelArtifact`` (part of the
artifact upload sent). It installs the hooks process-wide and then runs the real CLI, so production code
carries no crash switch of its own.
"""

from __future__ import annotations

import os
import signal
import sys

from reconciler.cli import main
from reconciler.engine.apply import hooks
from reconciler.engine.apply.hooks import UploadBody

MID_STREAM = "during:CreateModelArtifact"


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class CrashMidStream:
    """An upload body that kills the process once part of it has been sent."""

    def __init__(self, raw: UploadBody) -> None:
        self._raw = raw
        self._sent = 0

    def __len__(self) -> int:
        return len(self._raw)

    def read(self, size: int = -1) -> bytes:
        if self._sent:
            die()
        chunk = self._raw.read(min(size, 512) if size > 0 else 512)  # small: there is a middle to crash in
        self._sent += len(chunk)
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()


class CrashAt:
    """Hooks that kill the process at one named point."""

    def __init__(self, point: str) -> None:
        self.point = point

    def reached(self, point: str) -> None:
        if point == self.point:
            die()

    def wrap_upload(self, body: UploadBody) -> UploadBody:
        return CrashMidStream(body) if self.point == MID_STREAM else body


def run(argv: list[str]) -> int:
    if not argv:
        print("usage: crash_mdr.py POINT [mdr arguments...]", file=sys.stderr)
        return 2
    hooks.install(CrashAt(argv[0]))
    return main(argv[1:])


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))
