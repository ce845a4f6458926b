"""Judging a health check's answer, and the record of an auto-rollback (pure: no I/O).

``evaluate`` says whether one answer to the sample request of ``spec.healthCheck`` is healthy and, when
not, every reason in words a user can act on. The engine (``reconciler.engine.health``) sends the request;
this module only judges, so that every rule is tested without a network.

After an auto-rollback the deployment carries ``mdr-rolledback: <mdr-spec hash of the revision rolled
back>``. The planner holds back that same revision (it would fail its check again, and a controller would
flip-flop between the two models for ever); any change to the manifest makes a new hash and lifts the hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: freeform tag on a deployment after an auto-rollback: the ``mdr-spec`` hash of the revision rolled back
TAG_ROLLED_BACK = "mdr-rolledback"
#: the canonical path of the served model: a change touching it is a model swap
MODEL_PATH = "model.id"
#: the canonical path of the group a MODEL_GROUP deployment serves: a new group version is a swap too
GROUP_PATH = "model.groupId"
_MISSING = object()


@dataclass(frozen=True)
class Observed:
    """What came back from one sample request: the HTTP status, the answer (JSON when it was JSON), the
    time it took, or the reason no answer came (connection refused, timed out)."""

    status: int | None
    answer: Any
    latency_ms: float
    error: str | None = None


@dataclass(frozen=True)
class Verdict:
    healthy: bool
    reasons: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


def lookup(answer: Any, path: str) -> Any:
    """The value at a dotted path in a JSON answer (``result.score``; a number indexes a list), or
    ``_MISSING`` when the path does not exist."""
    value = answer
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def evaluate(check: dict[str, Any], observed: Observed) -> Verdict:
    """Every way ``observed`` falls short of ``check`` (a ``health_record``); healthy when there is none."""
    if observed.error is not None:
        return Verdict(False, [f"no answer: {observed.error}"])
    reasons = []
    expected = int(check.get("expectStatus", 200))
    if observed.status != expected:
        detail = ""
        if isinstance(observed.answer, dict) and observed.answer.get("message"):
            detail = f" ({_short(observed.answer['message'])})"
        reasons.append(f"answered HTTP {observed.status}, expected {expected}{detail}")
    for key in check.get("expectKeys") or []:
        if lookup(observed.answer, key) is _MISSING:
            reasons.append(f"the answer has no {key!r}")
    for path, wanted in (check.get("expectValues") or {}).items():
        found = lookup(observed.answer, path)
        if found is _MISSING:
            reasons.append(f"the answer has no {path!r} (expected {_short(wanted)})")
        elif found != wanted or (type(found) is not type(wanted) and not _both_numbers(found, wanted)):
            reasons.append(f"{path} is {_short(found)}, expected {_short(wanted)}")
    budget = check.get("latencyMs")
    if budget is not None and observed.latency_ms > budget:
        reasons.append(f"took {observed.latency_ms:.0f} ms, over its budget of {budget} ms")
    return Verdict(not reasons, reasons)


def _both_numbers(a: Any, b: Any) -> bool:
    """1 and 1.0 are the same JSON number; True is not a number here (JSON tells them apart)."""
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b))


def is_model_swap(field_paths: list[str]) -> bool:
    """A change that points the deployment at another model, or a model group deployment at another group
    version (the only kinds auto-rollback undoes)."""
    return MODEL_PATH in field_paths or GROUP_PATH in field_paths


def held_revision(live_tags: dict[str, str], wanted_hash: str) -> str | None:
    """Why a planned update is held back: the revision was rolled back automatically and has not changed
    since; None when nothing is held."""
    if not wanted_hash or live_tags.get(TAG_ROLLED_BACK) != wanted_hash:
        return None
    return (
        f"revision {wanted_hash[:12]} failed its health check and was rolled back automatically; it is not "
        "applied again until the manifest changes (fix the model or its healthCheck and commit)"
    )


def rolled_back_reason(live_tags: dict[str, str]) -> str | None:
    """Why ``mdr status`` shows a deployment Degraded after an auto-rollback (its tag stays until a new
    revision is applied); None when it was not rolled back."""
    revision = live_tags.get(TAG_ROLLED_BACK)
    if not revision:
        return None
    return (
        f"auto-rolled back: revision {revision[:12]} failed its health check; it serves the previous model "
        "until the manifest changes"
    )
