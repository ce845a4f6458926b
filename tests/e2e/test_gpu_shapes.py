"""An LLM on a GPU shape, end to end through the real SDK against the emulator: the deployment is created on
the GPU shape and serves; ``ocpus``/``memoryInGBs`` (which only Flex shapes take) and a GPU shape the
service does not offer are refused, naming the file, line and field, before anything changes."""

from __future__ import annotations

import shutil

import pytest
from support.world import REPO, World

FLEX = "    shape: VM.Standard.E4.Flex\n    ocpus: 1\n    memoryInGBs: 16\n"
GPU = "    shape: VM.GPU.A10.1\n"


@pytest.fixture
def llm(world: World) -> World:
    shutil.copytree(
        REPO / "examples" / "llm", world.workdir / "llm", ignore=shutil.ignore_patterns("__pycache__")
    )
    return world


def _set_infrastructure(world: World, text: str) -> None:
    manifest = world.workdir / "llm" / "story-llm.yaml"
    source = manifest.read_text(encoding="utf-8")
    assert FLEX in source
    manifest.write_text(source.replace(FLEX, text), encoding="utf-8")


def test_an_llm_on_a_gpu_shape_is_created_on_it_and_serves(llm: World) -> None:
    _set_infrastructure(llm, GPU)

    applied = llm.mdr("apply", "llm", "--auto-approve")

    assert applied.returncode == 0, applied.stdout + applied.stderr
    [deployment] = llm.sdk().list_model_deployments("ocid1.compartment.oc1..aaaaaaaallmdemo").data
    config = deployment.model_deployment_configuration_details.model_configuration_details
    assert config.instance_configuration.instance_shape_name == "VM.GPU.A10.1"
    assert config.instance_configuration.model_deployment_instance_shape_config_details is None
    again = llm.mdr("plan", "llm", "--detailed-exitcode")
    assert again.returncode == 0, again.stdout  # nothing left to change
    answer = llm.mdr(
        "predict",
        "llm",
        "story-llm",
        "--data",
        '{"messages": [{"role": "user", "content": "Hi"}]}',
        *llm.target_args(),
    )
    assert answer.returncode == 0, answer.stderr
    assert "Once upon a time" in answer.stdout


def test_ocpus_on_a_gpu_shape_is_refused_at_its_line(llm: World) -> None:
    _set_infrastructure(llm, GPU + "    ocpus: 4\n")

    validated = llm.mdr("validate", "llm")

    assert validated.returncode == 1
    assert "story-llm.yaml:" in validated.stdout + validated.stderr
    assert "ocpus is only valid for Flex shapes, not VM.GPU.A10.1" in validated.stdout + validated.stderr


def test_a_gpu_shape_the_service_does_not_offer_changes_nothing(llm: World) -> None:
    _set_infrastructure(llm, "    shape: VM.GPU.Z9.1\n")

    planned = llm.mdr("apply", "llm", "--auto-approve")

    assert planned.returncode == 1
    out = planned.stdout + planned.stderr
    assert "VM.GPU.Z9.1" in out and "story-llm.yaml:" in out
    assert llm.sdk().list_model_deployments("ocid1.compartment.oc1..aaaaaaaallmdemo").data == []
