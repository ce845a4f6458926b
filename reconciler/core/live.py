"""Live state as data: what exists in OCI for a stack, and who owns it (read by ``adapters.live_reader``).

List summaries carry the whole deployment configuration, so there is no per-resource GET: a stack of N
deployments costs ceil(N/100) list calls per resource type per compartment, plus one ``list_logs`` per log
group the stack uses. Ownership is decided client-side from freeform tags; resources without this stack's
``mdr-stack`` tag are kept only for name resolution (an existing log group is reused, never modified).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.canonical import TAG_ARTIFACT, TAG_KEY, TAG_PENDING, TAG_POLICY, TAG_SECRETS, TAG_STACK

GONE_STATES = frozenset({"DELETED", "DELETING"})
#: a log group or log whose creation failed is as good as gone (its name is free again)
LOGGING_GONE = GONE_STATES | {"FAILED"}


@dataclass(frozen=True)
class Owned:
    """Ownership as read from freeform tags; ``key`` is None for resources of other stacks or none."""

    stack: str | None
    key: str | None

    @staticmethod
    def from_tags(tags: dict[str, str] | None, stack: str) -> Owned:
        tags = tags or {}
        if tags.get(TAG_STACK) != stack:
            return Owned(tags.get(TAG_STACK), None)
        return Owned(stack, tags.get(TAG_KEY))


@dataclass
class LiveResource:
    """A resource read from a list summary: its OCID, its ownership key, and the summary itself."""

    id: str
    key: str | None
    wire: dict[str, Any]  # oci.util.to_dict() of the summary: snake_case keys

    @property
    def lifecycle_state(self) -> str:
        return str(self.wire.get("lifecycle_state") or "UNKNOWN")

    @property
    def tags(self) -> dict[str, str]:
        return dict(self.wire.get("freeform_tags") or {})


@dataclass
class LiveDeployment(LiveResource):
    @property
    def display_name(self) -> str:
        return str(self.wire.get("display_name") or "")

    @property
    def url(self) -> str | None:
        return self.wire.get("model_deployment_url")

    @property
    def model_id(self) -> str | None:
        config = self.wire.get("model_deployment_configuration_details") or {}
        return (config.get("model_configuration_details") or {}).get("model_id")

    @property
    def group_id(self) -> str | None:
        """The model group a MODEL_GROUP deployment serves (None for a single-model one)."""
        config = self.wire.get("model_deployment_configuration_details") or {}
        return (config.get("model_group_configuration_details") or {}).get("model_group_id")

    @property
    def secret_names(self) -> set[str]:
        """Environment variables a previous apply recorded as secret (so they are never printed)."""
        return {n for n in self.tags.get(TAG_SECRETS, "").split(",") if n}

    @property
    def policy(self) -> dict[str, str]:
        """The protect/deletion policy recorded at apply, needed once the manifest itself is gone."""
        pairs = (item.split("=", 1) for item in self.tags.get(TAG_POLICY, "").split(";") if "=" in item)
        return dict(pairs)


@dataclass
class LiveModel(LiveResource):
    @property
    def artifact(self) -> str | None:
        return self.tags.get(TAG_ARTIFACT)

    @property
    def ready(self) -> bool:
        """ACTIVE with its artifact uploaded (mdr clears the pending tag only after the upload)."""
        return self.lifecycle_state == "ACTIVE" and TAG_PENDING not in self.tags

    @property
    def time_created(self) -> str:
        return str(self.wire.get("time_created") or "")


@dataclass
class LiveModelGroup(LiveResource):
    """An owned model group; ``members`` (inference key -> model OCID) is read (GetModelGroup) only for the
    groups live deployments serve, as a list summary leaves them out."""

    members: dict[str, str] | None = None

    @property
    def group_type(self) -> str | None:
        return (self.wire.get("model_group_details") or {}).get("type")


@dataclass
class LiveLogGroup:
    id: str
    key: str | None
    display_name: str
    compartment_id: str
    wire: dict[str, Any] = field(default_factory=dict)


@dataclass
class LiveLog:
    id: str
    key: str | None
    log_group_id: str
    display_name: str
    wire: dict[str, Any] = field(default_factory=dict)


@dataclass
class LiveState:
    stack: str
    deployments: list[LiveDeployment] = field(default_factory=list)
    models: list[LiveModel] = field(default_factory=list)
    log_groups: list[LiveLogGroup] = field(default_factory=list)
    logs: list[LiveLog] = field(default_factory=list)
    #: this stack's model groups (``spec.modelGroup`` deployments)
    model_groups: list[LiveModelGroup] = field(default_factory=list)
    #: deployments in the same compartments that are not this stack's (never touched; counted for output)
    unowned_deployments: int = 0
    #: deployments no stack owns, by OCID: a manifest may adopt one (``mdr.io/adopt``), nothing else
    adoptable: dict[str, LiveDeployment] = field(default_factory=dict)
    #: deployments other stacks own, by OCID -> stack (so that adopting one is refused by name)
    foreign: dict[str, str] = field(default_factory=dict)
    #: models that deployments this stack does not own run (an orphaned one, another team's): never deleted
    models_used_elsewhere: set[str] = field(default_factory=set)
    api_calls: dict[str, int] = field(default_factory=dict)
    _index: LiveIndex | None = field(default=None, repr=False, compare=False)

    def deployments_by_key(self) -> dict[str, list[LiveDeployment]]:
        return self.index().deployments

    def models_by_key(self) -> dict[str, list[LiveModel]]:
        return self.index().models

    def log_group_named(self, compartment_id: str, name: str) -> LiveLogGroup | None:
        """The log group with that display name, preferring one this stack owns."""
        return self.index().groups.get((compartment_id, name))

    def log_named(self, log_group_id: str, name: str) -> LiveLog | None:
        """The log with that display name in the group, preferring one this stack owns."""
        return self.index().logs.get((log_group_id, name))

    def index(self) -> LiveIndex:
        """Lookups by key and name, built once (planning N deployments must stay linear in N)."""
        if self._index is None:
            self._index = LiveIndex.build(self)
        return self._index

    def reindex(self) -> None:
        """Forget the lookups; the pure core calls this on entry, as callers may have edited the lists."""
        self._index = None


@dataclass
class LiveIndex:
    deployments: dict[str, list[LiveDeployment]]
    models: dict[str, list[LiveModel]]
    groups: dict[tuple[str, str], LiveLogGroup]
    logs: dict[tuple[str, str], LiveLog]

    @staticmethod
    def build(state: LiveState) -> LiveIndex:
        groups: dict[tuple[str, str], LiveLogGroup] = {}
        for group in sorted(state.log_groups, key=lambda g: g.key is None, reverse=True):
            groups[(group.compartment_id, group.display_name)] = group  # owned ones written last, so they win
        logs: dict[tuple[str, str], LiveLog] = {}
        for log in sorted(state.logs, key=lambda x: x.key is None, reverse=True):
            logs[(log.log_group_id, log.display_name)] = log
        return LiveIndex(_group(state.deployments), _group(state.models), groups, logs)


def _group(items: Iterable[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for item in items:
        if item.key:
            out.setdefault(item.key, []).append(item)
    return out


def add_deployment(state: LiveState, wire: dict[str, Any]) -> None:
    """Keep a deployment summary (or full record) if it is this stack's; count it otherwise."""
    if wire.get("lifecycle_state") == "DELETED":
        return
    owned = Owned.from_tags(wire.get("freeform_tags"), state.stack)
    if owned.key:
        state.deployments.append(LiveDeployment(wire["id"], owned.key, wire))
        return
    state.unowned_deployments += 1
    model_id = LiveDeployment(wire["id"], None, wire).model_id
    if model_id:
        state.models_used_elsewhere.add(model_id)
    if owned.stack is None:
        state.adoptable[wire["id"]] = LiveDeployment(wire["id"], None, wire)
    else:
        state.foreign[wire["id"]] = owned.stack


def owned_compartments(state: LiveState) -> set[str]:
    """Compartments holding any resource this stack owns (deployments, models, log groups)."""
    found = {str(d.wire.get("compartment_id")) for d in state.deployments if d.wire.get("compartment_id")}
    found |= {str(m.wire.get("compartment_id")) for m in state.models if m.wire.get("compartment_id")}
    found |= {g.compartment_id for g in state.log_groups if g.key}
    return found
