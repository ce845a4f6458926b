"""The emulator refuses what OCI refuses, from the headers, before reading a body.

Requests the SDK cannot produce (a skewed date, a replay, a broken Content-Length, an unsigned 1.5 GiB
upload) are built here: signed by ``oci.signer``'s own code with the emulator's key, or written to a raw
socket. Memory is measured on ``mdr emulator`` run as a separate process, as the hostile tester ran it.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import select
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import oci
import pytest
from conftest import COMPARTMENT, client_kwargs, make_bucket, running_mdr_emulator
from oci._vendor import requests
from oci.data_science import models as dm

from reconciler.emulator import Emulator, FaultConfig
from reconciler.emulator.core.replay import REPEAT_GRACE_SECONDS

GIB = 1024**3
MIB = 1024**2


# --- requests signed by the SDK's signer, with what the SDK never varies chosen by the test ------------------


def signer_for(emulator: Emulator) -> Any:
    config = emulator.oci_config()
    return oci.signer.Signer(
        config["tenancy"],
        config["user"],
        config["fingerprint"],
        None,
        private_key_content=config["key_content"],
    )


def signed(
    emulator: Emulator,
    method: str,
    path: str,
    body: Any = None,
    at: float | None = None,
    signer: Any = None,
    **headers: str,
) -> requests.PreparedRequest:
    """A request signed as the SDK signs it, dated ``at`` (epoch seconds; default now)."""
    date = email.utils.formatdate(time.time() if at is None else at, usegmt=True)
    data = json.dumps(body) if isinstance(body, dict) else body
    request = requests.Request(
        method, emulator.url + path, data=data, headers={"date": date, **headers}
    ).prepare()
    (signer or signer_for(emulator))(request)
    return request


def send(request: requests.PreparedRequest) -> requests.Response:
    with requests.Session() as session:
        return session.send(request, timeout=30)


def create_project(emulator: Emulator, at: float | None = None, **headers: str) -> requests.PreparedRequest:
    body = {"compartmentId": COMPARTMENT, "displayName": "p"}
    return signed(emulator, "POST", "/20190101/projects", body, at=at, **headers)


def projects(emulator: Emulator) -> list[Any]:
    return send(signed(emulator, "GET", f"/20190101/projects?compartmentId={COMPARTMENT}")).json()


class XDateSigner(oci.signer.AbstractBaseSigner):
    """The SDK's signing code, covering ``x-date`` instead of ``date`` (as browsers must)."""

    def __init__(self, emulator: Emulator) -> None:
        config = emulator.oci_config()
        key_id = f"{config['tenancy']}/{config['user']}/{config['fingerprint']}"
        key = oci.signer.load_private_key(config["key_content"], None)
        self.create_signers(
            key_id,
            key,
            ["x-date", "(request-target)", "host"],
            ["content-length", "content-type", "x-content-sha256"],
        )


# --- 1. the clock ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [-86400, -3600, -301, 330, 3600, 86400])  # +330: slack for a slow request
def test_a_signed_date_more_than_five_minutes_off_is_401(emulator: Emulator, offset: int) -> None:
    answer = send(create_project(emulator, at=time.time() + offset))
    assert (answer.status_code, answer.json()["code"]) == (401, "NotAuthenticated")
    assert "clock skew" in answer.json()["message"]
    assert projects(emulator) == []


@pytest.mark.parametrize("offset", [-280, 280])
def test_a_signed_date_within_five_minutes_is_accepted(emulator: Emulator, offset: int) -> None:
    assert send(create_project(emulator, at=time.time() + offset)).status_code == 200


def test_x_date_is_the_date_checked_when_it_is_signed(emulator: Emulator) -> None:
    x_signer = XDateSigner(emulator)
    now = time.time()
    stale = signed(
        emulator,
        "GET",
        f"/20190101/models?compartmentId={COMPARTMENT}",
        signer=x_signer,
        **{"x-date": email.utils.formatdate(now - 3600, usegmt=True)},
    )
    assert send(stale).status_code == 401
    fresh = signed(
        emulator,
        "GET",
        f"/20190101/models?compartmentId={COMPARTMENT}",
        at=now - 3600,
        signer=x_signer,
        **{"x-date": email.utils.formatdate(now, usegmt=True)},
    )
    assert send(fresh).status_code == 200, "x-date is signed and current; the unsigned date is not used"


def test_an_unparseable_or_unsigned_date_is_401(emulator: Emulator) -> None:
    bad = signed(emulator, "GET", f"/20190101/models?compartmentId={COMPARTMENT}")
    bad.headers["date"] = "yesterday"
    assert send(bad).status_code == 401


# --- 2. replays ------------------------------------------------------------------------------------------


