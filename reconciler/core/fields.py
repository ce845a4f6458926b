"""Every field of the OCI API that mdr writes or reads, in one table (pure).

``DEPLOYMENT_FIELDS`` maps each settable attribute of a SINGLE_MODEL model deployment (as the ``oci`` SDK
names it in CreateModelDeploymentDetails and UpdateModelDeploymentDetails) to the manifest field that sets it
and to its path in the canonical form (what the plan diffs and ``policy.ignore`` names). ``UNSUPPORTED``
names, with the reason, what mdr deliberately leaves alone; ``READ_ONLY`` what the service reports but no
one sets. ``tests/core/test_field_contract.py`` walks the SDK's classes and fails on any attribute in none of
these tables, so bumping the SDK shows every new field, and checks each mapped field all the way through
(manifest -> request body -> live read -> canonical form -> diff).

SDK paths: attributes joined by ``.``; ``[]`` after a list; ``<VALUE>`` after a polymorphic attribute names
the subtype by its discriminator value (``scaling_policy<AUTOSCALING>``). A live record read from the
service is checked against the same tables (``unmodelled_fields``), so a field a newer service sends and mdr
does not know is named in plan, status and import instead of being lost silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Mapped:
    sdk: str  # attribute path in the SDK's request models
    manifest: str  # the manifest field that sets it (relative to spec)
    canonical: str  # its path in the canonical form, as plans print it


_MD = "model_deployment_configuration_details<SINGLE_MODEL>"
_MC = f"{_MD}.model_configuration_details"
_IC = f"{_MC}.instance_configuration"
_SHAPE = f"{_IC}.model_deployment_instance_shape_config_details"
_AUTO = f"{_MC}.scaling_policy<AUTOSCALING>"
_POLICY = f"{_AUTO}.auto_scaling_policies[]<THRESHOLD>"
_PREDEFINED = f"{_POLICY}.rules[]<PREDEFINED_EXPRESSION>"
_CUSTOM = f"{_POLICY}.rules[]<CUSTOM_EXPRESSION>"
_ENV = f"{_MD}.environment_configuration_details"
_OCIR = f"{_ENV}<OCIR_CONTAINER>"
_RULES = "infrastructure.autoscaling.rules"


def _steps(prefix: str, rule_key: str, leaf: str) -> list[Mapped]:
    """The scale-in and scale-out halves of a rule (``leaf``: threshold or query) with their timing."""
    out = []
    for sdk_step, step in (("scale_in_configuration", "scaleIn"), ("scale_out_configuration", "scaleOut")):
        for sdk_name, name in (
            (leaf, leaf),
            ("pending_duration", "pendingDuration"),
            ("instance_count_adjustment", "instanceCountAdjustment"),
        ):
            out.append(
                Mapped(
                    f"{prefix}.{sdk_step}.{sdk_name}",
                    f"{_RULES}[].{step}.{name}",
                    f"{_RULES}.{rule_key}.{step}.{name}",
                )
            )
    return out


DEPLOYMENT_FIELDS: tuple[Mapped, ...] = (
    Mapped("display_name", "displayName", "displayName"),
    Mapped("description", "description", "description"),
    Mapped("project_id", "projectId", "projectId"),
    Mapped("compartment_id", "compartmentId", "compartmentId"),
    Mapped("freeform_tags", "freeformTags", "freeformTags"),
    Mapped("defined_tags", "definedTags", "definedTags"),
    Mapped("category_log_details.access.log_id", "logging.access", "logging.access.logId"),
    Mapped("category_log_details.access.log_group_id", "logging.logGroup", "logging.access.logGroupId"),
    Mapped("category_log_details.predict.log_id", "logging.predict", "logging.predict.logId"),
    Mapped("category_log_details.predict.log_group_id", "logging.logGroup", "logging.predict.logGroupId"),
    Mapped(f"{_MC}.model_id", "model.id", "model.id"),
    Mapped(f"{_MC}.model_artifact_signature_id", "model.artifactSignatureId", "model.artifactSignatureId"),
    Mapped(f"{_IC}.instance_shape_name", "infrastructure.shape", "infrastructure.shape"),
    Mapped(f"{_SHAPE}.ocpus", "infrastructure.ocpus", "infrastructure.ocpus"),
    Mapped(f"{_SHAPE}.memory_in_gbs", "infrastructure.memoryInGBs", "infrastructure.memoryInGBs"),
    Mapped(f"{_SHAPE}.cpu_baseline", "infrastructure.cpuBaseline", "infrastructure.cpuBaseline"),
    Mapped(f"{_IC}.subnet_id", "infrastructure.subnetId", "infrastructure.subnetId"),
    Mapped(
        f"{_IC}.private_endpoint_id", "infrastructure.privateEndpointId", "infrastructure.privateEndpointId"
    ),
    Mapped(
        f"{_IC}.network_access_type", "infrastructure.networkAccessType", "infrastructure.networkAccessType"
    ),
    Mapped(
        f"{_IC}.capacity_reservation_ids",
        "infrastructure.capacityReservationIds",
        "infrastructure.capacityReservationIds",
    ),
    Mapped(
        f"{_MC}.scaling_policy<FIXED_SIZE>.instance_count",
        "infrastructure.replicas",
        "infrastructure.replicas",
    ),
    Mapped(
        f"{_AUTO}.cool_down_in_seconds",
        "infrastructure.autoscaling.coolDownSeconds",
        "infrastructure.autoscaling.coolDownSeconds",
    ),
    Mapped(f"{_AUTO}.is_enabled", "infrastructure.autoscaling.enabled", "infrastructure.autoscaling.enabled"),
    Mapped(
        f"{_POLICY}.minimum_instance_count",
        "infrastructure.autoscaling.min",
        "infrastructure.autoscaling.min",
    ),
    Mapped(
        f"{_POLICY}.maximum_instance_count",
        "infrastructure.autoscaling.max",
        "infrastructure.autoscaling.max",
    ),
    Mapped(
        f"{_POLICY}.initial_instance_count",
        "infrastructure.autoscaling.initial",
        "infrastructure.autoscaling.initial",
    ),
    Mapped(f"{_PREDEFINED}.metric_type", f"{_RULES}[].metric", _RULES),
    *_steps(_PREDEFINED, "MEMORY", "threshold"),
    *_steps(_CUSTOM, "CUSTOM-1", "query"),
    Mapped(f"{_MC}.bandwidth_mbps", "infrastructure.bandwidthMbps", "infrastructure.bandwidthMbps"),
    Mapped(
        f"{_MC}.maximum_bandwidth_mbps",
        "infrastructure.maximumBandwidthMbps",
        "infrastructure.maximumBandwidthMbps",
    ),
    Mapped(f"{_ENV}<DEFAULT>.environment_variables", "runtime.env", "runtime.env"),
    Mapped(f"{_OCIR}.environment_variables", "runtime.env", "runtime.env"),
    Mapped(f"{_OCIR}.image", "runtime.image", "runtime.image"),
    Mapped(f"{_OCIR}.image_digest", "runtime.imageDigest", "runtime.imageDigest"),
    Mapped(f"{_OCIR}.image_signature_id", "runtime.imageSignatureId", "runtime.imageSignatureId"),
    Mapped(f"{_OCIR}.cmd", "runtime.cmd", "runtime.cmd"),
    Mapped(f"{_OCIR}.entrypoint", "runtime.entrypoint", "runtime.entrypoint"),
    Mapped(f"{_OCIR}.server_port", "runtime.serverPort", "runtime.serverPort"),
    Mapped(f"{_OCIR}.health_check_port", "runtime.healthCheckPort", "runtime.healthCheckPort"),
    Mapped(
        f"{_OCIR}.predict_api_specification",
        "runtime.predictApiSpecification",
        "runtime.predictApiSpecification",
    ),
    Mapped(
        f"{_OCIR}.custom_http_endpoints[].endpoint_uri_suffix",
        "runtime.customHttpEndpoints[].endpointUriSuffix",
        "runtime.customHttpEndpoints",
    ),
    Mapped(
        f"{_OCIR}.custom_http_endpoints[].http_methods",
        "runtime.customHttpEndpoints[].httpMethods",
        "runtime.customHttpEndpoints",
    ),
)

_MG = "model_deployment_configuration_details<MODEL_GROUP>"
_POOL = f"{_MG}.infrastructure_configuration_details<INSTANCE_POOL>"


def _as_group(mapped: Mapped) -> Mapped | None:
    """A SINGLE_MODEL row as the MODEL_GROUP deployment carries it: instances, scaling and bandwidth under
    ``infrastructureConfigurationDetails``, the environment where it was; the model is the group's."""
    if mapped.sdk.startswith(f"{_MC}.model_"):
        return None  # model_id, model_artifact_signature_id: a group deployment names its group instead
    if mapped.sdk.startswith(_MC):
        return Mapped(_POOL + mapped.sdk[len(_MC) :], mapped.manifest, mapped.canonical)
    if mapped.sdk.startswith(_MD):
        return Mapped(_MG + mapped.sdk[len(_MD) :], mapped.manifest, mapped.canonical)
    return None


