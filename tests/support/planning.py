"""Helpers for the pure planning tests: manifests on disk, and live state built as apply would leave it."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import oci

from reconciler.adapters.manifests import load_stack
from reconciler.adapters.wire import create_deployment_details
from reconciler.core.canonical import (
    TAG_ARTIFACT,
    TAG_DETAILS,
    TAG_KEY,
    TAG_POLICY,
    TAG_SECRETS,
    TAG_SPEC,
    TAG_STACK,
    is_ref,
)
from reconciler.core.desired import DesiredState, build_desired, model_details_record
from reconciler.core.live import LiveDeployment, LiveLog, LiveLogGroup, LiveModel, LiveState
from reconciler.core.plan import Plan, PlanOptions
from reconciler.core.rules import build_plan, policy_tag, secrets_tag
from reconciler.core.stack import Stack

STACK_NAME = "risk-prod"
COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaarisk"
PROJECT = "ocid1.datascienceproject.oc1.iad.aaaaaaaarisk"
SALT = "test-salt"

STACK_FILE = f"""stack: {STACK_NAME}
region: us-ashburn-1
defaults:
  compartmentId: {COMPARTMENT}
  projectId: {PROJECT}
maxDeletes: 3
"""

DEPLOYMENT = """apiVersion: mdr/v1
kind: ModelDeployment
metadata:
  name: {name}
spec:
  displayName: {name} display
  model:
    artifact: model
  infrastructure:
    shape: VM.Standard.E4.Flex
    ocpus: 1
    memoryInGBs: 16
    replicas: 1
  runtime:
    type: conda
    env: {{WEB_CONCURRENCY: "2"}}
    secretEnv: {{API_KEY: {{fromEnv: TEST_API_KEY}}}}
  logging:
    logGroup: {{name: risk-logs}}
    access: {{name: {name}-access}}
    predict: {{name: {name}-predict}}
"""

_ids = itertools.count(1)


def new_id(kind: str) -> str:
    return f"ocid1.{kind}.oc1.iad.aaaa{next(_ids):08d}"


def write_stack(root: Path, manifests: dict[str, str], stack_file: str = STACK_FILE) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "mdr.yaml").write_text(stack_file)
    for name, text in manifests.items():
        (root / name).write_text(text)
    return root


def identities_for(stack: Stack, identity: str = "sha256:" + "ab" * 32) -> dict[str, str]:
    return {d.name: identity for d in stack.deployments if d.manifest.spec.model.artifact}


def secrets_for(stack: Stack, values: dict[str, str | None]) -> dict[str, dict[str, str | None]]:
    return {
        d.name: {n: values.get(ref.fromEnv) for n, ref in d.manifest.spec.runtime.secretEnv.items()}
        for d in stack.deployments
    }


def plan_for(
    stack: Stack,
    live: LiveState,
    secret_env: dict[str, str | None] | None = None,
    identity: str = "sha256:" + "ab" * 32,
    **options: Any,
) -> Plan:
    secrets = secrets_for(stack, secret_env if secret_env is not None else {"TEST_API_KEY": "s3cret"})
    desired = build_desired(stack, live, identities_for(stack, identity), secrets, SALT)
    config = stack.config
    assert config is not None
    opts = PlanOptions(
        prune=options.pop("prune", config.prune), max_deletes=config.maxDeletes, salt=SALT, **options
    )
    return build_plan(desired, live, config.region, opts)


def converge(
    stack: Stack,
    secret_env: dict[str, str] | None = None,
    identity: str = "sha256:" + "ab" * 32,
    live: LiveState | None = None,
) -> LiveState:
    """Live state exactly as a correct apply of ``stack`` leaves it (models, logs, deployments created)."""
    secret_env = secret_env if secret_env is not None else {"TEST_API_KEY": "s3cret"}
    live = live or LiveState(STACK_NAME)
    secrets = secrets_for(stack, dict(secret_env))
    desired = build_desired(stack, live, identities_for(stack, identity), secrets, SALT)
    for group in desired.log_groups.values():
        if group.live_id is None:
            live.log_groups.append(
                LiveLogGroup(new_id("loggroup"), group.key, group.name, group.compartment_id)
            )
    desired = build_desired(stack, live, identities_for(stack, identity), secrets, SALT)
    for log in desired.logs.values():
        if log.live_id is None:
            live.logs.append(LiveLog(new_id("log"), log.key, log.group_id, log.name))
    for model in desired.models.values():
        if model.live_id is None:
            tags = {
                TAG_STACK: STACK_NAME,
                TAG_KEY: model.key,
                TAG_ARTIFACT: model.identity,
                TAG_DETAILS: model_details_record(model.details),
            }
            wire = {
                "display_name": model.details["displayName"],
                "freeform_tags": tags,
                "lifecycle_state": "ACTIVE",
                "time_created": f"2026-01-01T{next(_ids):012d}",
            }
            live.models.append(LiveModel(new_id("datasciencemodel"), model.key, wire))
    desired = build_desired(stack, live, identities_for(stack, identity), secrets, SALT)
    _apply_deployments(desired, live, secret_env)
    return live


def _apply_deployments(desired: DesiredState, live: LiveState, secret_env: dict[str, str]) -> None:
    by_key = live.deployments_by_key()
    for key, wanted in desired.deployments.items():
        assert not is_ref(wanted.canonical["model"]["id"])
        values = {name: secret_env[src] for name, src in wanted.secret_sources.items()}
        tags = {
            **wanted.canonical["freeformTags"],
            TAG_STACK: STACK_NAME,
            TAG_KEY: key,
            TAG_SPEC: wanted.spec_hash,
            TAG_POLICY: policy_tag(wanted),
            TAG_SECRETS: secrets_tag(wanted),
        }
        wire = oci.util.to_dict(create_deployment_details(wanted.canonical, values, tags))
        wire["lifecycle_state"] = wanted.canonical["state"]
        wire["model_deployment_url"] = "https://example/md"
        for old in by_key.get(key, []):
            live.deployments.remove(old)
        live.deployments.append(LiveDeployment(new_id("datasciencemodeldeployment"), key, wire))


def load(root: Path) -> Stack:
    stack = load_stack(root)
    assert stack.issues == [], [str(i) for i in stack.issues]
    return stack
