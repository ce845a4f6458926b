"""Every field of a SINGLE_MODEL deployment, end to end through the real SDK and the emulator.

A deployment made by hand with every field set imports into a manifest whose plan, once adopted, is empty;
a hand edit of any field (console, CLI or SDK) then shows in the plan under the field's name; and a field
the service sends that this mdr does not know is named by plan, status and import instead of being lost.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import oci
import pytest
import yaml
from oci.data_science import models as dm
from oci.logging import models as lm
from support.reliability import wait_until
from support.world import EXAMPLE_COMPARTMENT, EXAMPLE_PROJECT, World

DIGEST = "sha256:" + "ab" * 32
SUBNET = "ocid1.subnet.oc1.iad.aaaaaaaaeveryfield"
RESERVATION = "ocid1.capacityreservation.oc1.iad.aaaaaaaaeveryfield"
MODEL_SIGNATURE = "ocid1.datasciencemodelartifactsignature.oc1.iad.aaaaaaaaone"
IMAGE_SIGNATURE = "ocid1.containerimagesignature.oc1.iad.aaaaaaaaone"
LOW = 'CPUUtilization[1m]{resourceId = "MODEL_DEPLOYMENT_OCID"}.grouping().mean() < 10'
HIGH = 'CPUUtilization[1m]{resourceId = "MODEL_DEPLOYMENT_OCID"}.grouping().mean() > 65'


def _model(world: World) -> str:
    details = dm.CreateModelDetails(compartment_id=EXAMPLE_COMPARTMENT, project_id=EXAMPLE_PROJECT)
    model = world.sdk().create_model(details).data.id
    world.sdk().create_model_artifact(model, b"PK\x05\x06" + b"\0" * 18)
    return str(model)


def _log(world: World) -> tuple[str, str]:
    logging = world.logging_sdk()
    logging.create_log_group(lm.CreateLogGroupDetails(compartment_id=EXAMPLE_COMPARTMENT, display_name="all"))
    wait_until(lambda: [g.lifecycle_state for g in world.log_groups()] == ["ACTIVE"])
    group = world.log_groups()[0].id
    logging.create_log(group, lm.CreateLogDetails(display_name="predict", log_type="CUSTOM"))
    wait_until(lambda: [x.lifecycle_state for x in logging.list_logs(group).data] == ["ACTIVE"])
    return group, logging.list_logs(group).data[0].id


def _step(threshold: int | None = None, query: str | None = None, pending: str = "PT5M", by: int = 1) -> Any:
    if query is not None:
        return dm.CustomExpressionQueryScalingConfiguration(
            query=query, pending_duration=pending, instance_count_adjustment=by
        )
    return dm.PredefinedExpressionThresholdScalingConfiguration(
        threshold=threshold, pending_duration=pending, instance_count_adjustment=by
    )


def _autoscaling(
    enabled: bool = True, cool_down: int = 600, out_pending: str = "PT10M", low: str = LOW
) -> Any:
    rules = [
        dm.PredefinedMetricExpressionRule(
            metric_type="CPU_UTILIZATION",
            scale_in_configuration=_step(20),
            scale_out_configuration=_step(75, pending=out_pending, by=2),
        ),
        dm.CustomMetricExpressionRule(
            scale_in_configuration=_step(query=low, pending="PT4M"),
            scale_out_configuration=_step(query=HIGH, pending="PT3M"),
        ),
    ]
    policy = dm.ThresholdBasedAutoScalingPolicyDetails(
        minimum_instance_count=1, maximum_instance_count=4, initial_instance_count=2, rules=rules
    )
    return dm.AutoScalingPolicy(
        cool_down_in_seconds=cool_down, is_enabled=enabled, auto_scaling_policies=[policy]
    )


def _instance(baseline: str = "BASELINE_1_2", reservations: tuple[str, ...] = (RESERVATION,)) -> Any:
    return dm.InstanceConfiguration(
        instance_shape_name="VM.Standard.E4.Flex",
        model_deployment_instance_shape_config_details=dm.ModelDeploymentInstanceShapeConfigDetails(
            ocpus=2, memory_in_gbs=32, cpu_baseline=baseline
        ),
        subnet_id=SUBNET,
        network_access_type="CUSTOM_NETWORKING",
        private_endpoint_id="ocid1.datascienceprivateendpoint.oc1.iad.aaaaaaaaeveryfield",
        capacity_reservation_ids=list(reservations),
    )


def _container(update: bool = False, signature: str = IMAGE_SIGNATURE, suffix: str = "/v1/models") -> Any:
    cls = (
        dm.UpdateOcirModelDeploymentEnvironmentConfigurationDetails
        if update
        else dm.OcirModelDeploymentEnvironmentConfigurationDetails
    )
    return cls(
        image=f"iad.ocir.io/team/llm:1.0@{DIGEST}",
        image_digest=DIGEST,
        image_signature_id=signature,
        cmd=["--port", "8080"],
        entrypoint=["python", "serve.py"],
        server_port=8080,
        health_check_port=8081,
        environment_variables={"MODEL_NAME": "llm"},
        predict_api_specification="openai",
        custom_http_endpoints=[
            dm.InferenceHttpEndpoint(endpoint_uri_suffix=suffix, http_methods=["GET", "POST"])
        ],
    )


def _create(world: World) -> dict[str, str]:
    """Two deployments made by hand: one with every field set, one service-managed ``dsmc://`` image on a
    managed network without internet access."""
    model = _model(world)
    group, log = _log(world)
    full = dm.SingleModelDeploymentConfigurationDetails(
        model_configuration_details=dm.ModelConfigurationDetails(
            model_id=model,
            model_artifact_signature_id=MODEL_SIGNATURE,
            instance_configuration=_instance(),
            scaling_policy=_autoscaling(),
            bandwidth_mbps=20,
            maximum_bandwidth_mbps=40,
        ),
        environment_configuration_details=_container(),
    )
    managed = dm.SingleModelDeploymentConfigurationDetails(
        model_configuration_details=dm.ModelConfigurationDetails(
            model_id=model,
            instance_configuration=dm.InstanceConfiguration(
                instance_shape_name="VM.Standard.E4.Flex",
                model_deployment_instance_shape_config_details=dm.ModelDeploymentInstanceShapeConfigDetails(
                    ocpus=1, memory_in_gbs=16, cpu_baseline="BASELINE_1_8"
                ),
                network_access_type="MANAGED_NETWORKING_NO_INTERNET_ACCESS",
            ),
            scaling_policy=dm.FixedSizeScalingPolicy(instance_count=1),
        ),
        environment_configuration_details=dm.OcirModelDeploymentEnvironmentConfigurationDetails(
            image="dsmc://odsc-vllm-serving:0.6.4.post1.2", server_port=8080
        ),
    )
    ids = {}
    for name, config, extra in (
        (
            "full",
            full,
            {
                "category_log_details": dm.CategoryLogDetails(
                    predict=dm.LogDetails(log_group_id=group, log_id=log)
                ),
                "freeform_tags": {"team": "llm"},
                "defined_tags": {"Operations": {"CostCenter": "42"}},
                "description": "every field",
            },
        ),
        ("managed", managed, {}),
    ):
        details = dm.CreateModelDeploymentDetails(
            compartment_id=EXAMPLE_COMPARTMENT,
            project_id=EXAMPLE_PROJECT,
            display_name=name,
            model_deployment_configuration_details=config,
            **extra,
        )
        ids[name] = str(world.sdk().create_model_deployment(details).data.id)
    wait_until(lambda: {d.lifecycle_state for d in world.deployments()} == {"ACTIVE"})
    return ids


def _import_and_adopt(world: World) -> None:
    args = ("import", "--compartment", EXAMPLE_COMPARTMENT, "--out", "imported", "--stack", "every")
    done = world.mdr(*args, *world.target_args())
    assert done.returncode == 0, done.stdout + done.stderr
    adopt = world.mdr(*args, "--adopt", "--auto-approve", *world.target_args())
    assert adopt.returncode == 0, adopt.stdout + adopt.stderr


def _update(world: World, deployment_id: str, model_config: Any = None, environment: Any = None) -> None:
    """A hand edit of one option group, as the console makes it, waited for."""
    config = dm.UpdateSingleModelDeploymentConfigurationDetails(
        model_configuration_details=model_config, environment_configuration_details=environment
    )
    world.sdk().update_model_deployment(
        deployment_id, dm.UpdateModelDeploymentDetails(model_deployment_configuration_details=config)
    )
    wait_until(lambda: {d.lifecycle_state for d in world.deployments()} == {"ACTIVE"})


def _drifted(world: World) -> set[str]:
    plan = world.mdr("plan", "imported", "--output", "json")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    return {f["path"] for c in json.loads(plan.stdout)["changes"] for f in c["fields"]}


def test_a_deployment_with_every_field_imports_exactly_and_every_hand_edit_shows_in_the_plan(
    world: World,
) -> None:
    ids = _create(world)
    _import_and_adopt(world)
    full = yaml.safe_load((world.workdir / "imported" / "full.yaml").read_text())["spec"]
    assert full["infrastructure"]["cpuBaseline"] == "BASELINE_1_2"
    assert full["infrastructure"]["capacityReservationIds"] == [RESERVATION]
    assert [rule["metric"] for rule in full["infrastructure"]["autoscaling"]["rules"]] == ["CPU", "CUSTOM"]
    assert full["runtime"]["customHttpEndpoints"] == [
        {"endpointUriSuffix": "/v1/models", "httpMethods": ["GET", "POST"]}
    ]
    managed = yaml.safe_load((world.workdir / "imported" / "managed.yaml").read_text())["spec"]
    assert managed["infrastructure"]["networkAccessType"] == "MANAGED_NETWORKING_NO_INTERNET_ACCESS"
    assert managed["runtime"]["image"] == "dsmc://odsc-vllm-serving:0.6.4.post1.2"
    empty = world.mdr("plan", "imported", "--detailed-exitcode")
    assert empty.returncode == 0, empty.stdout + empty.stderr  # nothing lost on the way

    model = world.deployments()[0].model_deployment_configuration_details.model_configuration_details.model_id
    _update(
        world,
        ids["full"],
        dm.UpdateModelConfigurationDetails(
            model_id=model,
            instance_configuration=_instance("BASELINE_1_8", ()),
            scaling_policy=_autoscaling(enabled=False, cool_down=900, out_pending="PT15M", low=LOW + " + 0"),
        ),
    )
    compute = {
        "infrastructure.cpuBaseline",
        "infrastructure.capacityReservationIds",
        "infrastructure.autoscaling.enabled",
        "infrastructure.autoscaling.coolDownSeconds",
        "infrastructure.autoscaling.rules.CPU.scaleOut.pendingDuration",
        "infrastructure.autoscaling.rules.CUSTOM-1.scaleIn.query",
    }
    assert _drifted(world) == compute
    _update(
        world,
        ids["full"],
        dm.UpdateModelConfigurationDetails(model_id=model, model_artifact_signature_id=MODEL_SIGNATURE + "x"),
    )
    _update(world, ids["full"], environment=_container(True, IMAGE_SIGNATURE + "x", "/v1/chat"))
    managed_instance = dm.InstanceConfiguration(
        instance_shape_name="VM.Standard.E4.Flex",
        model_deployment_instance_shape_config_details=dm.ModelDeploymentInstanceShapeConfigDetails(
            ocpus=1, memory_in_gbs=16, cpu_baseline="BASELINE_1_8"
        ),
        network_access_type="MANAGED_NETWORKING_INTERNET_ACCESS",
    )
    _update(
        world,
        ids["managed"],
        dm.UpdateModelConfigurationDetails(model_id=model, instance_configuration=managed_instance),
    )
    assert _drifted(world) == compute | {
        "model.artifactSignatureId",
        "runtime.imageSignatureId",
        "runtime.customHttpEndpoints",
        "infrastructure.networkAccessType",
    }

    applied = world.mdr("apply", "imported", "--auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert _drifted(world) == set()  # and each correction went back through the emulator's rules

    manifest = world.workdir / "imported" / "full.yaml"
    document = yaml.safe_load(manifest.read_text())
    del document["spec"]["model"]["artifactSignatureId"]
    manifest.write_text(yaml.safe_dump(document))
    removed = world.mdr("apply", "imported", "--auto-approve")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    live = world.sdk().get_model_deployment(ids["full"]).data.model_deployment_configuration_details
    assert live.model_configuration_details.model_artifact_signature_id is None  # sent as null, not left out
    assert _drifted(world) == set()


def _patch(world: World, deployment_id: str, fields: dict[str, Any]) -> None:
    body = json.dumps({"collection": "deployments", "id": deployment_id, "fields": fields}).encode()
    request = urllib.request.Request(f"{world.emulator.url}/_emulator/patch", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def test_a_live_field_mdr_does_not_know_is_named_by_import_plan_and_status(world: World) -> None:
    ids = _create(world)
    _patch(world, ids["managed"], {"warmPoolSize": 2})  # what a newer service might answer with

    args = ("import", "--compartment", EXAMPLE_COMPARTMENT, "--out", "imported", "--stack", "every")
    imported = world.mdr(*args, *world.target_args())
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert (
        "managed: the live deployment sets warmPoolSize" in imported.stderr and "left out" in imported.stderr
    )
    assert "full:" not in imported.stderr  # every field of the other one is known
    adopt = world.mdr(*args, "--adopt", "--auto-approve", *world.target_args())
    assert adopt.returncode == 0, adopt.stdout + adopt.stderr

    plan = world.mdr("plan", "imported", "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout + plan.stderr  # nothing mdr manages changed...
    assert (
        "warning: ModelDeployment/managed: the live deployment sets warmPoolSize" in plan.stdout
    )  # ...but it says so

    status = world.mdr("status", "imported")
    assert "warning: managed: fields mdr does not manage (not compared): warmPoolSize" in status.stdout


def _shape_config(config: Any) -> Any:
    return config.model_configuration_details.instance_configuration.model_deployment_instance_shape_config_details


def _rules(config: Any) -> Any:
    return config.model_configuration_details.scaling_policy.auto_scaling_policies[0].rules


# each breaks one rule of the service in an otherwise valid configuration (private attributes: the SDK's
# setters would map an unknown enum value to UNKNOWN_ENUM_VALUE before it left the laptop)
BREAKS = {
    "cpuBaseline": lambda c: setattr(_shape_config(c), "_cpu_baseline", "BASELINE_1_3"),
    "subnetId": lambda c: setattr(
        c.model_configuration_details.instance_configuration,
        "network_access_type",
        "MANAGED_NETWORKING_INTERNET_ACCESS",
    ),
    "pendingDuration": lambda c: setattr(_rules(c)[0].scale_in_configuration, "pending_duration", "PT1M"),
    "query": lambda c: setattr(_rules(c)[1].scale_out_configuration, "query", None),
    "two rules on one metric": lambda c: _rules(c).append(_rules(c)[0]),
    "coolDownInSeconds": lambda c: setattr(
        c.model_configuration_details.scaling_policy, "cool_down_in_seconds", 60
    ),
    "image": lambda c: setattr(c.environment_configuration_details, "image", "docker.io/library/python:3"),
    "predictApiSpecification": lambda c: setattr(
        c.environment_configuration_details, "predict_api_specification", "grpc"
    ),
    "httpMethods": lambda c: setattr(
        c.environment_configuration_details.custom_http_endpoints[0], "http_methods", []
    ),
    "defaultEnvironmentVariables": lambda c: setattr(
        c.environment_configuration_details, "default_environment_variables", {"SET_BY": "me"}
    ),
}


@pytest.mark.parametrize("broken", sorted(BREAKS))
def test_the_emulator_refuses_what_the_service_refuses(world: World, broken: str) -> None:
    config = dm.SingleModelDeploymentConfigurationDetails(
        model_configuration_details=dm.ModelConfigurationDetails(
            model_id=_model(world), instance_configuration=_instance(), scaling_policy=_autoscaling()
        ),
        environment_configuration_details=_container(),
    )
    BREAKS[broken](config)
    details = dm.CreateModelDeploymentDetails(
        compartment_id=EXAMPLE_COMPARTMENT,
        project_id=EXAMPLE_PROJECT,
        model_deployment_configuration_details=config,
    )
    with pytest.raises(oci.exceptions.ServiceError) as refused:
        world.sdk().create_model_deployment(details)
    assert refused.value.status == 400 and broken in refused.value.message
    assert world.deployments() == []
