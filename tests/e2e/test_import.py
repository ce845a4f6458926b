"""``mdr import``: existing deployments become manifests whose plan is empty once adopted; ADS YAML converts."""

from __future__ import annotations

import subprocess

import oci
import pytest
import yaml
from oci.data_science import models as dm
from support import by_hand
from support.world import EXAMPLE_COMPARTMENT, EXAMPLE_PROJECT, World


def _create_by_hand(world: World) -> dict[str, str]:
    model = by_hand.model(world)
    group, log = by_hand.predict_log(world, "team-logs")
    autoscaled = by_hand.autoscaled(
        model,
        ocpus=2,
        memory_in_gbs=32,
        metric="CPU_UTILIZATION",
        counts=(1, 3, 1),
        scale_in=by_hand.threshold(20),
        scale_out=by_hand.threshold(80),
        environment={"WEB_CONCURRENCY": "2", "PARTNER_API_KEY": "s3cr3t-value"},
    )
    container = by_hand.container(model, health_check_port=8081)
    logs = dm.CategoryLogDetails(predict=dm.LogDetails(log_group_id=group, log_id=log))
    ids = {
        "Fraud Scorer (prod)": by_hand.deploy(
            world, "Fraud Scorer (prod)", autoscaled, category_log_details=logs
        ),
        "churn": by_hand.deploy(world, "churn", container, freeform_tags={"team": "churn"}),
        "experiment": by_hand.deploy(world, "experiment", container),
        "other-stack": by_hand.deploy(
            world, "other-stack", container, freeform_tags={"mdr-stack": "payments"}
        ),
    }
    by_hand.wait_all_active(world)
    return ids


def _import(world: World, *extra: str) -> subprocess.CompletedProcess[str]:
    """Import the two hand-made deployments whose names match into ./imported."""
    base = (
        "import",
        "--compartment",
        EXAMPLE_COMPARTMENT,
        "--name-filter",
        "^(Fraud|churn)",
        "--out",
        "imported",
    )
    return world.mdr(*base, *extra, *world.target_args())


def test_import_then_adopt_yields_manifests_whose_plan_is_empty(world: World) -> None:
    ids = _create_by_hand(world)
    before = {d.id: oci.util.to_dict(d) for d in world.deployments()}
    done = _import(world, "--stack", "imported")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (world.workdir / "imported").iterdir()) == [
        "churn.yaml",
        "fraud-scorer-prod.yaml",
        "mdr.yaml",
    ]
    fraud_text = (world.workdir / "imported" / "fraud-scorer-prod.yaml").read_text()
    assert "s3cr3t-value" not in fraud_text and "s3cr3t-value" not in done.stdout + done.stderr
    assert "PARTNER_API_KEY looks like a secret" in done.stderr
    fraud = yaml.safe_load(fraud_text)
    assert fraud["metadata"]["annotations"] == {"mdr.io/adopt": ids["Fraud Scorer (prod)"]}
    # made without pending durations (the service's PT3M), so written as rules, not mdr's short form
    (rule,) = fraud["spec"]["infrastructure"]["autoscaling"]["rules"]
    assert rule["metric"] == "CPU" and rule["scaleOut"] == {"threshold": 80, "pendingDuration": "PT3M"}
    assert world.mdr("validate", "imported").returncode == 0

    plan = world.mdr("plan", "imported", "--detailed-exitcode")
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert "to create" in plan.stdout and "0 to create, 2 to update, 0 to replace, 0 to delete" in plan.stdout
    assert plan.stdout.count("adopt ocid1.datasciencemodeldeployment") == 2

    adopt = _import(world, "--adopt", "--auto-approve")
    assert adopt.returncode == 0, adopt.stdout + adopt.stderr
    after = world.mdr("plan", "imported", "--detailed-exitcode")
    assert after.returncode == 0, after.stdout + after.stderr
    live = {d.id: d for d in world.deployments()}
    assert set(live) == set(before)  # adopted, not re-created
    assert live[ids["churn"]].freeform_tags["mdr-stack"] == "imported"
    assert live[ids["experiment"]].freeform_tags == {}  # filtered out: untouched
    assert live[ids["other-stack"]].freeform_tags == {"mdr-stack": "payments"}  # another stack's: untouched
    config = live[ids["Fraud Scorer (prod)"]].model_deployment_configuration_details
    assert config.environment_configuration_details.environment_variables["PARTNER_API_KEY"] == "s3cr3t-value"


def test_adopting_another_stacks_deployment_is_refused(world: World) -> None:
    ids = _create_by_hand(world)
    root = world.workdir / "stack"
    root.mkdir()
    (root / "mdr.yaml").write_text(
        f"stack: thief\nregion: us-ashburn-1\n"
        f"defaults: {{compartmentId: {EXAMPLE_COMPARTMENT}, projectId: {EXAMPLE_PROJECT}}}\n"
    )
    model = world.sdk().list_models(EXAMPLE_COMPARTMENT).data[0].id
    (root / "steal.yaml").write_text(
        "apiVersion: mdr/v1\nkind: ModelDeployment\n"
        f"metadata: {{name: steal, annotations: {{mdr.io/adopt: {ids['other-stack']}}}}}\n"
        f"spec:\n  model: {{id: {model}}}\n  infrastructure: {{shape: VM.Standard2.1}}\n  runtime: {{type: conda}}\n"
    )
    world.emulator.reset_counters()
    result = world.mdr("apply", "stack", "--auto-approve")
    assert result.returncode == 1
    assert (
        "cannot adopt" in result.stdout + result.stderr
        and "'payments' owns it" in result.stdout + result.stderr
    )
    assert world.emulator.mutating_calls() == 0


