"""Serving ``POST {modelDeploymentUrl}/predict`` and ``/predictWithResponseStream`` for conda deployments by
running the artifact's score.py.

A predict call is signed like every OCI call (``mdr predict`` signs it with the SDK's signer); the route is
registered with the others, outside the store's lock while the model runs.

One worker process per ACTIVE deployment (the current interpreter; conda packs are out of scope), started on
the first request, restarted when the deployment's model changes, stopped on deactivate, delete and
shutdown. Worker protocol: one JSON request per line on stdin (``{"json": value}``, or ``{"bytes": base64}``
for a body that is not ``application/json``: score.py gets the raw bytes then, as on the service), and JSON
answers on stdout, one per line: ``{"ok": true, "result": value}``, ``{"ok": true, "bytes": base64}``, or
when ``predict()`` returns an iterator (a generator), one ``{"chunk": base64}`` per item as it is produced,
then ``{"ok": true, "end": true}``; ``{"ok": false, "error": text}`` whenever it fails.

``POST .../predictWithResponseStream`` sends those chunks on as they come (chunked transfer coding);
``/predict`` answers once the last one has come, with all of them.

``/predict{suffix}`` and ``/predictWithResponseStream{suffix}`` (any of GET, POST, PUT, DELETE) serve the
endpoints a container deployment lets through (``endpoints``): the request line then also holds ``"route"``
and ``"method"``, handed to ``predict()`` as ``route=`` and ``method=`` when it takes them.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from reconciler.emulator.core.errors import ApiError
from reconciler.emulator.core.http import FileBody, Request, Response, Router
from reconciler.emulator.datascience.backend import DeploymentsBackend
from reconciler.emulator.datascience.endpoints import METHODS, endpoint_model
from reconciler.emulator.datascience.group_rules import member_key

WORKER = r"""
import base64, collections.abc, inspect, json, os, sys, traceback
root = sys.argv[1]
sys.path.insert(0, root)
os.chdir(root)
out = sys.stdout
sys.stdout = sys.stderr  # prints in score.py must not corrupt the protocol
def emit(answer):
    out.write(json.dumps(answer, default=str) + "\n"); out.flush()
def encoded(item):
    if isinstance(item, (bytes, bytearray)):
        raw = bytes(item)
    elif isinstance(item, str):
        raw = item.encode("utf-8")
    else:
        raw = (json.dumps(item, default=str) + "\n").encode("utf-8")
    return base64.b64encode(raw).decode("ascii")
try:
    import score
    model = score.load_model()
    accepted = inspect.signature(score.predict).parameters
    emit({"ready": True})
except Exception:
    emit({"ready": False, "error": traceback.format_exc(limit=5)})
    sys.exit(1)
for line in sys.stdin:
    try:
        request = json.loads(line)
        data = base64.b64decode(request["bytes"]) if "bytes" in request else request["json"]
        named = {"model": model, "route": request.get("route"), "method": request.get("method")}
        kwargs = {k: v for k, v in named.items() if k in accepted and (k == "model" or k in request)}
        result = score.predict(data, **kwargs)
        if isinstance(result, (bytes, bytearray)):
            emit({"ok": True, "bytes": base64.b64encode(bytes(result)).decode("ascii")})
        elif isinstance(result, collections.abc.Iterator):
            for item in result:
                emit({"chunk": encoded(item)})
            emit({"ok": True, "end": True})
        else:
            emit({"ok": True, "result": result})
    except Exception:
        emit({"ok": False, "error": traceback.format_exc(limit=5)})
"""


class PredictError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class _Worker:
    model_id: str
    process: subprocess.Popen[str]
    folder: tempfile.TemporaryDirectory[str]
    lock: threading.Lock


def _extract(artifact: Path, target: Path) -> Path:
    with zipfile.ZipFile(artifact) as archive:
        for member in archive.namelist():
            if member.startswith("/") or ".." in Path(member).parts:
                raise PredictError(500, f"artifact entry {member!r} is unsafe")
        archive.extractall(target)
    if (target / "score.py").exists():
        return target
    folders = [p for p in target.iterdir() if p.is_dir()]
    if len(folders) == 1 and (folders[0] / "score.py").exists():
        return folders[0]
    raise PredictError(500, "the model artifact has no score.py")


class Call:
    """One request to a worker, which it holds (its lock) until the answer has been read to its end.

    Closed before then (a client that went away mid-stream), the worker is killed rather than drained, so
    that the rest of its answer can never be read as the next request's; the next request starts another.
    """

    def __init__(self, worker: _Worker, deployment_id: str) -> None:
        self.worker = worker
        self.deployment_id = deployment_id
        self.finished = False
        self._open = True

    def next(self) -> dict[str, Any]:
        """The worker's next answer line; ``finished`` once it was the last of this request."""
        assert self.worker.process.stdout is not None
        line = self.worker.process.stdout.readline()
        if not line:
            self.finished = True
            raise PredictError(500, "the model server exited")
        answer: dict[str, Any] = json.loads(line)
        if "chunk" not in answer:
            self.finished = True
            if not answer.get("ok"):
                raise PredictError(500, f"predict() failed: {answer.get('error')}")
        return answer

    def close(self) -> None:
        if not self._open:
            return
        self._open = False
        if not self.finished:
            self.worker.process.kill()
        self.worker.lock.release()


