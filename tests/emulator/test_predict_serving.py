"""The emulator's model serving, through the SDK's ``oci.model_deployment.ModelDeploymentClient``: binary
bodies reach score.py as bytes, and ``/predictWithResponseStream`` sends each chunk a generator yields as soon
as it is yielded (chunked transfer coding)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import oci
import pytest
from conftest import COMPARTMENT, artifact_zip, client_kwargs, wait_for
from oci.data_science import models as dm
from test_emulator_sdk import deployment_details, project

from reconciler.emulator import Emulator

SCORE = '''
import os, time


def load_model():
    return None


def predict(data, model=None):
    if isinstance(data, bytes):
        return {"type": "bytes", "length": len(data), "head": list(data[:4])}
    if "gate" in data:
        return gated(data["gate"])
    if "words" in data:
        return (word + " " for word in data["words"])
    if "raw" in data:
        return bytes(data["raw"])
    if "fail_after" in data:
        return failing(data["fail_after"])
    return {"type": type(data).__name__, "value": data}


def gated(path):
    """The first chunk, then the last one only once the caller has created ``path`` (or 20 s have passed)."""
    yield "first "
    deadline = time.monotonic() + 20
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    yield "last" if os.path.exists(path) else "timed-out"


def failing(n):
    for i in range(n):
        yield f"chunk{i} "
    raise RuntimeError("the model broke mid-answer")
'''


@pytest.fixture
def deployment(ds: Any) -> str:
    project_id = project(ds)
    model = ds.create_model(dm.CreateModelDetails(compartment_id=COMPARTMENT, project_id=project_id)).data
    ds.create_model_artifact(
        model.id, artifact_zip(SCORE), content_disposition='attachment; filename="m.zip"'
    )
    created = ds.create_model_deployment(deployment_details(project_id, model.id)).data
    wait_for(lambda: ds.get_model_deployment(created.id).data.lifecycle_state == "ACTIVE")
    return str(created.id)


def _client(emulator: Emulator) -> Any:
    kwargs = {**client_kwargs(emulator), "service_endpoint": f"{emulator.url}/modeldeployment"}
    return oci.model_deployment.ModelDeploymentClient(emulator.oci_config(), **kwargs)


def _post(ds: Any, deployment: str, path: str, body: bytes, content_type: str, stream: bool = False) -> Any:
    from oci._vendor import requests

    url = ds.get_model_deployment(deployment).data.model_deployment_url + path
    headers = {"content-type": content_type}
    return requests.post(
        url, data=body, headers=headers, auth=ds.base_client.signer, timeout=30, stream=stream
    )


def test_the_sdk_predict_call_gets_score_py_json_answer(emulator: Emulator, deployment: str) -> None:
    answer = _client(emulator).predict(deployment, '{"x": [1, 2]}')
    assert answer.status == 200
    assert answer.data == '{"type": "dict", "value": {"x": [1, 2]}}'


def test_a_binary_body_reaches_score_py_as_bytes(ds: Any, deployment: str) -> None:
    image = bytes([0x89, 0x50, 0x4E, 0x47]) + bytes(range(256)) * 8
    answer = _post(ds, deployment, "/predict", image, "image/png")
    assert answer.status_code == 200
    assert answer.json() == {"type": "bytes", "length": len(image), "head": [0x89, 0x50, 0x4E, 0x47]}
    as_json = _post(ds, deployment, "/predict", b'"text"', "application/json; charset=utf-8")
    assert as_json.json() == {"type": "str", "value": "text"}


def test_bytes_returned_by_predict_are_sent_as_they_are(ds: Any, deployment: str) -> None:
    answer = _post(ds, deployment, "/predict", b'{"raw": [0, 255, 7]}', "application/json")
    assert answer.headers["content-type"] == "application/octet-stream"
    assert answer.content == bytes([0, 255, 7])


def test_the_sdk_stream_call_receives_the_first_chunk_before_the_last_is_produced(
    emulator: Emulator, deployment: str, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    response = _client(emulator).predict_with_response_stream(deployment, f'{{"gate": "{gate}"}}')
    assert response.status == 200
    assert response.headers.get("transfer-encoding") == "chunked"
    chunks = response.data.raw.stream(1024, decode_content=True)
    assert next(chunks) == b"first "  # arrived while score.py still waits for the gate
    gate.touch()
    assert b"".join(chunks) == b"last"


def test_plain_predict_gathers_a_generator_answer_whole(ds: Any, deployment: str) -> None:
    answer = _post(ds, deployment, "/predict", b'{"words": ["to", "be"]}', "application/json")
    assert (answer.status_code, answer.text) == (200, "to be ")
    assert answer.headers["content-type"].startswith("text/plain")


def test_a_stream_that_fails_midway_is_broken_off_not_ended(ds: Any, deployment: str) -> None:
    from oci._vendor import requests

    response = _post(
        ds, deployment, "/predictWithResponseStream", b'{"fail_after": 2}', "application/json", True
    )
    assert response.status_code == 200
    received = b""
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        for chunk in response.iter_content(chunk_size=None):
            received += chunk
    assert received == b"chunk0 chunk1 "
    # the worker is replaced: the next call is answered
    again = _post(
        ds, deployment, "/predictWithResponseStream", b'{"words": ["ok"]}', "application/json", True
    )
    assert again.content == b"ok "


def test_a_stream_request_for_a_plain_answer_gets_it_whole(emulator: Emulator, deployment: str) -> None:
    response = _client(emulator).predict_with_response_stream(deployment, '{"x": 1}')
    assert response.data.json() == {"type": "dict", "value": {"x": 1}}
