"""``mdr predict``: call a managed deployment's ``/predict`` endpoint, signed like any OCI request.

The body is JSON (``--data``) or any bytes (``--data-file`` with ``--content-type``), as ADS ``predict()``
sends them: the service hands score.py parsed JSON for ``application/json`` and the raw bytes otherwise.
``/predictWithResponseStream`` (what ``oci.model_deployment.ModelDeploymentClient`` calls) answers in chunks
as score.py yields them; ``predict_stream`` hands each chunk on as it arrives, never the whole answer at the
end. The calls go through ``requests`` with the SDK's signer rather than the SDK client, because the SDK
client fixes the content type to JSON and retries by default (a predict is not idempotent).

A model group's member is named by the ``model-key`` header (``member``), as the emulator routes it (the
header's name is UNVERIFIED: the SDK has no parameter for it, and OCI's docs name none); OCI's LLM containers
route on the OpenAI body's ``"model"``, which a caller writes in the body itself (docs/model-groups.md). A deployment that allows more endpoints
(``predictApiSpecification: openai``, ``customHttpEndpoints``: OCI's Multiple Inference Endpoints) is called at
``{url}/predict{route}`` or ``{url}/predictWithResponseStream{route}`` (``route``), with any of its methods.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.adapters.live_reader import read_live
from reconciler.core.errors import MdrError
from reconciler.core.live import GONE_STATES, LiveDeployment
from reconciler.core.stack import Stack

JSON = "application/json"
BINARY = "application/octet-stream"
#: the service refuses a predict body over 10 MB; refused here before anything is sent
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
STREAM_PATH = "predictWithResponseStream"
#: the header that names a model group's member (by inference key or model OCID)
MEMBER_HEADER = "model-key"
METHODS = ("POST", "GET", "PUT", "DELETE")


@dataclass(frozen=True)
class Target:
    """Where on a deployment a call goes: a member of its model group, an endpoint suffix, an HTTP method."""

    member: str | None = None
    route: str = ""
    method: str = "POST"

    def path(self, base: str) -> str:
        """``predict`` or ``predictWithResponseStream`` followed by the route, if any."""
        return f"{base}{self.route}"

    def headers(self) -> dict[str, str]:
        return {MEMBER_HEADER: self.member} if self.member else {}


DEFAULT_TARGET = Target()


def target_from_options(member: str | None, route: str | None, method: str = "POST") -> Target:
    """``--member KEY``, ``--route /v1/...`` and ``--method``, checked before anything is sent."""
    if member is not None and not member.strip():
        raise MdrError("--member is empty; give a member's inference key or model OCID")
    text = (route or "").strip()
    if text:
        if not text.startswith("/"):
            raise MdrError(f"--route {text!r} must start with / (e.g. /v1/chat/completions)")
        if any(part in (".", "..") for part in text.split("?", 1)[0].split("/")):
            raise MdrError(f"--route {text!r} must not hold . or .. segments")
    if method.upper() not in METHODS:
        raise MdrError(f"--method {method!r} is not one of {', '.join(METHODS)}")
    return Target(member.strip() if member else None, text.rstrip("/") if text else "", method.upper())


@dataclass(frozen=True)
class Payload:
    """A predict request body and its content type."""

    body: bytes
    content_type: str


@dataclass(frozen=True)
class Answer:
    """A predict answer: its content type and body as sent."""

    content_type: str
    body: bytes

    def value(self) -> Any:
        """The answer as JSON when it is JSON, else its text (or its bytes, when they are not UTF-8)."""
        if self.content_type.split(";")[0].strip().lower() == JSON:
            try:
                return json.loads(self.body)
            except ValueError:
                pass
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError:
            return self.body


def parse_payload(text: str) -> Any:
    """``--data`` is JSON text, or ``@file.json``."""
    if text.startswith("@"):
        text = _read(Path(text[1:]), "--data").decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MdrError(f"--data is not valid JSON: {exc}") from exc


def payload_from_options(
    data: str | None, data_file: str | None, content_type: str | None, optional: bool = False
) -> Payload:
    """The request body of ``--data JSON`` or ``--data-file FILE [--content-type TYPE]`` (exactly one; none
    at all when ``optional``, e.g. a GET: an empty body).

    A file's content type, when not given, is guessed from its name (``.json`` is JSON, and is checked to
    be JSON; an unknown suffix is ``application/octet-stream``).
    """
    if optional and data is None and data_file is None:
        if content_type is not None:
            raise MdrError("--content-type goes with --data-file")
        return Payload(b"", JSON)
    if (data is None) == (data_file is None):
        raise MdrError("give the request body as --data JSON or as --data-file FILE (one of the two)")
    if data is not None:
        if content_type is not None:
            raise MdrError("--content-type goes with --data-file; --data is always application/json")
        return Payload(json.dumps(parse_payload(data)).encode(), JSON)
    assert data_file is not None
    path = Path(data_file)
    body = _read(path, "--data-file")
    kind = content_type or mimetypes.guess_type(path.name)[0] or BINARY
    if kind.split(";")[0].strip().lower() == JSON:
        try:
            json.loads(body)
        except ValueError as exc:
            raise MdrError(f"--data-file {path}: sent as {JSON} but it is not valid JSON: {exc}") from exc
    return Payload(body, kind)


def _read(path: Path, option: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_PAYLOAD_BYTES:
            raise MdrError(
                f"{option} {path}: {size} bytes is more than a predict call takes ({MAX_PAYLOAD_BYTES} bytes)"
            )
        return path.read_bytes()
    except OSError as exc:
        raise MdrError(f"{option} {path}: cannot read it: {exc.strerror or exc}") from exc


def find_deployment(stack: Stack, name: str, provider: Any) -> LiveDeployment:
    """The live deployment the manifests call ``name`` (in any state but gone)."""
    assert stack.config is not None
    deployment = stack.deployment(name)
    if deployment is None:
        raise MdrError(f"no deployment named {name!r} in the manifests")
    live = read_live(provider, stack.config.stack, {deployment.compartment_id}, set())
    candidates = [
        d for d in live.deployments_by_key().get(deployment.key, []) if d.lifecycle_state not in GONE_STATES
    ]
    if not candidates:
        raise MdrError(f"{name} is not deployed; run mdr apply first")
    return candidates[0]


def serving_url(stack: Stack, name: str, provider: Any) -> str:
    """The deployment's URL; it answers predictions only when ACTIVE."""
    target = find_deployment(stack, name, provider)
    if target.lifecycle_state != "ACTIVE" or not target.url:
        raise MdrError(f"{name} is {target.lifecycle_state}; it serves predictions only when ACTIVE")
    return str(target.url).rstrip("/")


