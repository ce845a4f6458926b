"""``mdr import --from-ads``: convert an Oracle ADS deployment YAML (``kind: deployment``) into a manifest.

Pure: a parsed ADS document in, a manifest dict and warnings out. Every ADS key is either mapped or named in
a warning; none is dropped silently (ADS itself ignores unknown keys such as ``bandWidthMbps`` without a
word, reference ads.md §1.7). Placeholders from ``ads opctl init`` (``<unique_id>``, ``{Provide ...}``)
become ``${VAR}`` references, so the manifest validates once the variables are set, and never carries a
fake OCID into a plan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.canonical_scaling import METRIC_TYPES, autoscaling_from_wire, manifest_autoscaling
from reconciler.core.from_live import logging_block
from reconciler.core.manifest import ADOPT_ANNOTATION
from reconciler.core.manifest_parts import RESERVED_TAG_PREFIX

PLACEHOLDER_RE = re.compile(r"<[^>]*>|\{Provide[^}]*\}")
READ_ONLY_TOP = ("createdBy", "lifecycleState", "lifecycleDetails", "modelDeploymentUrl", "timeCreated")
READ_ONLY_INFRA = ("deploymentType", "policyType")
UPLOAD_ONLY_RUNTIME = (
    "bucketUri",
    "auth",
    "region",
    "overwriteExistingArtifact",
    "removeExistingArtifact",
    "timeout",
)
#: ADS's DEFAULT_OCPUS and DEFAULT_MEMORY_IN_GBS, sent for a Flex shape whose YAML has no shapeConfigDetails
ADS_FLEX_DEFAULTS = {"ocpus": 1, "memoryInGBs": 16}
SCALING_METRICS = {"cpu_utilization": "CPU", "cpu": "CPU", "memory_utilization": "MEMORY", "memory": "MEMORY"}


class AdsFormatError(ValueError):
    """The file is not an ADS model deployment YAML we can read."""


@dataclass
class Conversion:
    manifest: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)  # ${VAR} -> what to put there


def _snake_to_camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def _spec(node: Any, what: str) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise AdsFormatError(f"{what} must be a mapping")
    spec = node.get("spec", node)
    if not isinstance(spec, dict):
        raise AdsFormatError(f"{what}.spec must be a mapping")
    return {_snake_to_camel(k): v for k, v in spec.items()}


class _Converter:
    def __init__(self, name: str) -> None:
        self.name = name
        self.out = Conversion({})

    def warn(self, message: str) -> None:
        self.out.warnings.append(f"{self.name}: {message}")

    def value(self, raw: Any, variable: str, meaning: str) -> Any:
        """The value, or a ``${VAR}`` reference when ADS left a placeholder there."""
        if isinstance(raw, str) and PLACEHOLDER_RE.search(raw):
            self.out.variables[variable] = meaning
            self.warn(f"{raw!r} is a placeholder: written as ${{{variable}}}; set {variable} ({meaning})")
            return f"${{{variable}}}"
        return raw


def convert(document: Any, name: str) -> Conversion:
    """The manifest for one ADS ``kind: deployment`` document; ``name`` is the manifest's metadata.name."""
    if not isinstance(document, dict) or document.get("kind") != "deployment":
        raise AdsFormatError("not an ADS model deployment YAML (expected kind: deployment)")
    c = _Converter(name)
    top = _spec(document, "the document")
    _refuse_model_groups(top)
    spec: dict[str, Any] = {}
    metadata: dict[str, Any] = {"name": name}
    if document.get("type") not in (None, "modelDeployment"):
        c.warn(f"type {document.get('type')!r} is not modelDeployment; converted as one")
    for key, raw in top.items():
        if key == "displayName":
            spec["displayName"] = raw
        elif key == "description":
            spec["description"] = raw
        elif key == "freeformTags":
            tags = _user_tags(c, raw or {})
            if tags:
                spec["freeformTags"] = tags
        elif key == "definedTags":
            if raw:
                spec["definedTags"] = raw
        elif key == "id":
            metadata["annotations"] = {ADOPT_ANNOTATION: raw}
            c.warn(
                f"id {raw}: the manifest adopts that existing deployment (mdr.io/adopt) instead of creating one"
            )
        elif key in ("infrastructure", "runtime"):
            continue
        elif key in READ_ONLY_TOP:
            c.warn(f"{key} is read-only state, not configuration: ignored")
        else:
            c.warn(f"spec.{key} has no mdr equivalent: not converted")
    infrastructure, logging = _infrastructure(
        c, _spec(top.get("infrastructure") or {}, "infrastructure"), spec
    )
    runtime_node = top.get("runtime")
    if not isinstance(runtime_node, dict):
        raise AdsFormatError("spec.runtime is missing")
    model, runtime = _runtime(c, str(runtime_node.get("type") or "conda"), _spec(runtime_node, "runtime"))
    web = infrastructure.pop("_webConcurrency", None)
    if web is not None:
        runtime.setdefault("env", {})["WEB_CONCURRENCY"] = str(web)
    spec["model"] = model
    spec["infrastructure"] = infrastructure
    spec["runtime"] = runtime
    if logging:
        spec["logging"] = logging
    c.out.manifest = {"apiVersion": "mdr/v1", "kind": "ModelDeployment", "metadata": metadata, "spec": spec}
    return c.out


