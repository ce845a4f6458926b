"""The emulator's HTTP server: routing, signatures, retry tokens, faults, counters and the admin API.

One ``ThreadingHTTPServer`` serves every service's routes (their base paths differ) and an unsigned admin API
under ``/_emulator/`` for tests and benchmarks (counters, faults, health). It knows no service: ``Emulator``
(``reconciler.emulator.emulator``) adds them, so that ``core`` imports none of them.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import unquote, urlsplit

from reconciler.emulator.core.errors import ApiError
from reconciler.emulator.core.faults import FaultConfig
from reconciler.emulator.core.http import Request, Response, Route, Router, error_response
from reconciler.emulator.core.signing import TENANCY, USER, KeyPair, SignatureError, Verifier
from reconciler.emulator.core.store import Store
from reconciler.emulator.core.workrequests import WorkRequests

TICK_SECONDS = 0.02


class Calls:
    """How many calls each operation got, and how many of them were answered with a fault."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.faulted: Counter[str] = Counter()

    def count(self, operation: str, faulted: bool = False) -> None:
        with self.lock:
            self.counts[operation] += 1
            if faulted:
                self.faulted[operation] += 1

    def snapshot(self) -> tuple[dict[str, int], dict[str, int]]:
        with self.lock:
            return dict(sorted(self.counts.items())), dict(sorted(self.faulted.items()))

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()
            self.faulted.clear()