class PredictPool:
    def __init__(self) -> None:
        self._workers: dict[str, _Worker] = {}
        self._lock = threading.Lock()

    def _start(self, deployment_id: str, model_id: str, artifact: Path) -> _Worker:
        folder = tempfile.TemporaryDirectory(prefix="mdr-predict-")
        root = _extract(artifact, Path(folder.name))
        process = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        assert process.stdout is not None
        hello = json.loads(process.stdout.readline() or '{"ready": false, "error": "worker exited"}')
        if not hello.get("ready"):
            process.kill()
            folder.cleanup()
            raise PredictError(500, f"load_model() failed: {hello.get('error')}")
        return _Worker(model_id, process, folder, threading.Lock())

    def call(
        self,
        deployment_id: str,
        model_id: str,
        artifact: Path,
        payload: Any | bytes,
        per_model: bool = False,
        endpoint: dict[str, str] | None = None,
    ) -> Call:
        """Send one request to the deployment's worker (``per_model``: to the worker of that member of its
        model group, one per member; ``endpoint``: the route and method of a custom endpoint's call); the
        answer is read from the returned ``Call``."""
        key = f"{deployment_id}#{model_id}" if per_model else deployment_id
        with self._lock:
            worker = self._workers.get(key)
            if worker is not None and (worker.model_id != model_id or worker.process.poll() is not None):
                self._stop(key)
                worker = None
            if worker is None:
                worker = self._start(deployment_id, model_id, artifact)
                self._workers[key] = worker
        if isinstance(payload, bytes):
            request = {"bytes": base64.b64encode(payload).decode("ascii")}
        else:
            request = {"json": payload}
        request.update(endpoint or {})
        worker.lock.acquire()
        call = Call(worker, deployment_id)
        try:
            assert worker.process.stdin is not None
            worker.process.stdin.write(json.dumps(request) + "\n")
            worker.process.stdin.flush()
        except OSError as exc:
            call.close()
            raise PredictError(500, "the model server exited") from exc
        return call

    def _stop(self, deployment_id: str) -> None:
        worker = self._workers.pop(deployment_id, None)
        if worker is None:
            return
        worker.process.kill()
        worker.process.wait(timeout=5)
        worker.folder.cleanup()

    def stop(self, deployment_id: str) -> None:
        """Stop the deployment's worker, and those of its model group's members."""
        with self._lock:
            for key in [k for k in self._workers if k == deployment_id or k.startswith(f"{deployment_id}#")]:
                self._stop(key)

    def stop_all(self) -> None:
        with self._lock:
            for deployment_id in list(self._workers):
                self._stop(deployment_id)


class ChunkStream:
    """A streamed answer's body: each ``read`` returns the next chunk score.py yielded, as soon as it comes.

    The HTTP server reads it until ``b""`` and then closes it. A failure after the first chunk can no longer
    change the status sent: the connection is broken off instead (an ``OSError``), so that the client sees
    an incomplete answer rather than a complete wrong one.
    """

    def __init__(self, call: Call, first: bytes, on_done: Callable[[int], None]) -> None:
        self._call = call
        self._pending: bytes | None = first
        self._on_done = on_done
        self._status: int | None = None

    def read(self, size: int = -1) -> bytes:
        if self._pending is not None:
            chunk, self._pending = self._pending, None
            return chunk
        if self._status is not None:
            return b""
        try:
            answer = self._call.next()
        except PredictError as exc:
            self._status = exc.status
            raise StreamBroken(str(exc)) from exc
        if "chunk" in answer:
            return base64.b64decode(answer["chunk"])
        self._status = 200
        return b""

    def close(self) -> None:
        self._call.close()
        self._on_done(self._status if self._status is not None else 499)  # 499: the client went away


class StreamBroken(OSError):
    """score.py failed after its answer had begun: the connection is broken off."""


def _is_json(content_type: str | None) -> bool:
    """Whether score.py gets the body as parsed JSON (the default) rather than as bytes."""
    return not content_type or content_type.split(";")[0].strip().lower() == "application/json"


def _chunk_type(first: bytes) -> str:
    """Text when the first chunk is UTF-8 (a model streaming tokens; server-sent events when it begins with
    ``data:``, as an OpenAI-style server's do), bytes otherwise."""
    try:
        first.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    if first.startswith(b"data:"):
        return "text/event-stream; charset=utf-8"
    return "text/plain; charset=utf-8"


