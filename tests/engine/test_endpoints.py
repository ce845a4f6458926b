"""The controller's HTTP endpoints refuse malformed requests at once and never hang on them."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator

import pytest

from reconciler.engine.controller.endpoints import serve_endpoints


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
