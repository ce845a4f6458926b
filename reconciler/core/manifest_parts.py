"""The parts of a manifest: scalar types, and the model, infrastructure, runtime, logging and policy
sections of ``spec`` (``reconciler.core.manifest`` assembles them into whole documents).

Input is strict (see ``reconciler.core.manifest``): no coercion, whole-value patterns, limits from the service.
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

API_VERSION = "mdr/v1"
KIND_MODEL_DEPLOYMENT = "ModelDeployment"

# --- scalar types -----------------------------------------------------------------------------------

_OCID_RE = r"^ocid1\.{type}\.oc[0-9]+\.[a-z0-9-]*\.[a-z0-9._-]{{1,255}}$"  # with re.fullmatch only


def _ocid_pattern(*types: str) -> str:
    alternatives = "|".join(re.escape(t) for t in types)
    return _OCID_RE.format(type=f"(?:{alternatives})")


CompartmentId = Annotated[str, StringConstraints(pattern=_ocid_pattern("compartment", "tenancy"))]
ProjectId = Annotated[str, StringConstraints(pattern=_ocid_pattern("datascienceproject"))]
ModelId = Annotated[str, StringConstraints(pattern=_ocid_pattern("datasciencemodel"))]
SubnetId = Annotated[str, StringConstraints(pattern=_ocid_pattern("subnet"))]
PrivateEndpointId = Annotated[str, StringConstraints(pattern=_ocid_pattern("datascienceprivateendpoint"))]
LogGroupId = Annotated[str, StringConstraints(pattern=_ocid_pattern("loggroup"))]
LogId = Annotated[str, StringConstraints(pattern=_ocid_pattern("log"))]

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
Name = Annotated[str, StringConstraints(pattern=DNS_LABEL, max_length=63)]
DisplayName = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Description = Annotated[str, StringConstraints(max_length=400)]
LogName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,255}$")]

ENV_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")  # with fullmatch: no trailing newline
ENV_NAME_MAX = 31  # the service requires names shorter than 32 characters
ENV_TOTAL_MAX = 2048  # total bytes of names and values, as the service counts them
CMD_TOTAL_MAX = 2048
FORBIDDEN_PORTS = frozenset({24224, 8446, 8447})
RESERVED_TAG_PREFIX = "mdr-"  # in any case: OCI tag keys are case-insensitive

# Shape family -> (min ocpus, max ocpus, min memory GB, max memory GB), from the SDK docstrings.
FLEX_LIMITS: dict[str, tuple[float, float, float, float]] = {
    "VM.Standard.E3.Flex": (1, 64, 6, 1024),
    "VM.Standard.E4.Flex": (1, 64, 6, 1024),
    "VM.Standard.E5.Flex": (1, 94, 6, 1049),
    "VM.Standard3.Flex": (1, 32, 6, 512),
    "VM.Optimized3.Flex": (1, 18, 6, 256),
    "VM.Standard.A1.Flex": (1, 80, 6, 512),
}
FLEX_MAX_MEMORY_PER_OCPU = 64.0
FLEX_MIN_MEMORY_PER_OCPU = 1.0


def field_error(field: str | int | tuple[str | int, ...], message: str, value: Any = None) -> ValidationError:
    """A validation error located at a sub-field, so that the loader can point at its exact line.

    Pydantic locates errors raised in model validators at the model itself; users need the line of the
    offending key instead, so cross-field checks raise through this helper.
    """
    loc = field if isinstance(field, tuple) else (field,)
    return ValidationError.from_exception_data(
        "mdr",
        [InitErrorDetails(type=PydanticCustomError("mdr", message), loc=loc, input=value)],
    )


class Strict(BaseModel):
    """Base of every manifest model: unknown keys are errors, no value is coerced to another type, NaN and
    infinity are not numbers, patterns match whole values, and values are immutable after load."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        validate_default=True,
        strict=True,
        allow_inf_nan=False,
        regex_engine="rust-regex",  # ``$`` is the end of the text, as in JSON Schema (not "before a \n")
    )


