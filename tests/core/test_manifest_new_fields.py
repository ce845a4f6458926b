"""The fields of issue 13 in a manifest: what is accepted, what is refused (and where), and how the
autoscaling policy round-trips between manifest, canonical form and ``mdr import``."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from reconciler.core.canonical_scaling import (
    autoscaling_from_manifest,
    autoscaling_from_wire,
    manifest_autoscaling,
)
from reconciler.core.manifest import ModelDeploymentSpec
from reconciler.core.manifest_infra import Autoscaling, normal_duration

DIGEST = "sha256:" + "c" * 64
FLEX = {"shape": "VM.Standard.E4.Flex", "ocpus": 1, "memoryInGBs": 16}
CONTAINER = {"type": "container", "image": "iad.ocir.io/ns/repo:1"}


def _spec(
    infrastructure: dict[str, Any] | None = None, runtime: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "model": {"id": "ocid1.datasciencemodel.oc1.iad.aaaa"},
        "infrastructure": {**FLEX, **(infrastructure or {})},
        "runtime": {**CONTAINER, **(runtime or {})},
    }


def _rule(metric: str, scale_in: dict[str, Any], scale_out: dict[str, Any]) -> dict[str, Any]:
    return {"metric": metric, "scaleIn": scale_in, "scaleOut": scale_out}


CPU = _rule("CPU", {"threshold": 20}, {"threshold": 80})
CUSTOM = _rule("CUSTOM", {"query": "a < 1"}, {"query": "a > 5", "pendingDuration": "PT1H"})


@pytest.mark.parametrize(
    "spec",
    [
        _spec(runtime={"image": "dsmc://odsc-vllm-serving:0.6.4.post1.2"}),
        _spec(runtime={"image": f"iad.ocir.io/ns/team/repo:1.2@{DIGEST}", "imageDigest": DIGEST}),
        _spec(runtime={"image": f"iad.ocir.io/ns/repo@{DIGEST}", "predictApiSpecification": "openai"}),
        _spec(runtime={"customHttpEndpoints": [{"endpointUriSuffix": "/v1/models", "httpMethods": ["GET"]}]}),
        _spec({"autoscaling": {"min": 1, "max": 3, "rules": [CPU, CUSTOM], "enabled": False}}),
        _spec({"networkAccessType": "CUSTOM_NETWORKING", "subnetId": "ocid1.subnet.oc1.iad.aaaa"}),
        _spec({"networkAccessType": "MANAGED_NETWORKING_NO_INTERNET_ACCESS", "cpuBaseline": "BASELINE_1_8"}),
        _spec({"capacityReservationIds": ["ocid1.capacityreservation.oc1.iad.aaaa"]}),
    ],
    ids=[
        "dsmc",
        "tag-and-digest",
        "digest-only",
        "http-endpoints",
        "rules",
        "custom-net",
        "managed",
        "reserved",
    ],
)
def test_accepted(spec: dict[str, Any]) -> None:
    ModelDeploymentSpec.model_validate(spec)


@pytest.mark.parametrize(
    ("spec", "where", "fragment"),
    [
        (
            _spec({"autoscaling": {"min": 1, "max": 3, "metric": "CPU", "rules": [CPU]}}),
            "infrastructure.autoscaling.metric",
            "either rules or metric",
        ),
        (
            _spec(
                {
                    "autoscaling": {
                        "min": 1,
                        "max": 3,
                        "rules": [_rule("CUSTOM", {"threshold": 5}, {"query": "q"})],
                    }
                }
            ),
            "infrastructure.autoscaling.rules.0.scaleIn.query",
            "MQL query",
        ),
        (
            _spec(
                {
                    "autoscaling": {
                        "min": 1,
                        "max": 3,
                        "rules": [_rule("CPU", {"query": "q"}, {"threshold": 5})],
                    }
                }
            ),
            "infrastructure.autoscaling.rules.0.scaleIn.threshold",
            "needs a threshold",
        ),
        (
            _spec(
                {
                    "autoscaling": {
                        "min": 1,
                        "max": 3,
                        "rules": [_rule("CPU", {"threshold": 90}, {"threshold": 50})],
                    }
                }
            ),
            "infrastructure.autoscaling.rules.0.scaleIn.threshold",
            "must be below",
        ),
        (
            _spec({"autoscaling": {"min": 1, "max": 3, "rules": [CPU, CPU]}}),
            "infrastructure.autoscaling.rules.1.metric",
            "two rules on CPU",
        ),
        (
            _spec(
                {
                    "autoscaling": {
                        "min": 1,
                        "max": 3,
                        "rules": [
                            _rule("CPU", {"threshold": 1, "pendingDuration": "PT2M"}, {"threshold": 5})
                        ],
                    }
                }
            ),
            "infrastructure.autoscaling.rules.0.scaleIn.pendingDuration",
            "outside PT3M-PT1H",
        ),
        (
            _spec(
                {
                    "autoscaling": {
                        "min": 1,
                        "max": 3,
                        "rules": [_rule("CPU", {"threshold": 1, "pendingDuration": "5m"}, {"threshold": 5})],
                    }
                }
            ),
            "infrastructure.autoscaling.rules.0.scaleIn.pendingDuration",
            "not an ISO 8601 duration",
        ),
        (
            _spec({"networkAccessType": "CUSTOM_NETWORKING"}),
            "infrastructure.networkAccessType",
            "needs a subnetId",
        ),
        (
            _spec(
                {
                    "networkAccessType": "MANAGED_NETWORKING_INTERNET_ACCESS",
                    "subnetId": "ocid1.subnet.oc1.iad.aaaa",
                }
            ),
            "infrastructure.networkAccessType",
            "custom networking",
        ),
        (
            {**_spec(), "infrastructure": {"shape": "VM.Standard2.1", "cpuBaseline": "BASELINE_1_2"}},
            "infrastructure.cpuBaseline",
            "needs a Flex shape",
        ),
        (_spec({"cpuBaseline": "BASELINE_1_4"}), "infrastructure.cpuBaseline", "BASELINE_1_8"),
        (
            _spec({"capacityReservationIds": ["ocid1.capacityreservation.oc1.iad.aaaa"] * 2}),
            "infrastructure.capacityReservationIds.1",
            "listed twice",
        ),
        (
            _spec(runtime={"image": f"iad.ocir.io/ns/repo:1@{DIGEST}", "imageDigest": "sha256:" + "d" * 64}),
            "runtime.container.imageDigest",
            "is not the image's digest",
        ),
        (_spec(runtime={"image": "docker.io/library/python:3"}), "runtime.container.image", "pattern"),
        (
            _spec(runtime={"predictApiSpecification": "grpc"}),
            "runtime.container.predictApiSpecification",
            "openai",
        ),
        (
            _spec(runtime={"customHttpEndpoints": [{"endpointUriSuffix": "/a", "httpMethods": ["FETCH"]}]}),
            "runtime.container.customHttpEndpoints.0.httpMethods.0",
            "GET",
        ),
        (
            _spec(runtime={"customHttpEndpoints": [{"endpointUriSuffix": "/a", "httpMethods": ["GET"]}] * 2}),
            "runtime.container.customHttpEndpoints.1.endpointUriSuffix",
            "listed twice",
        ),
    ],
)
def test_refused_at_the_field(spec: dict[str, Any], where: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ModelDeploymentSpec.model_validate(spec)
    errors = [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in refused.value.errors()]
    assert any(loc == where and fragment in msg for loc, msg in errors), errors


def test_one_duration_however_it_is_spelled() -> None:
    assert {normal_duration(d, "PT3M") for d in ("PT60M", "PT1H", "PT3600S", "PT0H60M")} == {"PT1H"}
    assert normal_duration(None, "PT5M") == "PT5M"


def test_a_rule_read_back_without_defaults_is_the_rule_written_with_them() -> None:
    """The service fills in what was not sent (PT3M, steps of one, a cool-down of 300 s, enabled)."""
    written = Autoscaling.model_validate(
        {
            "min": 1,
            "max": 2,
            "rules": [_rule("MEMORY", {"threshold": 10, "pendingDuration": "PT3M"}, {"threshold": 90})],
        }
    )
    read = {
        "policy_type": "AUTOSCALING",
        "auto_scaling_policies": [
            {
                "minimum_instance_count": 1,
                "maximum_instance_count": 2,
                "initial_instance_count": 1,
                "rules": [
                    {
                        "metric_expression_rule_type": "PREDEFINED_EXPRESSION",
                        "metric_type": "MEMORY_UTILIZATION",
                        "scale_in_configuration": {
                            "scaling_configuration_type": "THRESHOLD",
                            "threshold": 10,
                        },
                        "scale_out_configuration": {"threshold": 90, "pending_duration": "PT180S"},
                    }
                ],
            }
        ],
    }
    assert autoscaling_from_wire(read) == autoscaling_from_manifest(written)


_steps = st.fixed_dictionaries(
    {},
    optional={
        "pendingDuration": st.sampled_from(["PT3M", "PT5M", "PT10M", "PT1H"]),
        "instanceCountAdjustment": st.integers(1, 5),
    },
)


@st.composite
def _rules(draw: st.DrawFn) -> list[dict[str, Any]]:
    metrics = draw(st.lists(st.sampled_from(["CPU", "MEMORY", "CUSTOM"]), min_size=1, max_size=4))
    metrics = [m for i, m in enumerate(metrics) if m == "CUSTOM" or m not in metrics[:i]]
    out = []
    for metric in metrics:
        low, high = sorted(draw(st.lists(st.integers(1, 100), min_size=2, max_size=2, unique=True)))
        leaf_in = {"query": f"q < {low}"} if metric == "CUSTOM" else {"threshold": low}
        leaf_out = {"query": f"q > {high}"} if metric == "CUSTOM" else {"threshold": high}
        out.append(_rule(metric, {**leaf_in, **draw(_steps)}, {**leaf_out, **draw(_steps)}))
    return out


@given(
    rules=st.none() | _rules(),
    enabled=st.sampled_from([None, True, False]),
    cool_down=st.integers(300, 3600),
    counts=st.lists(st.integers(1, 100), min_size=3, max_size=3).map(sorted),
    threshold=st.none() | st.integers(1, 19),
)
def test_import_writes_back_the_policy_it_read(
    rules: list[dict[str, Any]] | None,
    enabled: bool | None,
    cool_down: int,
    counts: list[int],
    threshold: int | None,
) -> None:
    low, initial, high = counts
    raw: dict[str, Any] = {"min": low, "max": high, "initial": initial, "coolDownSeconds": cool_down}
    if enabled is not None:
        raw["enabled"] = enabled
    if rules is not None:
        raw["rules"] = rules
    elif threshold is not None:
        raw["scaleInThreshold"] = threshold
    canonical = autoscaling_from_manifest(Autoscaling.model_validate(raw))
    written = manifest_autoscaling(canonical)
    assert autoscaling_from_manifest(Autoscaling.model_validate(written)) == canonical
    if rules is None:
        assert "rules" not in written  # the short form stays short
