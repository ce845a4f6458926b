"""A deployment made with the oci CLI, every field its ``create`` command takes set, imports exactly.

The user's path: ``oci data-science project create``, ``model create``, ``create-model-artifact`` and
``model-deployment create --model-deployment-configuration-details file://...json --category-log-details ...``,
then ``mdr import --adopt`` and ``mdr plan --detailed-exitcode``, which must say nothing is left to change.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from typing import Any

import oci
import pytest
import yaml
from support.reliability import wait_until
from support.world import EXAMPLE_COMPARTMENT, World

pytestmark = pytest.mark.skipif(shutil.which("oci") is None, reason="needs the oci CLI: pip install oci-cli")

DIGEST = "sha256:" + "cd" * 32
SECRET = "cli-s3cr3t-value"
LOW = 'MemoryUtilization[1m]{resourceId = "MODEL_DEPLOYMENT_OCID"}.grouping().mean() < 15'
HIGH = 'MemoryUtilization[1m]{resourceId = "MODEL_DEPLOYMENT_OCID"}.grouping().mean() > 70'


def _oci(world: World, command: str, **flags: str) -> Any:
    """One oci CLI call against the emulator, as a user types it (``model_id=`` is ``--model-id``); its
    JSON ``data``."""
    args = ["oci", "--config-file", str(world.config_file), "--endpoint", world.emulator.url]
    args += ["--output", "json", *command.split()]
    for flag, value in flags.items():
        args += ["--" + flag.replace("_", "-"), value]
    env = {"OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING": "True", "PATH": os.environ["PATH"]}
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stderr}"
    return json.loads(done.stdout).get("data") if done.stdout.strip() else None


def _file(world: World, name: str, content: object) -> str:
    path = world.workdir / name
    path.write_text(json.dumps(content))
    return f"file://{path}"


def _threshold(value: int, pending: str, by: int) -> dict[str, Any]:
    return {
        "scalingConfigurationType": "THRESHOLD",
        "threshold": value,
        "pendingDuration": pending,
        "instanceCountAdjustment": by,
    }


def _query(query: str, pending: str) -> dict[str, Any]:
    return {"scalingConfigurationType": "QUERY", "query": query, "pendingDuration": pending}


def _configuration(model: str) -> dict[str, Any]:
    """Every settable field of a SINGLE_MODEL deployment, as the CLI's JSON input spells it."""
    return {
        "deploymentType": "SINGLE_MODEL",
        "modelConfigurationDetails": {
            "modelId": model,
            "modelArtifactSignatureId": "ocid1.datasciencemodelartifactsignature.oc1.iad.aaaaaaaacli",
            "bandwidthMbps": 30,
            "maximumBandwidthMbps": 60,
            "instanceConfiguration": {
                "instanceShapeName": "VM.Standard.E4.Flex",
                "modelDeploymentInstanceShapeConfigDetails": {
                    "ocpus": 4,
                    "memoryInGBs": 48,
                    "cpuBaseline": "BASELINE_1_2",
                },
                "subnetId": "ocid1.subnet.oc1.iad.aaaaaaaacli",
                "networkAccessType": "CUSTOM_NETWORKING",
                "privateEndpointId": "ocid1.datascienceprivateendpoint.oc1.iad.aaaaaaaacli",
                "capacityReservationIds": ["ocid1.capacityreservation.oc1.iad.aaaaaaaacli"],
            },
            "scalingPolicy": {
                "policyType": "AUTOSCALING",
                "coolDownInSeconds": 900,
                "isEnabled": True,
                "autoScalingPolicies": [
                    {
                        "autoScalingPolicyType": "THRESHOLD",
                        "minimumInstanceCount": 2,
                        "maximumInstanceCount": 6,
                        "initialInstanceCount": 3,
                        "rules": [
                            {
                                "metricExpressionRuleType": "PREDEFINED_EXPRESSION",
                                "metricType": "CPU_UTILIZATION",
                                "scaleInConfiguration": _threshold(25, "PT5M", 1),
                                "scaleOutConfiguration": _threshold(80, "PT3M", 2),
                            },
                            {
                                "metricExpressionRuleType": "CUSTOM_EXPRESSION",
                                "scaleInConfiguration": _query(LOW, "PT6M"),
                                "scaleOutConfiguration": _query(HIGH, "PT4M"),
                            },
                        ],
                    }
                ],
            },
        },
        "environmentConfigurationDetails": {
            "environmentConfigurationType": "OCIR_CONTAINER",
            "image": f"iad.ocir.io/team/scorer:3.1@{DIGEST}",
            "imageDigest": DIGEST,
            "imageSignatureId": "ocid1.containerimagesignature.oc1.iad.aaaaaaaacli",
            "cmd": ["--workers", "4"],
            "entrypoint": ["python", "/opt/serve.py"],
            "serverPort": 8080,
            "healthCheckPort": 8081,
            "environmentVariables": {"LOG_LEVEL": "debug", "UPSTREAM_TOKEN": SECRET},
            "predictApiSpecification": "openai",
            "customHttpEndpoints": [{"endpointUriSuffix": "/v1/models", "httpMethods": ["GET"]}],
        },
    }


