"""The emulator's HTTP side: routing, signatures, body limits, replays, retry tokens, faults, counters, admin.

Every OCI call goes through the same steps and is refused at the first one that fails, before any later one:

1. the route: an unknown API is a 404, its body unread;
2. the signature, on the request line and headers alone (``signing.Verifier``): 401 ``NotAuthenticated``
   for an unsigned or mis-signed request, a date outside the clock-skew window, or a replay (a signature
   seen before whose second has passed, ``replay.ReplayGuard``), its body unread;
3. the body limit: a Content-Length above the route's limit is a 413 at once, a chunked body is cut off at it.
   A streamed route's body (an object, a part, an artifact: up to ``max_upload_bytes``) is written to a
   staged file as it arrives; a JSON body (up to ``max_json_bytes``) is read into memory;
4. the body against the signed ``x-content-sha256`` (401);
5. injected faults; then, under the store's lock, retry tokens and the service's handler.

A call refused in steps 2-4 is counted as *refused* (``refused()``), never as a call of its operation:
``mutating_calls()`` counts only calls that reached a service. One HTTP server (``httpserver``, on
h11) serves every service's routes (their base paths differ) and an unsigned admin API under ``/_emulator/``
for tests and benchmarks (counters, faults, health). This module knows no service: ``Emulator``
(``reconciler.emulator.emulator``) adds them, so that ``core`` imports none of them.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Self
from urllib.parse import unquote, urlsplit

from reconciler.emulator.core import admin_bulk
from reconciler.emulator.core.errors import ApiError
from reconciler.emulator.core.faults import FaultConfig
from reconciler.emulator.core.http import FileBody, Request, Response, Route, Router, error_response
from reconciler.emulator.core.httpserver import Body, BodyError, HttpServer, Incoming, Outgoing
from reconciler.emulator.core.limits import Limits
from reconciler.emulator.core.replay import ReplayGuard
from reconciler.emulator.core.signing import (
    TENANCY,
    USER,
    KeyPair,
    SignatureError,
    Verifier,
    check_body,
)
from reconciler.emulator.core.store import Store
from reconciler.emulator.core.workrequests import WorkRequests

TICK_SECONDS = 0.02
#: the last line of an API signing key file as the OCI Console writes it (the oci CLI checks for it)
API_KEY_LABEL = b"OCI_API_KEY\n"


#: a raw upload (an object, a part, a model artifact): OCI takes model artifacts up to 6 GB directly
DEFAULT_MAX_UPLOAD_BYTES = 6 * 1024**3
#: a JSON request body; the largest mdr sends (a deployment with its environment) is a few KiB
DEFAULT_MAX_JSON_BYTES = 10 * 1024**2
ADMIN_MAX_BYTES = 1024**2
#: headers a request may carry once: a second one would make what was signed differ from what is used
SINGLE_HEADERS = frozenset(
    {"authorization", "date", "x-date", "host", "content-type", "x-content-sha256", "opc-retry-token"}
    | {"if-match", "if-none-match"}
)
BODY_ERROR_CODES = {
    400: "InvalidParameter",
    408: "RequestTimeout",
    413: "RequestEntityTooLarge",
    431: "RequestHeaderFieldsTooLarge",
    501: "NotImplemented",
}
#: the counter of refused requests whose route is not known (a malformed request line or headers)
MALFORMED = "(malformed request)"


class Calls:
    """How many calls each operation got, how many were answered with a fault, and how many were refused."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.faulted: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()

    def count(self, operation: str, faulted: bool = False) -> None:
        with self.lock:
            self.counts[operation] += 1
            if faulted:
                self.faulted[operation] += 1

    def refuse(self, operation: str) -> None:
        """A request refused before it reached the service (signature, replay, framing, size)."""
        with self.lock:
            self.refused[operation] += 1

    def snapshot(self) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        with self.lock:
            return (
                dict(sorted(self.counts.items())),
                dict(sorted(self.faulted.items())),
                dict(sorted(self.refused.items())),
            )

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()
            self.faulted.clear()
            self.refused.clear()


