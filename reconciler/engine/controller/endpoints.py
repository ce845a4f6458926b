"""The controller's HTTP endpoints: /healthz, /readyz, /metrics and /status (read-only)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger("mdr.controller")


def serve_endpoints(
    host: str, port: int, status: Callable[[], dict[str, Any]], metrics: Callable[[], bytes]
) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; the caller shuts the returned server down."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                self._send(200, b"ok\n", "text/plain")
            elif path == "/readyz":
                # a healthy standby is ready too (to take over); only a leader before its first
                # reconcile is not, so rolling updates of a leader/standby pair go through
                state = status()
                if not state["leader"]:
                    self._send(200, b"standby\n", "text/plain")
                elif state["reconciles"] > 0:
                    self._send(200, b"ready\n", "text/plain")
                else:
                    self._send(503, b"starting\n", "text/plain")
            elif path == "/metrics":
                self._send(200, metrics(), "text/plain; version=0.0.4; charset=utf-8")
            elif path == "/status":
                body = json.dumps(status(), indent=2, default=str).encode()
                self._send(200, body, "application/json")
            else:
                self._send(404, b"not found\n", "text/plain")

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="mdr-http", daemon=True)
    thread.start()
    log.info("serving health, metrics and status", extra={"address": f"{host}:{server.server_port}"})
    return server
