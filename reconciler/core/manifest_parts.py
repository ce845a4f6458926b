"""The parts of a manifest: scalar types, and the model, runtime, logging and policy sections of ``spec``
(``reconciler.core.manifest_infra`` holds infrastructure; ``reconciler.core.manifest`` assembles whole
documents).

Input is strict (see ``reconciler.core.manifest``): no coercion, whole-value patterns, limits from the service.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from reconciler.core.manifest_weights import WeightsUri

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
#: a signature's OCID (the SDK does not say of which resource type a model artifact signature is)
SignatureId = Annotated[str, StringConstraints(pattern=_OCID_RE.format(type="[a-z0-9]+"))]

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


@dataclass(frozen=True)
class Problem:
    """A fault found by a cross-field check, located relative to the object checked."""

    loc: tuple[str | int, ...]
    message: str
    value: Any = None


#: A check over several fields of one object. It receives only the fields that validated on their own
#: (absent keys hold their defaults) and checks only what it can with them, so that ``mdr validate`` runs
#: it over a document with errors elsewhere and reports every independent fault in one run.
CrossCheck = Callable[[Mapping[str, Any]], list[Problem]]

#: Validation context key: validate fields only, leaving ``cross_checks`` to the caller (reconciler.core.stack)
FIELDS_ONLY = "mdr.fields-only"


def has(values: Mapping[str, Any], *names: str) -> bool:
    """True when every named field validated (a cross-field check needs each field it compares)."""
    return all(name in values for name in names)


def problems_error(problems: list[Problem]) -> ValidationError:
    """Every problem as one ValidationError, each at its own field's location."""
    return ValidationError.from_exception_data(
        "mdr",
        [
            InitErrorDetails(type=PydanticCustomError("mdr", p.message), loc=p.loc, input=p.value)
            for p in problems
        ],
    )


class Strict(BaseModel):
    """Base of every manifest model: unknown keys are errors, no value is coerced to another type, NaN and
    infinity are not numbers, patterns match whole values, and values are immutable after load.

    Checks comparing several fields are plain functions in ``cross_checks`` rather than model validators:
    pydantic skips a model validator when any field fails, and a check must be able to run on the fields
    that did validate."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        validate_default=True,
        strict=True,
        allow_inf_nan=False,
        regex_engine="rust-regex",  # ``$`` is the end of the text, as in JSON Schema (not "before a \n")
    )

    cross_checks: ClassVar[tuple[CrossCheck, ...]] = ()

    @model_validator(mode="after")
    def _cross_checks(self, info: ValidationInfo) -> Self:
        if info.context and info.context.get(FIELDS_ONLY):
            return self
        values = {name: getattr(self, name) for name in type(self).model_fields}
        problems = [problem for check in type(self).cross_checks for problem in check(values)]
        if problems:
            raise problems_error(problems)
        return self


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


def _model_source_problems(v: Mapping[str, Any]) -> list[Problem]:
    if not has(v, "artifact", "weights", "id"):
        return []
    if [v["artifact"], v["weights"], v["id"]].count(None) != 2:
        what = "model.artifact (to package a model), model.weights (weights by reference) or model.id"
        return [Problem((), f"set exactly one of {what}")]
    if v["id"] is None:
        if v.get("versionLabel") is not None and v.get("versionSet") is None:
            return [
                Problem(("versionLabel",), "versionLabel labels a version in a version set: set versionSet")
            ]
        return []
    problems = [
        Problem((name,), f"{name} describes a packaged model; it cannot be set with model.id")
        for name in ("displayName", "description", "metadata", "versionSet", "versionLabel")
        if v.get(name) is not None
    ]
    if v.get("customMetadata"):
        problems.append(Problem(("customMetadata",), "customMetadata cannot be set with model.id"))
    return problems


class ModelSpec(Strict):
    """The model served: packaged from an artifact (folder, .zip, ``oci://``) or an existing catalog model."""

    artifact: Annotated[str, StringConstraints(min_length=1)] | None = Field(
        None, description="Folder or .zip relative to the manifest file, or oci://bucket@namespace/object.zip"
    )
    id: ModelId | None = Field(None, description="An existing model catalog OCID (instead of artifact)")
    weights: WeightsUri | None = Field(
        None, description="oci://bucket@namespace/prefix/ of weights in a versioned bucket (by reference)"
    )
    displayName: DisplayName | None = None
    description: Description | None = None
    metadata: DefinedMetadata | None = None
    customMetadata: list[CustomMetadata] = Field(default_factory=list)
    keep: int = Field(3, ge=0, le=50, description="Previous owned models kept for rollback")
    artifactSignatureId: SignatureId | None = Field(
        None, description="OCID of the model artifact's signature, checked by the deployment"
    )
    versionSet: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,255}$")] | None = Field(
        None,
        description="The model version set (by name, in the deployment's compartment and project) each "
        "packaged model joins; created when missing, never deleted by mdr",
    )
    versionLabel: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = Field(
        None, description="The label of the model's version in its version set (e.g. v1.4); needs versionSet"
    )

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

    cross_checks = (_model_source_problems,)