#: each settable attribute of a MODEL_GROUP deployment's configuration (``spec.modelGroup`` manifests; the
#: deployment's other attributes are those of ``DEPLOYMENT_FIELDS``)
GROUP_DEPLOYMENT_FIELDS: tuple[Mapped, ...] = (
    Mapped(f"{_MG}.model_group_configuration_details.model_group_id", "modelGroup.members", "model.groupId"),
    Mapped(f"{_MG}.update_type", "modelGroup.updateType", "(how an update is made; not compared)"),
    *(group for group in map(_as_group, DEPLOYMENT_FIELDS) if group is not None),
)

_FX = "model_deployment_configuration_details<SINGLE_MODEL_FLEX>"
_FIC = f"{_FX}.infrastructure_configuration_details<MANAGED_COMPUTE_CLUSTER>"
_FRES = f"{_FIC}.model_deployment_resource_configuration"
_FAUTO = f"{_FIC}.scaling_policy<AUTOSCALING>"
_FPOL = f"{_FAUTO}.auto_scaling_policies[]<THRESHOLD>"
_CT = "infrastructure.computeTarget"
_FRULES = f"{_CT}.autoscaling.rules"


def _flex_scale_policies() -> list[Mapped]:
    return [
        Mapped(
            f"{_FPOL}.{sdk_step}.{sdk_name}",
            f"{_CT}.autoscaling.{step}.{name}",
            f"{_CT}.autoscaling.{step}.{name}",
        )
        for sdk_step, step in (("scale_in_policy", "scaleIn"), ("scale_out_policy", "scaleOut"))
        for sdk_name, name in (
            ("pending_duration", "pendingDuration"),
            ("instance_count_adjustment", "instanceCountAdjustment"),
            ("cool_down_in_seconds", "coolDownSeconds"),
        )
    ]


