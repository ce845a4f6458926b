"""The plan as data: an ordered list of changes, their fingerprints, and its file form (pure).

Like a Terraform plan, a ``Plan`` is data: each ``Change`` names a resource, an ``Action``, the field-level
before/after (secrets redacted), the API steps that carry it out, the changes it depends on, and a
fingerprint of the live object it was computed from, so that ``apply`` of a saved plan can refuse when the
world moved on.

Safety rules live here, not in the applier: prune only from a completely read tree and only when asked,
never more deletes than ``maxDeletes`` without an explicit allowance, ``protect`` blocks delete and replace,
``deletion: Orphan`` untags instead of deleting, and resources of other stacks never appear at all.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from reconciler import __version__
from reconciler.core.diff import FieldChange
from reconciler.core.live import LiveDeployment, LiveModel

PLAN_FORMAT_VERSION = 2  # 2: ignored and blocked changes; saved files carry a digest
#: the reason of every change that removes a resource because no manifest names it any more
PRUNE_REASON = "no manifest names it any more"


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    ORPHAN = "orphan"  # stop managing: remove mdr's tags, leave the resource running
    NOOP = "noop"


class Kind(StrEnum):
    LOG_GROUP = "LogGroup"
    LOG = "Log"
    MODEL = "Model"
    MODEL_GROUP = "ModelGroup"
    DEPLOYMENT = "ModelDeployment"


class Group(StrEnum):
    """The service's option groups: while ACTIVE, one UpdateModelDeployment may change only one of them."""

    NAME = "name"
    LOGGING = "logging"
    ENVIRONMENT = "environment"
    LOAD_BALANCER_BYOC = "loadBalancerByoc"
    COMPUTE = "compute"
    MODEL = "model"
    TAGS = "tags"  # tags may ride along with any group; a step of its own only when nothing else changes


#: Order of zero-downtime updates: cheap, reversible groups first; the model swap last.
GROUP_ORDER = (
    Group.NAME,
    Group.LOGGING,
    Group.ENVIRONMENT,
    Group.LOAD_BALANCER_BYOC,
    Group.COMPUTE,
    Group.MODEL,
    Group.TAGS,
)


def group_of(path: str, runtime_type: str) -> Group | None:
    """The option group a canonical field path belongs to; None for fields not updated by PUT."""
    top = path.split(".", 1)[0]
    if top in ("displayName", "description"):
        return Group.NAME
    if top in ("freeformTags", "definedTags"):
        return Group.TAGS
    if top == "logging":
        return Group.LOGGING
    if top == "model":
        return Group.MODEL
    if top == "infrastructure":
        bandwidth = path.startswith(("infrastructure.bandwidthMbps", "infrastructure.maximumBandwidthMbps"))
        return Group.LOAD_BALANCER_BYOC if bandwidth else Group.COMPUTE
    if top == "runtime":
        return Group.LOAD_BALANCER_BYOC if runtime_type == "container" else Group.ENVIRONMENT
    return None


@dataclass(frozen=True)
class Step:
    op: str  # the API operation, e.g. UpdateModelDeployment
    description: str
    group: str | None = None
    paths: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "group": self.group,
            "paths": list(self.paths),
            "description": self.description,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Step:
        return Step(data["op"], data["description"], data.get("group"), tuple(data.get("paths") or ()))


@dataclass
class Change:
    id: str
    kind: Kind
    key: str
    action: Action
    name: str
    live_id: str | None = None
    fields: list[FieldChange] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    fingerprint: str | None = None
    reason: str | None = None
    degraded: bool = False
    #: the manifest is unchanged since the last apply (same mdr-spec): the difference was made outside mdr
    drift: bool = False
    live_state: str | None = None
    #: what apply needs to build request bodies (secret values never: only their environment sources)
    desired: dict[str, Any] = field(default_factory=dict)
    #: differences ``policy.ignore`` keeps mdr from acting on (shown, never applied; secrets redacted)
    ignored: list[FieldChange] = field(default_factory=list)
    #: why a guard stops this change (protect, an adoption that cannot be, duplicates); it alone is held back
    blocked: str | None = None

    @property
    def is_prune(self) -> bool:
        """Removes a resource only because its manifest is gone (as opposed to a replace or keep cleanup)."""
        return self.reason == PRUNE_REASON

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "key": self.key,
            "action": self.action.value,
            "name": self.name,
            "liveId": self.live_id,
            "liveState": self.live_state,
            "reason": self.reason,
            "degraded": self.degraded,
            "drift": self.drift,
            "fields": [f.to_dict() for f in self.fields],
            "ignored": [f.to_dict() for f in self.ignored],
            "blocked": self.blocked,
            "steps": [s.to_dict() for s in self.steps],
            "dependsOn": list(self.depends_on),
            "fingerprint": self.fingerprint,
            "desired": self.desired,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Change:
        return Change(
            id=data["id"],
            kind=Kind(data["kind"]),
            key=data["key"],
            action=Action(data["action"]),
            name=data["name"],
            live_id=data.get("liveId"),
            fields=[FieldChange(f["path"], f["before"], f["after"], f["sensitive"]) for f in data["fields"]],
            steps=[Step.from_dict(s) for s in data["steps"]],
            depends_on=list(data.get("dependsOn") or []),
            fingerprint=data.get("fingerprint"),
            reason=data.get("reason"),
            degraded=bool(data.get("degraded")),
            drift=bool(data.get("drift")),
            live_state=data.get("liveState"),
            desired=dict(data.get("desired") or {}),
            ignored=[
                FieldChange(f["path"], f["before"], f["after"], f["sensitive"])
                for f in data.get("ignored") or []
            ],
        )