def _infrastructure(
    c: _Converter, infra: dict[str, Any], spec: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    out: dict[str, Any] = {}
    logs: dict[str, Any] = {}
    shape = infra.get("shapeName") or "VM.Standard.E4.Flex"
    if "shapeName" not in infra:
        c.warn(
            "no shapeName: VM.Standard.E4.Flex written (the ADS default; ADS in a notebook uses its shape)"
        )
    out["shape"] = shape
    if str(infra.get("policyType") or "").upper() == "AUTOSCALING" and not infra.get("autoScaling"):
        raise AdsFormatError(
            "infrastructure.policyType is AUTOSCALING but the YAML has no autoScaling block (ADS does not read "
            "autoscaling back), so its rule is unknown and a manifest would turn autoscaling off at the first "
            "apply; add autoScaling: {scalingType, minimumInstanceCount, maximumInstanceCount, ...} to the "
            "YAML, or import the live deployment with: mdr import --compartment <OCID>"
        )
    for key, raw in infra.items():
        if key in ("shapeName",):
            continue
        if key == "compartmentId":
            spec["compartmentId"] = c.value(raw, "COMPARTMENT_ID", "the compartment OCID")
        elif key == "projectId":
            spec["projectId"] = c.value(raw, "PROJECT_ID", "the Data Science project OCID")
        elif key == "shapeConfigDetails":
            details = {_snake_to_camel(k): v for k, v in (raw or {}).items()}
            if "memoryInGbs" in details:  # memory_in_gbs, which ADS reads too
                details.setdefault("memoryInGBs", details.pop("memoryInGbs"))
            if str(shape).endswith("Flex"):
                for field_name in ("ocpus", "memoryInGBs"):
                    if field_name in details:
                        number = details.pop(field_name)
                        out[field_name] = int(number) if float(number).is_integer() else number
            for other in details:
                c.warn(f"shapeConfigDetails.{other} has no mdr equivalent: not converted")
            if not str(shape).endswith("Flex") and raw:
                c.warn("shapeConfigDetails is only sent for Flex shapes (ADS drops it too): not converted")
        elif key == "replica":
            out["replicas"] = raw
        elif key == "autoScaling":
            out["autoscaling"] = _autoscaling(c, raw or {}, infra.get("replica"))
        elif key in ("bandwidthMbps", "subnetId", "privateEndpointId"):
            out[key] = c.value(raw, key.upper(), key)
        elif key == "webConcurrency":
            out["_webConcurrency"] = raw
        elif key in ("accessLog", "predictLog"):
            category = "access" if key == "accessLog" else "predict"
            details = {_snake_to_camel(k): v for k, v in (raw or {}).items()}
            if details.get("logGroupId") and details.get("logId"):
                logs[category] = details
            else:
                c.warn(f"{key} needs both logGroupId and logId (ADS drops it silently): not converted")
        elif key in ("logGroupId", "logId"):
            continue
        elif key == "bandWidthMbps":
            c.warn(
                "bandWidthMbps (capital W) is a typo ADS ignores silently: not converted; use bandwidthMbps"
            )
        elif key in READ_ONLY_INFRA:
            c.warn(f"infrastructure.{key} is read-only state: ignored")
        else:
            c.warn(f"infrastructure.{key} has no mdr equivalent: not converted")
    if "autoscaling" in out:
        out.pop("replicas", None)
    if str(shape).endswith("Flex"):  # what ADS sends for a Flex shape when the YAML leaves them out
        out.setdefault("ocpus", ADS_FLEX_DEFAULTS["ocpus"])
        out.setdefault("memoryInGBs", ADS_FLEX_DEFAULTS["memoryInGBs"])
    group, log = infra.get("logGroupId"), infra.get("logId")
    if group and log:  # one log for both categories; takes precedence, as in ADS
        logs = {"access": {"logGroupId": group, "logId": log}, "predict": {"logGroupId": group, "logId": log}}
    elif group or log:
        c.warn(
            "logGroupId and logId must both be set (ADS silently disables logging otherwise): not converted"
        )
    return out, _logging(c, logs)


def _autoscaling(c: _Converter, raw: dict[str, Any], replica: Any) -> dict[str, Any]:
    """ADS's predefined-metric threshold autoscaling, onto ``infrastructure.autoscaling``, written as
    ``mdr import`` writes the policy ADS sends (its defaults filled in, as ADS fills them): ADS sends no
    pending duration, so the service's default applies to both steps, which mdr's short form (scale-in
    PT5M) would change at the first apply. What a manifest cannot say (another metric, keys mdr does not
    know) is refused, never approximated."""
    details = {_snake_to_camel(k): v for k, v in raw.items()}
    kind = str(details.pop("scalingType", "cpu_utilization")).lower()
    metric = SCALING_METRICS.get(kind)
    if metric is None:
        raise AdsFormatError(
            f"autoScaling.scalingType {kind!r} cannot be expressed in a manifest (CPU or memory utilisation "
            "thresholds only); remove autoScaling for a fixed replica count, or deploy it with ADS"
        )
    rule = {
        "metric_expression_rule_type": "PREDEFINED_EXPRESSION",
        "metric_type": METRIC_TYPES[metric],
        "scale_in_configuration": {"threshold": details.pop("scaleInThreshold", 30)},
        "scale_out_configuration": {"threshold": details.pop("scaleOutThreshold", 70)},
    }
    policy = {
        "minimum_instance_count": details.pop("minimumInstanceCount", 1),
        "maximum_instance_count": details.pop("maximumInstanceCount", 3),
        "initial_instance_count": details.pop("initialInstanceCount", replica or 1),
        "rules": [rule],
    }
    sent = {
        "is_enabled": details.pop("isEnabled", True),
        "cool_down_in_seconds": details.pop("coolDownInSeconds", None),
        "auto_scaling_policies": [policy],
    }
    if details:
        names = ", ".join(f"autoScaling.{k}" for k in sorted(details))
        raise AdsFormatError(f"{names} cannot be expressed in a manifest; remove it to convert the rest")
    canonical = autoscaling_from_wire(sent)
    assert canonical is not None  # one policy, built above
    return manifest_autoscaling(canonical)


def _user_tags(c: _Converter, raw: dict[str, Any]) -> dict[str, str]:
    """The freeform tags a manifest may carry: ``mdr-*`` keys (any case) record another stack's ownership,
    which a manifest may not set; they are left out, by name."""
    tags = {str(k): str(v) for k, v in raw.items()}
    reserved = sorted(k for k in tags if k.lower().startswith(RESERVED_TAG_PREFIX))
    if reserved:
        c.warn(
            f"freeformTags {', '.join(reserved)} are mdr's ownership tags (of the stack that deployed it): not "
            "copied; the manifest adopts the deployment instead"
        )
    return {k: v for k, v in tags.items() if k not in reserved}


def _refuse_model_groups(top: dict[str, Any]) -> None:
    """A MODEL_GROUP deployment serves a model group, not one model: mdr cannot express it yet."""
    infra = top.get("infrastructure")
    infra_spec = _spec(infra, "infrastructure") if isinstance(infra, dict) else {}
    runtime = top.get("runtime")
    runtime_spec = _spec(runtime, "runtime") if isinstance(runtime, dict) else {}
    kinds = {str(top.get("deploymentType") or ""), str(infra_spec.get("deploymentType") or "")}
    if "MODEL_GROUP" in kinds or runtime_spec.get("modelGroupId") or infra_spec.get("modelGroupId"):
        raise AdsFormatError(
            "this is a MODEL_GROUP deployment (a model group, not one model): mdr manages SINGLE_MODEL "
            "deployments only until model groups are supported; nothing was written for it"
        )


def _logging(c: _Converter, logs: dict[str, Any]) -> dict[str, Any] | None:
    out = logging_block(logs, c.warn)
    if out is None:
        return None
    out["logGroup"]["id"] = c.value(out["logGroup"]["id"], "LOG_GROUP_ID", "the log group OCID")
    for category in ("access", "predict"):
        if category in out:
            variable = f"{category.upper()}_LOG_ID"
            out[category]["id"] = c.value(out[category]["id"], variable, f"the {category} log OCID")
    return out


def _runtime(c: _Converter, kind: str, runtime: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    if kind not in ("conda", "container"):
        raise AdsFormatError(f"runtime type {kind!r} is not conda or container")
    out: dict[str, Any] = {"type": kind}
    model: dict[str, Any] = {}
    for key, raw in runtime.items():
        if key == "modelUri":
            uri = c.value(raw, "MODEL_ID", "the model catalog OCID")
            if str(uri).startswith(("ocid1.", "${")):
                model["id"] = uri
            else:
                model["artifact"] = uri
                c.warn(
                    f"modelUri {raw!r} is an artifact path: mdr packages it (check it is relative to the manifest)"
                )
        elif key == "env":
            out["env"] = {str(k): str(v) for k, v in (raw or {}).items()}
        elif key == "deploymentMode":
            if raw not in (None, "HTTPS_ONLY"):
                c.warn(f"deploymentMode {raw} is not supported (only HTTPS): not converted")
        elif kind == "container" and key in ("image", "serverPort", "healthCheckPort"):
            out[key] = raw
        elif kind == "container" and key == "imageDigest":
            out[key] = c.value(raw, "IMAGE_DIGEST", "the image digest, sha256:...")
        elif kind == "container" and key in ("cmd", "entrypoint"):
            if raw:
                out[key] = list(raw)
        elif key == "inferenceServer":
            if str(raw).lower() == "triton":
                out.setdefault("env", {})["CONTAINER_TYPE"] = "TRITON"
            else:
                c.warn(f"inferenceServer {raw!r} has no mdr equivalent: not converted")
        elif key in UPLOAD_ONLY_RUNTIME:
            c.warn(
                f"runtime.{key} only steers ADS's artifact upload: not converted (see artifacts: in mdr.yaml)"
            )
        else:
            c.warn(f"runtime.{key} has no mdr equivalent: not converted")
    if not model:
        raise AdsFormatError("runtime.modelUri is missing: which model does the deployment serve?")
    if kind == "container" and "image" in out:
        out["image"] = c.value(out["image"], "IMAGE", "the OCIR image, region.ocir.io/namespace/repo:tag")
    if "env" in out and not out["env"]:
        del out["env"]
    return model, out