def _json_problem(value: Any) -> tuple[tuple[str | int, ...], str] | None:
    """The first place (in document order) where ``value`` is not plain JSON, and why; None when it is.

    Iterative, so that no nesting depth can exhaust the stack (the YAML loader bounds depth as well).
    """
    pending: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while pending:
        path, item = pending.pop()
        if item is None or isinstance(item, bool | int | str):
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                return path, f"{item!r} is not a JSON number (JSON has no NaN or infinity)"
            continue
        if isinstance(item, dict):
            for key in item:
                if not isinstance(key, str):
                    return path, f"key {key!r} is not a string"
            pending.extend(((*path, k), v) for k, v in reversed(item.items()))
            continue
        if isinstance(item, list):
            pending.extend(((*path, i), v) for i, v in reversed(list(enumerate(item))))
            continue
        kind = "a date" if isinstance(item, date) else f"a {type(item).__name__}"
        hint = "; quote it to make it a string" if isinstance(item, date) else ""
        return path, f"{kind} is not a JSON value{hint}"
    return None


# --- model --------------------------------------------------------------------------------------------

UseCaseType = Literal[
    "binary_classification",
    "regression",
    "multinomial_classification",
    "clustering",
    "recommender",
    "dimensionality_reduction/representation",
    "time_series_forecasting",
    "anomaly_detection",
    "topic_modeling",
    "ner",
    "sentiment_analysis",
    "image_classification",
    "object_localization",
    "other",
]


class DefinedMetadata(Strict):
    """OCI's defined model metadata (taxonomy); shown in the model catalog and used for search."""

    useCaseType: UseCaseType | None = None
    framework: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    frameworkVersion: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    algorithm: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    hyperparameters: dict[str, Any] | None = Field(
        None, description="Any JSON object (sent as JSON): no dates, binary, sets, NaN or infinity"
    )

    @field_validator("hyperparameters")
    @classmethod
    def _plain_json(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        problem = _json_problem(value)
        if problem is not None:
            path, message = problem
            raise field_error(path, f"hyperparameters must be JSON: {message}")
        return value


CustomMetadataCategory = Literal[
    "Performance",
    "Training Profile",
    "Training and Validation Datasets",
    "Training Environment",
    "Reports",
    "Readme",
    "other",
]


class CustomMetadata(Strict):
    key: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,255}$")]
    value: Annotated[str, StringConstraints(max_length=255)]
    category: CustomMetadataCategory = "other"
    description: Description | None = None