class Server:
    """The HTTP side of the emulator, with the store and work requests its services share."""

    def __init__(
        self,
        state_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        work_request_seconds: float = 0.2,
        verify_signatures: bool = True,
        region: str = "us-ashburn-1",
    ) -> None:
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.host = host
        self.port = port
        self.region = region
        self.verify_signatures = verify_signatures
        self.store = Store(self.state_dir, region, work_request_seconds)
        self.keys = KeyPair.load_or_create(self.state_dir)
        self.verifier = Verifier.for_state(self.keys, self.state_dir)
        self.work_requests = WorkRequests(self.store)
        self.router = Router()
        self.calls = Calls()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._add_services()

    # -- what a subclass adds its services with --

    def _add_services(self) -> None:
        """Build the services on ``store`` and ``work_requests`` and add their routes to ``router``."""

    def _served_at(self, url: str) -> None:
        """Called under the store's lock once the server listens, before it answers anything."""

    def _unrouted(self, request: Request) -> Response | None:
        """An answer for a path outside the routed OCI API and the admin API; None: route the request."""
        return None

    def _stopped(self) -> None:
        """Called once the server no longer answers, before the state is saved a last time."""

    # -- lifecycle --

    def start(self) -> Self:
        self._server = ThreadingHTTPServer((self.host, self.port), _handler_for(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        with self.store.lock:
            self._served_at(self.url)
        serve = threading.Thread(target=self._server.serve_forever, name="emulator-http", daemon=True)
        ticker = threading.Thread(target=self._tick_loop, name="emulator-lifecycle", daemon=True)
        self._threads = [serve, ticker]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._connections_lock:  # keep-alive connections would otherwise go on being served
            connections, self._connections = set(self._connections), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the client
        self._stopped()
        with self.store.lock:
            self.store.save()

    def __enter__(self) -> Self:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _tick_loop(self) -> None:
        while not self._stopping.wait(TICK_SECONDS):
            with self.store.lock:
                self.work_requests.tick()

    # -- client configuration --

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def work_request_seconds(self) -> float:
        return self.store.work_request_seconds

    @work_request_seconds.setter
    def work_request_seconds(self, value: float) -> None:
        self.store.work_request_seconds = value

    def oci_config(self) -> dict[str, Any]:
        """An SDK config dict whose key the emulator trusts."""
        return {
            "user": USER,
            "tenancy": TENANCY,
            "fingerprint": self.keys.fingerprint,
            "key_content": self.keys.private_pem.decode(),
            "region": self.region,
        }

    def write_oci_config(self, directory: Path, profile: str = "DEFAULT") -> Path:
        """Write an OCI config file and its key for SDK and CLI users; returns the config path."""
        directory = Path(directory).resolve()  # an absolute key path: the config works from any folder
        directory.mkdir(parents=True, exist_ok=True)
        key_file = directory / "emulator_key.pem"
        key_file.write_bytes(self.keys.private_pem)
        key_file.chmod(0o600)
        config = directory / "config"
        config.write_text(
            f"[{profile}]\nuser={USER}\nfingerprint={self.keys.fingerprint}\ntenancy={TENANCY}\n"
            f"region={self.region}\nkey_file={key_file}\n",
            encoding="utf-8",
        )
        config.chmod(0o600)
        return config

    # -- faults and counters --

    @property
    def faults(self) -> FaultConfig:
        return self.store.faults

    def set_faults(self, faults: FaultConfig) -> None:
        with self.store.lock:
            self.store.faults = faults
            if faults.seed is not None:
                self.store.random.seed(faults.seed)

    def counters(self) -> dict[str, int]:
        return self.calls.snapshot()[0]

    def faulted(self) -> dict[str, int]:
        return self.calls.snapshot()[1]

    def reset_counters(self) -> None:
        self.calls.reset()

    @property
    def mutating_operations(self) -> frozenset[str]:
        return self.router.mutating_operations

    def mutating_calls(self) -> int:
        mutating = self.mutating_operations
        return sum(n for op, n in self.counters().items() if op in mutating)

    # -- request handling --

    def handle(self, request: Request) -> Response:
        if request.path.startswith("/_emulator/"):
            return self._admin(request)
        try:
            unrouted = self._unrouted(request)
            if unrouted is not None:
                return unrouted
            matched = self.router.match(request.method, request.path)
            if matched is None:
                raise ApiError(
                    404, "NotAuthorizedOrNotFound", f"no such API: {request.method} {request.path}"
                )
            route, params = matched
            request.params = {k: unquote(v) for k, v in params.items()}
            return self._call(route, request)
        except ApiError as exc:
            return error_response(exc)

    def _call(self, route: Route, request: Request) -> Response:
        """A routed OCI call: signature, injected faults, then the handler under the store's lock."""
        if self.verify_signatures and route.signed:
            try:
                self.verifier.verify(request.method, request.raw_target, request.headers, request.body)
            except SignatureError as exc:
                self.calls.count(route.operation, faulted=True)
                raise ApiError(401, "NotAuthenticated", f"the request signature is invalid: {exc}") from exc
        latency = self.store.faults.latency_ms
        if latency > 0:
            time.sleep(latency / 1000.0)
        injected = self.store.faults.injected_error(route.operation, self.store.random)
        if injected is not None:
            self.calls.count(route.operation, faulted=True)
            raise injected
        self.calls.count(route.operation)
        token = request.headers.get("opc-retry-token")
        token_key = f"{route.operation}:{token}" if token and route.mutating else None
        body_hash = hashlib.sha256(request.body).hexdigest() if token_key is not None else ""
        with self.store.lock:
            self.work_requests.tick()
            if token_key is not None:
                seen = self.store.recall(token_key)
                if seen is not None:
                    if seen["bodyHash"] != body_hash:
                        raise ApiError(
                            409, "Conflict", "the opc-retry-token was used with a different request body"
                        )
                    return Response(seen["status"], seen["body"], dict(seen["headers"]))
            response = route.handler(request)
            if route.mutating:
                if (
                    token_key is not None
                    and 200 <= response.status < 300
                    and not isinstance(response.body, bytes)
                ):
                    self.store.remember(
                        token_key, body_hash, (response.status, response.headers, response.body)
                    )
                self.store.save()
        return response

    def _admin(self, request: Request) -> Response:
        path = request.path
        if path == "/_emulator/health":
            return Response(200, {"status": "ok", "url": self.url})
        if path == "/_emulator/counters" and request.method == "GET":
            calls, faulted = self.calls.snapshot()
            return Response(200, {"calls": calls, "faulted": faulted, "mutating": self.mutating_calls()})
        if path == "/_emulator/reset-counters" and request.method == "POST":
            self.reset_counters()
            return Response(200, {"status": "ok"})
        if path == "/_emulator/faults":
            if request.method == "POST":
                try:
                    self.set_faults(FaultConfig.from_dict(request.json_object()))
                except (ValueError, TypeError) as exc:
                    return error_response(
                        ApiError(400, "InvalidParameter", f"bad fault configuration: {exc}")
                    )
            return Response(200, self.faults.to_dict())
        if path == "/_emulator/work-request-seconds" and request.method == "POST":
            self.work_request_seconds = float(request.json_object().get("seconds", 0.2))
            return Response(200, {"seconds": self.work_request_seconds})
        return error_response(ApiError(404, "NotAuthorizedOrNotFound", f"no admin endpoint {path}"))


def _handler_for(emulator: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "mdr-emulator"
        # Answer in one segment without Nagle's delay: otherwise every keep-alive response waits ~40 ms for
        # the client's delayed ACK, which would make per-call latency (and benchmarks) meaningless
        disable_nagle_algorithm = True
        wbufsize = 64 * 1024  # headers and body leave in one write (flushed after each request)

        def log_message(self, format: str, *args: Any) -> None:
            return

        def setup(self) -> None:
            super().setup()
            with emulator._connections_lock:
                emulator._connections.add(self.connection)

        def finish(self) -> None:
            with emulator._connections_lock:
                emulator._connections.discard(self.connection)
            super().finish()

        def _body(self) -> bytes:
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            length = int(self.headers.get("content-length") or 0)
            return self.rfile.read(length) if length else b""

        def _dispatch(self) -> None:
            split = urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            query = Request.parse_query(split.query)
            request = Request(self.command, split.path, query, headers, self._body(), raw_target=self.path)
            try:
                response = emulator.handle(request)
            except Exception as exc:  # the HTTP boundary: answer 500 rather than drop the connection
                response = error_response(ApiError(500, "InternalServerError", f"emulator error: {exc!r}"))
            self._send(response, headers.get("opc-request-id"))

        def _send(self, response: Response, request_id: str | None) -> None:
            if isinstance(response.body, bytes):
                payload = response.body
                content_type = response.content_type
            elif response.body is None:
                payload = b""
                content_type = "application/json"
            else:
                payload = json.dumps(response.body).encode()
                content_type = "application/json"
            self.send_response(response.status)
            headers = {k.lower(): v for k, v in response.headers.items()}
            headers["opc-request-id"] = request_id or uuid.uuid4().hex.upper()
            headers["content-type"] = content_type
            if self.command == "HEAD":
                headers.setdefault("content-length", "0")
            else:
                headers["content-length"] = str(len(payload))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD" and payload:
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _dispatch

    return Handler
