"""Fixtures: an in-memory emulator and real SDK clients pointed at it (configured as reference §5.3/5.4 say)."""

from __future__ import annotations

import io
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import oci
import pytest

from reconciler.emulator import Emulator

COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaatest"
SCORE = (
    "def load_model():\n    return {'factor': 3}\n\n\n"
    "def predict(data, model=None):\n    return {'prediction': [x * model['factor'] for x in data['x']]}\n"
)


def client_kwargs(emulator: Emulator) -> dict[str, Any]:
    return {
        "service_endpoint": emulator.url,
        "retry_strategy": oci.retry.NoneRetryStrategy(),
        "circuit_breaker_strategy": oci.circuit_breaker.NoCircuitBreakerStrategy(),
    }


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(work_request_seconds=0.05) as emu:
        yield emu


@pytest.fixture
def ds(emulator: Emulator) -> Any:
    return oci.data_science.DataScienceClient(emulator.oci_config(), **client_kwargs(emulator))


@pytest.fixture
def logging_client(emulator: Emulator) -> Any:
    return oci.logging.LoggingManagementClient(emulator.oci_config(), **client_kwargs(emulator))


@pytest.fixture
def objects(emulator: Emulator) -> Any:
    return oci.object_storage.ObjectStorageClient(emulator.oci_config(), **client_kwargs(emulator))


def make_bucket(objects: Any, name: str, compartment: str = COMPARTMENT) -> str:
    """Create a bucket through the SDK, as a user does before writing into it; returns the namespace."""
    namespace = str(objects.get_namespace().data)
    details = oci.object_storage.models.CreateBucketDetails(name=name, compartment_id=compartment)
    objects.create_bucket(namespace, details)
    return namespace


def artifact_zip(score: str = SCORE) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("score.py", score)
        archive.writestr("runtime.yaml", "MODEL_ARTIFACT_VERSION: '3.0'\n")
    return buffer.getvalue()


def wait_for(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


@contextmanager
def running_mdr_emulator(
    tmp_path: Path, *options: str
) -> Iterator[tuple[subprocess.Popen[str], str, dict[str, Any]]]:
    """``mdr emulator`` started as a user starts it: the process, its URL, and the OCI config it printed."""
    command = [
        sys.executable,
        "-m",
        "reconciler",
        "emulator",
        "--port",
        "0",
        "--state",
        str(tmp_path / "emu"),
    ]
    process = subprocess.Popen([*command, *options], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split("listening on ")[1].split()[0]
        config_path = process.stdout.readline().split("OCI config for it: ")[1].split()[0]
        yield process, url, oci.config.from_file(config_path)  # absolute key path: usable from any folder
    finally:
        process.terminate()
        process.wait(timeout=10)
