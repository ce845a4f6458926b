"""LLM weights referenced in Object Storage, end to end through the real SDK: apply registers the model by
reference (its artifact a ``model_description.json`` pinning each object's version, ``modelDescription=true``),
no byte of the weights is read or written, an unchanged prefix plans nothing, and a new version of one file
plans a new model and the deployment's swap to it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import oci
import pytest
from oci.object_storage import models as om
from support.world import EXAMPLE_COMPARTMENT, EXAMPLE_PROJECT, REPO, World

STACK = f"""stack: llm-weights
region: us-ashburn-1
defaults:
  compartmentId: {EXAMPLE_COMPARTMENT}
  projectId: {EXAMPLE_PROJECT}
"""

CHAT = """apiVersion: mdr/v1
kind: ModelDeployment
metadata:
  name: chat
spec:
  displayName: Chat
  model:
    weights: oci://llm-weights@mdrlocal/llama/8b/
    displayName: llama-8b
    metadata: {useCaseType: other, framework: other}
  infrastructure: {shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16, replicas: 1, bandwidthMbps: 10}
  runtime:
    type: container
    image: dsmc://odsc-vllm-serving:0.6.4.post1.2
    serverPort: 8080
    predictApiSpecification: openai
"""
SHARDS = {"config.json": b"{}", "model-00001.safetensors": b"W" * 4096, "tokenizer.json": b'{"v": 1}'}


def objects(world: World) -> Any:
    return oci.object_storage.ObjectStorageClient(
        world.emulator.oci_config(),
        service_endpoint=world.emulator.url,
        retry_strategy=oci.retry.NoneRetryStrategy(),
    )


def weights_stack(world: World, versioning: str = "Enabled") -> Any:
    """The stack on disk, and a bucket holding the weights (uploaded by the team, not by mdr)."""
    client = objects(world)
    details = om.CreateBucketDetails(
        name="llm-weights", compartment_id=EXAMPLE_COMPARTMENT, versioning=versioning
    )
    client.create_bucket("mdrlocal", details)
    for name, body in SHARDS.items():
        client.put_object("mdrlocal", "llm-weights", f"llama/8b/{name}", body)
    root = world.workdir / "llm"
    root.mkdir()
    (root / "mdr.yaml").write_text(STACK)
    (root / "chat.yaml").write_text(CHAT)
    return client


def served_model(world: World) -> Any:
    [chat] = world.deployments()
    details = world.sdk().get_model_deployment(chat.id).data.model_deployment_configuration_details
    return world.sdk().get_model(details.model_configuration_details.model_id).data


def test_apply_registers_the_weights_by_reference_without_moving_a_byte_of_them(world: World) -> None:
    client = weights_stack(world)
    versions = {
        v.name: v.version_id
        for v in client.list_object_versions("mdrlocal", "llm-weights", prefix="llama/").data.items
    }
    world.emulator.reset_counters()
    plan = world.mdr("plan", "llm")
    assert "upload model_description.json of weights oci://llm-weights@mdrlocal/llama/8b/" in plan.stdout
    applied = world.mdr("apply", "llm", "--auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr

    calls = world.emulator.counters()
    assert calls.get("GetObject", 0) == 0 and calls.get("PutObject", 0) == 0
    assert calls.get("CreateMultipartUpload", 0) == 0 and calls.get("ExportModelArtifact", 0) == 0
    model = served_model(world)
    assert {(m.key, m.value) for m in model.custom_metadata_list} >= {("modelDescription", "true")}
    artifact = world.sdk().get_model_artifact_content(model.id)
    assert 'filename="model_description.json"' in artifact.headers["content-disposition"]
    description = json.loads(artifact.data.content)
    assert description["type"] == "modelOSSReferenceDescription" and description["version"] == "1.0"
    [described] = description["models"]
    assert (described["namespace"], described["bucketName"], described["prefix"]) == (
        "mdrlocal",
        "llm-weights",
        "llama/8b/",
    )
    assert described["objects"] == [
        {"name": f"llama/8b/{name}", "version": versions[f"llama/8b/{name}"], "sizeInBytes": len(body)}
        for name, body in sorted(SHARDS.items())
    ]

    again = world.mdr("plan", "llm", "--detailed-exitcode")
    assert again.returncode == 0, again.stdout  # an unchanged prefix plans nothing

    client.put_object("mdrlocal", "llm-weights", "llama/8b/model-00001.safetensors", b"W" * 4096)  # retrained
    world.emulator.reset_counters()
    changed = world.mdr("plan", "llm", "--detailed-exitcode")
    assert changed.returncode == 2, changed.stdout + changed.stderr
    assert "+ Model llama-8b will be created" in changed.stdout
    assert "UpdateModelDeployment - update model" in changed.stdout
    assert world.mdr("apply", "llm", "--auto-approve").returncode == 0
    assert served_model(world).id != model.id
    new_versions = json.loads(world.sdk().get_model_artifact_content(served_model(world).id).data.content)
    [shard] = [o for o in new_versions["models"][0]["objects"] if o["name"].endswith(".safetensors")]
    assert shard["version"] != versions["llama/8b/model-00001.safetensors"]
    assert world.emulator.counters().get("GetObject", 0) == 0


def test_a_bucket_without_versioning_is_refused_and_the_command_given_fixes_it(world: World) -> None:
    weights_stack(world, versioning="Disabled")
    world.emulator.reset_counters()
    applied = world.mdr("apply", "llm", "--auto-approve")
    assert applied.returncode == 1
    assert "bucket llm-weights is not versioned" in applied.stderr
    fix = applied.stderr.split("Enable versioning: ", 1)[1].splitlines()[0]
    assert fix == "oci os bucket update --namespace mdrlocal --bucket-name llm-weights --versioning Enabled"
    assert world.emulator.mutating_calls() == 0 and world.models() == []

    oci_cli = Path(sys.executable).with_name("oci")
    if not oci_cli.exists():
        pytest.skip("needs the oci CLI next to this Python: pip install oci-cli")
    command = [str(oci_cli), "--config-file", str(world.config_file), "--endpoint", world.emulator.url]
    env = {"OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING": "True", "PATH": os.environ["PATH"]}
    done = subprocess.run(command + fix.split()[1:], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert world.mdr("apply", "llm", "--auto-approve").returncode == 0
    assert len(world.models()) == 1


def test_validate_checks_the_form_offline(world: World, tmp_path: Path) -> None:
    root = tmp_path / "offline"
    root.mkdir()
    (root / "mdr.yaml").write_text(STACK)
    (root / "chat.yaml").write_text(CHAT.replace("llama/8b/", "llama/8b"))
    checked = world.mdr("validate", str(root))
    assert checked.returncode == 1
    assert "chat.yaml:8:" in checked.stdout + checked.stderr
    assert "spec.model.weights" in checked.stdout + checked.stderr


def test_doctor_checks_the_weights_bucket_is_versioned_and_readable(world: World) -> None:
    client = weights_stack(world, versioning="Disabled")
    result = world.mdr("doctor", "llm", *world.target_args())
    assert result.returncode == 1
    [fail] = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert fail == (
        "FAIL weights oci://llm-weights@mdrlocal/llama/8b/: bucket llm-weights is not versioned; fix: "
        "oci os bucket update --namespace mdrlocal --bucket-name llm-weights --versioning Enabled"
    )
    client.update_bucket("mdrlocal", "llm-weights", om.UpdateBucketDetails(versioning="Enabled"))
    world.emulator.reset_counters()
    result = world.mdr("doctor", "llm", *world.target_args())
    assert result.returncode == 0, result.stdout
    size = sum(len(body) for body in SHARDS.values())
    assert (
        f"OK   weights oci://llm-weights@mdrlocal/llama/8b/: bucket versioned; 3 objects ({size} bytes)"
        in (result.stdout)
    )
    assert world.emulator.mutating_calls() == 0 and "GetObject" not in world.emulator.counters()


def test_promote_carries_weights_by_reference_and_clears_the_targets_artifact(world: World) -> None:
    tree = world.workdir / "deploy"
    shutil.copytree(REPO / "examples" / "environments", tree)
    (tree / "envs/staging/fraud-scorer.yaml").write_text(
        "apiVersion: mdr/v1\nkind: ModelDeploymentPatch\nmetadata:\n  name: fraud-scorer\n"
        "spec:\n  model:\n    artifact: null\n    weights: oci://fraud-weights@mdrlocal/fraud/v3/\n"
    )
    promoted = world.mdr(
        "promote", "fraud-scorer", "--from", "staging", "--to", "prod", "--envs", "deploy/envs"
    )
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    assert "weights oci://fraud-weights@mdrlocal/fraud/v3/" in promoted.stdout
    promotions = (tree / "envs/prod/promotions.yaml").read_text()
    assert "weights: oci://fraud-weights@mdrlocal/fraud/v3/" in promotions and "artifact: null" in promotions
    assert world.mdr("validate", "deploy/envs/prod").returncode == 0


def test_a_saved_plan_never_registers_weights_written_after_it(world: World) -> None:
    client = weights_stack(world)
    assert world.mdr("plan", "llm", "--out", "plan.json").returncode == 0
    client.put_object("mdrlocal", "llm-weights", "llama/8b/tokenizer.json", b'{"v": 2}')  # after review
    applied = world.mdr("apply", "plan.json", "--auto-approve")
    assert applied.returncode == 1
    assert (
        "weights oci://llm-weights@mdrlocal/llama/8b/ changed since the plan"
        in applied.stdout + applied.stderr
    )
    assert world.deployments() == [] and world.models() == []  # refused before any model was made


SCORE_READING_WEIGHTS = """
from pathlib import Path