def _logs(world: World) -> dict[str, dict[str, str]]:
    _oci(world, "logging log-group create", compartment_id=EXAMPLE_COMPARTMENT, display_name="cli-logs")
    wait_until(lambda: [g.lifecycle_state for g in world.log_groups()] == ["ACTIVE"])
    group_id = world.log_groups()[0].id
    for name in ("access", "predict"):
        _oci(world, "logging log create", log_group_id=group_id, display_name=name, log_type="CUSTOM")
    logs = world.logging_sdk()
    wait_until(lambda: [x.lifecycle_state for x in logs.list_logs(group_id).data] == ["ACTIVE", "ACTIVE"])
    by_name = {x.display_name: x.id for x in logs.list_logs(group_id).data}
    return {name: {"logGroupId": group_id, "logId": by_name[name]} for name in ("access", "predict")}


def _snake(value: Any) -> Any:
    """The CLI's camelCase JSON as the SDK's ``to_dict`` spells it (environment variable names kept)."""
    if isinstance(value, dict):
        return {_snake_key(k): v if k == "environmentVariables" else _snake(v) for k, v in value.items()}
    return [_snake(v) for v in value] if isinstance(value, list) else value


def _snake_key(key: str) -> str:
    return re.sub("[A-Z]+", lambda m: "_" + m.group(0).lower(), key)


def _lost(sent: Any, live: Any, path: str = "") -> list[str]:
    """Paths of what was sent but is not in the live record (with the live value)."""
    if isinstance(sent, dict) and isinstance(live, dict):
        return [lost for key, value in sent.items() for lost in _lost(value, live.get(key), f"{path}.{key}")]
    if isinstance(sent, list) and isinstance(live, list) and len(sent) == len(live):
        return [
            lost
            for i, (a, b) in enumerate(zip(sent, live, strict=True))
            for lost in _lost(a, b, f"{path}[{i}]")
        ]
    return [] if sent == live else [f"{path}: sent {sent!r}, live {live!r}"]


def _create_with_the_cli(world: World) -> str:
    project = _oci(world, "data-science project create", compartment_id=EXAMPLE_COMPARTMENT)["id"]
    model = _oci(world, "data-science model create", compartment_id=EXAMPLE_COMPARTMENT, project_id=project)[
        "id"
    ]
    artifact = world.workdir / "artifact.zip"
    artifact.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    _oci(world, "data-science model create-model-artifact", model_id=model, model_artifact_file=str(artifact))
    deployment = _oci(
        world,
        "data-science model-deployment create",
        compartment_id=EXAMPLE_COMPARTMENT,
        project_id=project,
        display_name="Scorer via CLI",
        description="made with the oci CLI",
        model_deployment_configuration_details=_file(world, "configuration.json", _configuration(model)),
        category_log_details=_file(world, "logs.json", _logs(world)),
        freeform_tags=json.dumps({"team": "scoring", "cost": "ml"}),
        defined_tags=json.dumps({"Operations": {"CostCenter": "42"}}),
    )
    wait_until(lambda: [d.lifecycle_state for d in world.deployments()] == ["ACTIVE"])
    live = oci.util.to_dict(world.sdk().get_model_deployment(deployment["id"]).data)
    # the CLI sent every field (so the import below has them all to carry)
    assert _lost(_snake(_configuration(model)), live["model_deployment_configuration_details"]) == []
    return str(deployment["id"])


def test_a_deployment_the_oci_cli_made_with_every_field_imports_adopts_and_plans_empty(world: World) -> None:
    deployment_id = _create_with_the_cli(world)
    before = world.sdk().get_model_deployment(deployment_id).data
    args = ("import", "--compartment", EXAMPLE_COMPARTMENT, "--out", "imported", "--stack", "cli")
    done = world.mdr(*args, *world.target_args())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the live deployment sets" not in done.stderr  # no field left out
    text = (world.workdir / "imported" / "scorer-via-cli.yaml").read_text()
    assert SECRET not in text and SECRET not in done.stdout + done.stderr
    spec = yaml.safe_load(text)["spec"]
    assert spec["infrastructure"]["cpuBaseline"] == "BASELINE_1_2"
    assert [rule["metric"] for rule in spec["infrastructure"]["autoscaling"]["rules"]] == ["CPU", "CUSTOM"]
    assert spec["runtime"]["predictApiSpecification"] == "openai"

    adopt = world.mdr(*args, "--adopt", "--auto-approve", *world.target_args())
    assert adopt.returncode == 0, adopt.stdout + adopt.stderr
    plan = world.mdr("plan", "imported", "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout + plan.stderr

    after = world.sdk().get_model_deployment(deployment_id).data
    assert after.freeform_tags["mdr-stack"] == "cli"  # adopted: tags only, nothing else touched
    assert {k: v for k, v in after.freeform_tags.items() if not k.startswith("mdr-")} == before.freeform_tags
    assert after.model_deployment_configuration_details == before.model_deployment_configuration_details
    assert after.category_log_details == before.category_log_details
    assert after.defined_tags == before.defined_tags and after.description == before.description
