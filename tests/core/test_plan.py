"""The plan as a pure function of manifests and live state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.planning import COMPARTMENT, DEPLOYMENT, converge, load, new_id, plan_for, write_stack

from reconciler.core.live import LiveDeployment, LiveState, add_deployment
from reconciler.core.plan import Action, Kind, Plan
from reconciler.core.render import render_json, render_markdown, render_text


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_stack(tmp_path / "stack", {"fraud.yaml": DEPLOYMENT.format(name="fraud")})


def edit(root: Path, old: str, new: str, file: str = "fraud.yaml") -> None:
    path = root / file
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_empty_cloud_plans_every_resource_in_dependency_order(root: Path) -> None:
    stack = load(root)
    plan = plan_for(stack, LiveState("risk-prod"))
    kinds = [(c.kind, c.action) for c in plan.changes]
    assert kinds == [
        (Kind.LOG_GROUP, Action.CREATE),
        (Kind.LOG, Action.CREATE),
        (Kind.LOG, Action.CREATE),
        (Kind.MODEL, Action.CREATE),
        (Kind.DEPLOYMENT, Action.CREATE),
    ]
    deployment = plan.changes[-1]
    assert set(deployment.depends_on) == {c.id for c in plan.changes[:-1]}
    assert [s.op for s in deployment.steps] == ["CreateModelDeployment"]
    assert [s.op for s in plan.changes[3].steps] == ["CreateModel", "UploadModelArtifact"]
    assert plan.changes[2].depends_on == ["LogGroup/risk-logs"]


def test_plan_reports_no_changes_after_apply(root: Path) -> None:
    stack = load(root)
    live = converge(stack)
    plan = plan_for(stack, live)
    assert not plan.has_changes, render_text(plan)
    assert plan.errors == []
    assert "No changes" in render_text(plan)


def test_unknown_secret_in_ci_is_not_a_change(root: Path) -> None:
    stack = load(root)
    live = converge(stack)
    assert not plan_for(stack, live, secret_env={}).has_changes


def test_changed_secret_is_an_update_shown_as_sensitive(root: Path) -> None:
    stack = load(root)
    live = converge(stack)
    plan = plan_for(stack, live, secret_env={"TEST_API_KEY": "rotated-canary-value"})
    [change] = plan.actionable
    assert [f.path for f in change.fields] == ["runtime.secretEnv.API_KEY"]
    for text in (render_text(plan), render_json(plan), render_markdown(plan)):
        assert "rotated-canary-value" not in text
        assert "s3cret" not in text
        assert "(sensitive)" in text


# One row per option group: (manifest edit, expected changed paths, expected update step group)
EDITS = [
    ("  displayName: fraud display", "  displayName: Fraud v2", ["displayName"], "name"),
    (
        "  displayName: fraud display",
        "  displayName: fraud display\n  description: new",
        ["description"],
        "name",
    ),
    (
        '    env: {WEB_CONCURRENCY: "2"}',
        '    env: {WEB_CONCURRENCY: "4"}',
        ["runtime.env.WEB_CONCURRENCY"],
        "environment",
    ),
    ("    ocpus: 1", "    ocpus: 2", ["infrastructure.ocpus"], "compute"),
    ("    replicas: 1", "    replicas: 3", ["infrastructure.replicas"], "compute"),
    ("    memoryInGBs: 16", "    memoryInGBs: 32", ["infrastructure.memoryInGBs"], "compute"),
    (
        "    replicas: 1",
        "    replicas: 1\n    bandwidthMbps: 20",
        ["infrastructure.bandwidthMbps"],
        "loadBalancerByoc",
    ),
    ("    predict: {name: fraud-predict}\n", "", ["logging.predict"], "logging"),
]


@pytest.mark.parametrize(("old", "new", "paths", "group"), EDITS, ids=[e[3] + ":" + e[2][0] for e in EDITS])
def test_each_edit_yields_exactly_its_change_and_step(
    root: Path, old: str, new: str, paths: list[str], group: str
) -> None:
    live = converge(load(root))
    edit(root, old, new)
    plan = plan_for(load(root), live)
    [change] = plan.actionable
    assert change.action == Action.UPDATE
    assert [f.path for f in change.fields] == paths
    assert [(s.op, s.group) for s in change.steps] == [("UpdateModelDeployment", group)]


def test_new_artifact_creates_a_model_then_swaps_it(root: Path) -> None:
    live = converge(load(root))
    plan = plan_for(load(root), live, identity="sha256:" + "cd" * 32)
    model, deployment = plan.actionable
    assert (model.kind, model.action) == (Kind.MODEL, Action.CREATE)
    assert deployment.depends_on == [model.id]
    assert [(s.op, s.group) for s in deployment.steps] == [("UpdateModelDeployment", "model")]
    assert "(known after apply)" in render_text(plan)


def test_three_groups_on_active_deployment_are_three_sequential_updates(root: Path) -> None:
    live = converge(load(root))
    edit(root, "  displayName: fraud display", "  displayName: Fraud v2")
    edit(root, "    ocpus: 1", "    ocpus: 2")
    edit(root, '    env: {WEB_CONCURRENCY: "2"}', '    env: {WEB_CONCURRENCY: "8"}')
    [change] = plan_for(load(root), live).actionable
    assert [s.group for s in change.steps] == ["name", "environment", "compute"]


def test_inactive_deployment_is_updated_in_one_step(root: Path) -> None:
    edit(root, "  displayName: fraud display", "  displayName: fraud display\n  state: INACTIVE")
    live = converge(load(root))
    edit(root, "    ocpus: 1", "    ocpus: 2")
    edit(root, '    env: {WEB_CONCURRENCY: "2"}', '    env: {WEB_CONCURRENCY: "8"}')
    [change] = plan_for(load(root), live).actionable
    assert [(s.op, s.group) for s in change.steps] == [("UpdateModelDeployment", "all")]


def test_deactivating_comes_before_the_update(root: Path) -> None:
    live = converge(load(root))
    edit(root, "  displayName: fraud display", "  displayName: x\n  state: INACTIVE")
    [change] = plan_for(load(root), live).actionable
    assert [s.op for s in change.steps] == ["DeactivateModelDeployment", "UpdateModelDeployment"]


def test_project_change_is_a_replace_and_protect_blocks_it(root: Path) -> None:
    live = converge(load(root))
    other = "ocid1.datascienceproject.oc1.iad.aaaaaaaaother"
    edit(root, "  displayName: fraud display", f"  displayName: fraud display\n  projectId: {other}")
    [change] = plan_for(load(root), live).actionable
    assert change.action == Action.REPLACE
    assert "projectId" in (change.reason or "")
    assert [s.op for s in change.steps] == ["DeleteModelDeployment", "CreateModelDeployment"]
    edit(root, "  displayName: fraud display", "  displayName: fraud display\n  policy: {protect: true}")
    plan = plan_for(load(root), live)
    assert plan.errors == []
    [blocked] = plan.blocked
    assert "policy.protect is true" in (blocked.blocked or "")


def test_failed_deployment_is_a_visible_degraded_replace(root: Path) -> None:
    live = converge(load(root))
    live.deployments[0].wire["lifecycle_state"] = "FAILED"
    [change] = plan_for(load(root), live).actionable
    assert change.action == Action.REPLACE and change.degraded
    assert "FAILED" in render_text(Plan("s", "r", [change]))


def test_drift_behind_our_back_is_detected(root: Path) -> None:
    stack = load(root)
    live = converge(stack)
    live.deployments[0].wire["model_deployment_configuration_details"]["model_configuration_details"][
        "scaling_policy"
    ]["instance_count"] = 5
    [change] = plan_for(stack, live).actionable
    assert [(f.path, f.before, f.after) for f in change.fields] == [("infrastructure.replicas", 5, 1)]
    assert change.drift, "the manifest did not change: this is drift"
    assert "drift: changed outside mdr" in render_text(plan_for(stack, live))


def test_manifest_edit_is_not_reported_as_drift(root: Path) -> None:
    live = converge(load(root))
    edit(root, "    ocpus: 1", "    ocpus: 2")
    [change] = plan_for(load(root), live).actionable
    assert not change.drift


def test_ignored_paths_hide_drift(root: Path) -> None:
    edit(
        root,
        "  displayName: fraud display",
        "  displayName: fraud display\n  policy: {ignore: [infrastructure.replicas]}",
    )
    stack = load(root)
    live = converge(stack)
    live.deployments[0].wire["model_deployment_configuration_details"]["model_configuration_details"][
        "scaling_policy"
    ]["instance_count"] = 5
    assert not plan_for(stack, live).has_changes


def test_an_ignored_hand_set_subnet_never_causes_a_replace(root: Path) -> None:
    """``subnetId`` set by hand is allowed in place; with ``ignore: [infrastructure]`` mdr must not
    delete and re-create the deployment (new OCID, new URL) to take it away."""
    edit(
        root,
        "  displayName: fraud display",
        "  displayName: fraud display\n  policy: {ignore: [infrastructure]}",
    )
    stack = load(root)
    live = converge(stack)
    config = live.deployments[0].wire["model_deployment_configuration_details"]["model_configuration_details"]
    config["instance_configuration"]["subnet_id"] = "ocid1.subnet.oc1.iad.aaaabyhand"
    plan = plan_for(stack, live)
    assert plan.actionable == []
    assert "infrastructure.subnetId" in render_text(plan)


def test_a_manifest_edit_to_an_ignored_path_is_shown_not_silently_dropped(root: Path) -> None:
    edit(
        root,
        "  displayName: fraud display",
        "  displayName: fraud display\n  policy: {ignore: [infrastructure.replicas]}",
    )
    live = converge(load(root))
    edit(root, "    replicas: 1", "    replicas: 2")
    plan = plan_for(load(root), live)
    [change] = plan.actionable  # the ignored value is not applied; only the record of the manifest is
    assert change.fields == [] and [(s.group, s.paths) for s in change.steps] == [("tags", ())]
    assert (
        "ignored by policy.ignore (not applied): ModelDeployment fraud: infrastructure.replicas: 1 -> 2"
        in (render_text(plan))
    )
    assert "infrastructure.replicas" in render_markdown(plan)


def test_unowned_deployments_never_appear(root: Path) -> None:
    stack = load(root)
    live = converge(stack)
    foreign = dict(live.deployments[0].wire)
    foreign["freeform_tags"] = {"mdr-stack": "someone-else", "mdr-key": "ModelDeployment/fraud"}
    live.deployments.append(LiveDeployment(new_id("datasciencemodeldeployment"), None, foreign))
    plan = plan_for(stack, live, prune=True)
    assert not plan.has_changes


def _with_second(root: Path) -> LiveState:
    (root / "other.yaml").write_text(DEPLOYMENT.format(name="other"))
    live = converge(load(root))
    (root / "other.yaml").unlink()
    return live


def test_removed_manifest_is_not_deleted_without_prune(root: Path) -> None:
    live = _with_second(root)
    plan = plan_for(load(root), live)
    assert not plan.has_changes
    assert any("prune is off" in w for w in plan.warnings)


def test_removed_manifest_is_deleted_with_prune_deployment_first(root: Path) -> None:
    live = _with_second(root)
    plan = plan_for(load(root), live, prune=True)
    deletes = [(c.kind, c.key) for c in plan.actionable]
    assert deletes[0] == (Kind.DEPLOYMENT, "ModelDeployment/other")
    assert (Kind.LOG, "Log/risk-logs/other-access") in deletes
    assert all(c.action == Action.DELETE for c in plan.actionable)
    assert ("LogGroup", "LogGroup/risk-logs") not in [(c.kind.value, c.key) for c in plan.actionable]


def test_incomplete_tree_never_prunes(root: Path) -> None:
    live = _with_second(root)
    (root / "broken.yaml").write_text(
        "apiVersion: mdr/v1\nkind: ModelDeployment\nmetadata: {name: x}\nspec: {}\n"
    )
    from reconciler.adapters.manifests import load_stack

    stack = load_stack(root)
    assert not stack.complete
    plan = plan_for(stack, live, prune=True)
    assert not any(c.action == Action.DELETE for c in plan.changes)
    assert any("not read completely" in w for w in plan.warnings)


def test_max_deletes_refuses_without_allowance(root: Path) -> None:
    live = _with_second(root)
    (root / "mdr.yaml").write_text((root / "mdr.yaml").read_text().replace("maxDeletes: 3", "maxDeletes: 1"))
    plan = plan_for(load(root), live, prune=True)
    assert any("--allow-deletes 3" in e for e in plan.errors)
    assert plan_for(load(root), live, prune=True, allow_deletes=3).errors == []


def test_protected_and_orphaned_deployments_are_not_deleted(root: Path) -> None:
    (root / "other.yaml").write_text(
        DEPLOYMENT.format(name="other").replace(
            "  displayName: other display", "  policy: {deletion: Orphan}"
        )
    )
    (root / "kept.yaml").write_text(
        DEPLOYMENT.format(name="kept").replace("  displayName: kept display", "  policy: {protect: true}")
    )
    live = converge(load(root))
    (root / "other.yaml").unlink()
    (root / "kept.yaml").unlink()
    plan = plan_for(load(root), live, prune=True)
    by_key = {c.key: c for c in plan.actionable if c.kind == Kind.DEPLOYMENT}
    assert by_key["ModelDeployment/other"].action == Action.ORPHAN
    assert "ModelDeployment/kept" not in by_key
    assert any("protected" in w for w in plan.warnings)


def test_old_models_beyond_keep_are_deleted_after_the_swap(root: Path) -> None:
    edit(root, "    artifact: model", "    artifact: model\n    keep: 1")
    stack = load(root)
    live = converge(stack, identity="sha256:" + "01" * 32)
    live = converge(stack, identity="sha256:" + "02" * 32, live=live)
    live = converge(stack, identity="sha256:" + "03" * 32, live=live)
    plan = plan_for(stack, live, identity="sha256:" + "03" * 32)
    [delete] = plan.actionable
    assert (delete.kind, delete.action) == (Kind.MODEL, Action.DELETE)
    assert "kept for rollback" in (delete.reason or "")
    oldest = min(live.models, key=lambda m: m.time_created)
    assert delete.live_id == oldest.id
    assert delete.depends_on == []  # nothing to swap first: the deployment already uses the newest


@pytest.mark.parametrize("keep", [0, 1, 2])
def test_a_new_artifact_revision_leaves_exactly_keep_previous_models(root: Path, keep: int) -> None:
    """The plan that swaps to a new model deletes what is then beyond ``keep``: the next plan is empty."""
    edit(root, "    artifact: model", f"    artifact: model\n    keep: {keep}")
    stack = load(root)
    live = None
    for revision in range(1, 5):
        identity = "sha256:" + f"{revision:02d}" * 32
        if live is not None:
            plan = plan_for(stack, live, identity=identity)
            deleted = {
                c.live_id for c in plan.actionable if c.kind == Kind.MODEL and c.action == Action.DELETE
            }
            swap = next(c for c in plan.actionable if c.kind == Kind.DEPLOYMENT)
            for model_delete in (c for c in plan.actionable if c.action == Action.DELETE):
                assert swap.id in model_delete.depends_on  # never before the deployment moved off
            live.models = [m for m in live.models if m.id not in deleted]
        live = converge(stack, identity=identity, live=live)
        models = [m for m in live.models if m.lifecycle_state == "ACTIVE"]
        assert len(models) == min(revision, keep + 1)
        assert plan_for(stack, live, identity=identity).actionable == []


def test_a_plan_with_errors_never_says_no_changes(root: Path) -> None:
    edit(
        root,
        "metadata:\n  name: fraud",
        "metadata:\n  name: fraud\n  annotations:\n    mdr.io/adopt: "
        "ocid1.datasciencemodeldeployment.oc1.iad.aaaamissing",
    )
    plan = plan_for(load(root), LiveState("risk-prod"))
    text = render_text(plan)
    assert "No changes" not in text
    assert text.rstrip().endswith("1 change(s) blocked by a guard (see above); the rest applies.")
    (root / "fraud.yaml").unlink()
    for name in ("a", "b"):
        (root / f"{name}.yaml").write_text(DEPLOYMENT.format(name=name))
    live = converge(load(root))
    (root / "a.yaml").unlink()
    refused = plan_for(load(root), live, prune=True, allow_deletes=0)
    assert refused.errors
    text = render_text(refused)
    assert "No changes" not in text
    assert text.rstrip().endswith("nothing will be applied until they are fixed.")


def test_changes_with_nothing_to_do_never_carry_drift(root: Path) -> None:
    stack = load(root)
    live = converge(stack)
    plan = plan_for(stack, live)
    assert plan.actionable == []
    assert all(c["drift"] is False for c in plan.to_dict()["changes"])


def test_a_secret_rotated_in_the_environment_is_a_wanted_change_not_drift(root: Path) -> None:
    stack = load(root)
    live = converge(stack, secret_env={"TEST_API_KEY": "old"})
    [change] = plan_for(stack, live, secret_env={"TEST_API_KEY": "rotated"}).actionable
    assert change.action == Action.UPDATE
    assert [f.path for f in change.fields] == ["runtime.secretEnv.API_KEY"]
    assert change.drift is False


def test_a_hand_edit_beside_a_rotated_secret_is_still_drift(root: Path) -> None:
    stack = load(root)
    live = converge(stack, secret_env={"TEST_API_KEY": "old"})
    live.deployments[0].wire["display_name"] = "changed by hand"
    [change] = plan_for(stack, live, secret_env={"TEST_API_KEY": "rotated"}).actionable
    assert change.drift is True


def test_an_orphaned_deployment_keeps_its_model_in_every_later_plan(root: Path) -> None:
    (root / "other.yaml").write_text(
        DEPLOYMENT.format(name="other").replace(
            "  displayName: other display", "  displayName: other display\n  policy: {deletion: Orphan}"
        )
    )
    live = converge(load(root))
    (root / "other.yaml").unlink()
    stack = load(root)
    [orphan] = [c for c in plan_for(stack, live, prune=True).actionable if c.action == Action.ORPHAN]
    # apply untags it: from now on it is nobody's deployment, still running its model
    [deployment] = [d for d in live.deployments if d.id == orphan.live_id]
    live.deployments.remove(deployment)
    untagged = {**deployment.wire, "id": deployment.id, "freeform_tags": {}}
    add_deployment(live, untagged)
    live.reindex()
    plan = plan_for(stack, live, prune=True)
    deleted = {c.live_id for c in plan.actionable if c.kind == Kind.MODEL and c.action == Action.DELETE}
    assert deployment.model_id not in deleted


def test_a_suspended_deployment_gets_no_model_writes(root: Path) -> None:
    edit(root, "    artifact: model", "    artifact: model\n    keep: 0")
    stack = load(root)
    live = converge(stack, identity="sha256:" + "01" * 32)
    live = converge(stack, identity="sha256:" + "02" * 32, live=live)  # an old model beyond keep: 0
    edit(
        root, "metadata:\n  name: fraud", "metadata:\n  name: fraud\n  annotations: {mdr.io/suspend: 'true'}"
    )
    plan = plan_for(load(root), live, identity="sha256:" + "03" * 32)  # and a new artifact
    assert [c for c in plan.actionable if c.kind in (Kind.MODEL, Kind.DEPLOYMENT)] == []
    assert any("suspended" in w for w in plan.warnings)


def test_duplicate_owned_deployments_stop_the_plan(root: Path) -> None:
    stack = load(root)
    live = converge(stack)
    copy = LiveDeployment(
        new_id("datasciencemodeldeployment"), "ModelDeployment/fraud", dict(live.deployments[0].wire)
    )
    live.deployments.append(copy)
    plan = plan_for(stack, live)
    [blocked] = plan.blocked
    assert "2 live deployments" in (blocked.blocked or "")
    assert "No changes" not in render_text(plan)


def test_plan_round_trips_through_json(root: Path) -> None:
    plan = plan_for(load(root), LiveState("risk-prod"))
    again = Plan.from_dict(json.loads(render_json(plan)))
    assert again.to_dict() == plan.to_dict()


def test_markdown_has_summary_and_collapsible_details(root: Path) -> None:
    text = render_markdown(plan_for(load(root), LiveState("risk-prod")))
    assert "**Plan: 5 to create, 0 to update, 0 to replace, 0 to delete.**" in text
    assert text.count("<details>") == 5


SPECS = st.fixed_dictionaries(
    {
        "ocpus": st.integers(1, 8),
        "memory": st.integers(6, 64),
        "replicas": st.one_of(st.none(), st.integers(1, 5)),
        "auto": st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(3, 6))),
        "env": st.dictionaries(
            st.from_regex(r"[A-Z][A-Z0-9_]{0,8}", fullmatch=True), st.text(max_size=8), max_size=3
        ),
        "state": st.sampled_from(["ACTIVE", "INACTIVE"]),
        "bandwidth": st.integers(10, 100),
        "container": st.booleans(),
        "logging": st.booleans(),
        "description": st.one_of(st.none(), st.text(min_size=1, max_size=20).filter(str.strip)),
    }
)


def _manifest(name: str, spec: dict[str, object]) -> str:
    data: dict[str, object] = {
        "apiVersion": "mdr/v1",
        "kind": "ModelDeployment",
        "metadata": {"name": name},
        "spec": {
            "state": spec["state"],
            "model": {"artifact": "model"},
            "infrastructure": {
                "shape": "VM.Standard.E4.Flex",
                "ocpus": spec["ocpus"],
                "memoryInGBs": spec["memory"],
                "bandwidthMbps": spec["bandwidth"],
            },
            "runtime": {"type": "conda", "env": spec["env"]},
        },
    }
    body = data["spec"]
    assert isinstance(body, dict)
    if spec["description"] is not None:
        body["description"] = spec["description"]
    if spec["auto"] is not None:
        low, high = spec["auto"]  # type: ignore[misc]
        body["infrastructure"]["autoscaling"] = {"min": low, "max": high}
    elif spec["replicas"] is not None:
        body["infrastructure"]["replicas"] = spec["replicas"]
    if spec["container"]:
        body["runtime"] = {"type": "container", "image": "iad.ocir.io/ns/app:1", "env": spec["env"]}
    if spec["logging"]:
        body["logging"] = {"logGroup": {"name": "g"}, "access": {"name": f"{name}-a"}}
    return yaml.safe_dump(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=st.lists(SPECS, min_size=1, max_size=3))
def test_plan_of_desired_against_itself_is_empty(
    tmp_path_factory: pytest.TempPathFactory, specs: list
) -> None:
    root = tmp_path_factory.mktemp("prop")
    manifests = {f"d{i}.yaml": _manifest(f"d{i}", spec) for i, spec in enumerate(specs)}
    stack = load(write_stack(root, manifests))
    live = converge(stack)
    plan = plan_for(stack, live)
    assert not plan.has_changes, render_text(plan)
    assert {c.key for c in plan.changes} == {f"ModelDeployment/d{i}" for i in range(len(specs))}
    assert COMPARTMENT


def test_a_protected_replace_blocks_only_itself(root: Path) -> None:
    edit(root, "  displayName: fraud display", "  displayName: fraud display\n  policy: {protect: true}")
    (root / "other.yaml").write_text(DEPLOYMENT.format(name="other"))
    live = converge(load(root))
    edit(
        root,
        "  displayName: fraud display",
        "  displayName: fraud display\n  projectId: ocid1.datascienceproject.oc1.iad.aaaaother",
    )
    edit(root, 'WEB_CONCURRENCY: "2"', 'WEB_CONCURRENCY: "4"', file="other.yaml")
    plan = plan_for(load(root), live)
    assert plan.errors == []
    by_key = {c.key: c for c in plan.actionable if c.kind == Kind.DEPLOYMENT}
    assert by_key["ModelDeployment/fraud"].action == Action.REPLACE
    assert "policy.protect" in (by_key["ModelDeployment/fraud"].blocked or "")
    assert by_key["ModelDeployment/other"].blocked is None
    text = render_text(plan)
    assert "blocked: must be replaced" in text
    assert text.rstrip().endswith("1 change(s) blocked by a guard (see above); the rest applies.")
    assert plan.summary()["replace"] == 0 and plan.summary()["update"] == 1


def test_an_adoption_that_cannot_be_blocks_only_its_deployment(root: Path) -> None:
    (root / "other.yaml").write_text(
        DEPLOYMENT.format(name="other").replace(
            "metadata:\n  name: other",
            "metadata:\n  name: other\n  annotations: {mdr.io/adopt: ocid1.datasciencemodeldeployment.oc1.iad.aaaagone}",
        )
    )
    plan = plan_for(load(root), LiveState("risk-prod"))
    assert plan.errors == []
    [blocked] = plan.blocked
    assert blocked.key == "ModelDeployment/other" and "cannot adopt" in (blocked.blocked or "")
    assert any(c.key == "ModelDeployment/fraud" and c.action == Action.CREATE for c in plan.actionable)


# --- the record of what was last applied, models in the catalog ------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("    artifact: model", "    artifact: model\n    keep: 5"),
        (
            "  displayName: fraud display",
            "  displayName: fraud display\n  policy: {ignore: [infrastructure.replicas]}",
        ),
    ],
    ids=["keep", "policy-ignore"],
)
def test_an_edit_that_changes_no_field_still_records_the_applied_spec(root: Path, old: str, new: str) -> None:
    live = converge(load(root))
    edit(root, old, new)
    [change] = [c for c in plan_for(load(root), live).actionable if c.kind == Kind.DEPLOYMENT]
    assert change.action == Action.UPDATE and change.fields == [] and change.drift is False
    assert [(s.op, s.group) for s in change.steps] == [("UpdateModelDeployment", "tags")]


def test_a_state_only_flip_ends_with_a_tag_update(root: Path) -> None:
    live = converge(load(root))
    edit(root, "  displayName: fraud display", "  displayName: fraud display\n  state: INACTIVE")
    [change] = [c for c in plan_for(load(root), live).actionable if c.kind == Kind.DEPLOYMENT]
    assert [(s.op, s.group) for s in change.steps] == [
        ("DeactivateModelDeployment", None),
        ("UpdateModelDeployment", "tags"),
    ]


def test_an_activation_is_followed_by_the_tag_update(root: Path) -> None:
    edit(root, "  displayName: fraud display", "  displayName: fraud display\n  state: INACTIVE")
    live = converge(load(root))
    edit(root, "  state: INACTIVE", "  state: ACTIVE")
    edit(root, 'WEB_CONCURRENCY: "2"', 'WEB_CONCURRENCY: "4"')
    [change] = [c for c in plan_for(load(root), live).actionable if c.kind == Kind.DEPLOYMENT]
    assert [(s.op, s.group) for s in change.steps] == [
        ("UpdateModelDeployment", "all"),
        ("ActivateModelDeployment", None),
        ("UpdateModelDeployment", "tags"),
    ]


def test_user_tags_ride_on_the_last_update_of_a_multi_group_change(root: Path) -> None:
    live = converge(load(root))
    edit(root, "  displayName: fraud display", "  displayName: fraud v2\n  freeformTags: {team: risk}")
    edit(root, 'WEB_CONCURRENCY: "2"', 'WEB_CONCURRENCY: "4"')
    [change] = [c for c in plan_for(load(root), live).actionable if c.kind == Kind.DEPLOYMENT]
    assert [(s.group, s.paths) for s in change.steps] == [
        ("name", ("displayName",)),
        ("environment", ("runtime.env.WEB_CONCURRENCY", "freeformTags.team")),
    ]


def test_a_model_left_pending_with_the_wanted_artifact_is_resumed_not_deleted(root: Path) -> None:
    edit(root, "    artifact: model", "    artifact: model\n    keep: 0")
    live = converge(load(root))
    [model] = live.models
    model.wire["freeform_tags"]["mdr-pending"] = "artifact"  # its upload failed
    plan = plan_for(load(root), live)
    [create] = [c for c in plan.actionable if c.kind == Kind.MODEL]
    assert create.action == Action.CREATE
    assert model.id in " ".join(s.description for s in create.steps)  # resumed, and says so
    assert not [c for c in plan.actionable if c.live_id == model.id], "never both resumed and deleted"


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("    artifact: model", "    artifact: model\n    displayName: fraud-model-v2", "displayName"),
        ("    artifact: model", "    artifact: model\n    description: A better model", "description"),
        (
            "    artifact: model",
            "    artifact: model\n    metadata: {hyperparameters: {depth: 6}}",
            "metadata",
        ),
    ],
    ids=["displayName", "description", "hyperparameters"],
)
def test_an_edit_to_the_model_in_the_catalog_plans_a_model_update(
    root: Path, old: str, new: str, path: str
) -> None:
    live = converge(load(root))
    edit(root, old, new)
    plan = plan_for(load(root), live)
    [model] = [c for c in plan.actionable if c.kind == Kind.MODEL]
    assert (model.action, model.live_id) == (Action.UPDATE, live.models[0].id)
    assert [f.path for f in model.fields] == [path]
    assert [s.op for s in model.steps] == ["UpdateModel"]
    [deployment] = [c for c in plan.actionable if c.kind == Kind.DEPLOYMENT]
    assert deployment.fields == [], "the deployment itself is unchanged: only its record of the manifest"
    assert [s.group for s in deployment.steps] == ["tags"]
    assert f"Model {model.name}" in render_text(plan)


def test_status_fits_a_100_column_terminal_and_names_models(root: Path) -> None:
    from reconciler.core.status import deployment_statuses, render_statuses

    (root / "a-deployment-with-a-rather-long-name-indeed.yaml").write_text(
        DEPLOYMENT.format(name="a-deployment-with-a-rather-long-name-indeed")
    )
    stack = load(root)
    live = converge(stack)
    for model in live.models:
        model.wire["display_name"] = f"{model.key.split('/')[1]}-model"
    statuses = deployment_statuses(plan_for(stack, live), live, {})
    text = render_statuses(statuses)
    assert max(len(line) for line in text.splitlines()) <= 100, text
    assert "fraud-model" in text
    assert "ocid1.datasciencemodel" not in text


def test_needs_attention_takes_updates_but_never_a_deactivate(root: Path) -> None:
    """The service accepts zero-downtime updates in NEEDS_ATTENTION, and refuses (de)activation."""
    live = converge(load(root))
    live.deployments[0].wire["lifecycle_state"] = "NEEDS_ATTENTION"
    edit(root, 'WEB_CONCURRENCY: "2"', 'WEB_CONCURRENCY: "4"')
    [update] = plan_for(load(root), live).actionable
    assert update.action == Action.UPDATE and update.degraded and update.blocked is None
    assert next(s.op for s in update.steps if s.op.endswith("ModelDeployment")) == "UpdateModelDeployment"
    edit(root, "    replicas: 1", "    replicas: 1\n  state: INACTIVE")
    plan = plan_for(load(root), live)
    [blocked] = plan.blocked
    assert "NEEDS_ATTENTION cannot be deactivated" in (blocked.blocked or "")
