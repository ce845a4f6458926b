"""The model in the catalog: where it came from (provenance from git), and its input and output schemas."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from support.world import World, edit

TOKEN = "ghp_canary7c1d2e"


def _git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout.strip()


def _repository(world: World) -> None:
    """The working directory as a git repository on branch main, with a remote URL holding a token."""
    _git(world.workdir, "init", "-q", "-b", "main")
    _git(world.workdir, "config", "user.email", "ci@example.com")
    _git(world.workdir, "config", "user.name", "CI")
    _git(
        world.workdir,
        "remote",
        "add",
        "origin",
        f"https://x-access-token:{TOKEN}@git.example.com/risk/models.git",
    )
    (world.workdir / ".gitignore").write_text(".mdr/\n")
    _git(world.workdir, "add", "-A")
    _git(world.workdir, "commit", "-q", "-m", "first")


def _fraud_model(world: World) -> str:
    [fraud] = [d for d in world.deployments() if d.display_name == "Fraud scorer"]
    config = world.sdk().get_model_deployment(fraud.id).data.model_deployment_configuration_details
    return str(config.model_configuration_details.model_id)


def test_every_model_records_the_commit_it_was_built_from_and_a_new_commit_alone_plans_nothing(
    world: World, stack: Path
) -> None:
    (stack / "churn-container.yaml").unlink()
    _repository(world)
    first = _git(world.workdir, "rev-parse", "HEAD")
    plan = world.mdr("plan", "manifests")
    assert f'provenance.gitCommit = "{first}"' in plan.stdout and TOKEN not in plan.stdout
    applied = world.mdr("apply", "manifests", "--auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    provenance = world.sdk().get_model_provenance(_fraud_model(world)).data
    assert provenance.repository_url == "https://git.example.com/risk/models.git"  # never the token
    assert (provenance.git_branch, provenance.git_commit) == ("main", first)
    assert provenance.script_dir == "manifests/fraud-scorer.yaml"

    (world.workdir / "README.md").write_text("unrelated\n")
    _git(world.workdir, "add", "-A")
    _git(world.workdir, "commit", "-q", "-m", "docs")
    again = world.mdr("plan", "manifests", "--detailed-exitcode")
    assert again.returncode == 0, again.stdout  # a commit that changes no artifact plans nothing

    edit(stack / "models" / "fraud-scorer" / "score.py", "def ", "# v2\ndef ")
    _git(world.workdir, "commit", "-q", "-am", "model v2")
    second = _git(world.workdir, "rev-parse", "HEAD")
    assert world.mdr("apply", "manifests", "--auto-approve").returncode == 0
    assert world.sdk().get_model_provenance(_fraud_model(world)).data.git_commit == second


def test_the_schemas_an_artifact_carries_reach_the_catalog(world: World, stack: Path) -> None:
    (stack / "churn-container.yaml").unlink()
    schema = {"type": "object", "properties": {"amount": {"type": "number"}}}
    (stack / "models" / "fraud-scorer" / "input_schema.json").write_text(json.dumps(schema))
    (stack / "models" / "fraud-scorer" / "output_schema.json").write_text('{"type": "object"}')
    applied = world.mdr("apply", "manifests", "--auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    model = world.sdk().get_model(_fraud_model(world)).data
    assert json.loads(model.input_schema) == schema
    assert json.loads(model.output_schema) == {"type": "object"}


def test_a_schema_that_is_not_json_fails_the_model_by_name(world: World, stack: Path) -> None:
    (stack / "churn-container.yaml").unlink()
    (stack / "models" / "fraud-scorer" / "input_schema.json").write_text("{not json")
    applied = world.mdr("apply", "manifests", "--auto-approve")
    assert applied.returncode == 1
    assert "input_schema.json: not a JSON document" in applied.stdout + applied.stderr
    assert world.models() == []


def test_packaged_models_join_the_version_set_the_manifest_names(world: World, stack: Path) -> None:
    (stack / "churn-container.yaml").unlink()
    manifest = stack / "fraud-scorer.yaml"
    edit(manifest, "    keep: 3", "    keep: 3\n    versionSet: fraud-models\n    versionLabel: v1")
    applied = world.mdr("apply", "manifests", "--auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    [version_set] = world.sdk().list_model_version_sets(world.deployments()[0].compartment_id).data
    assert version_set.name == "fraud-models"
    first = world.sdk().get_model(_fraud_model(world)).data
    assert (first.model_version_set_id, first.version_id, first.version_label) == (version_set.id, 1, "v1")
    assert world.mdr("plan", "manifests", "--detailed-exitcode").returncode == 0

    edit(manifest, "versionLabel: v1", "versionLabel: v1-final")
    relabel = world.mdr("plan", "manifests")
    assert 'versionLabel: "v1" -> "v1-final"' in relabel.stdout and "UpdateModel" in relabel.stdout
    assert world.mdr("apply", "manifests", "--auto-approve").returncode == 0
    assert world.sdk().get_model(first.id).data.version_label == "v1-final"

    edit(stack / "models" / "fraud-scorer" / "score.py", "def ", "# v2\ndef ")
    edit(manifest, "versionLabel: v1-final", "versionLabel: v2")
    assert world.mdr("apply", "manifests", "--auto-approve").returncode == 0
    second = world.sdk().get_model(_fraud_model(world)).data
    assert second.id != first.id
    assert (second.model_version_set_id, second.version_id, second.version_label) == (version_set.id, 2, "v2")
    assert len(world.sdk().list_model_version_sets(second.compartment_id).data) == 1  # reused, not made again
    assert world.mdr("plan", "manifests", "--detailed-exitcode").returncode == 0
