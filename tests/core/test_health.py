"""Judging a health check's answer, the manifest's ``healthCheck``, and the auto-rollback record (pure)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from reconciler.core.health import (
    TAG_ROLLED_BACK,
    Observed,
    evaluate,
    held_revision,
    is_model_swap,
    rolled_back_reason,
)
from reconciler.core.manifest import ModelDeploymentSpec
from reconciler.core.manifest_health import HealthCheck, health_record, interval_seconds

CHECK: dict[str, Any] = {
    "body": {"x": 1},
    "expectStatus": 200,
    "expectKeys": ["prediction", "meta.model"],
    "expectValues": {"meta.model": "v2", "prediction.0": 1},
    "latencyMs": 500,
}
GOOD = {"prediction": [1, 0], "meta": {"model": "v2"}}


def _observed(answer: Any = GOOD, status: int = 200, latency: float = 40.0) -> Observed:
    return Observed(status, answer, latency)


def test_an_answer_with_everything_expected_in_time_is_healthy() -> None:
    verdict = evaluate(CHECK, _observed())
    assert verdict.healthy and verdict.reasons == []


def test_every_shortfall_is_named_at_once() -> None:
    verdict = evaluate(CHECK, _observed({"oops": 1}, status=500, latency=900))
    assert not verdict.healthy
    assert verdict.reasons == [
        "answered HTTP 500, expected 200",
        "the answer has no 'prediction'",
        "the answer has no 'meta.model'",
        "the answer has no 'meta.model' (expected 'v2')",
        "the answer has no 'prediction.0' (expected 1)",
        "took 900 ms, over its budget of 500 ms",
    ]


def test_a_wrong_value_names_what_was_found_and_what_was_expected() -> None:
    verdict = evaluate(CHECK, _observed({"prediction": [0], "meta": {"model": "v1"}}))
    assert verdict.reasons == ["meta.model is 'v1', expected 'v2'", "prediction.0 is 0, expected 1"]


def test_the_service_message_of_an_error_answer_is_part_of_the_reason() -> None:
    verdict = evaluate({"expectStatus": 200}, _observed({"message": "score.py raised KeyError"}, status=500))
    assert verdict.reason == "answered HTTP 500, expected 200 ('score.py raised KeyError')"


def test_no_answer_at_all_is_unhealthy_with_the_cause() -> None:
    verdict = evaluate(CHECK, Observed(None, None, 30000.0, "cannot reach http://x/predict: timed out"))
    assert verdict.reasons == ["no answer: cannot reach http://x/predict: timed out"]


def test_true_is_not_the_number_one_but_one_point_zero_is() -> None:
    check = {"expectValues": {"a": 1}}
    assert evaluate(check, _observed({"a": 1.0})).healthy
    assert not evaluate(check, _observed({"a": True})).healthy


def test_a_text_answer_has_no_keys() -> None:
    assert evaluate({"expectKeys": ["a"]}, _observed("a plain text answer")).reasons == [
        "the answer has no 'a'"
    ]


@given(st.integers(100, 599), st.integers(100, 599))
def test_only_the_expected_status_passes(expected: int, got: int) -> None:
    assert evaluate({"expectStatus": expected}, _observed({}, status=got)).healthy == (expected == got)


@given(st.floats(0, 10_000), st.integers(1, 10_000))
def test_latency_passes_exactly_within_its_budget(latency: float, budget: int) -> None:
    assert evaluate({"latencyMs": budget}, _observed({}, latency=latency)).healthy == (latency <= budget)


def test_only_a_change_of_the_served_model_is_a_swap() -> None:
    assert is_model_swap(["infrastructure.replicas", "model.id"])
    assert not is_model_swap(["infrastructure.replicas"])


def test_a_rolled_back_revision_is_held_until_the_manifest_changes() -> None:
    tags = {TAG_ROLLED_BACK: "abcdef0123456789"}
    held = held_revision(tags, "abcdef0123456789")
    assert held is not None and "abcdef012345" in held and "until the manifest changes" in held
    assert held_revision(tags, "0000000000000000") is None  # the manifest changed: applied
    assert held_revision({}, "abcdef0123456789") is None


def test_status_after_an_auto_rollback_names_the_revision() -> None:
    reason = rolled_back_reason({TAG_ROLLED_BACK: "abcdef0123456789"})
    assert reason is not None and "abcdef012345" in reason
    assert rolled_back_reason({"team": "risk"}) is None


# --- the manifest -----------------------------------------------------------------------------------------

SPEC = {
    "model": {"id": "ocid1.datasciencemodel.oc1.iad.aaaa"},
    "infrastructure": {"shape": "VM.Standard.E4.Flex", "ocpus": 1, "memoryInGBs": 16},
    "runtime": {"type": "conda"},
}


def test_a_check_from_the_example_input_annotation_carries_its_json() -> None:
    check = HealthCheck.model_validate(
        {
            "request": {"fromAnnotation": "mdr.io/example-input"},
            "expectKeys": ["prediction"],
            "interval": "5m",
        }
    )
    record = health_record(check, {"mdr.io/example-input": '{"transactions": []}'}, True)
    assert record is not None
    assert record["body"] == {"transactions": []}
    assert record["intervalSeconds"] == 300.0 and record["autoRollback"] is True
    assert record["expectStatus"] == 200


def test_policy_auto_rollback_defaults_to_off() -> None:
    spec = ModelDeploymentSpec.model_validate(SPEC)
    assert spec.policy.autoRollback is False and spec.healthCheck is None


@pytest.mark.parametrize(
    ("check", "where"),
    [
        ({"request": {}}, ("healthCheck", "request")),
        (
            {"request": {"body": {"a": 1}, "fromAnnotation": "mdr.io/example-input"}},
            ("healthCheck", "request"),
        ),
        ({"request": {"body": 1}, "expectStatus": 99}, ("healthCheck", "expectStatus")),
        ({"request": {"body": 1}, "latencyMs": 0}, ("healthCheck", "latencyMs")),
        ({"request": {"body": 1}, "interval": "5 minutes"}, ("healthCheck", "interval")),
        ({"request": {"body": 1}, "expectKey": ["a"]}, ("healthCheck", "expectKey")),
        ({"request": {"fromAnnotation": "team"}}, ("healthCheck", "request", "fromAnnotation")),
    ],
)
def test_a_bad_check_is_refused_at_its_field(check: dict[str, Any], where: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError) as raised:
        ModelDeploymentSpec.model_validate({**SPEC, "healthCheck": check})
    assert any(tuple(e["loc"][: len(where)]) == where for e in raised.value.errors()), raised.value


def test_auto_rollback_must_be_a_boolean() -> None:
    with pytest.raises(ValidationError):
        ModelDeploymentSpec.model_validate({**SPEC, "policy": {"autoRollback": "yes"}})


def test_intervals_are_seconds_minutes_or_hours() -> None:
    assert [interval_seconds(v) for v in ("30s", "5m", "1h", None)] == [30.0, 300.0, 3600.0, None]
