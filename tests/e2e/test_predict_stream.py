"""``mdr predict``: binary bodies (``--data-file``, ``--content-type``) reach score.py as bytes, and
``--stream`` prints each chunk a generator yields as it arrives, before the model has produced the next."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.world import World

SCORE = '''"""A model that streams: its answer comes in chunks, the last only once a gate file exists."""

import os
import time


def load_model():
    return {"version": "stream-v1"}


def predict(data, model=None):
    if isinstance(data, bytes):
        return {"type": "bytes", "length": len(data), "head": list(data[:4])}
    if "gate" in data:
        return gated(data["gate"])
    if "raw" in data:
        return bytes(data["raw"])
    return {"type": type(data).__name__, "value": data, "model": model["version"]}


def gated(path):
    yield "first "
    deadline = time.monotonic() + 20
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    yield "last" if os.path.exists(path) else "timed-out"
'''


@pytest.fixture
def streaming(world: World, stack: Path) -> World:
    """The example's fraud-scorer, serving a score.py that streams (the container deployment left out)."""
    (stack / "churn-container.yaml").unlink()
    (stack / "models" / "fraud-scorer" / "score.py").write_text(SCORE, encoding="utf-8")
    result = world.mdr("apply", "manifests", "--auto-approve")
    assert result.returncode == 0, result.stderr
    return world


def _predict(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    return world.mdr("predict", "manifests", "fraud-scorer", *args, *world.target_args())


def test_stream_prints_the_first_chunk_before_the_model_produces_the_last(
    streaming: World, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    env = {**os.environ, "MDR_STATE_DIR": str(streaming.workdir / ".mdr"), "NO_COLOR": "1"}
    command = [sys.executable, "-m", "reconciler", "predict", "manifests", "fraud-scorer", "--stream"]
    data = json.dumps({"gate": str(gate)})
    caller = subprocess.Popen(
        [*command, "--data", data, *streaming.target_args()],
        cwd=streaming.workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert caller.stdout is not None
        received = b""
        while len(received) < len(b"first "):
            piece = os.read(caller.stdout.fileno(), 64)
            assert piece, "mdr predict ended before printing the first chunk"
            received += piece
        assert received == b"first "  # printed while score.py still waits for the gate
        gate.touch()
        rest, err = caller.communicate(timeout=60)
    finally:
        if caller.poll() is None:
            caller.kill()
    assert caller.returncode == 0, err
    assert rest == b"last"


def test_a_data_file_is_sent_as_bytes_with_its_content_type(streaming: World, tmp_path: Path) -> None:
    image = tmp_path / "digit.png"
    image.write_bytes(bytes([0x89, 0x50, 0x4E, 0x47]) + bytes(range(256)))
    result = _predict(streaming, "--data-file", str(image))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"type": "bytes", "length": 260, "head": [0x89, 0x50, 0x4E, 0x47]}

    as_octets = _predict(streaming, "--data-file", str(image), "--content-type", "application/octet-stream")
    assert json.loads(as_octets.stdout)["length"] == 260

    request = tmp_path / "request.json"
    request.write_text('{"x": [1, 2]}', encoding="utf-8")
    as_json = _predict(streaming, "--data-file", str(request))  # .json: sent as JSON, parsed by the service
    assert json.loads(as_json.stdout) == {"type": "dict", "value": {"x": [1, 2]}, "model": "stream-v1"}


def test_a_binary_answer_is_written_as_it_is(streaming: World) -> None:
    env = {**os.environ, "MDR_STATE_DIR": str(streaming.workdir / ".mdr")}
    command = [sys.executable, "-m", "reconciler", "predict", "manifests", "fraud-scorer"]
    result = subprocess.run(
        [*command, "--data", '{"raw": [0, 255, 10, 7]}', *streaming.target_args()],
        cwd=streaming.workdir,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == bytes([0, 255, 10, 7])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "--data JSON or as --data-file FILE"),
        (("--data", "{}", "--data-file", "x.bin"), "--data JSON or as --data-file FILE"),
        (("--data", "{}", "--content-type", "text/csv"), "--content-type goes with --data-file"),
        (("--data-file", "missing.bin"), "--data-file missing.bin: cannot read it"),
        (("--data", "{not json"), "--data is not valid JSON"),
    ],
)
def test_a_bad_request_body_is_a_one_line_error_before_any_call(
    world: World, stack: Path, args: tuple[str, ...], message: str
) -> None:
    result = _predict(world, *args)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert message in line
    assert world.emulator.counters() == {}  # refused before the manifests were even read