def load_model():
    return (Path(__file__).parent / "weights.txt").read_text()


def predict(data, model=None):
    return {"weights": model if model is not None else load_model()}
"""
CONDA_CHAT = CHAT.replace(
    """  runtime:
    type: container
    image: dsmc://odsc-vllm-serving:0.6.4.post1.2
    serverPort: 8080
    predictApiSpecification: openai
""",
    "  runtime:\n    type: conda\n",
)


def test_a_deployment_by_reference_serves_the_versions_it_pinned(world: World) -> None:
    """The service downloads the versions the description names: weights written after the model was
    registered are served only once a new model pins them (the next apply)."""
    client = objects(world)
    details = om.CreateBucketDetails(
        name="llm-weights", compartment_id=EXAMPLE_COMPARTMENT, versioning="Enabled"
    )
    client.create_bucket("mdrlocal", details)
    runtime = (REPO / "examples" / "llm" / "models" / "story-llm" / "runtime.yaml").read_bytes()
    files = {"score.py": SCORE_READING_WEIGHTS.encode(), "runtime.yaml": runtime, "weights.txt": b"v1"}
    for name, body in files.items():
        client.put_object("mdrlocal", "llm-weights", f"llama/8b/{name}", body)
    root = world.workdir / "llm"
    root.mkdir()
    (root / "mdr.yaml").write_text(STACK)
    (root / "chat.yaml").write_text(CONDA_CHAT)

    def answer() -> Any:
        result = world.mdr("predict", "llm", "chat", "--data", "{}", *world.target_args())
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads(result.stdout)

    applied = world.mdr("apply", "llm", "--auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert answer() == {"weights": "v1"}

    client.put_object("mdrlocal", "llm-weights", "llama/8b/weights.txt", b"v2")  # retrained, not applied
    assert answer() == {"weights": "v1"}  # the pinned version, not the newest

    assert world.mdr("apply", "llm", "--auto-approve").returncode == 0
    assert answer() == {"weights": "v2"}
