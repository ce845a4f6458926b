"""Helpers for end-to-end tests: an emulator, a stack on disk pointing at it, and mdr run as a user runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import oci

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "manifests"
CRASH_ENTRY = Path(__file__).resolve().parent / "crash_mdr.py"  # mdr with a crash point armed
EXAMPLE_PROJECT = "ocid1.datascienceproject.oc1.iad.aaaaaaaariskprod"
EXAMPLE_COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaariskprod"


@dataclass
class World:
    """One emulator, one config file for it, one working directory for mdr's local state."""

    emulator: Any
    config_file: Path
    workdir: Path

    def sdk(self) -> Any:
        kwargs = {
            "service_endpoint": self.emulator.url,
            "retry_strategy": oci.retry.NoneRetryStrategy(),
            "circuit_breaker_strategy": oci.circuit_breaker.NoCircuitBreakerStrategy(),
        }
        return oci.data_science.DataScienceClient(self.emulator.oci_config(), **kwargs)

    def logging_sdk(self) -> Any:
        kwargs = {
            "service_endpoint": self.emulator.url,
            "retry_strategy": oci.retry.NoneRetryStrategy(),
            "circuit_breaker_strategy": oci.circuit_breaker.NoCircuitBreakerStrategy(),
        }
        return oci.logging.LoggingManagementClient(self.emulator.oci_config(), **kwargs)

    def target_args(self) -> list[str]:
        return ["--endpoint", self.emulator.url, "--config-file", str(self.config_file)]

    def start(self, *args: str) -> subprocess.Popen[str]:
        """``mdr`` started in the background (to be killed at a moment the test picks)."""
        full_env = {**os.environ, "MDR_STATE_DIR": str(self.workdir / ".mdr"), "NO_COLOR": "1"}
        command = [sys.executable, "-m", "reconciler", *args, *self.target_args()]
        return subprocess.Popen(
            command,
            cwd=self.workdir,
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def mdr(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        timeout: float = 120,
        crash_at: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``mdr`` in a subprocess against this emulator, as a user (or CI) would.

        ``crash_at`` runs it through ``crash_mdr.py``, which SIGKILLs it at that crash point."""
        full_env = {**os.environ, "MDR_STATE_DIR": str(self.workdir / ".mdr"), "NO_COLOR": "1", **(env or {})}
        entry = ["-m", "reconciler"] if crash_at is None else [str(CRASH_ENTRY), crash_at]
        command = [sys.executable, *entry, *args]
        if args and args[0] in ("plan", "apply", "status", "rollback", "unlock"):
            command += self.target_args()
        return subprocess.run(
            command,
            cwd=self.workdir,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def deployments(self, compartment: str = EXAMPLE_COMPARTMENT) -> list[Any]:
        items = oci.pagination.list_call_get_all_results(self.sdk().list_model_deployments, compartment).data
        return [d for d in items if d.lifecycle_state not in ("DELETED", "DELETING")]

    def models(self, compartment: str = EXAMPLE_COMPARTMENT) -> list[Any]:
        items = oci.pagination.list_call_get_all_results(self.sdk().list_models, compartment).data
        return [m for m in items if m.lifecycle_state != "DELETED"]

    def log_groups(self, compartment: str = EXAMPLE_COMPARTMENT) -> list[Any]:
        items = oci.pagination.list_call_get_all_results(self.logging_sdk().list_log_groups, compartment).data
        return [g for g in items if g.lifecycle_state not in ("DELETED", "DELETING")]


def copy_example_stack(destination: Path) -> Path:
    """The example stack, with its artifact, in a fresh folder (so tests may edit it)."""
    shutil.copytree(EXAMPLES, destination, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))
