"""Environments end to end: a base plus per-environment overlays, `mdr diff-env`, and `mdr promote`,
applied to the emulator through the real SDK (the example tree in examples/environments)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import oci
import pytest
from support.world import REPO, World, edit

EXAMPLE = REPO / "examples" / "environments"
PROD = "ocid1.compartment.oc1..aaaaaaaafraudprod"
STAGING = "ocid1.compartment.oc1..aaaaaaaafraudstaging"


def _tree(world: World) -> Path:
    shutil.copytree(EXAMPLE, world.workdir / "deploy")
    return world.workdir / "deploy"


def _apply(world: World, env: str) -> None:
    result = world.mdr("apply", f"deploy/envs/{env}", "--auto-approve")
    assert result.returncode == 0, result.stdout + result.stderr


def _only_deployment(world: World, compartment: str) -> oci.data_science.models.ModelDeploymentSummary:
    [deployment] = world.deployments(compartment)
    return deployment


def _artifact_tag(world: World, compartment: str) -> str:
    deployment = _only_deployment(world, compartment)
    model_id = deployment.model_deployment_configuration_details.model_configuration_details.model_id
    return world.sdk().get_model(model_id).data.freeform_tags["mdr-artifact"]


def test_each_environment_applies_the_base_with_its_own_patches(world: World) -> None:
    _tree(world)
    _apply(world, "staging")
    _apply(world, "prod")
    prod = _only_deployment(world, PROD).model_deployment_configuration_details
    staging = _only_deployment(world, STAGING).model_deployment_configuration_details
    assert prod.model_configuration_details.scaling_policy.instance_count == 3
    assert (
        prod.model_configuration_details.instance_configuration.model_deployment_instance_shape_config_details.ocpus
        == 2
    )
    assert staging.model_configuration_details.scaling_policy.instance_count == 1
    assert _only_deployment(world, PROD).display_name == "Fraud scorer (prod)"
    assert _artifact_tag(world, PROD) != _artifact_tag(world, STAGING)  # staging runs v2, prod v1


def test_an_overlay_change_is_planned_for_that_environment_only(world: World) -> None:
    tree = _tree(world)
    _apply(world, "staging")
    _apply(world, "prod")
    edit(tree / "envs/prod/fraud-scorer.yaml", "replicas: 3", "replicas: 4")
    prod = world.mdr("plan", "deploy/envs/prod", "--detailed-exitcode")
    assert prod.returncode == 2, prod.stdout + prod.stderr
    assert "replicas" in prod.stdout and "3 → 4" in prod.stdout.replace("->", "→")
    staging = world.mdr("plan", "deploy/envs/staging", "--detailed-exitcode")
    assert staging.returncode == 0, staging.stdout + staging.stderr


def test_diff_env_shows_what_differs_after_the_overlays(world: World) -> None:
    _tree(world)
    result = world.mdr("diff-env", "staging", "prod", "--envs", "deploy/envs")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "spec.infrastructure.replicas: 1 → 3" in out
    assert "spec.policy.protect: False → True" in out
    assert "fraud-v2" in out and "fraud-v1" in out  # the model differs, by the folder each resolves to
    assert "stack: 'fraud-staging' → 'fraud-prod'" in out
    same = world.mdr("diff-env", "deploy/envs/prod", "deploy/envs/prod")
    assert same.stdout.strip() == "deploy/envs/prod and deploy/envs/prod do not differ"


def test_promote_writes_stagings_model_into_prod_and_prod_then_runs_it(world: World) -> None:
    tree = _tree(world)
    _apply(world, "staging")
    _apply(world, "prod")
    result = world.mdr(
        "promote", "fraud-scorer", "--from", "staging", "--to", "prod", "--envs", "deploy/envs"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fraud-v2" in result.stdout and "review it, commit it" in result.stdout
    promotions = (tree / "envs/prod/promotions.yaml").read_text()
    assert "artifact: ../../base/models/fraud-v2" in promotions
    # nothing in the cloud changed yet: the promotion is a change to commit
    assert _artifact_tag(world, PROD) != _artifact_tag(world, STAGING)
    plan = world.mdr("plan", "deploy/envs/prod", "--detailed-exitcode")
    assert plan.returncode == 2 and "fraud-scorer" in plan.stdout
    _apply(world, "prod")
    assert _artifact_tag(world, PROD) == _artifact_tag(world, STAGING)
    prod = _only_deployment(world, PROD).model_deployment_configuration_details.model_configuration_details
    assert prod.scaling_policy.instance_count == 3  # prod's own patch still applies
    again = world.mdr("promote", "fraud-scorer", "--from", "staging", "--to", "prod", "--envs", "deploy/envs")
    assert again.returncode == 0 and "nothing written" in again.stdout
    assert world.mdr("plan", "deploy/envs/prod", "--detailed-exitcode").returncode == 0


def test_promote_refuses_when_prods_own_patch_sets_the_model_and_writes_nothing(world: World) -> None:
    tree = _tree(world)
    edit(
        tree / "envs/prod/fraud-scorer.yaml",
        "  policy:",
        "  model: {artifact: ../../base/models/fraud-v1}\n  policy:",
    )
    result = world.mdr(
        "promote", "fraud-scorer", "--from", "staging", "--to", "prod", "--envs", "deploy/envs"
    )
    assert result.returncode == 1
    assert "would leave prod invalid" in result.stderr and "fraud-scorer.yaml" in result.stderr
    assert not (tree / "envs/prod/promotions.yaml").exists()


def test_a_broken_patch_is_an_error_at_its_own_line_and_changes_nothing(world: World) -> None:
    tree = _tree(world)
    _apply(world, "prod")
    edit(tree / "envs/prod/fraud-scorer.yaml", "replicas: 3", "replicas: three")
    plan = world.mdr("plan", "deploy/envs/prod")
    assert plan.returncode == 1
    assert "envs/prod/fraud-scorer.yaml:11" in plan.stderr and "spec.infrastructure.replicas" in plan.stderr
    # the deployment keeps running as prod had it (3 replicas), never reverted to the base's 1
    prod = _only_deployment(world, PROD).model_deployment_configuration_details.model_configuration_details
    assert prod.scaling_policy.instance_count == 3


def test_a_long_lived_reconciler_sets_aside_a_deployment_whose_patch_is_broken(tmp_path: Path) -> None:
    """The controller plans what it can: the deployment is neither planned from its unpatched base (which
    would revert prod to the base's values) nor pruned."""
    from reconciler.engine.validate import checked_stack

    tree = shutil.copytree(EXAMPLE, tmp_path / "deploy")
    edit(tree / "envs/prod/fraud-scorer.yaml", "replicas: 3", "replicas: three")
    stack, issues = checked_stack(tree / "envs/prod")
    assert issues and stack.deployments == []
    assert stack.invalid_names == {"fraud-scorer"} and not stack.complete
    edit(tree / "envs/prod/fraud-scorer.yaml", "replicas: three", "replicas: 3")
    shutil.copytree(tree / "base/models/fraud-v2", tree / "envs/prod/bad-model")
    (tree / "envs/prod/bad-model/score.py").write_text("def predict(:\n")
    edit(tree / "envs/prod/fraud-scorer.yaml", "  policy:", "  model: {artifact: bad-model}\n  policy:")
    stack, issues = checked_stack(tree / "envs/prod")
    assert any("score.py" in issue.file or "score.py" in issue.message for issue in issues), issues
    assert stack.deployments == [] and stack.invalid_names == {"fraud-scorer"}


def test_the_controller_watches_an_overlays_base_too(tmp_path: Path) -> None:
    from reconciler.engine.controller.triggers import watched_paths

    tree = shutil.copytree(EXAMPLE, tmp_path / "deploy")
    assert watched_paths(tree / "envs/prod") == [tree / "envs/prod", tree / "base"]
    assert watched_paths(REPO / "manifests") == [REPO / "manifests"]


def _set_base(tree: Path, value: str) -> None:
    edit(tree / "envs/prod/mdr.yaml", "base: ../../base", f"base: {value}")


def _base_absolute(tree: Path) -> str:
    _set_base(tree, str(tree / "base"))
    return "base must be relative to this mdr.yaml"


def _base_missing(tree: Path) -> str:
    _set_base(tree, "../../nowhere")
    return "does not exist"


def _base_is_a_file(tree: Path) -> str:
    _set_base(tree, "../../base/fraud-scorer.yaml")
    return "is a file, not a folder"


def _base_is_the_overlay(tree: Path) -> str:
    _set_base(tree, ".")
    return "must lie beside this tree"


def _base_inside_the_overlay(tree: Path) -> str:
    shutil.copytree(tree / "base", tree / "envs/prod/shared")
    _set_base(tree, "shared")
    return "must lie beside this tree"


def _base_around_the_overlay(tree: Path) -> str:
    _set_base(tree, "..")  # envs/, which holds prod/ itself: its manifests would be read twice
    return "must lie beside this tree"


def _base_is_another_environment(tree: Path) -> str:
    _set_base(tree, "../staging")  # a stack whose mdr.yaml has a base: of its own; bases do not chain
    return "bases do not chain"


@pytest.mark.parametrize(
    "break_base",
    [
        _base_absolute,
        _base_missing,
        _base_is_a_file,
        _base_is_the_overlay,
        _base_inside_the_overlay,
        _base_around_the_overlay,
        _base_is_another_environment,
    ],
)
def test_an_unusable_base_is_one_error_at_its_line_and_changes_nothing(
    world: World, break_base: Callable[[Path], str]
) -> None:
    message = break_base(_tree(world))
    result = world.mdr("apply", "deploy/envs/prod", "--auto-approve")
    assert result.returncode == 1
    assert "deploy/envs/prod/mdr.yaml:5:1: base: base" in result.stderr and message in result.stderr
    # the patches it leaves with nothing to change are not each reported again
    assert "ModelDeploymentPatch" not in result.stderr and "Traceback" not in result.stderr
    assert world.deployments(PROD) == [] and world.models(PROD) == []


def _outside_artifact_in_the_overlay(tree: Path) -> str:
    edit(tree / "envs/prod/fraud-scorer.yaml", "  policy:", "  model: {artifact: ../../../stolen}\n  policy:")
    return "deploy/envs/prod/fraud-scorer.yaml:12:11: spec.model.artifact"


def _outside_artifact_in_the_base(tree: Path) -> str:
    edit(tree / "base/fraud-scorer.yaml", "artifact: models/fraud-v1", "artifact: ../../stolen")
    return "deploy/base/fraud-scorer.yaml:12:5: spec.model.artifact"


def _outside_artifact_through_a_symlink(tree: Path) -> str:
    (tree / "base/models/linked").symlink_to(tree.parent / "stolen")
    edit(tree / "base/fraud-scorer.yaml", "artifact: models/fraud-v1", "artifact: models/linked")
    return "deploy/base/fraud-scorer.yaml:12:5: spec.model.artifact"


@pytest.mark.parametrize(
    "point_outside",
    [_outside_artifact_in_the_overlay, _outside_artifact_in_the_base, _outside_artifact_through_a_symlink],
)
def test_an_artifact_outside_both_the_overlay_and_its_base_is_refused(
    world: World, point_outside: Callable[[Path], str]
) -> None:
    """A pull request must not package a runner's files as a model, whichever of the two roots it edits."""
    tree = _tree(world)
    shutil.copytree(tree / "base/models/fraud-v1", world.workdir / "stolen")
    where = point_outside(tree)
    result = world.mdr("apply", "deploy/envs/prod", "--auto-approve")
    assert result.returncode == 1
    assert where in result.stderr and "outside the stack's folder and its base" in result.stderr
    assert world.deployments(PROD) == [] and world.models(PROD) == []


def test_a_symlink_from_the_overlay_into_its_base_is_refused_not_read_twice(world: World) -> None:
    tree = _tree(world)
    (tree / "envs/prod/shared").symlink_to(tree / "base")
    result = world.mdr("apply", "deploy/envs/prod", "--auto-approve")
    assert result.returncode == 1
    assert "envs/prod/shared: symlinked folder leads into" in result.stderr
    assert "read twice" in result.stderr and "already defined" not in result.stderr
    assert world.deployments(PROD) == []