def test_a_signature_that_comes_back_after_its_second_is_a_replay(emulator: Emulator) -> None:
    """No client signing afresh can send a signature again once its date's second is over."""
    write = create_project(emulator)
    read = signed(emulator, "GET", f"/20190101/projects?compartmentId={COMPARTMENT}")
    assert send(write).status_code == 200 and send(read).status_code == 200
    time.sleep(REPEAT_GRACE_SECONDS + 0.2)
    emulator.reset_counters()
    for replay in (send(write), send(read)):
        assert (replay.status_code, replay.json()["code"]) == (401, "NotAuthenticated")
        assert "replay" in replay.json()["message"]
    assert emulator.counters() == {} and emulator.mutating_calls() == 0
    assert emulator.refused() == {"CreateProject": 1, "ListProjects": 1}
    assert len(projects(emulator)) == 1


def test_a_replay_is_refused_before_its_body_is_read(emulator: Emulator) -> None:
    write = create_project(emulator)
    assert send(write).status_code == 200
    time.sleep(REPEAT_GRACE_SECONDS + 0.2)
    head = "POST /20190101/projects HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in write.headers.items())
    status, body = exchange(emulator.port, head.encode() + b"\r\n")  # the body is never sent
    assert status == 401 and b"replay" in body


def test_a_signature_is_remembered_across_a_restart(tmp_path: Path) -> None:
    with Emulator(state_dir=tmp_path / "state") as first:
        write = create_project(first)
        assert send(write).status_code == 200
        port = first.port
    time.sleep(REPEAT_GRACE_SECONDS + 0.2)
    with Emulator(state_dir=tmp_path / "state", port=port) as second:
        assert send(write).status_code == 401
        assert len(projects(second)) == 1


def test_repeats_within_the_second_are_answered(emulator: Emulator) -> None:
    """Byte-identical signatures sent within one second (one-second dates, deterministic RSA) are what
    polling, the SDK's retries and a quick re-send look like: the service answers each."""
    poll = signed(emulator, "GET", f"/20190101/projects?compartmentId={COMPARTMENT}")
    assert [send(poll).status_code for _ in range(3)] == [200, 200, 200]
    write = create_project(emulator)
    emulator.set_faults(FaultConfig(error_rates={"CreateProject": {429: 1.0}}))
    assert send(write).status_code == 429
    emulator.set_faults(FaultConfig())
    assert send(write).status_code == 200, "the SDK's retry of a throttled call"
    assert send(write).status_code == 200, "a write sent again at once is the service's to judge"
    assert len(projects(emulator)) == 2
    assert emulator.refused() == {}


def test_a_write_sent_again_with_its_retry_token_gets_the_first_answer(emulator: Emulator) -> None:
    request = create_project(emulator, **{"opc-retry-token": "resend-after-a-lost-answer"})
    first, again = send(request), send(request)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert len(projects(emulator)) == 1


def test_the_sdk_retrying_faults_at_full_speed_is_never_taken_for_a_replay(emulator: Emulator) -> None:
    emulator.set_faults(FaultConfig(error_rates={"CreateProject": {503: 0.5}}, seed=3))
    retry = oci.retry.RetryStrategyBuilder(
        max_attempts=12, retry_base_sleep_time_seconds=0.0, retry_max_wait_between_calls_seconds=0.0
    ).get_retry_strategy()
    client = oci.data_science.DataScienceClient(
        emulator.oci_config(), **(client_kwargs(emulator) | {"retry_strategy": retry})
    )
    for index in range(8):
        client.create_project(dm.CreateProjectDetails(compartment_id=COMPARTMENT, display_name=f"p{index}"))
    assert sum(emulator.faulted().values()) > 0 and emulator.refused() == {}
    assert len(projects(emulator)) == 8


# --- signatures and bodies -------------------------------------------------------------------------------


def test_a_json_body_whose_hash_is_not_signed_is_401(emulator: Emulator) -> None:
    request = create_project(emulator)
    request.headers["authorization"] = request.headers["authorization"].replace(
        'headers="date (request-target) host content-length content-type x-content-sha256"',
        'headers="date (request-target) host"',
    )
    answer = send(request)
    assert answer.status_code == 401 and "does not cover" in answer.json()["message"]


def test_a_body_changed_after_signing_is_401(emulator: Emulator) -> None:
    request = create_project(emulator)
    request.body = request.body.replace('"p"', '"q"')  # same length: only x-content-sha256 can tell
    answer = send(request)
    assert answer.status_code == 401 and "x-content-sha256" in answer.json()["message"]
    assert projects(emulator) == []


def test_a_second_date_header_is_400(emulator: Emulator) -> None:
    request = signed(emulator, "GET", f"/20190101/projects?compartmentId={COMPARTMENT}")
    lines = [f"{k}: {v}" for k, v in request.headers.items()]
    raw = f"GET /20190101/projects?compartmentId={COMPARTMENT} HTTP/1.1\r\n" + "\r\n".join(lines)
    raw += f"\r\ndate: {email.utils.formatdate(usegmt=True)}\r\n\r\n"
    status, _ = exchange(emulator.port, raw.encode())
    assert status == 400


