"""The controller's HTTP endpoints refuse malformed requests at once and never hang on them."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator

import pytest

from reconciler.engine.controller.endpoints import MAX_BODY_BYTES, Request, serve_endpoints


@pytest.fixture
def port() -> Iterator[int]:
    state = {"leader": True, "reconciles": 1}
    server = serve_endpoints("127.0.0.1", 0, lambda: state, lambda: b"mdr_up 1\n")
    try:
        yield int(server.server_port)
    finally:
        server.shutdown()
        server.server_close()


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        return sock.recv(4096)


def test_health_status_and_metrics_answer(port: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    for path, body in (("/healthz", b"ok\n"), ("/readyz", b"ready\n"), ("/metrics", b"mdr_up 1\n")):
        connection.request("GET", path)
        answer = connection.getresponse()
        assert (answer.status, answer.read()) == (200, body)  # on one kept-alive connection
    connection.request("GET", "/status")
    answer = connection.getresponse()
    assert answer.status == 200 and b'"leader": true' in answer.read()


def test_a_negative_content_length_is_refused_at_once(port: int) -> None:
    answer = _raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400")


def test_writes_are_not_allowed(port: int) -> None:
    answer = _raw(port, b"POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
    assert answer.startswith(b"HTTP/1.1 405")


class Echo:
    """A POST route that answers with what it was given."""

    def handles(self, path: str) -> bool:
        return path == "/api/echo"

    def answer(self, request: Request) -> tuple[int, bytes, str]:
        return 200, request.headers.get("x-tag", "").encode() + b":" + request.body, "text/plain"


@pytest.fixture
def post_port() -> Iterator[int]:
    state = {"leader": True, "reconciles": 1}
    server = serve_endpoints("127.0.0.1", 0, lambda: state, lambda: b"mdr_up 1\n", None, Echo())
    server.body_seconds = 0.5  # type: ignore[attr-defined]  # a short limit, to see it enforced
    try:
        yield int(server.server_port)
    finally:
        server.shutdown()
        server.server_close()


def test_a_post_route_reads_its_body_and_the_connection_stays_usable(post_port: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", post_port, timeout=5)
    connection.request("POST", "/api/echo", body=b'{"ref": "x"}', headers={"X-Tag": "t"})
    answer = connection.getresponse()
    assert (answer.status, answer.read()) == (200, b't:{"ref": "x"}')
    connection.request("GET", "/healthz")  # the same kept-alive connection
    answer = connection.getresponse()
    assert (answer.status, answer.read()) == (200, b"ok\n")


def test_a_chunked_body_is_read_too(post_port: int) -> None:
    answer = _raw(
        post_port,
        b"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b":abc")


def test_a_body_over_the_limit_is_refused_without_reading_it(post_port: int) -> None:
    head = f"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n"
    assert _raw(post_port, head.encode()).startswith(b"HTTP/1.1 413")


def test_a_chunked_body_growing_over_the_limit_is_refused(post_port: int) -> None:
    chunk = b"x" * 65536
    with socket.create_connection(("127.0.0.1", post_port), timeout=5) as sock:
        sock.sendall(b"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            for _ in range(MAX_BODY_BYTES // len(chunk) + 2):
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        except OSError:
            pass  # the server answered and closed while we were still sending
        assert sock.recv(4096).startswith(b"HTTP/1.1 413")


def test_a_body_that_never_arrives_is_dropped_after_the_time_limit(post_port: int) -> None:
    with socket.create_connection(("127.0.0.1", post_port), timeout=5) as sock:
        sock.sendall(b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        assert sock.recv(4096) == b""  # closed, not answered, within the limit (not the 30 s idle one)


def test_other_posts_are_still_not_allowed(post_port: int) -> None:
    answer = _raw(post_port, b"POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
    assert answer.startswith(b"HTTP/1.1 405")
