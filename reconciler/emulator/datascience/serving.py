"""Serving ``POST {modelDeploymentUrl}/predict`` for conda deployments by running the artifact's score.py.

A predict call is signed like every OCI call (``mdr predict`` signs it with the SDK's signer); the route is
registered with the others, outside the store's lock while the model runs.

One worker process per ACTIVE deployment (the current interpreter; conda packs are out of scope), started on
the first request, restarted when the deployment's model changes, stopped on deactivate, delete and
shutdown. Worker protocol: one JSON request per line on stdin, one JSON answer per line on stdout.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.emulator.core.errors import ApiError
from reconciler.emulator.core.http import Request, Response, Router
from reconciler.emulator.datascience.backend import DeploymentsBackend

WORKER = r"""
import inspect, json, os, sys, traceback
root = sys.argv[1]
sys.path.insert(0, root)
os.chdir(root)
out = sys.stdout
sys.stdout = sys.stderr  # prints in score.py must not corrupt the protocol
try:
    import score
    model = score.load_model()
    accepts_model = "model" in inspect.signature(score.predict).parameters
    out.write(json.dumps({"ready": True}) + "\n"); out.flush()
except Exception:
    out.write(json.dumps({"ready": False, "error": traceback.format_exc(limit=5)}) + "\n"); out.flush()
    sys.exit(1)
for line in sys.stdin:
    try:
        data = json.loads(line)
        result = score.predict(data, model=model) if accepts_model else score.predict(data)
        out.write(json.dumps({"ok": True, "result": result}, default=str) + "\n")
    except Exception:
        out.write(json.dumps({"ok": False, "error": traceback.format_exc(limit=5)}) + "\n")
    out.flush()
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

    def predict(self, deployment_id: str, model_id: str, artifact: Path, payload: Any) -> Any:
        with self._lock:
            worker = self._workers.get(deployment_id)
            if worker is not None and (worker.model_id != model_id or worker.process.poll() is not None):
                self._stop(deployment_id)
                worker = None
            if worker is None:
                worker = self._start(deployment_id, model_id, artifact)
                self._workers[deployment_id] = worker
        with worker.lock:
            assert worker.process.stdin is not None and worker.process.stdout is not None
            worker.process.stdin.write(json.dumps(payload) + "\n")
            worker.process.stdin.flush()
            line = worker.process.stdout.readline()
        if not line:
            raise PredictError(500, "the model server exited")
        answer = json.loads(line)
        if not answer.get("ok"):
            raise PredictError(500, f"predict() failed: {answer.get('error')}")
        return answer["result"]

    def _stop(self, deployment_id: str) -> None:
        worker = self._workers.pop(deployment_id, None)
        if worker is None:
            return
        worker.process.kill()
        worker.process.wait(timeout=5)
        worker.folder.cleanup()

    def stop(self, deployment_id: str) -> None:
        with self._lock:
            self._stop(deployment_id)

    def stop_all(self) -> None:
        with self._lock:
            for deployment_id in list(self._workers):
                self._stop(deployment_id)


class Serving:
    """``POST /modeldeployment/{id}/predict``: answered by a worker process running the deployment's model."""

    def __init__(self, deployments: DeploymentsBackend) -> None:
        self.deployments = deployments
        self.pool = PredictPool()
        deployments.on_change = self._deployment_changed

    def register(self, router: Router) -> None:
        router.add("POST", "/modeldeployment/{id}/predict", "Predict", self.predict, locked=False)

    def predict(self, request: Request) -> Response:
        """Run the deployment's score.py on the request body; the model runs outside the store's lock."""
        deployment_id = request.params["id"]
        with self.deployments.store.lock:
            model_id, artifact = self.deployments.served_model(deployment_id)
        payload = request.json()
        try:
            result = self.pool.predict(deployment_id, model_id, artifact, payload)
        except PredictError as exc:
            raise ApiError(exc.status, "InternalServerError", str(exc)) from exc
        return Response(200, result)

    def _deployment_changed(self, deployment_id: str) -> None:
        deployment = self.deployments.deployments.get(deployment_id)
        if deployment is not None and deployment["lifecycleState"] != "ACTIVE":
            self.pool.stop(deployment_id)

    def stop(self) -> None:
        self.pool.stop_all()