def _payload(request: Request) -> Any:
    """What score.py gets: parsed JSON, the raw bytes of another content type, None for no body at all."""
    if not request.body and request.method in ("GET", "DELETE"):
        return None
    return request.json() if _is_json(request.headers.get("content-type")) else request.body


class Serving:
    """``POST /modeldeployment/{id}/predict``: answered by a worker process running the deployment's model."""

    def __init__(self, deployments: DeploymentsBackend) -> None:
        self.deployments = deployments
        self.pool = PredictPool()
        #: told of every answered predict (deployment OCID, HTTP status, milliseconds): the emulator writes
        #: the deployment's access and predict log entries from it, as the service does
        self.on_served: Callable[[str, int, int], None] | None = None
        deployments.on_change = self._deployment_changed

    def register(self, router: Router) -> None:
        router.add("POST", "/modeldeployment/{id}/predict", "Predict", self.predict, locked=False)
        router.add(
            "POST",
            "/modeldeployment/{id}/predictWithResponseStream",
            "PredictWithResponseStream",
            self.predict_stream,
            locked=False,
        )
        for method in METHODS:  # Multiple Inference Endpoints: the suffixes a container deployment allows
            router.add(
                method, "/modeldeployment/{id}/predict/{suffix:path}", "Predict", self.predict, locked=False
            )
            router.add(
                method,
                "/modeldeployment/{id}/predictWithResponseStream/{suffix:path}",
                "PredictWithResponseStream",
                self.predict_stream,
                locked=False,
            )

    def predict(self, request: Request) -> Response:
        """Run the deployment's score.py on the request body; the model runs outside the store's lock.

        A streaming answer (score.py returned an iterator) is gathered whole here; ``predict_stream`` sends
        it on chunk by chunk."""
        call, first, started = self._begin(request)
        if "chunk" not in first:
            return self._answer(call, first, started)
        chunks = [base64.b64decode(first["chunk"])]
        try:
            while "chunk" in (answer := call.next()):
                chunks.append(base64.b64decode(answer["chunk"]))
        except PredictError as exc:
            self._served(call.deployment_id, exc.status, started)
            raise ApiError(exc.status, "InternalServerError", str(exc)) from exc
        finally:
            call.close()
        self._served(call.deployment_id, 200, started)
        body = b"".join(chunks)
        return Response(200, body, content_type=_chunk_type(chunks[0]))

    def predict_stream(self, request: Request) -> Response:
        """``/predictWithResponseStream``: score.py's chunks sent on as it yields them (chunked coding)."""
        call, first, started = self._begin(request)
        if "chunk" not in first:
            return self._answer(call, first, started)
        chunk = base64.b64decode(first["chunk"])
        stream = ChunkStream(call, chunk, lambda status: self._served(call.deployment_id, status, started))
        return Response(200, FileBody(cast(BinaryIO, stream), -1), content_type=_chunk_type(chunk))

    def _begin(self, request: Request) -> tuple[Call, dict[str, Any], float]:
        """Send the request's body to the deployment's worker and read the first answer line."""
        deployment_id = request.params["id"]
        payload = _payload(request)
        member = member_key(request.headers, payload)  # a MODEL_GROUP deployment's member (group_rules)
        suffix = "/" + request.params["suffix"] if "suffix" in request.params else None
        endpoint = {"route": suffix, "method": request.method} if suffix else None
        with self.deployments.store.lock:
            if suffix is None:
                model_id, artifact = self.deployments.served_model(deployment_id, member)
            else:
                model_id, artifact = endpoint_model(
                    self.deployments, deployment_id, suffix, request.method, member
                )
        started = time.monotonic()
        call: Call | None = None
        try:
            call = self.pool.call(
                deployment_id, model_id, artifact, payload, per_model=member is not None, endpoint=endpoint
            )
            return call, call.next(), started
        except PredictError as exc:
            if call is not None:
                call.close()
            self._served(deployment_id, exc.status, started)
            raise ApiError(exc.status, "InternalServerError", str(exc)) from exc

    def _answer(self, call: Call, answer: dict[str, Any], started: float) -> Response:
        """A whole (not streamed) answer: JSON, or the bytes predict() returned."""
        call.close()
        self._served(call.deployment_id, 200, started)
        if "bytes" in answer:
            return Response(200, base64.b64decode(answer["bytes"]), content_type="application/octet-stream")
        return Response(200, answer.get("result"))

    def _served(self, deployment_id: str, status: int, started: float) -> None:
        if self.on_served is not None:
            self.on_served(deployment_id, status, int((time.monotonic() - started) * 1000))

    def _deployment_changed(self, deployment_id: str) -> None:
        deployment = self.deployments.deployments.get(deployment_id)
        if deployment is not None and deployment["lifecycleState"] != "ACTIVE":
            self.pool.stop(deployment_id)

    def stop(self) -> None:
        self.pool.stop_all()