def _as_flex(mapped: Mapped) -> Mapped | None:
    """A SINGLE_MODEL environment row as a SINGLE_MODEL_FLEX deployment carries it (same place)."""
    if mapped.sdk.startswith(f"{_MD}.environment_configuration_details"):
        return Mapped(_FX + mapped.sdk[len(_MD) :], mapped.manifest, mapped.canonical)
    return None


#: each settable attribute of a SINGLE_MODEL_FLEX deployment's configuration (``infrastructure.computeTarget``
#: manifests, docs/flex.md; the deployment's other attributes are those of ``DEPLOYMENT_FIELDS``)
FLEX_DEPLOYMENT_FIELDS: tuple[Mapped, ...] = (
    Mapped(f"{_FX}.model_configuration_details.model_id", "model.id", "model.id"),
    Mapped(
        f"{_FX}.model_configuration_details.model_artifact_signature_id",
        "model.artifactSignatureId",
        "model.artifactSignatureId",
    ),
    Mapped(f"{_FIC}.compute_target_id", f"{_CT}.id", f"{_CT}.id"),
    *(
        Mapped(f"{_FRES}.resource_{sdk}_configuration.{leaf}", f"{_CT}.{name}.{key}", f"{_CT}.{name}.{key}")
        for sdk, name, leaves in (
            ("request", "requests", (("ocpus", "ocpus"), ("memory_in_gbs", "memoryInGBs"), ("gpus", "gpus"))),
            ("limit", "limits", (("ocpus", "ocpus"), ("memory_in_gbs", "memoryInGBs"))),
        )
        for leaf, key in leaves
    ),
    Mapped(
        f"{_FIC}.scaling_policy<FIXED_SIZE>.instance_count",
        "infrastructure.replicas",
        "infrastructure.replicas",
    ),
    Mapped(f"{_FAUTO}.is_enabled", f"{_CT}.autoscaling.enabled", f"{_CT}.autoscaling.enabled"),
    Mapped(f"{_FPOL}.minimum_instance_count", f"{_CT}.autoscaling.min", f"{_CT}.autoscaling.min"),
    Mapped(f"{_FPOL}.maximum_instance_count", f"{_CT}.autoscaling.max", f"{_CT}.autoscaling.max"),
    Mapped(f"{_FPOL}.initial_instance_count", f"{_CT}.autoscaling.initial", f"{_CT}.autoscaling.initial"),
    Mapped(f"{_FPOL}.rules[]<TARGET_PREDEFINED_EXPRESSION>.metric_type", f"{_FRULES}[].metric", _FRULES),
    Mapped(
        f"{_FPOL}.rules[]<TARGET_PREDEFINED_EXPRESSION>.scale_configuration.threshold",
        f"{_FRULES}[].threshold",
        f"{_FRULES}.CPU.threshold",
    ),
    *(
        Mapped(
            f"{_FPOL}.rules[]<TARGET_CUSTOM_EXPRESSION>.scale_configuration.{sdk}",
            f"{_FRULES}[].{name}",
            f"{_FRULES}.CUSTOM-1.{name}",
        )
        for sdk, name in (("query", "query"), ("threshold", "threshold"), ("metric_namespace", "namespace"))
    ),
    *_flex_scale_policies(),
    *(flex for flex in map(_as_flex, DEPLOYMENT_FIELDS) if flex is not None),
)