# --- runtime ------------------------------------------------------------------------------------------


VaultSecretId = Annotated[str, StringConstraints(pattern=_ocid_pattern("vaultsecret"))]


def _one_secret_source(v: Mapping[str, Any]) -> list[Problem]:
    if v.get("fromEnv") is None and v.get("fromVault") is None:
        return [Problem(("fromEnv",), "required field: set fromEnv or fromVault")]
    if v.get("fromEnv") is not None and v.get("fromVault") is not None:
        return [Problem(("fromVault",), "set either fromEnv or fromVault, not both")]
    return []


class SecretRef(Strict):
    """Where a secret value comes from at apply time; the value itself never enters a manifest or a plan."""

    fromEnv: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = Field(
        None, description="An environment variable of the process running mdr"
    )
    fromVault: VaultSecretId | None = Field(
        None,
        description="The OCID of an OCI Vault secret (ocid1.vaultsecret...), read with GetSecretBundle "
        "(its current version) at plan and apply",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        # a model validator, not a ``cross_checks`` entry: secretEnv is a map of names, which the cross-check
        # walker (reconciler.core.cross_checks) does not descend into
        problems = _one_secret_source({"fromEnv": self.fromEnv, "fromVault": self.fromVault})
        if problems:
            raise problems_error(problems)
        return self


def _env_name_problem(field: str, name: str) -> Problem | None:
    if not ENV_NAME_RE.fullmatch(name):
        return Problem(
            (field, name),
            f"environment variable name {name!r} must start with a letter and contain only "
            "letters, digits and underscores",
            name,
        )
    if len(name) > ENV_NAME_MAX:
        return Problem(
            (field, name), f"environment variable name {name!r} is longer than {ENV_NAME_MAX}", name
        )
    return None


def _env_problems(v: Mapping[str, Any]) -> list[Problem]:
    """Names of env and secretEnv, a name in both, and their total size as the service counts it."""
    named = [(field, name) for field in ("env", "secretEnv") if has(v, field) for name in v[field]]
    problems = [p for p in (_env_name_problem(field, name) for field, name in named) if p is not None]
    if not has(v, "env", "secretEnv"):
        return problems
    env, secret_env = v["env"], v["secretEnv"]
    problems.extend(
        Problem(("secretEnv", name), f"{name} is set in both env and secretEnv", name)
        for name in secret_env
        if name in env
    )
    total = sum(len(k.encode()) + len(val.encode()) for k, val in env.items())
    total += sum(len(k.encode()) for k in secret_env)
    if total > ENV_TOTAL_MAX:
        problems.append(
            Problem(
                ("env",), f"environment variables total {total} bytes; the service allows {ENV_TOTAL_MAX}"
            )
        )
    return problems


def _command_problems(v: Mapping[str, Any]) -> list[Problem]:
    if not has(v, "cmd", "entrypoint"):
        return []
    size = sum(len(part.encode()) for part in [*v["cmd"], *v["entrypoint"]])
    if size > CMD_TOTAL_MAX:
        return [
            Problem(("cmd",), f"cmd and entrypoint total {size} bytes; the service allows {CMD_TOTAL_MAX}")
        ]
    return []


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

    cross_checks = (_env_problems,)


_DIGEST = r"@sha256:[a-f0-9]{64}"
IMAGE_PATTERN = (
    r"^(?:[a-z0-9-]+\.ocir\.io/[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)+"
    r"|dsmc://[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*)"
    rf"(?::[A-Za-z0-9._-]+)?(?:{_DIGEST})?$"
)
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class HttpEndpoint(Strict):
    """A route of the container that the deployment serves besides /predict."""

    endpointUriSuffix: Annotated[str, StringConstraints(pattern=r"^/?[A-Za-z0-9._~/{}-]{1,255}$")] = Field(
        description="The path after the deployment's URL, e.g. /v1/models"
    )
    httpMethods: list[HttpMethod] = Field(min_length=1, description="The methods the route accepts")


def _image_problems(v: Mapping[str, Any]) -> list[Problem]:
    """A digest in the image reference and imageDigest must agree; no route listed twice."""
    problems = []
    if has(v, "image", "imageDigest") and v["imageDigest"] is not None and "@" in v["image"]:
        pinned = v["image"].rsplit("@", 1)[1]
        if pinned != v["imageDigest"]:
            problems.append(
                Problem(
                    ("imageDigest",), f"imageDigest {v['imageDigest']} is not the image's digest {pinned}"
                )
            )
    if has(v, "customHttpEndpoints"):
        suffixes = [endpoint.endpointUriSuffix for endpoint in v["customHttpEndpoints"]]
        problems.extend(
            Problem(("customHttpEndpoints", i, "endpointUriSuffix"), f"{s} is listed twice", s)
            for i, s in enumerate(suffixes)
            if s in suffixes[:i]
        )
    return problems


class ContainerRuntime(Strict):
    """Bring-your-own-container (OCIR_CONTAINER)."""

    type: Literal["container"]
    image: Annotated[str, StringConstraints(pattern=IMAGE_PATTERN)] = Field(
        description="<region>.ocir.io/<namespace>/<repo>:<tag>, optionally @sha256:<digest>; or a "
        "service-managed image, dsmc://<name>:<tag>"
    )
    imageDigest: Annotated[str, StringConstraints(pattern=r"^sha256:[a-f0-9]{64}$")] | None = None
    cmd: list[str] = Field(default_factory=list)
    entrypoint: list[str] = Field(default_factory=list)
    serverPort: int = 8080
    healthCheckPort: int | None = Field(None, description="Default: serverPort")
    env: dict[str, EnvValue] = Field(default_factory=dict)
    secretEnv: dict[str, SecretRef] = Field(default_factory=dict)

    imageSignatureId: SignatureId | None = Field(None, description="OCID of the container image's signature")
    predictApiSpecification: Literal["openai"] | None = Field(
        None,
        description="openai: serve the OpenAI-compatible routes (/v1/completions, /v1/chat/completions, ...)",
    )
    customHttpEndpoints: list[HttpEndpoint] = Field(
        default_factory=list, max_length=50, description="Routes of the container the deployment lets through"
    )

    _ports = field_validator("serverPort", "healthCheckPort")(classmethod(lambda cls, v: _check_port(v)))

    cross_checks = (_env_problems, _command_problems, _image_problems)


Runtime = Annotated[CondaRuntime | ContainerRuntime, Field(discriminator="type")]


# --- logging ------------------------------------------------------------------------------------------


def _name_xor_id(v: Mapping[str, Any]) -> list[Problem]:
    if has(v, "name", "id") and (v["name"] is None) == (v["id"] is None):
        return [Problem((), "set exactly one of name or id")]
    return []


def _something_logged(v: Mapping[str, Any]) -> list[Problem]:
    if has(v, "access", "predict") and v["access"] is None and v["predict"] is None:
        return [Problem((), "logging needs at least one of access or predict")]
    return []


class LogGroupRef(Strict):
    """A log group by name (created when missing) or by OCID (must exist)."""

    name: LogName | None = None
    id: LogGroupId | None = None

    cross_checks = (_name_xor_id,)


class LogRef(Strict):
    """A custom log by name (created in the log group when missing) or by OCID."""

    name: LogName | None = None
    id: LogId | None = None

    cross_checks = (_name_xor_id,)


class Logging(Strict):
    logGroup: LogGroupRef
    access: LogRef | None = None
    predict: LogRef | None = None
    retentionDays: int = Field(30, ge=30, le=180, multiple_of=30, description="For logs mdr creates")

    cross_checks = (_something_logged,)
