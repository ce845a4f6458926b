"""``mdr import --from-terraform``: deployments Terraform made (here: made through the SDK and written to a state
file as terraform-provider-oci stores them) are adopted, and then the plan is empty."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import oci
from oci.data_science import models as dm
from oci.logging import models as lm
from support.reliability import wait_until
from support.world import EXAMPLE_COMPARTMENT, EXAMPLE_PROJECT, World

#: attributes the provider keeps as maps (everything else that is an object is a block: a list of one)
MAPS = frozenset({"freeform_tags", "defined_tags", "environment_variables"})
#: blocks that repeat: a list of objects already
REPEATED = frozenset({"auto_scaling_policies", "rules"})


def _as_terraform(value: Any, key: str = "") -> Any:
    """A record read through the SDK in the shape terraform-provider-oci stores it in a state file."""
    if key == "defined_tags":
        return {f"{ns}.{name}": v for ns, tags in (value or {}).items() for name, v in tags.items()}
    if key in MAPS:
        return value or {}
    if isinstance(value, dict):
        block = {k: _as_terraform(v, k) for k, v in value.items()}
        return block if key in ("", *REPEATED) else [block]
    if isinstance(value, list) and key in REPEATED:
        return [_as_terraform(item, key) for item in value]
    if value is None:
        return "" if key.endswith(("_id", "name", "image", "digest", "baseline", "duration")) else None
    return value


def _state_file(world: World, ids: dict[str, str]) -> Path:
    resources = []
    for name, deployment_id in ids.items():
        wire = oci.util.to_dict(world.sdk().get_model_deployment(deployment_id).data)
        attributes = _as_terraform(wire)
        attributes["state"] = attributes.pop("lifecycle_state")
        attributes["timeouts"] = None
        resources.append(
            {
                "mode": "managed",
                "type": "oci_datascience_model_deployment",
                "name": name,
                "provider": 'provider["registry.terraform.io/oracle/oci"]',
                "instances": [{"schema_version": 0, "attributes": attributes, "sensitive_attributes": []}],
            }
        )
    state = {"version": 4, "terraform_version": "1.9.8", "serial": 3, "lineage": "x", "resources": resources}
    path = world.workdir / "terraform.tfstate"
    path.write_text(json.dumps(state, indent=2, default=str))
    return path


def _create(world: World) -> dict[str, str]:
    sdk = world.sdk()
    model = sdk.create_model(
        dm.CreateModelDetails(compartment_id=EXAMPLE_COMPARTMENT, project_id=EXAMPLE_PROJECT)
    ).data.id
    sdk.create_model_artifact(model, b"PK\x05\x06" + b"\0" * 18)
    logging = world.logging_sdk()
    logging.create_log_group(
        lm.CreateLogGroupDetails(compartment_id=EXAMPLE_COMPARTMENT, display_name="tf-logs")
    )
    wait_until(lambda: [g.lifecycle_state for g in world.log_groups()] == ["ACTIVE"])
    group = world.log_groups()[0].id
    logging.create_log(group, lm.CreateLogDetails(display_name="predict", log_type="CUSTOM"))
    wait_until(lambda: [x.lifecycle_state for x in logging.list_logs(group).data] == ["ACTIVE"])
    log = logging.list_logs(group).data[0].id
    autoscaled = dm.SingleModelDeploymentConfigurationDetails(
        model_configuration_details=dm.ModelConfigurationDetails(
            model_id=model,
            instance_configuration=dm.InstanceConfiguration(
                instance_shape_name="VM.Standard.E4.Flex",
                model_deployment_instance_shape_config_details=dm.ModelDeploymentInstanceShapeConfigDetails(
                    ocpus=1, memory_in_gbs=16
                ),
            ),
            scaling_policy=dm.AutoScalingPolicy(
                auto_scaling_policies=[
                    dm.ThresholdBasedAutoScalingPolicyDetails(
                        minimum_instance_count=1,
                        maximum_instance_count=4,
                        initial_instance_count=2,
                        rules=[
                            dm.PredefinedMetricExpressionRule(
                                metric_type="MEMORY_UTILIZATION",
                                scale_in_configuration=dm.PredefinedExpressionThresholdScalingConfiguration(
                                    threshold=25, pending_duration="PT5M", instance_count_adjustment=1
                                ),
                                scale_out_configuration=dm.PredefinedExpressionThresholdScalingConfiguration(
                                    threshold=70, pending_duration="PT3M", instance_count_adjustment=1
                                ),
                            )
                        ],
                    )
                ],
                cool_down_in_seconds=600,
            ),
            bandwidth_mbps=20,
        ),
        environment_configuration_details=dm.DefaultModelDeploymentEnvironmentConfigurationDetails(
            environment_variables={"WEB_CONCURRENCY": "2"}
        ),
    )
    container = dm.SingleModelDeploymentConfigurationDetails(
        model_configuration_details=dm.ModelConfigurationDetails(
            model_id=model,
            instance_configuration=dm.InstanceConfiguration(instance_shape_name="VM.Standard2.1"),
            scaling_policy=dm.FixedSizeScalingPolicy(instance_count=2),
        ),
        environment_configuration_details=dm.OcirModelDeploymentEnvironmentConfigurationDetails(
            image="iad.ocir.io/team/churn:2.0", entrypoint=["python", "serve.py"], server_port=8080
        ),
    )
    ids = {}
    for name, configuration, extra in (
        (
            "fraud",
            autoscaled,
            {
                "category_log_details": dm.CategoryLogDetails(
                    predict=dm.LogDetails(log_group_id=group, log_id=log)
                )
            },
        ),
        ("churn", container, {"freeform_tags": {"team": "churn"}, "description": "Churn API"}),
    ):
        details = dm.CreateModelDeploymentDetails(
            compartment_id=EXAMPLE_COMPARTMENT,
            project_id=EXAMPLE_PROJECT,
            display_name=name,
            model_deployment_configuration_details=configuration,
            **extra,
        )
        ids[name] = str(sdk.create_model_deployment(details).data.id)
    wait_until(lambda: {d.lifecycle_state for d in world.deployments()} == {"ACTIVE"})
    return ids


def test_import_from_a_terraform_state_adopts_and_then_plans_nothing(world: World) -> None:
    ids = _create(world)
    state = _state_file(world, ids)
    done = world.mdr(
        "import",
        "--from-terraform",
        str(state),
        "--out",
        "from-tf",
        "--stack",
        "from-tf",
        *world.target_args(),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = world.workdir / "from-tf"
    assert sorted(p.name for p in out.iterdir()) == ["churn.yaml", "fraud.yaml", "mdr.yaml"]
    assert "us-ashburn-1" in (out / "mdr.yaml").read_text()  # the region, from the deployments' OCIDs
    plan = world.mdr("plan", "from-tf", "--detailed-exitcode")
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert "0 to create, 2 to update, 0 to replace, 0 to delete" in plan.stdout
    assert plan.stdout.count("adopt ocid1.datasciencemodeldeployment") == 2
    applied = world.mdr("apply", "from-tf", "--auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    after = world.mdr("plan", "from-tf", "--detailed-exitcode")
    assert after.returncode == 0, after.stdout + after.stderr
    live = {d.id: d for d in world.deployments()}
    assert set(live) == set(ids.values())  # adopted, never re-created
    assert all(d.freeform_tags["mdr-stack"] == "from-tf" for d in live.values())


def test_a_file_that_is_not_a_terraform_state_is_a_one_line_error(world: World) -> None:
    (world.workdir / "broken.tfstate").write_text('{"version": 4,\n  "resources": [}\n')
    result = world.mdr("import", "--from-terraform", "broken.tfstate", "--out", "x")
    assert result.returncode == 1
    assert "broken.tfstate:2:" in result.stderr and "Traceback" not in result.stderr
    assert not (world.workdir / "x").exists()