def predict(stack: Stack, name: str, payload: Any, provider: Any, timeout: float = 60.0) -> Any:
    """Send a JSON value to ``/predict``; the answer as JSON (or text when it is not JSON)."""
    request = Payload(json.dumps(payload).encode(), JSON)
    return predict_raw(stack, name, request, provider, timeout).value()


def predict_raw(
    stack: Stack,
    name: str,
    payload: Payload,
    provider: Any,
    timeout: float = 60.0,
    target: Target = DEFAULT_TARGET,
) -> Answer:
    """Send ``payload`` to ``/predict`` (or the ``target``'s member and route) and return the whole answer."""
    url = f"{serving_url(stack, name, provider)}/{target.path('predict')}"
    response = _post(url, payload, provider, timeout, stream=False, target=target)
    _raise_for_status(url, response.status_code, response.content)
    return Answer(response.headers.get("content-type", BINARY), response.content)


def predict_stream(
    stack: Stack,
    name: str,
    payload: Payload,
    provider: Any,
    timeout: float = 60.0,
    target: Target = DEFAULT_TARGET,
) -> Iterator[bytes]:
    """Send ``payload`` to ``/predictWithResponseStream`` and yield the answer's chunks as they arrive.

    ``timeout`` bounds the wait for each chunk, not the whole answer (a model may stream for minutes)."""
    from oci._vendor import requests

    url = f"{serving_url(stack, name, provider)}/{target.path(STREAM_PATH)}"
    response = _post(url, payload, provider, timeout, stream=True, target=target)
    with response:
        if response.status_code >= 400:
            _raise_for_status(url, response.status_code, response.content)
        try:
            for chunk in response.iter_content(chunk_size=None):
                if chunk:
                    yield chunk
        except requests.exceptions.RequestException as exc:
            raise MdrError(f"the answer of {url} broke off before its end: {exc}") from exc


def _post(
    url: str, payload: Payload, provider: Any, timeout: float, stream: bool, target: Target = DEFAULT_TARGET
) -> Any:
    from oci._vendor import requests

    signer = provider.data_science.base_client.signer
    headers = {"accept": f"{JSON}, text/event-stream, */*", **target.headers()}
    if payload.body or target.method in ("POST", "PUT"):
        headers["content-type"] = payload.content_type
    try:
        return requests.request(
            target.method,
            url,
            data=payload.body,
            headers=headers,
            auth=signer,
            timeout=timeout,
            stream=stream,
        )
    except requests.exceptions.RequestException as exc:
        raise MdrError(f"cannot reach {url}: {exc}") from exc


def _raise_for_status(url: str, status: int, body: bytes) -> None:
    if status < 400:
        return
    text = body.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text)
        text = str(parsed.get("message") or parsed) if isinstance(parsed, dict) else text
    except ValueError:
        pass
    path = "predict" + url.split("/predict", 1)[-1]  # predict, predictWithResponseStream, predict/v1/...
    raise MdrError(f"{path} answered {status}: {text}")