#: SDK path (or the prefix of a whole subtree) -> why mdr does not set it
UNSUPPORTED: dict[str, str] = {
    f"{_FX}.environment_configuration_details<OCIR_CONTAINER>.default_environment_variables": "injected by "
    "the service and read-only (the SDK says it cannot be set or modified by a user); not compared",
    f"{_MG}.environment_configuration_details<OCIR_CONTAINER>.default_environment_variables": "injected by the "
    "service and read-only (the SDK says it cannot be set or modified by a user); not compared",
    f"{_OCIR}.default_environment_variables": "injected by the service and read-only (the SDK says it cannot be "
    "set or modified by a user); not compared",
}

#: response-only fields of a live deployment (ModelDeployment / ModelDeploymentSummary): reported by the
#: service, set by no one, never compared
READ_ONLY: dict[str, str] = {
    "id": "the deployment's OCID",
    "time_created": "set by the service",
    "created_by": "set by the service",
    "lifecycle_state": "read as spec.state (ACTIVE/INACTIVE) and health",
    "lifecycle_details": "a message from the service",
    "model_deployment_url": "shown by mdr status",
    "model_deployment_system_data": "the service's view of the instances (current instance count)",
    "system_tags": "set by the service",
}

MODEL_FIELDS: tuple[Mapped, ...] = (
    Mapped("compartment_id", "compartmentId", "compartmentId"),
    Mapped("project_id", "projectId", "projectId"),
    Mapped("display_name", "model.displayName", "displayName"),
    Mapped("description", "model.description", "description"),
    Mapped("freeform_tags", "(ownership tags)", "freeformTags"),
    Mapped("defined_metadata_list[].key", "model.metadata", "metadata"),
    Mapped("defined_metadata_list[].value", "model.metadata", "metadata"),
    Mapped("custom_metadata_list[].key", "model.customMetadata[].key", "customMetadata"),
    Mapped("custom_metadata_list[].value", "model.customMetadata[].value", "customMetadata"),
    Mapped("custom_metadata_list[].category", "model.customMetadata[].category", "customMetadata"),
    Mapped("custom_metadata_list[].description", "model.customMetadata[].description", "customMetadata"),
    Mapped("model_version_set_id", "model.versionSet", "versionSet"),
    Mapped("version_label", "model.versionLabel", "versionLabel"),
    Mapped("input_schema", "(the artifact's input_schema.json)", "identity"),
    Mapped("output_schema", "(the artifact's output_schema.json)", "identity"),
)