# --- 3. predict ------------------------------------------------------------------------------------------


def test_predict_requires_a_signature(emulator: Emulator) -> None:
    answer = requests.post(f"{emulator.url}/modeldeployment/ocid1.x/predict", json={"x": [1]}, timeout=10)
    assert (answer.status_code, answer.json()["code"]) == (401, "NotAuthenticated")
    signed_answer = requests.post(
        f"{emulator.url}/modeldeployment/ocid1.x/predict",
        json={"x": [1]},
        auth=signer_for(emulator),
        timeout=10,
    )
    assert signed_answer.status_code == 404, "signed, it reaches the service (no such deployment)"


# --- 4-6. framing, limits and counters, on a raw socket --------------------------------------------------


def exchange(port: int, data: bytes, timeout: float = 5.0) -> tuple[int, bytes]:
    """Send ``data``, read the answer until the server closes or goes quiet; (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
                if b"\r\n\r\n" in received and _complete(received):
                    break
        except (TimeoutError, ConnectionResetError):
            pass
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def _complete(received: bytes) -> bool:
    head, _, body = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


@pytest.mark.parametrize("length", [b"-1", b"abc", b"1e3", b"0x10", b"1_000", b"5, 6"])
def test_a_malformed_content_length_is_400_at_once(emulator: Emulator, length: bytes) -> None:
    started = time.monotonic()
    status, body = exchange(
        emulator.port,
        b"PUT /n/mdrlocal/b/b/o/x HTTP/1.1\r\nHost: e\r\nContent-Length: " + length + b"\r\n\r\n",
    )
    assert status == 400 and json.loads(body)["code"] == "InvalidParameter"
    assert time.monotonic() - started < 2.0, "answered at once, not after a read timeout"
    assert emulator.mutating_calls() == 0


def test_a_bad_chunk_size_in_a_signed_upload_is_400(emulator: Emulator, objects: Any) -> None:
    namespace = make_bucket(objects, "b")
    request = signed(emulator, "PUT", f"/n/{namespace}/b/b/o/x", **{"transfer-encoding": "chunked"})
    lines = "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
    status, _ = exchange(emulator.port, f"PUT /n/{namespace}/b/b/o/x HTTP/1.1\r\n{lines}\r\n-1\r\n".encode())
    assert status == 400
    assert objects.list_objects(namespace, "b").data.objects == []


def test_a_client_that_expects_100_continue_is_refused_before_it_sends_its_body(emulator: Emulator) -> None:
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=5) as sock:
        sock.sendall(
            b"PUT /n/mdrlocal/b/b/o/x HTTP/1.1\r\nHost: e\r\nContent-Length: 1073741824\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        assert sock.recv(65536).startswith(b"HTTP/1.1 401 "), "a final answer, not 100 Continue"


def test_a_signed_client_that_expects_100_continue_is_told_to_go_on(emulator: Emulator, objects: Any) -> None:
    namespace = make_bucket(objects, "b")
    request = signed(emulator, "PUT", f"/n/{namespace}/b/b/o/x", b"abc", expect="100-continue")
    head = f"PUT /n/{namespace}/b/b/o/x HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in request.headers.items()
    )
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=5) as sock:
        sock.sendall(head.encode() + b"\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 ")
        sock.sendall(b"abc")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
    assert objects.get_object(namespace, "b", "x").data.content == b"abc"


def test_an_unknown_transfer_coding_is_501(emulator: Emulator) -> None:
    status, _ = exchange(emulator.port, b"PUT /n/x HTTP/1.1\r\nHost: e\r\nTransfer-Encoding: gzip\r\n\r\n")
    assert status == 501


def test_refused_requests_are_counted_as_refused_never_as_writes(emulator: Emulator, ds: Any) -> None:
    exchange(emulator.port, b"DELETE /20190101/modelDeployments/ocid1.x HTTP/1.1\r\nHost: e\r\n\r\n")
    exchange(emulator.port, b"PUT /n/mdrlocal/b/b/o/x HTTP/1.1\r\nHost: e\r\nContent-Length: 3\r\n\r\nabc")
    exchange(emulator.port, b"PUT /n/mdrlocal/b/b/o/x HTTP/1.1\r\nHost: e\r\nContent-Length: -1\r\n\r\n")
    send(create_project(emulator, at=time.time() - 3600))
    assert emulator.mutating_calls() == 0 and emulator.counters() == {}
    assert emulator.refused() == {
        "(malformed request)": 1,
        "CreateProject": 1,
        "DeleteModelDeployment": 1,
        "PutObject": 1,
    }
    with requests.get(f"{emulator.url}/_emulator/counters", timeout=10) as answer:
        assert answer.json()["refused"]["PutObject"] == 1 and answer.json()["mutating"] == 0


def test_a_signed_upload_above_the_limit_is_413_before_its_body_is_read(tmp_path: Path) -> None:
    with Emulator(max_upload_bytes=MIB, buckets=["b"]) as emulator:
        request = signed(emulator, "PUT", "/n/mdrlocal/b/b/o/big", **{"content-length": str(GIB)})
        request.body = None
        lines = "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
        status, body = exchange(emulator.port, f"PUT /n/mdrlocal/b/b/o/big HTTP/1.1\r\n{lines}\r\n".encode())
        assert status == 413 and json.loads(body)["code"] == "RequestEntityTooLarge"
        assert list(emulator.store.blob_folder.iterdir()) == [], "nothing was staged"
        assert emulator.refused() == {"PutObject": 1} and emulator.mutating_calls() == 0


def test_a_json_body_above_its_limit_is_413(emulator: Emulator) -> None:
    body = {"compartmentId": COMPARTMENT, "displayName": "p", "description": "x" * (11 * MIB)}
    answer = send(signed(emulator, "POST", "/20190101/projects", body))
    assert answer.status_code == 413
    assert projects(emulator) == []


# --- the server: keep-alive, HEAD, stop ------------------------------------------------------------------


def test_keep_alive_calls_are_not_held_back_by_nagle(ds: Any) -> None:
    """Nagle's algorithm with delayed ACKs once cost ~40 ms per keep-alive call."""
    ds.list_projects(COMPARTMENT)
    timings = []
    for _ in range(30):
        started = time.perf_counter()
        ds.list_projects(COMPARTMENT)
        timings.append(time.perf_counter() - started)
    assert sorted(timings)[15] < 0.02