ADS_CONTAINER = """kind: deployment
spec:
  description: The model deployment description
  displayName: Model Deployment
  freeformTags:
    key1: value1
  infrastructure:
    kind: infrastructure
    spec:
      bandwidthMbps: 10
      compartmentId: ocid1.compartment.oc1..<unique_id>
      logGroupId: ocid1.loggroup.oc1.iad.<unique_id>
      logId: ocid1.log.oc1.iad.<unique_id>
      projectId: ocid1.datascienceproject.oc1.<unique_id>
      replica: 1
      shapeName: VM.Standard.E4.Flex
      shapeConfigDetails:
        ocpus: 1
        memoryInGBs: 16
      webConcurrency: 10
    type: datascienceModelDeployment
  runtime:
    kind: runtime
    spec:
      deploymentMode: HTTPS_ONLY
      entrypoint:
      - python
      - /opt/ds/model/deployed_model/api.py
      env:
        key: value
      healthCheckPort: 5000
      image: iad.ocir.io/<namespace>/<image>:<tag>
      imageDigest: <IMAGE_DIGEST>
      modelUri: <MODEL_URI>
      serverPort: 5000
    type: container
type: modelDeployment
"""

ADS_OBSERVED = """kind: deployment
spec:
  createdBy: ocid1.user.oc1..aaaa
  definedTags: {}
  displayName: my-md
  freeformTags: {}
  id: ocid1.datasciencemodeldeployment.oc1.iad.aaaaaaaamymd
  infrastructure:
    kind: infrastructure
    spec:
      accessLog: {logGroupId: ocid1.loggroup.oc1.iad.aaaagroup, logId: ocid1.log.oc1.iad.aaaaaccess}
      predictLog: {logGroupId: ocid1.loggroup.oc1.iad.aaaagroup, logId: ocid1.log.oc1.iad.aaaapredict}
      bandwidthMbps: 10
      compartmentId: ocid1.compartment.oc1..aaaaaaaariskprod
      deploymentType: SINGLE_MODEL
      policyType: FIXED_SIZE
      projectId: ocid1.datascienceproject.oc1.iad.aaaaaaaariskprod
      replica: 1
      shapeConfigDetails: {memoryInGBs: 16.0, ocpus: 1.0}
      shapeName: VM.Standard.E4.Flex
      webConcurrency: '4'
      bandWidthMbps: 20
    type: datascienceModelDeployment
  lifecycleState: ACTIVE
  modelDeploymentUrl: https://modeldeployment.us-ashburn-1.oci.customer-oci.com/ocid1.datasciencemodeldeployment
  runtime:
    kind: runtime
    spec:
      env: {A: '1', WEB_CONCURRENCY: '4'}
      modelUri: ocid1.datasciencemodel.oc1.iad.aaaaaaaamodel
      bucketUri: oci://bucket@ns/prefix
    type: conda
  timeCreated: 2026-01-01 00:00:00
type: modelDeployment
"""

STACK = """stack: from-ads
region: us-ashburn-1
vars:
  COMPARTMENT_ID: ocid1.compartment.oc1..aaaaaaaariskprod
  PROJECT_ID: ocid1.datascienceproject.oc1.iad.aaaaaaaariskprod
  LOG_GROUP_ID: ocid1.loggroup.oc1.iad.aaaagroup
  ACCESS_LOG_ID: ocid1.log.oc1.iad.aaaalog
  PREDICT_LOG_ID: ocid1.log.oc1.iad.aaaalog
  MODEL_ID: ocid1.datasciencemodel.oc1.iad.aaaaaaaamodel
  IMAGE: iad.ocir.io/team/app:1.0
  IMAGE_DIGEST: sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef
"""


@pytest.mark.parametrize(
    ("source", "expected_warnings"),
    [
        (ADS_CONTAINER, ["'<MODEL_URI>' is a placeholder", "set IMAGE_DIGEST"]),
        (
            ADS_OBSERVED,
            ["createdBy is read-only", "deploymentType is read-only", "bandWidthMbps", "bucketUri"],
        ),
    ],
    ids=["opctl-starter-container", "observed-state-conda"],
)
def test_ads_yaml_converts_validates_and_names_every_unmapped_key(
    world: World, source: str, expected_warnings: list[str]
) -> None:
    (world.workdir / "ads.yaml").write_text(source)
    out = world.workdir / "converted"
    out.mkdir()
    (out / "mdr.yaml").write_text(STACK)
    done = world.mdr("import", "--from-ads", "ads.yaml", "--out", "converted")
    assert done.returncode == 0, done.stderr
    for text in expected_warnings:
        assert text in done.stderr, f"{text!r} not warned about:\n{done.stderr}"
    validated = world.mdr("validate", "converted")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    [manifest] = [p for p in out.glob("*.yaml") if p.name != "mdr.yaml"]
    spec = yaml.safe_load(manifest.read_text())["spec"]
    assert spec["runtime"]["env"]["WEB_CONCURRENCY"] in ("10", "4")  # webConcurrency lands in env, as in ADS
    assert spec["infrastructure"]["shape"] == "VM.Standard.E4.Flex"
    assert spec["logging"]["logGroup"]