_CATALOG = (
    "the catalog's own settings (retention, backup, metadata keywords and artifacts): left at the service's "
    "defaults; mdr keeps models for rollback with model.keep"
)

UNSUPPORTED_MODEL: dict[str, str] = {
    "defined_tags": "a model carries mdr's ownership tags only; user tags go on the deployment",
    "defined_metadata_list[].description": "the taxonomy's fixed descriptions; mdr sets keys and values",
    "defined_metadata_list[].category": "the taxonomy's fixed categories; mdr sets keys and values",
    "defined_metadata_list[].keywords": _CATALOG,
    "defined_metadata_list[].has_artifact": _CATALOG,
    "custom_metadata_list[].keywords": _CATALOG,
    "custom_metadata_list[].has_artifact": _CATALOG,
    "retention_setting": _CATALOG,
    "backup_setting": _CATALOG,
}

#: type tags of polymorphic objects: set by the SDK's subclasses, known wherever they appear
DISCRIMINATORS = frozenset(
    {
        "deployment_type",
        "policy_type",
        "auto_scaling_policy_type",
        "metric_expression_rule_type",
        "scaling_configuration_type",
        "environment_configuration_type",
        "system_infra_type",
        "infrastructure_type",
        "target_scaling_configuration_type",
    }
)

#: manifest fields added since mdr/v1 first shipped, with their defaults: left out of the ``mdr-spec`` hash
#: while at their default, so that a manifest that does not use them keeps the hash it was applied with
ADDED_FIELDS: dict[str, Any] = {
    "model.artifactSignatureId": None,
    "infrastructure.networkAccessType": None,
    "infrastructure.cpuBaseline": None,
    "infrastructure.capacityReservationIds": [],
    "infrastructure.autoscaling.enabled": None,
    "infrastructure.autoscaling.rules": None,
    "runtime.imageSignatureId": None,
    "runtime.predictApiSpecification": None,
    "runtime.customHttpEndpoints": [],
    "policy.replace": "DeleteBeforeCreate",
    "model.versionSet": None,
    "model.versionLabel": None,
    "modelGroup": None,
    "infrastructure.computeTarget": None,
    "healthCheck": None,
    "policy.autoRollback": False,
    "model.weights": None,
}
#: the short autoscaling form's values before they became optional (they were written out in the hash)
_SHORT_FORM_DEFAULTS = {"metric": "CPU", "scaleInThreshold": 20, "scaleOutThreshold": 80}

_SUBTYPE = re.compile(r"<[^>]*>")


def wire_path(sdk_path: str) -> str:
    """An SDK path as it appears in a wire record (discriminator values dropped)."""
    return _SUBTYPE.sub("", sdk_path)


def _prefixes(path: str) -> Iterator[str]:
    """Every object above a path: ``a.b[].c`` -> ``a``, ``a.b``, ``a.b[]``."""
    for match in re.finditer(r"\.|\[\]", path):
        yield path[: match.start()]
        if match.group() == "[]":
            yield path[: match.end()]


#: wire paths whose whole value mdr knows (mapped fields, maps such as tags, read-only fields; the
#: subtree of an unsupported field that is not a subtype of its own)
_KNOWN = frozenset(
    {wire_path(m.sdk) for m in (*DEPLOYMENT_FIELDS, *GROUP_DEPLOYMENT_FIELDS, *FLEX_DEPLOYMENT_FIELDS)}
    | set(READ_ONLY)
    | {wire_path(path) for path in UNSUPPORTED if not path.endswith(">")}
)
_PARENTS = frozenset(parent for path in _KNOWN for parent in _prefixes(path))


