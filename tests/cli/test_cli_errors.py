"""Failures a user can act on are one line and exit 1, never a traceback."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_resource_principal_outside_oci_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OCI_RESOURCE_PRINCIPAL_VERSION", "OCI_RESOURCE_PRINCIPAL_RPST"):
        monkeypatch.delenv(name, raising=False)
    shutil.copytree(REPO / "manifests", tmp_path / "manifests")
    code = main(["plan", str(tmp_path / "manifests"), "--auth", "resource_principal"])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    assert err.startswith("error: --auth resource_principal works only in OCI Functions")


def test_an_emulator_on_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "reconciler", "emulator", "--port", str(port), "--state", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"cannot run the emulator on 127.0.0.1:{port}: Address already in use" in result.stderr


@pytest.mark.parametrize("flag", [["--profile", "X"], ["--auth", "instance_principal"], ["--region", "x"]])
def test_quickstart_refuses_cloud_options_it_would_ignore(flag: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["quickstart", *flag])
    assert exit_info.value.code == 2
