"""The controller's HTTP endpoints: /healthz, /readyz, /metrics, /status and the dashboard's pages under
``/`` and ``/ui/`` (read-only GET and HEAD), and the few POST routes of ``Actions`` (git webhooks, sync).

HTTP/1.1 is parsed and framed by h11, as in the emulator (which this layer may not import): malformed
requests get a 400 at once, keep-alive connections work, and a silent client is dropped after a timeout
instead of holding a thread. A request body is read only for a POST route that takes one, bounded in size
(``MAX_BODY_BYTES``, else 413) and in time (``BODY_SECONDS``, else the connection is dropped); any other
request's body is never read (it is answered and its connection closed). ``socketserver`` provides the
listening socket and a thread per connection.
"""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from typing import Any, Protocol

import h11

log = logging.getLogger("mdr.controller")
READ_SIZE = 64 * 1024
#: a client silent this long (between or within requests) is disconnected
IDLE_SECONDS = 30.0
#: the largest body a POST route reads (a GitHub push payload is far below; GitHub caps them at 25 MB,
#: and a payload over this is refused with 413, so a webhook should send only push events)
MAX_BODY_BYTES = 1024 * 1024
#: a body must arrive within this, whatever its pace (a slow client cannot hold a thread)
BODY_SECONDS = 10.0

Route = Callable[[], tuple[int, bytes, str]]
#: HTML pages run no script and load nothing from elsewhere; inline styles only (defence in depth behind
#: the templates' autoescaping)
HTML_HEADERS = [
    ("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
]


class Pages(Protocol):
    """Answers a family of paths (the dashboard)."""

    def handles(self, path: str) -> bool: ...

    def answer(self, path: str) -> tuple[int, bytes, str]: ...


@dataclass
class Request:
    """A POST request as a route sees it: header names in lower case, the whole (bounded) body."""

    path: str
    headers: dict[str, str]
    body: bytes


class Actions(Protocol):
    """Answers the POST routes (webhooks, sync); everything else is read-only."""

    def handles(self, path: str) -> bool: ...

    def answer(self, request: Request) -> tuple[int, bytes, str]: ...


class BodyTooLarge(Exception):
    """The request body is over ``MAX_BODY_BYTES``."""


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
            actions = self.server.actions
            if method == "POST" and actions is not None and actions.handles(path):
                try:
                    body = _read_body(protocol, sock, event, self.server.body_seconds)
                except BodyTooLarge:
                    self._answer(protocol, 413, b"request body too large\n", "text/plain", head=False)
                    return
                except (OSError, TimeoutError, h11.RemoteProtocolError):
                    return  # too slow, reset or malformed: drop it
                finally:
                    sock.settimeout(IDLE_SECONDS)
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in event.headers}
                status, body, content_type = actions.answer(Request(path, headers, body))
            else:
                _take_received_end(protocol)
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
        if content_type.startswith("text/html"):
            headers += HTML_HEADERS
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
    return event


def _take_received_end(protocol: h11.Connection) -> None:
    """A request without a body ends where its head does: take that end (already received), so the
    connection may serve another request; a body is never waited for."""
    while protocol.their_state is h11.SEND_BODY:
        if not isinstance(protocol.next_event(), h11.Data | h11.EndOfMessage):
            break


def _read_body(protocol: h11.Connection, sock: socket.socket, request: h11.Request, seconds: float) -> bytes:
    """The whole body, at most ``MAX_BODY_BYTES`` and within ``seconds``."""
    for name, value in request.headers:
        if name == b"content-length" and int(value) > MAX_BODY_BYTES:
            raise BodyTooLarge()  # refused before reading any of it
    deadline = time.monotonic() + seconds
    chunks: list[bytes] = []
    size = 0
    while True:
        event = protocol.next_event()
        if event is h11.NEED_DATA:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("request body too slow")
            sock.settimeout(remaining)
            protocol.receive_data(sock.recv(READ_SIZE))
        elif isinstance(event, h11.Data):
            size += len(event.data)
            if size > MAX_BODY_BYTES:
                raise BodyTooLarge()
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            return b"".join(chunks)
        else:
            raise OSError("the connection closed inside a request body")


class EndpointServer(ThreadingHTTPServer):
    """The listening socket and a thread per connection; each connection speaks HTTP/1.1 through h11."""

    daemon_threads = True
    block_on_close = False
    #: a POST body must arrive within this
    body_seconds = BODY_SECONDS

    def __init__(
        self,
        address: tuple[str, int],
        routes: dict[str, Route],
        pages: Pages | None = None,
        actions: Actions | None = None,
    ) -> None:
        self.routes = routes
        self.pages = pages
        self.actions = actions
        super().__init__(address, _Connection)

    def route(self, path: str) -> tuple[int, bytes, str]:
        handler = self.routes.get(path)
        if handler is not None:
            return handler()
        if self.pages is not None and self.pages.handles(path):
            return self.pages.answer(path)
        return 404, b"not found\n", "text/plain"


def serve_endpoints(
    host: str,
    port: int,
    status: Callable[[], dict[str, Any]],
    metrics: Callable[[], bytes],
    pages: Pages | None = None,
    actions: Actions | None = None,
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
    server = EndpointServer((host, port), routes, pages, actions)
    threading.Thread(target=server.serve_forever, name="mdr-http", daemon=True).start()
    what = "the dashboard, health, metrics and status" if pages else "health, metrics and status"
    log.info(f"serving {what}", extra={"address": f"{host}:{server.server_port}"})
    return server