def test_stop_closes_kept_alive_connections(emulator: Emulator) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=5)
    connection.request("GET", "/_emulator/health")
    assert connection.getresponse().read()
    emulator.stop()
    assert connection.sock is not None
    started = time.monotonic()
    assert connection.sock.recv(1) == b""
    assert time.monotonic() - started < 2.0


# --- memory, on `mdr emulator` as a separate process -----------------------------------------------------


@dataclass
class Process:
    pid: int
    url: str
    config: dict[str, Any]

    def peak_rss(self) -> int:
        """VmHWM: the process's peak resident memory, in bytes."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM")


@contextmanager
def mdr_emulator_process(tmp_path: Path, *options: str) -> Iterator[Process]:
    with running_mdr_emulator(tmp_path, *options) as (process, url, config):
        yield Process(process.pid, url, config)


def push(port: int, head: bytes, size: int) -> tuple[int, int]:
    """Send ``head`` then zeros until ``size`` bytes are sent or the server answers; (status, bytes sent)."""
    block = b"\0" * MIB
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        sent = 0
        while sent < size:
            readable, _, _ = select.select([sock], [sock], [], 10)
            if readable:
                break
            try:
                sent += sock.send(block[: min(MIB, size - sent)])
            except (BrokenPipeError, ConnectionResetError):
                break
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return int(answer.split()[1]), sent


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_an_unsigned_huge_upload_is_refused_without_reading_it(tmp_path: Path) -> None:
    """The hostile tester's 1.5 GiB unsigned PUT once took 1.6 GB of RSS before the 401."""
    size = GIB + GIB // 2
    with mdr_emulator_process(tmp_path, "--bucket", "b") as emulator:
        port = int(emulator.url.rsplit(":", 1)[1])
        before = emulator.peak_rss()
        head = f"PUT /n/mdrlocal/b/b/o/huge HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {size}\r\n\r\n"
        status, sent = push(port, head.encode(), size)
        assert status == 401
        assert sent < size // 8, f"the server let {sent} bytes in before answering"
        assert emulator.peak_rss() - before < 64 * MIB


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_a_signed_large_upload_is_streamed_to_disk_not_memory(tmp_path: Path) -> None:
    size = 512 * MIB

    class Zeros:
        def __init__(self) -> None:
            self.left = size

        def __len__(self) -> int:
            return self.left

        def read(self, n: int = -1) -> bytes:
            n = self.left if n < 0 else min(n, self.left)
            self.left -= n
            return b"\0" * n

    with mdr_emulator_process(tmp_path, "--bucket", "artifacts") as emulator:
        before = emulator.peak_rss()
        client = oci.object_storage.ObjectStorageClient(
            emulator.config, service_endpoint=emulator.url, retry_strategy=oci.retry.NoneRetryStrategy()
        )
        client.put_object("mdrlocal", "artifacts", "big.zip", Zeros(), content_length=size)
        assert int(client.head_object("mdrlocal", "artifacts", "big.zip").headers["content-length"]) == size
        assert emulator.peak_rss() - before < 64 * MIB