class ModelSpec(Strict):
    """The model served: packaged from an artifact (folder, .zip, ``oci://``) or an existing catalog model."""

    artifact: Annotated[str, StringConstraints(min_length=1)] | None = Field(
        None, description="Folder or .zip relative to the manifest file, or oci://bucket@namespace/object.zip"
    )
    id: ModelId | None = Field(None, description="An existing model catalog OCID (instead of artifact)")
    displayName: DisplayName | None = None
    description: Description | None = None
    metadata: DefinedMetadata | None = None
    customMetadata: list[CustomMetadata] = Field(default_factory=list)
    keep: int = Field(3, ge=0, le=50, description="Previous owned models kept for rollback")

    @field_validator("artifact")
    @classmethod
    def _artifact_form(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if value.startswith("oci://"):
            if not re.fullmatch(r"oci://[A-Za-z0-9_.-]{1,256}@[A-Za-z0-9_-]{1,128}/.+\.zip", value):
                raise ValueError(
                    "an Object Storage artifact must look like oci://bucket@namespace/path/model.zip"
                )
        elif "://" in value:
            raise ValueError("artifact must be a local folder, a local .zip, or an oci:// URI")
        return value

    @field_validator("customMetadata")
    @classmethod
    def _unique_custom_keys(cls, value: list[CustomMetadata]) -> list[CustomMetadata]:
        seen: set[str] = set()
        for index, item in enumerate(value):
            if item.key in seen:
                raise field_error((index, "key"), f"duplicate custom metadata key {item.key!r}", item.key)
            seen.add(item.key)
        return value

    @model_validator(mode="after")
    def _artifact_xor_id(self) -> ModelSpec:
        if (self.artifact is None) == (self.id is None):
            raise ValueError("set exactly one of model.artifact (to package a model) or model.id")
        if self.id is not None:
            for name in ("displayName", "description", "metadata"):
                if getattr(self, name) is not None:
                    raise field_error(
                        name, f"{name} describes a packaged model; it cannot be set with model.id"
                    )
            if self.customMetadata:
                raise field_error("customMetadata", "customMetadata cannot be set with model.id")
        return self


# --- infrastructure -------------------------------------------------------------------------------------


class Autoscaling(Strict):
    """Threshold autoscaling on a predefined metric (the service's AUTOSCALING policy)."""

    min: int = Field(ge=1, le=100)
    max: int = Field(ge=1, le=100)
    initial: int | None = Field(None, ge=1, le=100, description="Default: min")
    metric: Literal["CPU", "MEMORY"] = "CPU"
    scaleInThreshold: int = Field(20, ge=1, le=99, description="Percent utilisation below which to scale in")
    scaleOutThreshold: int = Field(80, ge=2, le=100, description="Percent above which to scale out")
    coolDownSeconds: int = Field(300, ge=300, le=3600)

    @model_validator(mode="after")
    def _ordering(self) -> Autoscaling:
        if self.min > self.max:
            raise field_error("min", f"min ({self.min}) must be <= max ({self.max})", self.min)
        initial = self.initial if self.initial is not None else self.min
        if not self.min <= initial <= self.max:
            raise field_error(
                "initial",
                f"initial ({initial}) must be between min ({self.min}) and max ({self.max})",
                initial,
            )
        if self.scaleInThreshold >= self.scaleOutThreshold:
            raise field_error(
                "scaleInThreshold",
                f"scaleInThreshold ({self.scaleInThreshold}) must be below scaleOutThreshold "
                f"({self.scaleOutThreshold})",
                self.scaleInThreshold,
            )
        return self


class Infrastructure(Strict):
    shape: Annotated[str, StringConstraints(pattern=r"^(VM|BM)\.[A-Za-z0-9.]+$")]
    ocpus: float | None = Field(None, gt=0, description="Flex shapes only")
    memoryInGBs: float | None = Field(None, gt=0, description="Flex shapes only")
    replicas: int | None = Field(None, ge=1, le=100, description="Fixed instance count (default 1)")
    autoscaling: Autoscaling | None = None
    bandwidthMbps: int = Field(10, ge=10, le=8000, description="Minimum load balancer bandwidth")
    maximumBandwidthMbps: int | None = Field(None, ge=10, le=8000)
    subnetId: SubnetId | None = Field(None, description="Custom networking; default is service-managed")
    privateEndpointId: PrivateEndpointId | None = None

    @model_validator(mode="after")
    def _shape_and_scaling(self) -> Infrastructure:
        if self.replicas is not None and self.autoscaling is not None:
            raise field_error("autoscaling", "set either replicas or autoscaling, not both")
        if self.maximumBandwidthMbps is not None and self.maximumBandwidthMbps < self.bandwidthMbps:
            raise field_error(
                "maximumBandwidthMbps",
                f"maximumBandwidthMbps ({self.maximumBandwidthMbps}) must be >= bandwidthMbps "
                f"({self.bandwidthMbps})",
                self.maximumBandwidthMbps,
            )
        flex = self.shape.endswith(".Flex")
        if not flex:
            for name in ("ocpus", "memoryInGBs"):
                if getattr(self, name) is not None:
                    raise field_error(name, f"{name} is only valid for Flex shapes, not {self.shape}")
            return self
        if self.ocpus is None:
            raise field_error("ocpus", f"Flex shape {self.shape} needs ocpus")
        if self.memoryInGBs is None:
            raise field_error("memoryInGBs", f"Flex shape {self.shape} needs memoryInGBs")
        low_cpu, high_cpu, low_mem, high_mem = FLEX_LIMITS.get(self.shape, (1, 64, 1, 1024))
        if not low_cpu <= self.ocpus <= high_cpu:
            raise field_error("ocpus", f"{self.shape} supports {low_cpu:g}-{high_cpu:g} ocpus", self.ocpus)
        if not low_mem <= self.memoryInGBs <= high_mem:
            raise field_error(
                "memoryInGBs",
                f"{self.shape} supports {low_mem:g}-{high_mem:g} GB of memory",
                self.memoryInGBs,
            )
        per_ocpu = self.memoryInGBs / self.ocpus
        if per_ocpu > FLEX_MAX_MEMORY_PER_OCPU:
            raise field_error(
                "memoryInGBs",
                f"at most {FLEX_MAX_MEMORY_PER_OCPU:g} GB per ocpu on Flex shapes "
                f"({self.memoryInGBs:g} GB for {self.ocpus:g} ocpus)",
                self.memoryInGBs,
            )
        return self

    @property
    def instance_count(self) -> int:
        """The fixed instance count, or the autoscaling initial count."""
        if self.autoscaling is not None:
            return self.autoscaling.initial or self.autoscaling.min
        return self.replicas or 1


# --- runtime ------------------------------------------------------------------------------------------


class SecretRef(Strict):
    """Where a secret value comes from at apply time; the value itself never enters a manifest or a plan."""

    fromEnv: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


def _check_env(env: dict[str, str], secret_env: dict[str, SecretRef]) -> None:
    for key_map, field in ((env, "env"), (secret_env, "secretEnv")):
        for name in key_map:
            if not ENV_NAME_RE.fullmatch(name):
                raise field_error(
                    (field, name),
                    f"environment variable name {name!r} must start with a letter and contain only "
                    "letters, digits and underscores",
                    name,
                )
            if len(name) > ENV_NAME_MAX:
                raise field_error(
                    (field, name), f"environment variable name {name!r} is longer than {ENV_NAME_MAX}", name
                )
    for name in secret_env:
        if name in env:
            raise field_error(("secretEnv", name), f"{name} is set in both env and secretEnv", name)
    total = sum(len(k.encode()) + len(v.encode()) for k, v in env.items())
    total += sum(len(k.encode()) for k in secret_env)
    if total > ENV_TOTAL_MAX:
        raise field_error(
            "env", f"environment variables total {total} bytes; the service allows {ENV_TOTAL_MAX}"
        )


def _check_port(value: int | None) -> int | None:
    if value is None:
        return value
    if not 1024 <= value <= 65535:
        raise ValueError(f"port {value} is outside 1024-65535")
    if value in FORBIDDEN_PORTS:
        raise ValueError(f"port {value} is reserved by the service (24224, 8446 and 8447 are not allowed)")
    return value


EnvValue = Annotated[str, StringConstraints(max_length=ENV_TOTAL_MAX)]


class CondaRuntime(Strict):
    """The service's DEFAULT environment: a conda pack named by the artifact's runtime.yaml."""

    type: Literal["conda"]
    env: dict[str, EnvValue] = Field(default_factory=dict)
    secretEnv: dict[str, SecretRef] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _env_rules(self) -> CondaRuntime:
        _check_env(self.env, self.secretEnv)
        return self


class ContainerRuntime(Strict):
    """Bring-your-own-container (OCIR_CONTAINER)."""

    type: Literal["container"]
    image: Annotated[
        str,
        StringConstraints(
            pattern=r"^[a-z0-9-]+\.ocir\.io/[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)+(:[A-Za-z0-9._-]+)?$"
        ),
    ] = Field(description="<region>.ocir.io/<namespace>/<repo>:<tag>")
    imageDigest: Annotated[str, StringConstraints(pattern=r"^sha256:[a-f0-9]{64}$")] | None = None
    cmd: list[str] = Field(default_factory=list)
    entrypoint: list[str] = Field(default_factory=list)
    serverPort: int = 8080
    healthCheckPort: int | None = Field(None, description="Default: serverPort")
    env: dict[str, EnvValue] = Field(default_factory=dict)
    secretEnv: dict[str, SecretRef] = Field(default_factory=dict)

    _ports = field_validator("serverPort", "healthCheckPort")(classmethod(lambda cls, v: _check_port(v)))

    @model_validator(mode="after")
    def _container_rules(self) -> ContainerRuntime:
        _check_env(self.env, self.secretEnv)
        size = sum(len(part.encode()) for part in [*self.cmd, *self.entrypoint])
        if size > CMD_TOTAL_MAX:
            raise field_error(
                "cmd", f"cmd and entrypoint total {size} bytes; the service allows {CMD_TOTAL_MAX}"
            )
        return self


Runtime = Annotated[CondaRuntime | ContainerRuntime, Field(discriminator="type")]


# --- logging ------------------------------------------------------------------------------------------


class LogGroupRef(Strict):
    """A log group by name (created when missing) or by OCID (must exist)."""

    name: LogName | None = None
    id: LogGroupId | None = None

    @model_validator(mode="after")
    def _name_xor_id(self) -> LogGroupRef:
        if (self.name is None) == (self.id is None):
            raise ValueError("set exactly one of name or id")
        return self


class LogRef(Strict):
    """A custom log by name (created in the log group when missing) or by OCID."""

    name: LogName | None = None
    id: LogId | None = None

    @model_validator(mode="after")
    def _name_xor_id(self) -> LogRef:
        if (self.name is None) == (self.id is None):
            raise ValueError("set exactly one of name or id")
        return self


class Logging(Strict):
    logGroup: LogGroupRef
    access: LogRef | None = None
    predict: LogRef | None = None
    retentionDays: int = Field(30, ge=30, le=180, multiple_of=30, description="For logs mdr creates")

    @model_validator(mode="after")
    def _something_logged(self) -> Logging:
        if self.access is None and self.predict is None:
            raise ValueError("logging needs at least one of access or predict")
        return self


# --- policy -------------------------------------------------------------------------------------------

#: Paths (relative to spec) whose drift a manifest may ask mdr to ignore.
IGNORABLE_PATHS = frozenset(
    {
        "displayName",
        "description",
        "state",
        "model",
        "model.id",
        "infrastructure",
        "infrastructure.shape",
        "infrastructure.ocpus",
        "infrastructure.memoryInGBs",
        "infrastructure.replicas",
        "infrastructure.autoscaling",
        "infrastructure.bandwidthMbps",
        "infrastructure.maximumBandwidthMbps",
        "runtime",
        "runtime.env",
        "runtime.image",
        "runtime.imageDigest",
        "logging",
        "freeformTags",
        "definedTags",
    }
)


class Policy(Strict):
    protect: bool = Field(False, description="Never delete or replace this deployment, even when pruning")
    deletion: Literal["Delete", "Orphan"] = Field(
        "Delete",
        description="Orphan: when removed from the manifests, drop from management and leave it running",
    )
    ignore: list[str] = Field(default_factory=list, description="spec paths whose drift is not corrected")

    @field_validator("ignore")
    @classmethod
    def _known_paths(cls, value: list[str]) -> list[str]:
        for index, path in enumerate(value):
            if path not in IGNORABLE_PATHS:
                known = ", ".join(sorted(IGNORABLE_PATHS))
                raise field_error(index, f"unknown ignore path {path!r}; known paths: {known}", path)
        return value