@dataclass
class PlanOptions:
    prune: bool = False
    max_deletes: int = 3
    allow_deletes: int | None = None
    salt: str = ""


@dataclass
class Plan:
    stack: str
    region: str
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: problems that make the plan unappliable (protect vs replace, too many deletes, duplicates)
    errors: list[str] = field(default_factory=list)
    complete: bool = True
    created_at: str = ""
    api_calls: dict[str, int] = field(default_factory=dict)
    #: what apply of a saved plan needs besides the changes: compartments to re-read, lock and bucket config
    context: dict[str, Any] = field(default_factory=dict)
    #: owned deployments still CREATING/UPDATING with nothing left to send: deployment OCID -> key. They do
    #: not match the manifests yet; apply waits for them instead of reporting success
    settling: dict[str, str] = field(default_factory=dict)

    @property
    def actionable(self) -> list[Change]:
        return [c for c in self.changes if c.action != Action.NOOP]

    @property
    def has_changes(self) -> bool:
        """Anything between the cloud and the manifests: a change, a blocked one, or one still settling."""
        return bool(self.actionable) or bool(self.blocked) or bool(self.settling)

    @property
    def blocked(self) -> list[Change]:
        """Changes a guard holds back; the rest of the plan still applies."""
        return [c for c in self.changes if c.blocked]

    def summary(self) -> dict[str, int]:
        counts = {action.value: 0 for action in Action}
        for change in self.changes:
            if not change.blocked:
                counts[change.action.value] += 1
        return counts

    def change(self, change_id: str) -> Change | None:
        return next((c for c in self.changes if c.id == change_id), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "formatVersion": PLAN_FORMAT_VERSION,
            "mdrVersion": __version__,
            "stack": self.stack,
            "region": self.region,
            "createdAt": self.created_at,
            "complete": self.complete,
            "summary": self.summary(),
            "errors": list(self.errors),
            "warnings": list(self.warnings),
            "apiCalls": dict(self.api_calls),
            "context": dict(self.context),
            "settling": dict(self.settling),
            "changes": [c.to_dict() for c in self.changes],
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Plan:
        version = data.get("formatVersion")
        if version != PLAN_FORMAT_VERSION:
            raise ValueError(
                f"plan format version {version!r} is not supported (expected {PLAN_FORMAT_VERSION}): "
                "it was written by another mdr version; plan again"
            )
        return Plan(
            stack=data["stack"],
            region=data["region"],
            changes=[Change.from_dict(c) for c in data["changes"]],
            warnings=list(data.get("warnings") or []),
            errors=list(data.get("errors") or []),
            complete=bool(data.get("complete")),
            created_at=data.get("createdAt", ""),
            api_calls=dict(data.get("apiCalls") or {}),
            context=dict(data.get("context") or {}),
            settling=dict(data.get("settling") or {}),
        )


# --- fingerprints ---------------------------------------------------------------------------------------


def _digest(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:32]


def deployment_fingerprint(live: LiveDeployment) -> str:
    """What a saved plan was computed from: configuration, state and tags, but no secret values."""
    wire = live.wire
    # copies along the one path that is rewritten (the live record itself is never changed)
    config = dict(wire.get("model_deployment_configuration_details") or {})
    environment = dict(config.get("environment_configuration_details") or {})
    variables = environment.get("environment_variables") or {}
    # Plain values are hashed too, so that an env change behind mdr's back makes the plan stale; secret
    # values are left out entirely (an unkeyed hash in a CI artifact could be brute-forced)
    secret = live.secret_names
    environment["environment_variables"] = {
        k: "(sensitive)" if k in secret else _digest(v) for k, v in sorted(variables.items())
    }
    if config.get("environment_configuration_details"):
        config["environment_configuration_details"] = environment
    if wire.get("model_deployment_configuration_details"):
        wire = {**wire, "model_deployment_configuration_details": config}
    keep = (
        "display_name",
        "description",
        "compartment_id",
        "project_id",
        "lifecycle_state",
        "model_deployment_configuration_details",
        "category_log_details",
        "freeform_tags",
        "defined_tags",
    )
    return _digest({k: wire.get(k) for k in keep})


def model_fingerprint(live: LiveModel) -> str:
    return _digest({"id": live.id, "state": live.lifecycle_state, "tags": live.wire.get("freeform_tags")})


def simple_fingerprint(live_id: str | None, wire: dict[str, Any] | None = None) -> str:
    wire = wire or {}
    return _digest({"id": live_id, "state": wire.get("lifecycle_state"), "tags": wire.get("freeform_tags")})