def _empty(value: Any) -> bool:
    return value is None or value == [] or value == {}


def _walk(value: Any, path: str) -> Iterator[str]:
    if path in _KNOWN:
        return
    if path and path not in _PARENTS:
        yield path
        return
    if isinstance(value, list):
        for item in value:
            yield from _walk(item, f"{path}[]")
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in DISCRIMINATORS and not _empty(item):
                yield from _walk(item, f"{path}.{key}" if path else key)


def unmodelled_fields(wire: Mapping[str, Any]) -> list[str]:
    """Fields set in a live deployment (a snake_case wire record) that mdr neither models nor knowingly
    leaves alone, as the REST API spells them (camelCase paths), sorted.

    A field a newer service (or SDK) sends and mdr does not know would otherwise be dropped without a word:
    plan and status would say "in sync" while it differs, and ``mdr import`` would leave it out. Unset
    fields (null, empty) are not reported."""
    return sorted({api_name(path) for path in _walk(dict(wire), "")})


def api_name(path: str) -> str:
    """``model_deployment_configuration_details.model_configuration_details`` ->
    ``modelDeploymentConfigurationDetails.modelConfigurationDetails`` (the REST API's spelling)."""
    return ".".join(_camel(part) for part in path.split("."))


def _camel(part: str) -> str:
    head, *rest = part.split("_")
    text = head + "".join(word[:1].upper() + word[1:] for word in rest)
    return text.replace("InGbs", "InGBs")


def unmodelled_warning(name: str, fields: list[str]) -> str:
    return (
        f"{name}: the live deployment sets {', '.join(fields)}, which this mdr does not manage: changes to "
        f"{'it' if len(fields) == 1 else 'them'} are not shown or corrected (upgrade mdr, or check it by hand)"
    )


def hash_view(spec_dump: dict[str, Any]) -> dict[str, Any]:
    """A spec's ``model_dump`` without the fields added since mdr/v1 that are at their default, and the
    short autoscaling form's values written out as before: what the ``mdr-spec`` hash is taken over.

    ``spec_dump`` is left as it is; only the dicts on the paths that change are copied (a plan hashes
    every manifest, so copying each whole spec was most of this function's cost)."""
    view = _View(spec_dump)
    for path, default in ADDED_FIELDS.items():
        *parents, leaf = path.split(".")
        holder = view.get(parents)
        if holder is not None and leaf in holder and holder[leaf] == default:
            del view.own(parents)[leaf]
    for name, source in (view.get(["runtime", "secretEnv"]) or {}).items():
        if isinstance(source, dict) and "fromVault" in source and source["fromVault"] is None:
            del view.own(["runtime", "secretEnv", name])["fromVault"]  # secretEnv's fromVault (issue 13)
    auto = view.get(["infrastructure", "autoscaling"])
    if auto is not None and "rules" not in auto:
        for key, default in _SHORT_FORM_DEFAULTS.items():
            if auto.get(key) is None:
                view.own(["infrastructure", "autoscaling"])[key] = default
    return view.root


class _View:
    """A dict tree shared with the one it was made from, but for the dicts ``own`` copied on the way."""

    def __init__(self, source: dict[str, Any]) -> None:
        self.root = dict(source)
        self._copies = {id(self.root)}

    def get(self, path: list[str]) -> dict[str, Any] | None:
        holder: Any = self.root
        for part in path:
            holder = holder.get(part) if isinstance(holder, dict) else None
        return holder if isinstance(holder, dict) else None

    def own(self, path: list[str]) -> dict[str, Any]:
        """The dict at ``path`` (which ``get`` found), copied with its parents the first time."""
        holder = self.root
        for part in path:
            child = holder[part]
            if id(child) not in self._copies:
                child = holder[part] = dict(child)
                self._copies.add(id(child))
            holder = child
        return holder


def unmodelled_warnings(records: Iterable[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """One warning per live deployment (``(key, wire)`` pairs) that sets fields mdr does not model."""
    return [unmodelled_warning(key, found) for key, wire in records if (found := unmodelled_fields(wire))]
