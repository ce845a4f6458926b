"""Deployments Oracle ADS made import exactly: from the live service and from the ADS YAML that made them.

ADS is not a dependency: the two request bodies below are what ``ModelDeployment.deploy()`` of ADS 2.15.2
sends (``_build_model_deployment_details`` and ``_build_model_deployment_configuration_details`` in
``ads/model/deployment/model_deployment.py``), for the ADS YAML next to each, sent through the real SDK as
ADS sends them. ADS fills its defaults in at that point (bandwidth 10, ``ocpus`` 1 and 16 GB for a Flex
shape, scale-in 30 and scale-out 70, ``isEnabled`` true) and sends no pending duration, so the service's
own default applies; ``webConcurrency`` becomes the ``WEB_CONCURRENCY`` variable; ``logGroupId`` with
``logId`` is one log for both categories. ``deploymentMode: HTTPS_ONLY`` is not on the wire: SDK 2.189's
``CreateModelDeploymentDetails`` has no such attribute, and ADS's ``to_oci_model`` drops it.
"""

from __future__ import annotations

from typing import Any

import oci
import yaml
from oci.logging import models as lm
from support.reliability import wait_until
from support.world import EXAMPLE_COMPARTMENT, EXAMPLE_PROJECT, World

IMAGE = "iad.ocir.io/team/ads-byoc:1.0"
DIGEST = "sha256:" + "ef" * 32


def _model(world: World) -> str:
    details = oci.data_science.models.CreateModelDetails(
        compartment_id=EXAMPLE_COMPARTMENT, project_id=EXAMPLE_PROJECT
    )
    model = str(world.sdk().create_model(details).data.id)
    world.sdk().create_model_artifact(model, b"PK\x05\x06" + b"\0" * 18)
    return model


def _logs(world: World) -> tuple[str, dict[str, str]]:
    logging = world.logging_sdk()
    logging.create_log_group(lm.CreateLogGroupDetails(compartment_id=EXAMPLE_COMPARTMENT, display_name="ads"))
    wait_until(lambda: [g.lifecycle_state for g in world.log_groups()] == ["ACTIVE"])
    group = world.log_groups()[0].id
    for name in ("access", "predict"):
        logging.create_log(group, lm.CreateLogDetails(display_name=name, log_type="CUSTOM"))
    wait_until(lambda: [x.lifecycle_state for x in logging.list_logs(group).data] == ["ACTIVE", "ACTIVE"])
    return group, {x.display_name: x.id for x in logging.list_logs(group).data}


