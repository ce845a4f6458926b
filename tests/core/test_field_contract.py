"""The field contract: every settable field of the pinned ``oci`` SDK is mapped all the way, or listed as
unsupported with a reason (``reconciler/core/fields.py``).

The SDK's request classes are walked recursively (nested detail classes and every polymorphic subtype), so
an SDK upgrade that adds a field fails here, naming it, until it is mapped or listed. Each mapped field is
then followed through: a manifest that sets it gives a canonical form that differs (so the plan shows it),
a create request body that carries it, an update body (for the option group the plan would send) that
carries it, and a live record (the body read back) whose canonical form is the desired one.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from typing import Any

import oci
import pytest
from oci.data_science import models as ds

from reconciler.adapters.wire import create_deployment_details, sections_for_paths, update_deployment_details
from reconciler.core.canonical import deployment_from_manifest, deployment_from_wire, logging_from_refs
from reconciler.core.diff import diff, is_under
from reconciler.core.fields import (
    DEPLOYMENT_FIELDS,
    DISCRIMINATORS,
    FLEX_DEPLOYMENT_FIELDS,
    GROUP_DEPLOYMENT_FIELDS,
    MODEL_FIELDS,
    READ_ONLY,
    UNSUPPORTED,
    UNSUPPORTED_MODEL,
    Mapped,
    unmodelled_fields,
)
from reconciler.core.manifest import ModelDeploymentSpec

_CLASSES = [c for _, c in inspect.getmembers(ds, inspect.isclass)]
_TYPE = re.compile(r"(?:list\[(\w+)\]|dict\(str, .*\)|(\w+))")


def _discriminator(cls: type) -> str | None:
    """The value a subclass presets for its type tag (``FixedSizeScalingPolicy`` -> ``FIXED_SIZE``)."""
    instance = cls()
    preset = [getattr(instance, a) for a in instance.swagger_types if getattr(instance, a) is not None]
    return str(preset[0]) if preset else None


def sdk_paths(cls: type, prefix: str = "", depth: int = 0) -> Iterator[str]:
    """Every settable leaf attribute under ``cls``, in the notation of ``reconciler.core.fields``."""
    assert depth < 20, f"runaway nesting at {prefix}"
    instance = cls()
    for attr, swagger_type in instance.swagger_types.items():
        if attr in DISCRIMINATORS or getattr(instance, attr) is not None:
            continue  # a type tag: chosen by picking the subtype
        path = f"{prefix}.{attr}" if prefix else attr
        match = _TYPE.fullmatch(swagger_type)
        name = match.group(1) or match.group(2) if match else None
        nested = getattr(ds, name, None) if name else None
        if not inspect.isclass(nested):
            yield path
            continue
        if swagger_type.startswith("list["):
            path += "[]"
        subtypes = [c for c in _CLASSES if c is not nested and issubclass(c, nested)]
        if not subtypes:
            yield from sdk_paths(nested, path, depth + 1)
        for subtype in subtypes:
            yield from sdk_paths(subtype, f"{path}<{_discriminator(subtype)}>", depth + 1)


def _covered(path: str, prefixes: dict[str, str]) -> bool:
    return any(path == p or path.startswith((p + ".", p + "[", p + "<")) for p in prefixes)


CREATE_PATHS = set(sdk_paths(ds.CreateModelDeploymentDetails))
UPDATE_PATHS = set(sdk_paths(ds.UpdateModelDeploymentDetails))
MAPPED = {m.sdk for m in (*DEPLOYMENT_FIELDS, *GROUP_DEPLOYMENT_FIELDS, *FLEX_DEPLOYMENT_FIELDS)}


@pytest.mark.parametrize("paths", [CREATE_PATHS, UPDATE_PATHS], ids=["create", "update"])
def test_every_settable_deployment_field_is_mapped_or_deliberately_unsupported(paths: set[str]) -> None:
    unaccounted = sorted(p for p in paths if p not in MAPPED and not _covered(p, UNSUPPORTED))
    assert not unaccounted, (
        "SDK fields neither mapped nor listed as unsupported in core/fields.py:\n" + "\n".join(unaccounted)
    )


def test_the_tables_name_only_fields_the_sdk_has() -> None:
    """A field the SDK dropped (or a typo in the table) is as wrong as a field the table forgot."""
    every = CREATE_PATHS | UPDATE_PATHS
    stale = sorted(m for m in MAPPED if m not in every)
    stale += sorted(p for p in UNSUPPORTED if not any(_covered(path, {p: ""}) for path in every))
    assert not stale


def test_every_unsupported_field_says_why() -> None:
    for table in (UNSUPPORTED, UNSUPPORTED_MODEL, READ_ONLY):
        assert all(len(reason) >= 10 for reason in table.values())


def test_the_only_unsupported_single_model_field_is_read_only() -> None:
    """Done when: the unsupported list for SINGLE_MODEL deployments is empty or justified. Besides the
    other deployment types, only the service-injected defaultEnvironmentVariables remains."""
    single = [p for p in UNSUPPORTED if "<SINGLE_MODEL>" in p]
    assert single == [p for p in single if p.endswith("default_environment_variables")]


def test_every_field_of_a_live_deployment_is_mapped_or_read_only() -> None:
    """The response shapes: ModelDeployment and its summary add only read-only fields to the create shape."""
    tops = {m.sdk.split(".")[0].split("<")[0] for m in DEPLOYMENT_FIELDS} | set(READ_ONLY)
    for cls in (ds.ModelDeployment, ds.ModelDeploymentSummary):
        assert set(cls().swagger_types) - tops == set(), cls.__name__


@pytest.mark.parametrize("cls", [ds.CreateModelDetails, ds.UpdateModelDetails], ids=lambda c: c.__name__)
def test_every_settable_model_field_is_mapped_or_deliberately_unsupported(cls: type) -> None:
    mapped = {m.sdk for m in MODEL_FIELDS}
    unaccounted = sorted(p for p in sdk_paths(cls) if p not in mapped and not _covered(p, UNSUPPORTED_MODEL))
    assert not unaccounted


# --- each mapped field, all the way ----------------------------------------------------------------------

MODEL = "ocid1.datasciencemodel.oc1.iad.aaaaaaaabase"
GROUP = "ocid1.loggroup.oc1.iad.aaaaaaaagroup"
CUSTOM_RULE = {
    "metric": "CUSTOM",
    "scaleIn": {"query": "CpuUtilization[1m].mean() < 10"},
    "scaleOut": {"query": "CpuUtilization[1m].mean() > 60"},
}
MEMORY_RULE = {"metric": "MEMORY", "scaleIn": {"threshold": 20}, "scaleOut": {"threshold": 80}}

BASE: dict[str, Any] = {
    "displayName": "Base",
    "description": "base",
    "compartmentId": "ocid1.compartment.oc1..aaaaaaaabase",
    "projectId": "ocid1.datascienceproject.oc1.iad.aaaaaaaabase",
    "model": {"id": MODEL},
    "infrastructure": {
        "shape": "VM.Standard.E4.Flex",
        "ocpus": 1,
        "memoryInGBs": 16,
        "autoscaling": {"min": 1, "max": 3, "rules": [MEMORY_RULE, CUSTOM_RULE]},
    },
    "runtime": {
        "type": "container",
        "image": "iad.ocir.io/ns/repo:1",
        "env": {"A": "1"},
        "customHttpEndpoints": [{"endpointUriSuffix": "/v1/a", "httpMethods": ["POST"]}],
    },
    "logging": {
        "logGroup": {"id": GROUP},
        "access": {"id": "ocid1.log.oc1.iad.aaaaaaaaaccess"},
        "predict": {"id": "ocid1.log.oc1.iad.aaaaaaaapredict"},
    },
    "freeformTags": {"team": "a"},
    "definedTags": {"Ops": {"cc": "1"}},
}
CONDA = {"runtime": {"type": "conda", "env": {"A": "1"}}}


def _rule(index: int, step: str, leaf: str, value: Any) -> dict[str, Any]:
    rules = [MEMORY_RULE, CUSTOM_RULE]
    changed = {**rules[index], step: {**rules[index][step], leaf: value}}
    rules[index] = changed
    return {"infrastructure": {"autoscaling": {"rules": rules}}}


def _steps(index: int, leaf: str, value_in: Any, value_out: Any) -> dict[str, dict[str, Any]]:
    key = "MEMORY" if index == 0 else "CUSTOM-1"
    out = {}
    for step, value in (("scaleIn", value_in), ("scaleOut", value_out)):
        prefix = f"infrastructure.autoscaling.rules.{key}.{step}"
        out[f"{prefix}.{leaf}"] = _rule(index, step, leaf, value)
        out[f"{prefix}.pendingDuration"] = _rule(index, step, "pendingDuration", "PT10M")
        out[f"{prefix}.instanceCountAdjustment"] = _rule(index, step, "instanceCountAdjustment", 2)
    return out


#: canonical path -> a change to BASE that sets the field to another value
SAMPLES: dict[str, dict[str, Any]] = {
    "displayName": {"displayName": "Other"},
    "description": {"description": "other"},
    "projectId": {"projectId": "ocid1.datascienceproject.oc1.iad.aaaaaaaaother"},
    "compartmentId": {"compartmentId": "ocid1.compartment.oc1..aaaaaaaaother"},
    "freeformTags": {"freeformTags": {"team": "b"}},
    "definedTags": {"definedTags": {"Ops": {"cc": "2"}}},
    "logging.access.logId": {"logging": {"access": {"id": "ocid1.log.oc1.iad.aaaaaaaaother"}}},
    "logging.access.logGroupId": {"logging": {"logGroup": {"id": "ocid1.loggroup.oc1.iad.aaaaaaaaother"}}},
    "logging.predict.logId": {"logging": {"predict": {"id": "ocid1.log.oc1.iad.aaaaaaaaother"}}},
    "logging.predict.logGroupId": {"logging": {"logGroup": {"id": "ocid1.loggroup.oc1.iad.aaaaaaaaother"}}},
    "model.id": {"model": {"id": "ocid1.datasciencemodel.oc1.iad.aaaaaaaaother"}},
    "model.artifactSignatureId": {
        "model": {"artifactSignatureId": "ocid1.datasciencemodelartifactsignature.oc1.iad.aaaa"}
    },
    "infrastructure.shape": {"infrastructure": {"shape": "VM.Standard.E5.Flex"}},
    "infrastructure.ocpus": {"infrastructure": {"ocpus": 2}},
    "infrastructure.memoryInGBs": {"infrastructure": {"memoryInGBs": 32}},
    "infrastructure.cpuBaseline": {"infrastructure": {"cpuBaseline": "BASELINE_1_2"}},
    "infrastructure.subnetId": {"infrastructure": {"subnetId": "ocid1.subnet.oc1.iad.aaaaaaaasubnet"}},
    "infrastructure.privateEndpointId": {
        "infrastructure": {"privateEndpointId": "ocid1.datascienceprivateendpoint.oc1.iad.aaaaaaaape"}
    },
    "infrastructure.networkAccessType": {
        "infrastructure": {"networkAccessType": "MANAGED_NETWORKING_NO_INTERNET_ACCESS"}
    },
    "infrastructure.capacityReservationIds": {
        "infrastructure": {"capacityReservationIds": ["ocid1.capacityreservation.oc1.iad.aaaaaaaacr"]}
    },
    "infrastructure.replicas": {"infrastructure": {"autoscaling": None, "replicas": 2}},
    "infrastructure.autoscaling.coolDownSeconds": {
        "infrastructure": {"autoscaling": {"coolDownSeconds": 600}}
    },
    "infrastructure.autoscaling.enabled": {"infrastructure": {"autoscaling": {"enabled": False}}},
    "infrastructure.autoscaling.min": {"infrastructure": {"autoscaling": {"min": 2, "initial": 2}}},
    "infrastructure.autoscaling.max": {"infrastructure": {"autoscaling": {"max": 5}}},
    "infrastructure.autoscaling.initial": {"infrastructure": {"autoscaling": {"initial": 2}}},
    "infrastructure.autoscaling.rules": {
        "infrastructure": {"autoscaling": {"rules": [{**MEMORY_RULE, "metric": "CPU"}, CUSTOM_RULE]}}
    },
    **_steps(0, "threshold", 10, 90),
    **_steps(1, "query", "CpuUtilization[1m].mean() < 5", "CpuUtilization[1m].mean() > 70"),
    "infrastructure.bandwidthMbps": {"infrastructure": {"bandwidthMbps": 20}},
    "infrastructure.maximumBandwidthMbps": {"infrastructure": {"maximumBandwidthMbps": 40}},
    "runtime.env": {"runtime": {"env": {"A": "2"}}},
    "runtime.image": {"runtime": {"image": "dsmc://odsc-vllm-serving:0.6.4.post1"}},
    "runtime.imageDigest": {"runtime": {"imageDigest": "sha256:" + "a" * 64}},
    "runtime.imageSignatureId": {
        "runtime": {"imageSignatureId": "ocid1.containerimagesignature.oc1.iad.aaaa"}
    },
    "runtime.cmd": {"runtime": {"cmd": ["--port", "8080"]}},
    "runtime.entrypoint": {"runtime": {"entrypoint": ["python", "serve.py"]}},
    "runtime.serverPort": {"runtime": {"serverPort": 9000}},
    "runtime.healthCheckPort": {"runtime": {"healthCheckPort": 9001}},
    "runtime.predictApiSpecification": {"runtime": {"predictApiSpecification": "openai"}},
    "runtime.customHttpEndpoints": {
        "runtime": {"customHttpEndpoints": [{"endpointUriSuffix": "/v1/b", "httpMethods": ["GET", "PUT"]}]}
    },
}


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif (
            isinstance(value, dict)
            and isinstance(out.get(key), dict)
            and key not in ("freeformTags", "definedTags", "env")
        ):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _canonical(raw: dict[str, Any]) -> dict[str, Any]:
    spec = ModelDeploymentSpec.model_validate(raw)
    assert spec.compartmentId and spec.projectId and spec.model.id and spec.logging
    group = spec.logging.logGroup.id
    access, predict = spec.logging.access, spec.logging.predict
    logging = logging_from_refs(
        (group, access.id) if access and group and access.id else None,
        (group, predict.id) if predict and group and predict.id else None,
    )
    return deployment_from_manifest(
        spec,
        display_name=spec.displayName or "x",
        compartment_id=spec.compartmentId,
        project_id=spec.projectId,
        model_id=spec.model.id,
        logging=logging,
        secret_values={},
        salt="s",
    )


_SEGMENT = re.compile(r"(\w+)(\[\])?(?:<(\w+)>)?")


def values_at(data: Any, sdk_path: str) -> list[Any]:
    """Every value at an SDK path in ``oci.util.to_dict`` of a body (``<X>``: only objects of subtype X)."""
    current = [data]
    for segment in sdk_path.split("."):
        match = _SEGMENT.fullmatch(segment)
        assert match, segment
        name, is_list, subtype = match.groups()
        found = []
        for item in current:
            value = item.get(name) if isinstance(item, dict) else None
            for element in (value or []) if is_list else [value]:
                if element is not None and (
                    not subtype or (isinstance(element, dict) and subtype in element.values())
                ):
                    found.append(element)
        current = found
    return current


def _bodies(canonical: dict[str, Any], sections: set[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    tags = {**canonical["freeformTags"], "mdr-stack": "contract"}
    create = oci.util.to_dict(create_deployment_details(canonical, {}, tags))
    update = update_deployment_details(canonical, sections, MODEL, {}, tags, live_defined_tags={})
    return create, oci.util.to_dict(update)


@pytest.mark.parametrize("field", DEPLOYMENT_FIELDS, ids=lambda m: m.sdk.replace(_RULES_PREFIX, "…"))
def test_a_mapped_field_goes_all_the_way(field: Mapped) -> None:
    base_raw = {**BASE, **CONDA} if "<DEFAULT>" in field.sdk else BASE
    sample_raw = _merge(base_raw, SAMPLES[field.canonical])
    base, sample = _canonical(base_raw), _canonical(sample_raw)

    changes = diff(base, sample)
    assert any(is_under(c.path, [field.canonical]) for c in changes), "the plan would not show it"

    sections = sections_for_paths([c.path for c in changes])
    base_create, _ = _bodies(base, sections)
    create, update = _bodies(sample, sections)
    sent = values_at(create, field.sdk)
    assert sent and sent != values_at(base_create, field.sdk), "the create body does not carry it"
    if field.sdk in UPDATE_PATHS:
        assert values_at(update, field.sdk) == sent, "the update body does not carry it"

    live = deployment_from_wire(create, set(), "s")
    assert live == sample, "reading it back does not give the desired form"
    assert diff(live, sample) == []
    assert unmodelled_fields(create) == []


_RULES_PREFIX = "model_deployment_configuration_details<SINGLE_MODEL>.model_configuration_details."
