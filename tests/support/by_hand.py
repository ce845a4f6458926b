"""Resources made "by hand" through the SDK, as a person or another tool (the console, Terraform) would make
them before mdr manages them: the starting point of the import tests."""

from __future__ import annotations

from oci.data_science import models as dm
from oci.logging import models as lm

from support.reliability import wait_until
from support.world import EXAMPLE_COMPARTMENT, EXAMPLE_PROJECT, World

#: the smallest valid zip: an artifact the emulator accepts, holding nothing
EMPTY_ZIP = b"PK\x05\x06" + b"\0" * 18
CHURN_IMAGE = "iad.ocir.io/team/churn:2.0"


def model(world: World) -> str:
    """An ACTIVE catalog model with an (empty) artifact."""
    details = dm.CreateModelDetails(compartment_id=EXAMPLE_COMPARTMENT, project_id=EXAMPLE_PROJECT)
    model_id = str(world.sdk().create_model(details).data.id)
    world.sdk().create_model_artifact(model_id, EMPTY_ZIP)
    return model_id


def predict_log(world: World, group_name: str) -> tuple[str, str]:
    """A new log group holding one custom log named ``predict``: (group OCID, log OCID), both ACTIVE."""
    logging = world.logging_sdk()
    logging.create_log_group(
        lm.CreateLogGroupDetails(compartment_id=EXAMPLE_COMPARTMENT, display_name=group_name)
    )
    wait_until(lambda: [g.lifecycle_state for g in world.log_groups()] == ["ACTIVE"])
    group = world.log_groups()[0].id
    logging.create_log(group, lm.CreateLogDetails(display_name="predict", log_type="CUSTOM"))
    wait_until(lambda: [x.lifecycle_state for x in logging.list_logs(group).data] == ["ACTIVE"])
    return group, logging.list_logs(group).data[0].id


def threshold(value: int, **extra: object) -> dm.PredefinedExpressionThresholdScalingConfiguration:
    return dm.PredefinedExpressionThresholdScalingConfiguration(threshold=value, **extra)


def autoscaled(
    model_id: str,
    *,
    ocpus: float,
    memory_in_gbs: float,
    metric: str,
    counts: tuple[int, int, int],
    scale_in: dm.PredefinedExpressionThresholdScalingConfiguration,
    scale_out: dm.PredefinedExpressionThresholdScalingConfiguration,
    environment: dict[str, str],
) -> dm.SingleModelDeploymentConfigurationDetails:
    """A conda deployment on a flex shape with one threshold autoscaling rule; ``counts`` is (minimum,
    maximum, initial) instances."""
    minimum, maximum, initial = counts
    rule = dm.PredefinedMetricExpressionRule(
        metric_type=metric, scale_in_configuration=scale_in, scale_out_configuration=scale_out
    )
    policy = dm.ThresholdBasedAutoScalingPolicyDetails(
        minimum_instance_count=minimum,
        maximum_instance_count=maximum,
        initial_instance_count=initial,
        rules=[rule],
    )
    shape = dm.ModelDeploymentInstanceShapeConfigDetails(ocpus=ocpus, memory_in_gbs=memory_in_gbs)
    return dm.SingleModelDeploymentConfigurationDetails(
        model_configuration_details=dm.ModelConfigurationDetails(
            model_id=model_id,
            instance_configuration=dm.InstanceConfiguration(
                instance_shape_name="VM.Standard.E4.Flex",
                model_deployment_instance_shape_config_details=shape,
            ),
            scaling_policy=dm.AutoScalingPolicy(auto_scaling_policies=[policy], cool_down_in_seconds=600),
            bandwidth_mbps=20,
        ),
        environment_configuration_details=dm.DefaultModelDeploymentEnvironmentConfigurationDetails(
            environment_variables=environment
        ),
    )


def container(
    model_id: str, health_check_port: int | None = None
) -> dm.SingleModelDeploymentConfigurationDetails:
    """Two fixed instances of a BYOC container (the churn API's image) on a standard shape."""
    return dm.SingleModelDeploymentConfigurationDetails(
        model_configuration_details=dm.ModelConfigurationDetails(
            model_id=model_id,
            instance_configuration=dm.InstanceConfiguration(instance_shape_name="VM.Standard2.1"),
            scaling_policy=dm.FixedSizeScalingPolicy(instance_count=2),
        ),
        environment_configuration_details=dm.OcirModelDeploymentEnvironmentConfigurationDetails(
            image=CHURN_IMAGE,
            entrypoint=["python", "serve.py"],
            server_port=8080,
            health_check_port=health_check_port,
        ),
    )


def deploy(world: World, name: str, configuration: object, **extra: object) -> str:
    """Create a deployment named ``name`` (not waiting for it: see :func:`wait_all_active`)."""
    details = dm.CreateModelDeploymentDetails(
        compartment_id=EXAMPLE_COMPARTMENT,
        project_id=EXAMPLE_PROJECT,
        display_name=name,
        model_deployment_configuration_details=configuration,
        **extra,
    )
    return str(world.sdk().create_model_deployment(details).data.id)


def wait_all_active(world: World) -> None:
    wait_until(lambda: {d.lifecycle_state for d in world.deployments()} == {"ACTIVE"})
