"""``mdr import``: manifests for deployments that already exist, so a team can adopt mdr without a redeploy.

The conversion is pure (live record -> manifest dict + warnings) and is the inverse of
``canonical.deployment_from_manifest`` for every field a manifest controls, so the manifests it writes plan
to nothing but the adoption itself. Each manifest carries the ``mdr.io/adopt`` annotation: the first apply
tags the existing deployment as owned (a reviewable update) instead of creating a second one.

Values that look like secrets are never written to the manifest: they become ``secretEnv`` entries read from
the environment at apply time, with a warning naming the variable to set. So do the values of every variable
named by a ``mdr-secrets`` tag: a deployment that a stack let go (``policy.deletion: Orphan``) keeps that
tag, and a value that was ever a secret is never written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from reconciler.core.canonical import TAG_SECRETS, cpu_baseline, deployment_from_wire, network_access
from reconciler.core.canonical_flex import manifest_flex_infrastructure
from reconciler.core.canonical_scaling import manifest_autoscaling
from reconciler.core.fields import unmodelled_fields
from reconciler.core.manifest import ADOPT_ANNOTATION

SECRET_NAME_RE = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|PRIVATE|CREDENTIAL|AUTH)", re.IGNORECASE)
IMPORTABLE_STATES = frozenset({"ACTIVE", "INACTIVE", "NEEDS_ATTENTION", "UPDATING"})
SCHEMA_LINE = "# yaml-language-server: $schema={schemas}/modeldeployment.schema.json\n"
STACK_SCHEMA_LINE = "# yaml-language-server: $schema={schemas}/stack.schema.json\n"


@dataclass
class Imported:
    name: str
    manifest: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def slug(display_name: str, taken: set[str]) -> str:
    """A unique DNS-label manifest name from a display name ("Fraud Scorer v2" -> "fraud-scorer-v2")."""
    base = re.sub(r"[^a-z0-9]+", "-", display_name.lower()).strip("-")[:55].strip("-") or "deployment"
    name, suffix = base, 2
    while name in taken:
        name, suffix = f"{base}-{suffix}", suffix + 1
    taken.add(name)
    return name


def manifest_from_live(wire: dict[str, Any], name: str, defaults: dict[str, str]) -> Imported:
    """The manifest that describes a live deployment (``oci.util.to_dict`` of it) exactly."""
    canonical = deployment_from_wire(wire, set(), "")
    result = Imported(name, {})
    spec: dict[str, Any] = {"displayName": canonical["displayName"]}
    if canonical["description"]:
        spec["description"] = canonical["description"]
    for key in ("compartmentId", "projectId"):
        if canonical[key] != defaults.get(key):
            spec[key] = canonical[key]
    spec["state"] = canonical["state"]
    if "groupId" in canonical["model"]:
        spec["modelGroup"] = model_group_block(wire.get(GROUP_RECORD), canonical["model"]["groupId"], result)
    else:
        spec["model"] = {"id": canonical["model"]["id"]}
        if canonical["model"]["artifactSignatureId"]:
            spec["model"]["artifactSignatureId"] = canonical["model"]["artifactSignatureId"]
    spec["infrastructure"] = _infrastructure(canonical["infrastructure"])
    spec["runtime"] = _runtime(canonical["runtime"], result, recorded_secrets(wire))
    logging = logging_block(
        canonical["logging"], lambda message: result.warnings.append(f"{name}: {message}")
    )
    if logging:
        spec["logging"] = logging
    if canonical["freeformTags"]:
        spec["freeformTags"] = dict(canonical["freeformTags"])
    if canonical["definedTags"]:
        spec["definedTags"] = canonical["definedTags"]
    result.manifest = {
        "apiVersion": "mdr/v1",
        "kind": "ModelDeployment",
        "metadata": {"name": name, "annotations": {ADOPT_ANNOTATION: wire["id"]}},
        "spec": spec,
    }
    unknown = unmodelled_fields({k: v for k, v in wire.items() if k != GROUP_RECORD})
    if unknown:
        result.warnings.append(
            f"{name}: the live deployment sets {', '.join(unknown)}, which this mdr cannot write to a manifest; "
            "they are left out (upgrade mdr, or keep them by hand)"
        )
    if wire.get("lifecycle_state") not in ("ACTIVE", "INACTIVE"):
        result.warnings.append(
            f"{name}: imported while {wire.get('lifecycle_state')}; check it before applying"
        )
    return result


#: the key under which the importer puts a MODEL_GROUP deployment's group (``group_record``) into its record
GROUP_RECORD = "_mdr_model_group"


def group_record(
    group_type: str | None, members: list[tuple[str | None, str]], base_model_id: str | None = None
) -> dict[str, Any]:
    """A model group as the import needs it: its type, (inference key, model OCID) per member, and a
    STACKED group's base model."""
    return {
        "type": group_type,
        "members": [{"inferenceKey": k, "modelId": m} for k, m in members],
        "baseModelId": base_model_id,
    }


def model_group_block(group: dict[str, Any] | None, group_id: str, result: Imported) -> dict[str, Any]:
    """``spec.modelGroup`` naming the live group's members by OCID (an unreadable group: no members, and a
    warning, so that the manifest fails validation rather than deploy nothing)."""
    if group is None:
        result.warnings.append(
            f"{result.name}: model group {group_id} could not be read; add its members by hand"
        )
        return {"members": []}
    if group.get("type") not in ("HOMOGENEOUS", "HETEROGENEOUS", "STACKED"):
        result.warnings.append(
            f"{result.name}: a {group.get('type')} model group is written as HOMOGENEOUS; check it"
        )
    members = [
        {"inferenceKey": m["inferenceKey"] or f"model-{index + 1}", "id": m["modelId"]}
        for index, m in enumerate(group["members"])
    ]
    block: dict[str, Any] = {"members": members}
    if group.get("type") == "HETEROGENEOUS":
        block = {"type": "HETEROGENEOUS", **block}
    if group.get("type") == "STACKED":
        base = next((m["inferenceKey"] for m in members if m["id"] == group.get("baseModelId")), None)
        block = {"type": "STACKED", "baseModel": base, **block}
    return block


