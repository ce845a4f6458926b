"""Multiple Inference Endpoints: which paths after ``/predict`` (and ``/predictWithResponseStream``) a
deployment lets through, and which model answers them in the emulator.

OCI (oracle-samples/oci-data-science-ai-samples, model-deployment/multiple_inference_endpoints): a container
deployment's ``environmentConfigurationDetails`` may name an API framework, ``predictApiSpecification``
(case-insensitive; ``openai`` lets through the framework's fixed list of paths below), and up to 15
``customHttpEndpoints`` ``{endpointUriSuffix, httpMethods}``, where ``{}`` in a suffix stands for one path
segment (``/models/{}``). A call goes to ``{modelDeploymentUrl}/predict{suffix}`` or
``{modelDeploymentUrl}/predictWithResponseStream{suffix}``; the service only routes it, the container
answers. The SDK has both fields on ``OCIR_CONTAINER`` environments only, so a conda deployment has no
endpoint but ``/predict``.

What the emulator ASSUMES (the reference is silent): the framework's paths take any of GET, POST, PUT and
DELETE; a path or method not let through is 404 ``NotAuthorizedOrNotFound``. The emulator runs no
containers: the deployment's model artifact's ``score.py`` stands in for the container on these paths (its
``predict()`` is given ``route=`` the suffix and ``method=`` when it takes those parameters); ``/predict``
itself on a container deployment stays unserved (501).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from reconciler.emulator.core.errors import ApiError
from reconciler.emulator.datascience.backend import DeploymentsBackend
from reconciler.emulator.datascience.group_rules import group_of, is_group, pick_member

METHODS = ("GET", "POST", "PUT", "DELETE")

#: the paths ``predictApiSpecification: openai`` lets through (the samples' "source of truth" list)
OPENAI_PATHS = (
    "/v1/models",
    "/v1/completions",
    "/v1/chat/completions",
    "/v1/edits",
    "/v1/images/generations",
    "/v1/images/edits",
    "/v1/images/variations",
    "/v1/embeddings",
    "/v1/audio/transcriptions",
    "/v1/audio/translations",
    "/v1/files",
    "/v1/fine-tunes",
    "/v1/moderations",
    "/v1/responses",
    "/tokenize",
    "/detokenize",
    "/version",
    "/start_profile",
    "/stop_profile",
    "/v1/load_lora_adapter",
    "/v1/unload_lora_adapter",
    "/metrics",
    "/chat_tokenize",
    "/generate",
    "/generate_stream",
    "/info",
    "/invocations",
    "/v1/responses/{}",
    "/v1/responses/{}/cancel",
    "/v1/responses/{}/input_items",
    "/v1/messages",
)
FRAMEWORKS = {"openai": OPENAI_PATHS}


def allowed_endpoints(environment: dict[str, Any]) -> list[tuple[str, tuple[str, ...]]]:
    """Each suffix the deployment lets through, with its methods."""
    if environment.get("environmentConfigurationType") != "OCIR_CONTAINER":
        return []
    framework = str(environment.get("predictApiSpecification") or "").lower()
    found: list[tuple[str, tuple[str, ...]]] = [(path, METHODS) for path in FRAMEWORKS.get(framework, ())]
    for endpoint in environment.get("customHttpEndpoints") or []:
        methods = tuple(str(m).upper() for m in endpoint.get("httpMethods") or [])
        found.append((str(endpoint.get("endpointUriSuffix") or ""), methods))
    return found


def _matches(pattern: str, suffix: str) -> bool:
    regex = "/".join("[^/]+" if part == "{}" else re.escape(part) for part in pattern.rstrip("/").split("/"))
    return re.fullmatch(regex, suffix.rstrip("/")) is not None


def check_endpoint(environment: dict[str, Any], suffix: str, method: str) -> None:
    """Refuse a suffix (or a method of it) the deployment does not let through, saying what it allows."""
    endpoints = allowed_endpoints(environment)
    if not endpoints:
        raise ApiError(
            404,
            "NotAuthorizedOrNotFound",
            f"{suffix} is not an endpoint of this deployment: it serves /predict only (predictApiSpecification "
            "and customHttpEndpoints are settings of container deployments)",
        )
    methods = {m for pattern, ms in endpoints if _matches(pattern, suffix) for m in ms}
    if not methods:
        custom = ", ".join(p for p, _ in endpoints if p not in OPENAI_PATHS) or "none"
        raise ApiError(
            404,
            "NotAuthorizedOrNotFound",
            f"{suffix} is not an endpoint of this deployment (its framework: "
            f"{environment.get('predictApiSpecification') or 'none'}; its custom endpoints: {custom})",
        )
    if method not in methods:
        raise ApiError(
            404,
            "NotAuthorizedOrNotFound",
            f"{method} {suffix} is not let through (only {', '.join(sorted(methods))})",
        )


def endpoint_model(
    backend: DeploymentsBackend, deployment_id: str, suffix: str, method: str, member: str | None
) -> tuple[str, Path]:
    """The model id and artifact whose score.py answers ``suffix`` on the deployment, once it is let through."""
    deployment = backend.deployments.get(deployment_id)
    if deployment is None:
        raise ApiError(404, "NotAuthorizedOrNotFound", f"model deployment {deployment_id} not found")
    if deployment["lifecycleState"] != "ACTIVE":
        raise ApiError(409, "IncorrectState", f"model deployment is {deployment['lifecycleState']}")
    config = deployment["modelDeploymentConfigurationDetails"]
    check_endpoint(config.get("environmentConfigurationDetails") or {}, suffix, method)
    if is_group(config):
        model_id = pick_member(backend.store, group_of(deployment), member)
    else:
        model_id = config["modelConfigurationDetails"]["modelId"]
    artifact = backend.store.data["artifacts"].get(model_id)
    if artifact is None:
        raise ApiError(500, "InternalServerError", "the deployed model has no artifact")
    return model_id, backend.store.blob_path(artifact["blob"])