class _Controls:
    """What tests and benchmarks steer and read: faults, counters, and the admin API that exposes them."""

    store: Store
    calls: Calls
    router: Router
    limits: Limits

    @property
    def url(self) -> str:
        raise NotImplementedError

    @property
    def work_request_seconds(self) -> float:
        raise NotImplementedError

    @work_request_seconds.setter
    def work_request_seconds(self, value: float) -> None:
        raise NotImplementedError

    @property
    def faults(self) -> FaultConfig:
        return self.store.faults

    def set_faults(self, faults: FaultConfig) -> None:
        with self.store.lock:
            self.store.faults = faults
            if faults.seed is not None:
                self.store.random.seed(faults.seed)

    def counters(self) -> dict[str, int]:
        """Calls that reached a service, by operation (faulted ones included; refused ones not)."""
        return self.calls.snapshot()[0]

    def faulted(self) -> dict[str, int]:
        return self.calls.snapshot()[1]

    def refused(self) -> dict[str, int]:
        """Requests refused before reaching a service (401, 400 framing, 413), by operation."""
        return self.calls.snapshot()[2]

    def reset_counters(self) -> None:
        self.calls.reset()

    @property
    def mutating_operations(self) -> frozenset[str]:
        return self.router.mutating_operations

    def mutating_calls(self) -> int:
        mutating = self.mutating_operations
        return sum(n for op, n in self.counters().items() if op in mutating)

    def _admin(self, request: Request) -> Response:
        """The unsigned admin API for tests and benchmarks (documented in docs/cli.md)."""
        path = request.path
        answered = admin_bulk.handle(self.store, request) or self.limits.handle(request)
        if answered is not None:  # bulk loads, patches and limits (their own modules)
            return answered
        if path == "/_emulator/health":
            return Response(200, {"status": "ok", "url": self.url})
        if path == "/_emulator/counters" and request.method == "GET":
            calls, faulted, refused = self.calls.snapshot()
            return Response(
                200,
                {"calls": calls, "faulted": faulted, "refused": refused, "mutating": self.mutating_calls()},
            )
        if path == "/_emulator/reset-counters" and request.method == "POST":
            self.reset_counters()
            return Response(200, {"status": "ok"})
        if path == "/_emulator/faults":
            if request.method == "POST":
                try:
                    self.set_faults(self.faults.updated(request.json_object()))
                except (ValueError, TypeError) as exc:
                    return error_response(
                        ApiError(400, "InvalidParameter", f"bad fault configuration: {exc}")
                    )
            return Response(200, self.faults.to_dict())
        if path == "/_emulator/work-request-seconds" and request.method == "POST":
            self.work_request_seconds = float(request.json_object().get("seconds", 0.2))
            return Response(200, {"seconds": self.work_request_seconds})
        answered = self._service_admin(request)
        if answered is not None:  # a service's own read-back (e.g. published notifications)
            return answered
        return error_response(ApiError(404, "NotAuthorizedOrNotFound", f"no admin endpoint {path}"))

    def _service_admin(self, request: Request) -> Response | None:
        """A service's admin endpoint (the subclass that adds the services answers); None: no such path."""
        return None