def _infrastructure(infra: dict[str, Any]) -> dict[str, Any]:
    if "computeTarget" in infra:  # SINGLE_MODEL_FLEX
        return manifest_flex_infrastructure(infra)
    out: dict[str, Any] = {"shape": infra["shape"]}
    for key in ("ocpus", "memoryInGBs"):
        if infra[key] is not None:
            value = infra[key]
            out[key] = int(value) if float(value).is_integer() else value
    if infra["cpuBaseline"] != cpu_baseline(None, infra["shape"]):
        out["cpuBaseline"] = infra["cpuBaseline"]
    if infra["autoscaling"]:
        out["autoscaling"] = manifest_autoscaling(infra["autoscaling"])
    else:
        out["replicas"] = infra["replicas"]
    for key in ("bandwidthMbps", "maximumBandwidthMbps", "subnetId", "privateEndpointId"):
        if infra[key] is not None:
            out[key] = infra[key]
    if infra["networkAccessType"] != network_access(None, infra["subnetId"]):
        out["networkAccessType"] = infra["networkAccessType"]
    if infra["capacityReservationIds"]:
        out["capacityReservationIds"] = list(infra["capacityReservationIds"])
    return out


def recorded_secrets(wire: dict[str, Any]) -> set[str]:
    """The variables a stack recorded as secret (``mdr-secrets``; an orphaned deployment keeps the tag)."""
    return {n for n in ((wire.get("freeform_tags") or {}).get(TAG_SECRETS) or "").split(",") if n}


def _runtime(runtime: dict[str, Any], result: Imported, recorded: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": runtime["type"]}
    if runtime["type"] == "container":
        out["image"] = runtime["image"]
        for key in ("imageDigest", "imageSignatureId", "predictApiSpecification"):
            if runtime.get(key):
                out[key] = runtime[key]
        if runtime.get("customHttpEndpoints"):
            out["customHttpEndpoints"] = [dict(e) for e in runtime["customHttpEndpoints"]]
        for key in ("cmd", "entrypoint"):
            if runtime.get(key):
                out[key] = list(runtime[key])
        out["serverPort"] = runtime["serverPort"]
        if runtime["healthCheckPort"] != runtime["serverPort"]:
            out["healthCheckPort"] = runtime["healthCheckPort"]
    env = {}
    secrets = {}
    for key, value in sorted(runtime["env"].items()):
        if key in recorded or SECRET_NAME_RE.search(key):
            secrets[key] = {"fromEnv": key}
            why = "was a secret (mdr-secrets)" if key in recorded else "looks like a secret"
            result.warnings.append(
                f"{result.name}: {key} {why}: written as secretEnv read from ${key} at apply "
                "time (its value is not in the manifest); set it where mdr apply runs"
            )
        else:
            env[key] = value
    if env:
        out["env"] = env
    if secrets:
        out["secretEnv"] = secrets
    return out


def logging_block(logs: dict[str, Any] | None, warn: Callable[[str], None]) -> dict[str, Any] | None:
    """A manifest's ``logging`` from {access|predict: {logGroupId, logId}} (live or ADS), logs by OCID.

    A manifest has one log group: when the two logs sit in different groups, the predict log's group is
    kept and ``warn`` says so.
    """
    if not logs:
        return None
    group = (logs.get("predict") or logs["access"])["logGroupId"]
    if len({details["logGroupId"] for details in logs.values()}) > 1:
        warn(
            "access and predict logs are in different log groups; a manifest has one log group, so only "
            "the predict log is kept (the plan will show the access log removed)"
        )
    out: dict[str, Any] = {"logGroup": {"id": group}}
    for category in ("access", "predict"):
        details = logs.get(category)
        if details and details["logGroupId"] == group:
            out[category] = {"id": details["logId"]}
    return out


def select(
    items: Iterable[dict[str, Any]], project: str | None, name_filter: str | None
) -> list[dict[str, Any]]:
    """The live deployments to import: settled, unowned by any stack, in the project, matching the filter."""
    pattern = re.compile(name_filter) if name_filter else None
    chosen = []
    for wire in items:
        if wire.get("lifecycle_state") not in IMPORTABLE_STATES:
            continue
        if (wire.get("freeform_tags") or {}).get("mdr-stack"):
            continue  # some stack already owns it
        if project and wire.get("project_id") != project:
            continue
        if pattern and not pattern.search(wire.get("display_name") or ""):
            continue
        chosen.append(wire)
    return sorted(chosen, key=lambda w: (w.get("display_name") or "", w["id"]))


def stack_file(stack: str, region: str, compartment: str, project: str | None, schemas: str | None) -> str:
    data: dict[str, Any] = {"stack": stack, "region": region, "defaults": {"compartmentId": compartment}}
    if project:
        data["defaults"]["projectId"] = project
    data["prune"] = False
    head = STACK_SCHEMA_LINE.format(schemas=schemas) if schemas else ""
    return head + yaml.safe_dump(data, sort_keys=False)


def manifest_text(manifest: dict[str, Any], schemas: str | None) -> str:
    head = SCHEMA_LINE.format(schemas=schemas) if schemas else ""
    return head + yaml.safe_dump(manifest, sort_keys=False, width=110)


def common_project(items: list[dict[str, Any]]) -> str | None:
    projects = {w.get("project_id") for w in items}
    return projects.pop() if len(projects) == 1 else None
