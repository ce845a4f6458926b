"""Ctrl-C at any moment of a command's start (while its modules are still being imported) ends it as any
other Ctrl-C does: ``interrupted``, exit code 130, no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("delay", [0.15, 0.3, 0.5, 0.8])
def test_ctrl_c_while_mdr_starts_is_a_quiet_exit_130(tmp_path: Path, delay: float) -> None:
    env = {**os.environ, "MDR_STATE_DIR": str(tmp_path / ".mdr"), "NO_COLOR": "1"}
    command = [sys.executable, "-m", "reconciler", "validate", str(tmp_path)]
    process = subprocess.Popen(command, env=env, cwd=REPO, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert "Traceback" not in stderr
    if process.returncode == 130:
        assert stderr.strip().endswith("interrupted")
    else:  # the signal came before Python could take it (killed by it), or after the command had ended
        assert process.returncode in (-signal.SIGINT, 1), stderr