class Server(_Controls):
    """The HTTP side of the emulator, with the store and work requests its services share."""

    def __init__(
        self,
        state_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        work_request_seconds: float = 0.2,
        verify_signatures: bool = True,
        region: str = "us-ashburn-1",
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        max_json_bytes: int = DEFAULT_MAX_JSON_BYTES,
    ) -> None:
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.host = host
        self.port = port
        self.region = region
        self.verify_signatures = verify_signatures
        self.max_upload_bytes = max_upload_bytes
        self.max_json_bytes = max_json_bytes
        self.store = Store(self.state_dir, region, work_request_seconds)
        self.keys = KeyPair.load_or_create(self.state_dir)
        self.verifier = Verifier.for_state(self.keys, self.state_dir)
        self.replays = ReplayGuard(self.store)
        self.work_requests = WorkRequests(self.store)
        self.router = Router()
        self.calls = Calls()
        self.limits = Limits()
        self._http: HttpServer | None = None
        self._ticker: threading.Thread | None = None
        self._stopping = threading.Event()
        self._add_services()

    # -- what a subclass adds its services with --

    def _add_services(self) -> None:
        """Build the services on ``store`` and ``work_requests`` and add their routes to ``router``."""

    def _served_at(self, url: str) -> None:
        """Called under the store's lock once the server listens, before it answers anything."""

    def _stopped(self) -> None:
        """Called once the server no longer answers, before the state is saved a last time."""

    # -- lifecycle --

    def start(self) -> Self:
        self._http = HttpServer(self.host, self.port, self._respond, self._malformed)
        self.port = self._http.start(thread_name="emulator-http")
        with self.store.lock:
            self._served_at(self.url)
        self._ticker = threading.Thread(target=self._tick_loop, name="emulator-lifecycle", daemon=True)
        self._ticker.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._http is not None:
            self._http.stop()
            self._http = None
        if self._ticker is not None:
            self._ticker.join(timeout=5)  # a tick may be copying a blob
        self._stopped()
        with self.store.lock:
            self.store.save()
        self.store.close()

    def __enter__(self) -> Self:
        return self.start() if self._http is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _tick_loop(self) -> None:
        while not self._stopping.wait(TICK_SECONDS):
            with self.store.lock:
                self.work_requests.tick()
                self.replays.prune()

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
        # the label line of a key made in the OCI Console: without it the oci CLI warns on every call
        key_file.write_bytes(self.keys.private_pem + API_KEY_LABEL)
        key_file.chmod(0o600)
        config = directory / "config"
        config.write_text(
            f"[{profile}]\nuser={USER}\nfingerprint={self.keys.fingerprint}\ntenancy={TENANCY}\n"
            f"region={self.region}\nkey_file={key_file}\n",
            encoding="utf-8",
        )
        config.chmod(0o600)
        return config

    # -- request handling --

    def _respond(self, incoming: Incoming) -> Outgoing:
        split = urlsplit(incoming.target)
        headers: dict[str, str] = {}
        repeated = []
        for name, value in incoming.headers:
            if name in headers and name in SINGLE_HEADERS:
                repeated.append(name)
            headers[name] = value
        request = Request(
            incoming.method, split.path, Request.parse_query(split.query), headers, raw_target=incoming.target
        )
        try:
            return self._outgoing(self.handle(request, incoming.body, repeated), request)
        finally:
            if request.upload is not None:
                request.upload.discard()  # a body the service kept has been moved away already

    def _malformed(self, status: int, message: str) -> Outgoing:
        """The answer to a request whose line or headers could not even be parsed."""
        self.calls.refuse(MALFORMED)
        body = json.dumps(
            {"code": BODY_ERROR_CODES.get(status, "InternalServerError"), "message": message}
        ).encode()
        headers = [("content-type", "application/json"), ("content-length", str(len(body)))]
        return Outgoing(status, headers, body)

    def handle(self, request: Request, body: Body, repeated: list[str] | None = None) -> Response:
        if request.path.startswith("/_emulator/"):
            try:
                request.body = b"".join(body.chunks(ADMIN_MAX_BYTES))
            except BodyError as exc:
                return error_response(
                    ApiError(exc.status, BODY_ERROR_CODES.get(exc.status, "Error"), exc.message)
                )
            return self._admin(request)
        operation = MALFORMED
        try:
            matched = self.router.match(request.method, request.path)
            if matched is None:
                raise ApiError(
                    404, "NotAuthorizedOrNotFound", f"no such API: {request.method} {request.path}"
                )
            route, params = matched
            operation = route.operation
            if repeated:
                raise BodyError(
                    400, f"the header(s) {', '.join(sorted(set(repeated)))} may be sent once only"
                )
            request.params = {k: unquote(v) for k, v in params.items()}
            verified = None
            if self.verify_signatures and route.signed:
                now = time.time()
                json_body = not route.streamed and request.method in ("POST", "PUT", "PATCH")
                verified = self.verifier.verify(
                    request.method, request.raw_target, request.headers, now, body_signed=json_body
                )
                if not self.replays.admit(verified, route.mutating, now):
                    raise SignatureError(
                        "this signature was already used; a replayed request is refused (sign it again)"
                    )
            body_sha256 = self._read_body(route, request, body)
            if verified is not None:
                check_body(verified, request.headers, body_sha256)
            return self._call(route, request, body_sha256)
        except SignatureError as exc:
            self.calls.refuse(operation)
            return error_response(
                ApiError(401, "NotAuthenticated", f"the request signature is invalid: {exc}")
            )
        except BodyError as exc:
            self.calls.refuse(operation)
            return error_response(
                ApiError(exc.status, BODY_ERROR_CODES.get(exc.status, "Error"), exc.message)
            )
        except ApiError as exc:
            return error_response(exc)

    def _read_body(self, route: Route, request: Request, body: Body) -> str:
        """Read the body within the route's limit; returns its base64 SHA-256 (as x-content-sha256 says it)."""
        if route.streamed:
            request.upload = self.store.stage()
            for chunk in body.chunks(self.max_upload_bytes):
                request.upload.write(chunk)
            request.upload.finish()
            return request.upload.sha256
        request.body = b"".join(body.chunks(self.max_json_bytes))
        return base64.b64encode(hashlib.sha256(request.body).digest()).decode()

    def _call(self, route: Route, request: Request, body_sha256: str) -> Response:
        """Injected faults, then under the store's lock: retry tokens and the handler."""
        latency = self.store.faults.latency_ms
        if latency > 0:
            time.sleep(latency / 1000.0)
        injected = self.limits.throttle(route.operation) or self.store.faults.injected_error(
            route.operation, self.store.random
        )
        if injected is not None:
            self.calls.count(route.operation, faulted=True)
            raise injected
        self.calls.count(route.operation)
        if not route.locked:  # the handler takes the lock itself, around what needs it
            return route.handler(request)
        token = request.headers.get("opc-retry-token")
        token_key = f"{route.operation}:{token}" if token and route.mutating else None
        with self.store.lock:
            self.work_requests.tick()
            if token_key is not None:
                seen = self.store.recall(token_key)
                if seen is not None:
                    if seen["bodyHash"] != body_sha256:
                        raise ApiError(
                            409, "Conflict", "the opc-retry-token was used with a different request body"
                        )
                    return Response(seen["status"], seen["body"], dict(seen["headers"]))
            self.limits.admit(self.store, route.operation, request)  # a replay above starts no new work
            response = route.handler(request)
            if route.mutating:
                if (
                    token_key is not None
                    and 200 <= response.status < 300
                    and not isinstance(response.body, bytes | FileBody)
                ):
                    self.store.remember(
                        token_key, body_sha256, (response.status, response.headers, response.body)
                    )
                self.store.save()
        return response

    def _outgoing(self, response: Response, request: Request) -> Outgoing:
        headers = {k.lower(): v for k, v in response.headers.items()}
        headers["opc-request-id"] = request.headers.get("opc-request-id") or uuid.uuid4().hex.upper()
        body = response.body
        payload: Any
        if isinstance(body, FileBody):
            payload, length, content_type = body.file, body.size, response.content_type
        elif isinstance(body, bytes):
            payload, length, content_type = body, len(body), response.content_type
        elif body is None:  # a HEAD of an object says what a GET would serve
            payload, length, content_type = b"", 0, response.content_type
        else:
            payload = json.dumps(body).encode()
            length, content_type = len(payload), "application/json"
        headers["content-type"] = content_type
        if response.status < 200 or response.status in (204, 304) or request.method == "HEAD":
            if not isinstance(payload, bytes):
                with contextlib.suppress(OSError):
                    payload.close()
            payload = b""
            if response.status in (204, 304) or response.status < 200:
                headers.pop("content-length", None)
            else:
                headers.setdefault("content-length", "0")
        elif length >= 0:  # a FileBody of size -1 (a streamed predict answer) goes out chunked
            headers["content-length"] = str(length)
        return Outgoing(response.status, list(headers.items()), payload)
