"""Planning against the emulator: call counts, drift made through the SDK, output formats."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import oci
import pytest
from oci.data_science import models as dm
from support.world import EXAMPLE_COMPARTMENT, World, copy_example_stack

from reconciler.adapters.cloud import Target, open_provider
from reconciler.adapters.manifests import load_stack
from reconciler.engine.workflows import compute_plan

MANIFEST = """apiVersion: mdr/v1
kind: ModelDeployment
metadata: {{name: d{index:04d}}}
spec:
  model: {{id: {model}}}
  infrastructure: {{shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16}}
  runtime: {{type: conda}}
"""


@pytest.mark.parametrize("count", [30, 250])
def test_plan_costs_one_list_call_per_hundred_resources(world: World, tmp_path: Path, count: int) -> None:
    sdk = world.sdk()
    project = sdk.create_project(dm.CreateProjectDetails(compartment_id=EXAMPLE_COMPARTMENT)).data.id
    model = sdk.create_model(
        dm.CreateModelDetails(compartment_id=EXAMPLE_COMPARTMENT, project_id=project)
    ).data.id
    sdk.create_model_artifact(model, b"PK\x05\x06" + b"\0" * 18)
    root = tmp_path / "stack"
    root.mkdir()
    (root / "mdr.yaml").write_text(
        f"stack: scale\nregion: us-ashburn-1\ndefaults: {{compartmentId: {EXAMPLE_COMPARTMENT}, projectId: {project}}}\n"
    )
    for index in range(count):
        (root / f"d{index:04d}.yaml").write_text(MANIFEST.format(index=index, model=model))
        details = dm.CreateModelDeploymentDetails(
            compartment_id=EXAMPLE_COMPARTMENT,
            project_id=project,
            display_name=f"d{index:04d}",
            freeform_tags={"mdr-stack": "scale", "mdr-key": f"ModelDeployment/d{index:04d}"},
            model_deployment_configuration_details=dm.SingleModelDeploymentConfigurationDetails(
                model_configuration_details=dm.ModelConfigurationDetails(
                    model_id=model,
                    instance_configuration=dm.InstanceConfiguration(
                        instance_shape_name="VM.Standard.E4.Flex"
                    ),
                )
            ),
        )
        sdk.create_model_deployment(details)
    stack = load_stack(root)
    assert stack.issues == []
    world.emulator.reset_counters()
    target = Target(endpoint=world.emulator.url, config_file=str(world.config_file))
    with open_provider(target, "us-ashburn-1") as provider:
        result = compute_plan(stack, provider)
    calls = result.plan.api_calls
    # a page per hundred; past one page, read from both ends at once (both_ends): the page where the two
    # chains meet and the one each had already asked for are the price of waiting half as long
    pages = math.ceil(count / 100)
    assert pages <= calls["ListModelDeployments"] <= (pages if pages == 1 else pages + 3)
    assert sum(calls.values()) <= math.ceil(count / 100) + 10
    assert world.emulator.counters() == calls, "mdr's own count matches what the service saw"
    assert len([c for c in result.plan.changes if c.kind.value == "ModelDeployment"]) == count
    assert "GetModelDeployment" not in calls


def test_drift_made_through_the_sdk_is_detected(world: World) -> None:
    copy_example_stack(world.workdir / "manifests")
    assert world.mdr("apply", "manifests", "--auto-approve").returncode == 0
    [fraud] = [d for d in world.deployments() if d.display_name == "Fraud scorer"]
    config = world.sdk().get_model_deployment(fraud.id).data.model_deployment_configuration_details
    update = dm.UpdateModelDeploymentDetails(
        model_deployment_configuration_details=dm.UpdateSingleModelDeploymentConfigurationDetails(
            model_configuration_details=dm.UpdateModelConfigurationDetails(
                model_id=config.model_configuration_details.model_id,
                scaling_policy=dm.FixedSizeScalingPolicy(instance_count=4),
            )
        )
    )
    world.sdk().update_model_deployment(fraud.id, update)
    oci.wait_until(
        world.sdk(),
        world.sdk().get_model_deployment(fraud.id),
        "lifecycle_state",
        "ACTIVE",
        max_wait_seconds=30,
    )
    plan = world.mdr("plan", "manifests", "--detailed-exitcode", "--output", "json")
    assert plan.returncode == 2
    data = json.loads(plan.stdout)
    [change] = [c for c in data["changes"] if c["action"] != "noop"]
    assert change["key"] == "ModelDeployment/fraud-scorer" and change["drift"] is True
    assert change["fields"] == [
        {"path": "infrastructure.replicas", "before": 4, "after": 1, "sensitive": False}
    ]
    assert [s["group"] for s in change["steps"]] == ["compute"]
    text = world.mdr("plan", "manifests").stdout
    assert "~ ModelDeployment fraud-scorer" in text and "~ infrastructure.replicas: 4 -> 1" in text


def test_bad_input_makes_no_cloud_call(world: World) -> None:
    stack = copy_example_stack(world.workdir / "manifests")
    (stack / "fraud-scorer.yaml").write_text(
        (stack / "fraud-scorer.yaml").read_text().replace("ocpus: 1", "ocpus: 0")
    )
    world.emulator.reset_counters()
    for command in (("plan", "manifests"), ("apply", "manifests", "--auto-approve")):
        result = world.mdr(*command)
        assert result.returncode == 1
        assert "fraud-scorer.yaml:" in result.stderr and "spec.infrastructure.ocpus" in result.stderr
    assert world.emulator.counters() == {}


def test_unreachable_oci_is_a_clear_error_not_a_traceback(world: World) -> None:
    import socket
    import subprocess
    import sys

    copy_example_stack(world.workdir / "manifests")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "reconciler",
            "plan",
            "manifests",
            "--endpoint",
            f"http://127.0.0.1:{closed}",
            "--config-file",
            str(world.config_file),
        ],
        cwd=world.workdir,
        env={**os.environ, "MDR_RETRY_MAX_ATTEMPTS": "1", "MDR_STATE_DIR": str(world.workdir / ".mdr")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "error: cannot reach OCI" in result.stderr
    assert "Traceback" not in result.stderr
