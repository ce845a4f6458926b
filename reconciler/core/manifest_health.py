"""``spec.healthCheck`` and ``spec.policy.autoRollback``: health beyond the lifecycle state (issue 15 item 7).

A deployment can be ACTIVE and still answer every request with an error (a score.py that raises, a model
that returns the wrong keys). The check sends one sample request to ``/predict`` and judges the answer: its
HTTP status, the keys and values it must hold, and how long it took. It runs after apply changes the
deployment and, in the controller, every ``interval``. Kept in a module of its own: the manifest's other
parts are near their size limit, and the check is mdr's own configuration, not the deployment's (it never
reaches OCI).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from reconciler.core.manifest_parts import Problem, Strict, field_error
from reconciler.core.manifest_policy import Policy

#: ``30s``, ``5m``, ``1h``: how often the controller repeats the check
INTERVAL_PATTERN = r"^[1-9][0-9]{0,5}(s|m|h)$"
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
#: the annotation ``mdr quickstart`` already sends: a check may reuse it instead of repeating the body
EXAMPLE_INPUT_ANNOTATION = "mdr.io/example-input"


class HealthRequest(Strict):
    """The sample request: a JSON body, or the JSON text of the ``mdr.io/example-input`` annotation."""

    body: Any = Field(None, description="The JSON body sent to /predict")
    fromAnnotation: Literal["mdr.io/example-input"] | None = Field(
        None, description="Send the JSON text of this metadata annotation instead of body"
    )

    @field_validator("body")
    @classmethod
    def _plain_json(cls, value: Any) -> Any:
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise field_error((), f"body must be plain JSON: {exc}", value) from None
        return value

    cross_checks = (lambda values: _one_source(values),)


def _one_source(values: Mapping[str, Any]) -> list[Problem]:
    if (values.get("body") is None) != (values.get("fromAnnotation") is None):
        return []
    return [Problem((), "give the sample request as body or as fromAnnotation (exactly one of the two)")]


class HealthCheck(Strict):
    """What a healthy answer to the sample request looks like."""

    request: HealthRequest = Field(description="The sample request sent to /predict")
    expectStatus: int = Field(200, ge=100, le=599, description="The HTTP status a healthy answer has")
    expectKeys: list[Annotated[str, StringConstraints(min_length=1, max_length=255)]] = Field(
        default_factory=list,
        description="Keys a healthy JSON answer holds; a dotted path reaches into objects (e.g. result.score)",
    )
    expectValues: dict[Annotated[str, StringConstraints(min_length=1, max_length=255)], Any] = Field(
        default_factory=dict,
        description="Dotted path -> the JSON value a healthy answer holds there (compared exactly)",
    )
    latencyMs: int | None = Field(
        None, ge=1, le=600_000, description="The longest a healthy answer takes, in milliseconds"
    )
    timeoutSeconds: int = Field(30, ge=1, le=600, description="Give up waiting for the answer after this")
    interval: Annotated[str, StringConstraints(pattern=INTERVAL_PATTERN)] | None = Field(
        None,
        description="How often the controller repeats the check (30s, 5m, 1h); unset: only after changes",
    )


class DeploymentPolicy(Policy):
    """``spec.policy`` with auto-rollback (a subclass: the base lives in a module at its size limit)."""

    autoRollback: bool = Field(
        False,
        description="When the health check fails right after a model swap (or a new model group version), "
        "point the deployment back at the previous owned model (or group version); the same manifest revision "
        "is then not applied again until it changes",
    )


def interval_seconds(interval: str | None) -> float | None:
    """``5m`` -> 300.0 (pure); None when unset."""
    if interval is None:
        return None
    match = re.fullmatch(r"([0-9]+)([smh])", interval)
    if match is None:
        raise ValueError(f"not an interval: {interval!r}")
    return float(int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def health_record(
    check: HealthCheck | None, annotations: dict[str, str], auto_rollback: bool
) -> dict[str, Any] | None:
    """The check as a plan carries it to apply (the sample body resolved), or None when there is none.

    An annotation that is not JSON is sent as its text: the check then fails with the service's answer,
    which names the problem better than a guess here could."""
    if check is None:
        return None
    request = check.request
    body: Any = request.body
    if request.fromAnnotation is not None:
        text = annotations.get(request.fromAnnotation, "")
        try:
            body = json.loads(text)
        except ValueError:
            body = text
    return {
        "body": body,
        "expectStatus": check.expectStatus,
        "expectKeys": list(check.expectKeys),
        "expectValues": dict(check.expectValues),
        "latencyMs": check.latencyMs,
        "timeoutSeconds": check.timeoutSeconds,
        "intervalSeconds": interval_seconds(check.interval),
        "autoRollback": auto_rollback,
    }


def _get(value: Any, name: str) -> Any:
    """A field of a validated model or of the raw document (``cross_checks`` sees either)."""
    return value.get(name) if isinstance(value, dict) else getattr(value, name, None)


def annotation_problems(values: Mapping[str, Any]) -> list[Problem]:
    """A check that sends ``fromAnnotation`` needs that annotation, holding JSON (a cross-check of the whole
    manifest: the annotation lives in metadata, the check in spec)."""
    source = _get(_get(_get(values.get("spec"), "healthCheck"), "request"), "fromAnnotation")
    annotations = _get(values.get("metadata"), "annotations")
    if not isinstance(source, str) or values.get("metadata") is None:
        return []
    loc: tuple[str | int, ...] = ("spec", "healthCheck", "request", "fromAnnotation")
    text = annotations.get(source) if isinstance(annotations, dict) else None
    if text is None:
        return [
            Problem(loc, f"metadata.annotations has no {source}; add it, or give the request as body", source)
        ]
    try:
        json.loads(str(text))
    except ValueError as exc:
        return [Problem(loc, f"the {source} annotation is not valid JSON: {exc}", source)]
    return []
