"""``policy.replace``: delete then create (the default), or create beside, wait, then delete the old one."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.planning import DEPLOYMENT, converge, load, new_id, plan_for, write_stack

from reconciler.core.live import LiveDeployment, LiveState
from reconciler.core.plan import Action
from reconciler.core.render import render_text
from reconciler.core.replace import REPLACES, TAG_REPLACES, URL_PATH

OTHER_PROJECT = "ocid1.datascienceproject.oc1.iad.aaaaaaaaother"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_stack(tmp_path / "stack", {"fraud.yaml": DEPLOYMENT.format(name="fraud")})


def _edit(root: Path, old: str, new: str) -> None:
    path = root / "fraud.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _move_project(root: Path, policy: str | None) -> None:
    extra = f"\n  policy: {{replace: {policy}}}" if policy else ""
    _edit(
        root,
        "  displayName: fraud display",
        f"  displayName: fraud display\n  projectId: {OTHER_PROJECT}{extra}",
    )


def test_the_default_replace_deletes_first_and_shows_the_url_change(root: Path) -> None:
    live = converge(load(root))
    _move_project(root, None)
    [change] = plan_for(load(root), live).actionable
    assert [s.op for s in change.steps] == ["DeleteModelDeployment", "CreateModelDeployment"]
    assert REPLACES not in change.desired
    [url] = [f for f in change.fields if f.path == URL_PATH]
    assert url.before == "https://example/md"
    assert f'~ {URL_PATH}: "https://example/md" -> (known after apply)' in render_text(
        plan_for(load(root), live)
    )


def test_create_before_delete_creates_the_new_one_first_and_names_the_old_one(root: Path) -> None:
    live = converge(load(root))
    old = live.deployments[0]
    _move_project(root, "CreateBeforeDelete")
    plan = plan_for(load(root), live)
    [change] = plan.actionable
    assert change.action == Action.REPLACE
    assert [s.op for s in change.steps] == ["CreateModelDeployment", "DeleteModelDeployment"]
    assert change.desired[REPLACES] == old.id
    assert old.id in change.steps[-1].description
    assert any(f.path == URL_PATH for f in change.fields)


def test_create_before_delete_of_a_failed_deployment_deletes_it_first(root: Path) -> None:
    live = converge(load(root))
    live.deployments[0].wire["lifecycle_state"] = "FAILED"
    _edit(
        root,
        "  displayName: fraud display",
        "  displayName: fraud display\n  policy: {replace: CreateBeforeDelete}",
    )
    [change] = plan_for(load(root), live).actionable
    assert [s.op for s in change.steps] == ["DeleteModelDeployment", "CreateModelDeployment"]
    assert REPLACES not in change.desired


def _interrupted(root: Path, new_state: str) -> tuple[LiveDeployment, LiveDeployment, LiveState]:
    """Live state as a create-before-delete killed between its create and its delete leaves it."""
    live = converge(load(root))
    old = live.deployments[0]
    _move_project(root, "CreateBeforeDelete")
    wire = dict(old.wire)
    wire["freeform_tags"] = {**old.tags, TAG_REPLACES: old.id}
    wire["project_id"] = OTHER_PROJECT
    wire["lifecycle_state"] = new_state
    wire["model_deployment_url"] = "https://example/md-new"
    new = LiveDeployment(new_id("datasciencemodeldeployment"), old.key, wire)
    live.deployments.append(new)
    return old, new, live


@pytest.mark.parametrize("new_state", ["CREATING", "ACTIVE"])
def test_an_interrupted_replacement_is_finished_not_a_duplicate(root: Path, new_state: str) -> None:
    old, _, live = _interrupted(root, new_state)
    plan = plan_for(load(root), live)
    assert plan.blocked == [] and plan.errors == []
    [change] = plan.actionable
    assert change.action == Action.REPLACE and change.live_id == old.id
    assert [s.op for s in change.steps] == ["CreateModelDeployment", "DeleteModelDeployment"]
    assert change.desired[REPLACES] == old.id
    assert "interrupted replacement" in (change.reason or "")
    [url] = change.fields
    assert (url.before, url.after) == ("https://example/md", "https://example/md-new")


def test_the_pair_is_finished_even_when_the_policy_was_reverted(root: Path) -> None:
    """Never two owned copies for longer than one apply: finishing does not depend on the manifest."""
    old, _, live = _interrupted(root, "ACTIVE")
    _edit(root, "  policy: {replace: CreateBeforeDelete}", "")
    [change] = plan_for(load(root), live).actionable
    assert change.live_id == old.id and change.steps[-1].op == "DeleteModelDeployment"


def test_two_unrelated_owned_copies_are_still_refused_as_duplicates(root: Path) -> None:
    _, new, live = _interrupted(root, "ACTIVE")
    new.wire["freeform_tags"] = {k: v for k, v in new.tags.items() if k != TAG_REPLACES}
    plan = plan_for(load(root), live)
    [blocked] = plan.blocked
    assert "2 live deployments" in (blocked.blocked or "")
