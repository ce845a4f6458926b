"""The emulator's HTTP server: routing, signatures, retry tokens, faults, counters and the admin API.

One ``ThreadingHTTPServer`` serves Data Science, Logging and Object Storage (their base paths differ), the
predict endpoint of ACTIVE conda deployments, and an unsigned admin API under ``/_emulator/`` for tests and
benchmarks (counters, faults, health).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from reconciler.emulator.http import ApiError, Request, Response, Router
from reconciler.emulator.predict import PredictError, PredictPool
from reconciler.emulator.services import NAMESPACE, Services, body_hash
from reconciler.emulator.signing import TENANCY, USER, KeyPair, SignatureError, Verifier
from reconciler.emulator.state import FaultConfig, State

ERROR_CODES = {
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
}
TICK_SECONDS = 0.02


class Emulator:
    """A local OCI (Data Science, Logging, Object Storage) that the unmodified ``oci`` SDK and CLI accept."""

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
        self.state = State(self.state_dir, region, work_request_seconds)
        self.keys = KeyPair.load_or_create(self.state_dir)
        self.verifier = Verifier.for_state(self.keys, self.state_dir)
        self.router = Router()
        self.predictions = PredictPool()
        self._counts: Counter[str] = Counter()
        self._faulted: Counter[str] = Counter()
        self._counts_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self.services: Services | None = None
        self.state.on_deployment_change = self._deployment_changed

    # -- lifecycle --

    def start(self) -> Emulator:
        self._server = ThreadingHTTPServer((self.host, self.port), _handler_for(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.services = Services(self.state, self.url)
        self.services.register(self.router)
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
        with self._counts_lock:  # keep-alive connections would otherwise go on being served
            connections, self._connections = set(self._connections), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the client
        self.predictions.stop_all()
        with self.state.lock:
            self.state.save()

    def __enter__(self) -> Emulator:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _tick_loop(self) -> None:
        while not self._stopping.wait(TICK_SECONDS):
            with self.state.lock:
                self.state.tick()

    # -- client configuration --

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def namespace(self) -> str:
        return NAMESPACE

    @property
    def work_request_seconds(self) -> float:
        return self.state.work_request_seconds

    @work_request_seconds.setter
    def work_request_seconds(self, value: float) -> None:
        self.state.work_request_seconds = value

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
        return self.state.faults

    def set_faults(self, faults: FaultConfig) -> None:
        with self.state.lock:
            self.state.faults = faults
            if faults.seed is not None:
                self.state.random.seed(faults.seed)

    def counters(self) -> dict[str, int]:
        with self._counts_lock:
            return dict(sorted(self._counts.items()))

    def faulted(self) -> dict[str, int]:
        with self._counts_lock:
            return dict(sorted(self._faulted.items()))

    def reset_counters(self) -> None:
        with self._counts_lock:
            self._counts.clear()
            self._faulted.clear()

    @property
    def mutating_operations(self) -> frozenset[str]:
        return self.router.mutating_operations

    def mutating_calls(self) -> int:
        mutating = self.mutating_operations
        return sum(n for op, n in self.counters().items() if op in mutating)

    def _count(self, operation: str, faulted: bool = False) -> None:
        with self._counts_lock:
            self._counts[operation] += 1
            if faulted:
                self._faulted[operation] += 1

    def _injected_error(self, operation: str) -> ApiError | None:
        rates = self.state.faults.error_rates
        for key in (operation, "*"):
            for status, probability in (rates.get(key) or {}).items():
                if self.state.random.random() < probability:
                    code = ERROR_CODES.get(status, "InternalServerError")
                    return ApiError(status, code, f"injected fault {status} for {operation}")
        return None

    def _deployment_changed(self, resource_id: str) -> None:
        deployment = self.state.data["deployments"].get(resource_id)
        if deployment is not None and deployment["lifecycleState"] != "ACTIVE":
            self.predictions.stop(resource_id)

    # -- request handling --

    def handle(self, request: Request) -> Response:
        if request.path.startswith("/_emulator/"):
            return self._admin(request)
        if request.path.startswith("/modeldeployment/"):
            return self._predict(request)
        matched = self.router.match(request.method, request.path)
        if matched is None:
            return _error(
                ApiError(404, "NotAuthorizedOrNotFound", f"no such API: {request.method} {request.path}")
            )
        route, params = matched
        request.params = {k: unquote(v) for k, v in params.items()}
        if self.verify_signatures and route.signed:
            try:
                self.verifier.verify(request.method, request.raw_target, request.headers, request.body)
            except SignatureError as exc:
                self._count(route.operation, faulted=True)
                return _error(ApiError(401, "NotAuthenticated", f"the request signature is invalid: {exc}"))
        latency = self.state.faults.latency_ms
        if latency > 0:
            time.sleep(latency / 1000.0)
        injected = self._injected_error(route.operation)
        if injected is not None:
            self._count(route.operation, faulted=True)
            return _error(injected)
        self._count(route.operation)
        token = request.headers.get("opc-retry-token")
        token_key = f"{route.operation}:{token}" if token and route.mutating else None
        with self.state.lock:
            self.state.tick()
            if token_key is not None:
                seen = self.state.recall(token_key)
                if seen is not None:
                    if seen["bodyHash"] != body_hash(request):
                        return _error(
                            ApiError(
                                409, "Conflict", "the opc-retry-token was used with a different request body"
                            )
                        )
                    return Response(seen["status"], seen["body"], dict(seen["headers"]))
            try:
                response = route.handler(request)
            except ApiError as exc:
                return _error(exc)
            if route.mutating:
                if (
                    token_key is not None
                    and 200 <= response.status < 300
                    and not isinstance(response.body, bytes)
                ):
                    self.state.remember(
                        token_key, body_hash(request), (response.status, response.headers, response.body)
                    )
                self.state.save()
        return response

    def _predict(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if len(parts) != 3 or parts[2] != "predict" or request.method != "POST":
            return _error(ApiError(404, "NotAuthorizedOrNotFound", "use POST {modelDeploymentUrl}/predict"))
        deployment_id = parts[1]
        self._count("Predict")
        with self.state.lock:
            deployment = self.state.data["deployments"].get(deployment_id)
            if deployment is None:
                return _error(
                    ApiError(404, "NotAuthorizedOrNotFound", f"model deployment {deployment_id} not found")
                )
            if deployment["lifecycleState"] != "ACTIVE":
                return _error(
                    ApiError(409, "IncorrectState", f"model deployment is {deployment['lifecycleState']}")
                )
            config = deployment["modelDeploymentConfigurationDetails"]
            environment = config.get("environmentConfigurationDetails") or {}
            if environment.get("environmentConfigurationType") == "OCIR_CONTAINER":
                return _error(ApiError(501, "NotImplemented", "the emulator serves conda deployments only"))
            model_id = config["modelConfigurationDetails"]["modelId"]
            artifact = self.state.data["artifacts"].get(model_id)
            if artifact is None:
                return _error(ApiError(500, "InternalServerError", "the deployed model has no artifact"))
            content = self.state.get_blob(artifact["blob"])
        try:
            payload = request.json()
            result = self.predictions.predict(deployment_id, model_id, content, payload)
        except ApiError as exc:
            return _error(exc)
        except PredictError as exc:
            return _error(ApiError(exc.status, "InternalServerError", str(exc)))
        return Response(200, result)

    def _admin(self, request: Request) -> Response:
        path = request.path
        if path == "/_emulator/health":
            return Response(200, {"status": "ok", "url": self.url})
        if path == "/_emulator/counters" and request.method == "GET":
            return Response(
                200, {"calls": self.counters(), "faulted": self.faulted(), "mutating": self.mutating_calls()}
            )
        if path == "/_emulator/reset-counters" and request.method == "POST":
            self.reset_counters()
            return Response(200, {"status": "ok"})
        if path == "/_emulator/faults":
            if request.method == "POST":
                try:
                    self.set_faults(FaultConfig.from_dict(request.json_object()))
                except (ValueError, TypeError) as exc:
                    return _error(ApiError(400, "InvalidParameter", f"bad fault configuration: {exc}"))
            return Response(200, self.faults.to_dict())
        if path == "/_emulator/work-request-seconds" and request.method == "POST":
            self.work_request_seconds = float(request.json_object().get("seconds", 0.2))
            return Response(200, {"seconds": self.work_request_seconds})
        return _error(ApiError(404, "NotAuthorizedOrNotFound", f"no admin endpoint {path}"))


def _error(exc: ApiError) -> Response:
    return Response(exc.status, {"code": exc.code, "message": exc.message})


def _handler_for(emulator: Emulator) -> type[BaseHTTPRequestHandler]:
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
            with emulator._counts_lock:
                emulator._connections.add(self.connection)

        def finish(self) -> None:
            with emulator._counts_lock:
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
                response = _error(ApiError(500, "InternalServerError", f"emulator error: {exc!r}"))
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
