"""The controller's HTTP endpoints: /healthz, /readyz, /metrics and /status (read-only GET and HEAD).

HTTP/1.1 is parsed and framed by h11, as in the emulator (which this layer may not import): malformed
requests get a 400 at once, a request body is never read (nothing here takes one: such a request is answered
and its connection closed), keep-alive connections work, and a silent client is dropped after a timeout
instead of holding a thread. ``socketserver`` provides the listening socket and a thread per connection.
"""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from typing import Any

import h11

log = logging.getLogger("mdr.controller")
READ_SIZE = 64 * 1024
#: a client silent this long (between or within requests) is disconnected
IDLE_SECONDS = 30.0

Route = Callable[[], tuple[int, bytes, str]]


class _Connection(socketserver.BaseRequestHandler):
    server: EndpointServer
    request: socket.socket

    def handle(self) -> None:
        sock = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(IDLE_SECONDS)
        protocol = h11.Connection(h11.SERVER)
        while True:
            try:
                event = _next_event(protocol, sock)
            except h11.RemoteProtocolError as exc:
                self._answer(protocol, exc.error_status_hint, b"bad request\n", "text/plain", head=False)
                return
            except OSError:
                return  # timed out or reset
            if not isinstance(event, h11.Request):
                return  # the client closed the connection
            method = event.method.decode("ascii")
            path = event.target.decode("latin-1").split("?", 1)[0]
            if method not in ("GET", "HEAD"):
                status, body, content_type = 405, b"method not allowed\n", "text/plain"
            else:
                status, body, content_type = self.server.route(path)
            if not self._answer(protocol, status, body, content_type, head=method == "HEAD"):
                return
            protocol.start_next_cycle()

    def _answer(
        self, protocol: h11.Connection, status: int, body: bytes, content_type: str, head: bool
    ) -> bool:
        """Send the answer; True when the connection may serve another request."""
        headers = [("content-type", content_type), ("content-length", str(len(body)))]
        if protocol.their_state is not h11.DONE:
            headers.append(("connection", "close"))  # an unread request body (or a broken request)
        try:
            data = protocol.send(
                h11.Response(status_code=status, headers=headers, reason=HTTPStatus(status).phrase)
            )
            if not head:
                data = (data or b"") + (protocol.send(h11.Data(data=body)) or b"")
            self.request.sendall((data or b"") + (protocol.send(h11.EndOfMessage()) or b""))
        except (OSError, h11.LocalProtocolError):
            return False
        return protocol.our_state is h11.DONE and protocol.their_state is h11.DONE


def _next_event(protocol: h11.Connection, sock: socket.socket) -> Any:
    while (event := protocol.next_event()) is h11.NEED_DATA:
        protocol.receive_data(sock.recv(READ_SIZE))
    # a request without a body ends where its head does: take that end (already received), so the
    # connection may serve another request; a body is never waited for
    while isinstance(event, h11.Request) and protocol.their_state is h11.SEND_BODY:
        if not isinstance(protocol.next_event(), h11.Data | h11.EndOfMessage):
            break
    return event


class EndpointServer(ThreadingHTTPServer):
    """The listening socket and a thread per connection; each connection speaks HTTP/1.1 through h11."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], routes: dict[str, Route]) -> None:
        self.routes = routes
        super().__init__(address, _Connection)

    def route(self, path: str) -> tuple[int, bytes, str]:
        handler = self.routes.get(path)
        return handler() if handler is not None else (404, b"not found\n", "text/plain")


def serve_endpoints(
    host: str, port: int, status: Callable[[], dict[str, Any]], metrics: Callable[[], bytes]
) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; the caller shuts the returned server down."""

    def readyz() -> tuple[int, bytes, str]:
        # a healthy standby is ready too (to take over); only a leader before its first
        # reconcile is not, so rolling updates of a leader/standby pair go through
        state = status()
        if not state["leader"]:
            return 200, b"standby\n", "text/plain"
        if state["reconciles"] > 0:
            return 200, b"ready\n", "text/plain"
        return 503, b"starting\n", "text/plain"

    routes: dict[str, Route] = {
        "/healthz": lambda: (200, b"ok\n", "text/plain"),
        "/readyz": readyz,
        "/metrics": lambda: (200, metrics(), "text/plain; version=0.0.4; charset=utf-8"),
        "/status": lambda: (200, json.dumps(status(), indent=2, default=str).encode(), "application/json"),
    }
    server = EndpointServer((host, port), routes)
    threading.Thread(target=server.serve_forever, name="mdr-http", daemon=True).start()
    log.info("serving health, metrics and status", extra={"address": f"{host}:{server.server_port}"})
    return server
