"""Shared checks for the reliability suites: unowned bystanders, convergence, duplicates and leaks."""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import oci
from oci.data_science import models as dm
from oci.logging import models as lm

from reconciler.core.canonical import TAG_KEY, TAG_PENDING, TAG_STACK
from support.world import EXAMPLE_COMPARTMENT, EXAMPLE_PROJECT, EXAMPLES, World


@dataclass
class Bystanders:
    """Resources a person made by hand in the stack's compartment: mdr must never touch them."""

    deployment: str
    model: str
    log_group: str
    before: dict[str, Any]

    @staticmethod
    def create(world: World) -> Bystanders:
        sdk = world.sdk()
        model = sdk.create_model(
            dm.CreateModelDetails(
                compartment_id=EXAMPLE_COMPARTMENT, project_id=EXAMPLE_PROJECT, display_name="hand-made"
            )
        ).data.id
        sdk.create_model_artifact(model, b"PK\x05\x06" + b"\0" * 18)
        details = dm.CreateModelDeploymentDetails(
            compartment_id=EXAMPLE_COMPARTMENT,
            project_id=EXAMPLE_PROJECT,
            display_name="Fraud scorer",  # same name as a managed one: names never decide ownership
            freeform_tags={"owner": "alice"},
            model_deployment_configuration_details=dm.SingleModelDeploymentConfigurationDetails(
                model_configuration_details=dm.ModelConfigurationDetails(
                    model_id=model,
                    instance_configuration=dm.InstanceConfiguration(
                        instance_shape_name="VM.Standard.E4.Flex"
                    ),
                )
            ),
        )
        deployment = sdk.create_model_deployment(details).data.id
        group_response = world.logging_sdk().create_log_group(
            lm.CreateLogGroupDetails(compartment_id=EXAMPLE_COMPARTMENT, display_name="alice-logs")
        )
        wait_until(lambda: _state(sdk.get_model_deployment(deployment)) == "ACTIVE")
        wait_until(
            lambda: (
                [g.lifecycle_state for g in world.log_groups() if g.display_name == "alice-logs"]
                == ["ACTIVE"]
            )
        )
        groups = [g for g in world.log_groups() if g.display_name == "alice-logs"]
        assert groups, group_response.headers
        bystanders = Bystanders(deployment, model, groups[0].id, {})
        bystanders.before = bystanders.read(world)
        return bystanders

    def read(self, world: World) -> dict[str, Any]:
        sdk = world.sdk()
        return {
            "deployment": oci.util.to_dict(sdk.get_model_deployment(self.deployment).data),
            "model": oci.util.to_dict(sdk.get_model(self.model).data),
            "log_group": oci.util.to_dict(world.logging_sdk().get_log_group(self.log_group).data),
        }

    def assert_untouched(self, world: World) -> None:
        assert self.read(world) == self.before


def _state(response: Any) -> str:
    return str(response.data.lifecycle_state)


def wait_until(check: Any, timeout: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def owned(items: list[Any], stack: str) -> list[Any]:
    return [i for i in items if (i.freeform_tags or {}).get(TAG_STACK) == stack]


def logs_in(world: World, group_id: str) -> list[Any]:
    items = oci.pagination.list_call_get_all_results(world.logging_sdk().list_logs, group_id).data
    return [x for x in items if x.lifecycle_state not in ("DELETED", "DELETING")]


def assert_converged(
    world: World, stack: str, names: set[str], keep: int = 3, inactive: frozenset[str] = frozenset()
) -> None:
    """One deployment per key in the wanted state, no stray model, log or log group, and an empty plan."""
    deployments = owned(world.deployments(), stack)
    keys = Counter(d.freeform_tags[TAG_KEY] for d in deployments)
    assert {k.split("/", 1)[1] for k in keys} == names, keys
    assert all(count == 1 for count in keys.values()), f"duplicate deployments: {keys}"
    states = {d.display_name: d.lifecycle_state for d in deployments}
    assert all(state == ("INACTIVE" if name in inactive else "ACTIVE") for name, state in states.items()), (
        states
    )
    in_use = {
        d.model_deployment_configuration_details.model_configuration_details.model_id for d in deployments
    }
    models = owned(world.models(), stack)
    assert in_use <= {m.id for m in models}
    assert not [m.id for m in models if TAG_PENDING in (m.freeform_tags or {})], "half-made models left"
    per_key = Counter(m.freeform_tags[TAG_KEY] for m in models)
    assert all(count <= keep for count in per_key.values()), f"models beyond keep: {per_key}"
    groups = owned(world.log_groups(), stack)
    usable = [g for g in groups if g.lifecycle_state != "FAILED"]
    assert len({g.display_name for g in usable}) == len(usable), "duplicate log groups"
    for group in world.log_groups():
        if group.lifecycle_state == "FAILED":
            continue
        names_in_group = Counter(
            x.display_name for x in logs_in(world, group.id) if x.lifecycle_state != "FAILED"
        )
        assert all(count == 1 for count in names_in_group.values()), f"duplicate logs: {names_in_group}"
    plan = world.mdr("plan", "manifests", "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout + plan.stderr


def write_many(root: Path, count: int, with_logs: bool = True) -> set[str]:
    """A stack of ``count`` conda deployments sharing one artifact folder and one log group."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLES / "mdr.yaml", root / "mdr.yaml")
    shutil.copytree(EXAMPLES / "models", root / "models", ignore=shutil.ignore_patterns("__pycache__"))
    names = set()
    for index in range(count):
        name = f"scorer-{index:02d}"
        names.add(name)
        logging = (
            f"  logging:\n    logGroup: {{name: many-logs}}\n    predict: {{name: {name}-predict}}\n"
            if with_logs
            else ""
        )
        (root / f"{name}.yaml").write_text(
            "apiVersion: mdr/v1\nkind: ModelDeployment\n"
            f"metadata: {{name: {name}}}\n"
            "spec:\n"
            "  model: {artifact: models/fraud-scorer}\n"
            "  infrastructure: {shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16}\n"
            "  runtime: {type: conda}\n" + logging
        )
    return names