def _conda(model: str, group: str, log: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A conda deployment: ADS defaults for the shape, a fixed replica count, one log for both categories."""
    ads_yaml = {
        "kind": "deployment",
        "type": "modelDeployment",
        "spec": {
            "displayName": "ads-conda",
            "description": "deployed by ADS (conda)",
            "freeformTags": {"team": "risk"},
            "infrastructure": {
                "kind": "infrastructure",
                "type": "datascienceModelDeployment",
                "spec": {
                    "compartmentId": EXAMPLE_COMPARTMENT,
                    "projectId": EXAMPLE_PROJECT,
                    "shapeName": "VM.Standard.E4.Flex",
                    "replica": 2,
                    "webConcurrency": 4,
                    "logGroupId": group,
                    "logId": log,
                },
            },
            "runtime": {
                "kind": "runtime",
                "type": "conda",
                "spec": {"modelUri": model, "env": {"A": "1"}, "deploymentMode": "HTTPS_ONLY"},
            },
        },
    }
    body = {
        "displayName": "ads-conda",
        "description": "deployed by ADS (conda)",
        "freeformTags": {"team": "risk"},
        "compartmentId": EXAMPLE_COMPARTMENT,
        "projectId": EXAMPLE_PROJECT,
        "modelDeploymentConfigurationDetails": {
            "deploymentType": "SINGLE_MODEL",
            "modelConfigurationDetails": {
                "bandwidthMbps": 10,
                "instanceConfiguration": {
                    "instanceShapeName": "VM.Standard.E4.Flex",
                    "modelDeploymentInstanceShapeConfigDetails": {"ocpus": 1, "memoryInGBs": 16},
                },
                "modelId": model,
                "scalingPolicy": {"policyType": "FIXED_SIZE", "instanceCount": 2},
            },
            "environmentConfigurationDetails": {
                "environmentConfigurationType": "DEFAULT",
                "environmentVariables": {"A": "1", "WEB_CONCURRENCY": "4"},
            },
        },
        "categoryLogDetails": {
            "access": {"logGroupId": group, "logId": log},
            "predict": {"logGroupId": group, "logId": log},
        },
    }
    return ads_yaml, body


def _container(model: str, group: str, logs: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A container deployment with autoscaling on memory, two logs, variables and a wider bandwidth."""
    ads_yaml = {
        "kind": "deployment",
        "type": "modelDeployment",
        "spec": {
            "displayName": "ads-byoc",
            "infrastructure": {
                "kind": "infrastructure",
                "type": "datascienceModelDeployment",
                "spec": {
                    "compartmentId": EXAMPLE_COMPARTMENT,
                    "projectId": EXAMPLE_PROJECT,
                    "shapeName": "VM.Standard.E4.Flex",
                    "shapeConfigDetails": {"ocpus": 2, "memoryInGBs": 32},
                    "bandwidthMbps": 50,
                    "autoScaling": {
                        "scalingType": "memory_utilization",
                        "minimumInstanceCount": 1,
                        "maximumInstanceCount": 4,
                        "initialInstanceCount": 2,
                        "scaleInThreshold": 20,
                        "scaleOutThreshold": 80,
                        "coolDownInSeconds": 600,
                    },
                    "accessLog": {"logGroupId": group, "logId": logs["access"]},
                    "predictLog": {"logGroupId": group, "logId": logs["predict"]},
                },
            },
            "runtime": {
                "kind": "runtime",
                "type": "container",
                "spec": {
                    "modelUri": model,
                    "image": IMAGE,
                    "imageDigest": DIGEST,
                    "entrypoint": ["python", "/opt/ds/model/deployed_model/api.py"],
                    "cmd": ["--port", "5000"],
                    "serverPort": 5000,
                    "healthCheckPort": 5000,
                    "env": {"MODEL_NAME": "byoc"},
                },
            },
        },
    }
    threshold = {"scalingConfigurationType": "THRESHOLD"}
    body = {
        "displayName": "ads-byoc",
        "compartmentId": EXAMPLE_COMPARTMENT,
        "projectId": EXAMPLE_PROJECT,
        "modelDeploymentConfigurationDetails": {
            "deploymentType": "SINGLE_MODEL",
            "modelConfigurationDetails": {
                "bandwidthMbps": 50,
                "instanceConfiguration": {
                    "instanceShapeName": "VM.Standard.E4.Flex",
                    "modelDeploymentInstanceShapeConfigDetails": {"ocpus": 2, "memoryInGBs": 32},
                },
                "modelId": model,
                "scalingPolicy": {
                    "policyType": "AUTOSCALING",
                    "isEnabled": True,
                    "coolDownInSeconds": 600,
                    "autoScalingPolicies": [
                        {
                            "autoScalingPolicyType": "THRESHOLD",
                            "maximumInstanceCount": 4,
                            "minimumInstanceCount": 1,
                            "initialInstanceCount": 2,
                            "rules": [
                                {
                                    "metricExpressionRuleType": "PREDEFINED_EXPRESSION",
                                    "metricType": "MEMORY_UTILIZATION",
                                    "scaleInConfiguration": {**threshold, "threshold": 20},
                                    "scaleOutConfiguration": {**threshold, "threshold": 80},
                                }
                            ],
                        }
                    ],
                },
            },
            "environmentConfigurationDetails": {
                "environmentConfigurationType": "OCIR_CONTAINER",
                "environmentVariables": {"MODEL_NAME": "byoc"},
                "image": IMAGE,
                "imageDigest": DIGEST,
                "cmd": ["--port", "5000"],
                "entrypoint": ["python", "/opt/ds/model/deployed_model/api.py"],
                "serverPort": 5000,
                "healthCheckPort": 5000,
            },
        },
        "categoryLogDetails": {
            "access": {"logGroupId": group, "logId": logs["access"]},
            "predict": {"logGroupId": group, "logId": logs["predict"]},
        },
    }
    return ads_yaml, body


def _deploy_as_ads_does(world: World) -> dict[str, dict[str, Any]]:
    """Both deployments, each created from ADS's request body; their ADS YAML with the ``id`` ADS reports."""
    model = _model(world)
    group, logs = _logs(world)
    made = {}
    for ads_yaml, body in (_conda(model, group, logs["predict"]), _container(model, group, logs)):
        deployment_id = world.sdk().create_model_deployment(body).data.id  # the SDK sends the dict as is
        made[deployment_id] = {**ads_yaml, "spec": {**ads_yaml["spec"], "id": deployment_id}}
    wait_until(lambda: {d.lifecycle_state for d in world.deployments()} == {"ACTIVE"})
    return made


def _live(world: World) -> dict[str, Any]:
    """What a user sees of each deployment, less mdr's ownership tags (adoption may add only those)."""
    out = {}
    for summary in world.deployments():
        live = oci.util.to_dict(world.sdk().get_model_deployment(summary.id).data)
        tags = {k: v for k, v in live.pop("freeform_tags").items() if not k.startswith("mdr-")}
        live.pop("lifecycle_state"), live.pop("lifecycle_details")
        out[summary.id] = {**live, "freeform_tags": tags}
    return out


def _changed(before: Any, after: Any, path: str = "") -> list[str]:
    """Where two live records differ, by path and values (empty when adoption touched nothing)."""
    if isinstance(before, dict) and isinstance(after, dict):
        keys = sorted(set(before) | set(after))
        return [c for k in keys for c in _changed(before.get(k), after.get(k), f"{path}.{k}")]
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [
            c
            for i, pair in enumerate(zip(before, after, strict=True))
            for c in _changed(*pair, f"{path}[{i}]")
        ]
    return [] if before == after else [f"{path}: {before!r} -> {after!r}"]


def _adopted_and_settled(world: World, folder: str) -> None:
    plan = world.mdr("plan", folder, "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert {d.freeform_tags.get("mdr-stack") for d in world.deployments()} == {"ads"}


def test_deployments_ads_made_import_from_the_service_adopt_and_plan_empty(world: World) -> None:
    _deploy_as_ads_does(world)
    before = _live(world)
    args = ("import", "--compartment", EXAMPLE_COMPARTMENT, "--out", "imported", "--stack", "ads")
    adopt = world.mdr(*args, "--adopt", "--auto-approve", *world.target_args())
    assert adopt.returncode == 0, adopt.stdout + adopt.stderr
    assert "the live deployment sets" not in adopt.stderr  # nothing ADS set is left out
    byoc = yaml.safe_load((world.workdir / "imported" / "ads-byoc.yaml").read_text())["spec"]
    assert byoc["infrastructure"]["bandwidthMbps"] == 50
    assert [rule["metric"] for rule in byoc["infrastructure"]["autoscaling"]["rules"]] == ["MEMORY"]
    _adopted_and_settled(world, "imported")
    changed = _changed(before, _live(world))
    assert not changed, "adoption changed more than mdr's tags:\n" + "\n".join(changed)


def test_the_ads_yaml_that_made_them_converts_adopts_and_plans_empty(world: World) -> None:
    made = _deploy_as_ads_does(world)
    before = _live(world)
    (world.workdir / "ads.yaml").write_text(yaml.safe_dump_all(list(made.values())))
    out = world.workdir / "converted"
    out.mkdir()
    (out / "mdr.yaml").write_text(
        f"stack: ads\nregion: us-ashburn-1\ndefaults: {{compartmentId: {EXAMPLE_COMPARTMENT}}}\n"
    )
    done = world.mdr("import", "--from-ads", "ads.yaml", "--out", "converted")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "has no mdr equivalent" not in done.stderr and "not converted" not in done.stderr, done.stderr
    conda = yaml.safe_load((out / "ads-conda.yaml").read_text())
    assert conda["metadata"]["annotations"]["mdr.io/adopt"] in made
    assert conda["spec"]["runtime"]["env"] == {"A": "1", "WEB_CONCURRENCY": "4"}

    adopt = world.mdr("apply", "converted", "--auto-approve")
    assert adopt.returncode == 0, adopt.stdout + adopt.stderr
    assert "Plan: 0 to create, 2 to update, 0 to replace, 0 to delete." in adopt.stdout, adopt.stdout
    _adopted_and_settled(world, "converted")
    changed = _changed(before, _live(world))
    assert not changed, "adoption changed more than mdr's tags:\n" + "\n".join(changed)
