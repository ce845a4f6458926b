"""``mdr predict``: call a managed deployment's ``/predict`` endpoint, signed like any OCI request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler.adapters.live_reader import read_live
from reconciler.core.errors import MdrError
from reconciler.core.live import GONE_STATES
from reconciler.core.stack import Stack


def parse_payload(text: str) -> Any:
    """``--data`` is JSON text, or ``@file.json``."""
    if text.startswith("@"):
        text = Path(text[1:]).read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MdrError(f"--data is not valid JSON: {exc}") from exc


def predict(stack: Stack, name: str, payload: Any, provider: Any, timeout: float = 60.0) -> Any:
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
    target = candidates[0]
    if target.lifecycle_state != "ACTIVE" or not target.url:
        raise MdrError(f"{name} is {target.lifecycle_state}; it serves predictions only when ACTIVE")
    from oci._vendor import requests

    signer = provider.data_science.base_client.signer
    try:
        response = requests.post(f"{target.url}/predict", json=payload, auth=signer, timeout=timeout)
    except requests.exceptions.RequestException as exc:
        raise MdrError(f"cannot reach {target.url}/predict: {exc}") from exc
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if response.status_code >= 400:
        raise MdrError(f"predict answered {response.status_code}: {body}")
    return body
