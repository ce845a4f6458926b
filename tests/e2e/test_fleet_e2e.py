"""One controller process for a tree of stacks, manual sync and git push webhooks, observed from outside."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from support.world import World, copy_example_stack, edit
from test_controller_e2e import ControllerProcess, eventually

from reconciler.engine.controller.webhooks import github_signature

TOKEN = "sync-token-e2e-do-not-leak"
HOOK_SECRET = "github-secret-e2e-do-not-leak"
GITLAB_TOKEN = "gitlab-token-e2e-do-not-leak"


def make_stack(folder: Path, name: str) -> Path:
    """The example stack with one deployment, under its own stack name."""
    copy_example_stack(folder)
    (folder / "churn-container.yaml").unlink()
    edit(folder / "mdr.yaml", "stack: risk-prod", f"stack: {name}")
    # a log group of its own: log group names are unique in a compartment
    edit(folder / "fraud-scorer.yaml", "logGroup: {name: risk-logs}", f"logGroup: {{name: {name}-logs}}")
    return folder


def owned(world: World, stack: str) -> list[Any]:
    return [d for d in world.deployments() if d.freeform_tags.get("mdr-stack") == stack]


def post(controller: ControllerProcess, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{controller.port}{path}", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def metric(controller: ControllerProcess, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    _, text = controller.get("/metrics")
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def test_one_controller_serves_every_stack_and_never_prunes_a_vanished_one(world: World) -> None:
    tree = world.workdir / "tree"
    make_stack(tree / "teams/a", "team-a")
    make_stack(tree / "teams/b", "team-b")
    (tree / "base").mkdir()  # shared documents, no mdr.yaml: never a stack of its own
    shutil.copy(tree / "teams/a/fraud-scorer.yaml", tree / "base/fraud-scorer.yaml")
    (tree / "teams/d").mkdir()
    (tree / "teams/d/mdr.yaml").write_text("stack: team-d\nregion: nowhere\n")  # cannot start yet
    controller = ControllerProcess(world, "tree", "--interval", "1h")
    try:
        eventually(
            lambda: len(owned(world, "team-a")) == 1 and len(owned(world, "team-b")) == 1,
            what="both stacks applied",
        )
        expected = {"team-a", "team-b", "teams/d"}  # a stack that cannot start is named by its folder
        eventually(lambda: set(controller.status().get("stacks", {})) == expected, what="status")
        eventually(
            lambda: "region" in str(controller.status()["stacks"]["teams/d"]["last_error"]), what="error"
        )
        shutil.rmtree(tree / "teams/d")
        bare_stack(tree / "teams/d", "team-d")  # mended: served at once
        eventually(lambda: "team-d" in leading(controller), what="a mended stack served")
        status = controller.status()
        assert status["stacks"]["team-a"]["folder"] == "teams/a" and status["problems"] == []
        eventually(lambda: controller.get("/readyz")[0] == 200, what="ready")
        reconciles = metric(controller, "mdr_reconcile_total")
        assert {dict(labels)["stack"] for labels in reconciles} == {"team-a", "team-b", "team-d"}

        make_stack(tree / "teams/c", "team-c")  # a stack appears
        eventually(lambda: len(owned(world, "team-c")) == 1, what="a new stack served")

        shutil.rmtree(tree / "teams/b")  # a stack disappears
        eventually(lambda: "team-b" in controller.status().get("vanished", {}), what="vanished reported")
        vanished = controller.status()["vanished"]["team-b"]
        assert "never pruned" in vanished["message"] and vanished["folder"] == "teams/b"
        assert "team-b" not in controller.status()["stacks"]
        time.sleep(2)
        assert len(owned(world, "team-b")) == 1, "a vanished stack's resources are left alone"
        untouched = controller.status()["stacks"]["team-c"]["reconciles"]
        edit(tree / "teams/a/fraud-scorer.yaml", "  displayName: Fraud scorer", "  displayName: A v2")
        eventually(lambda: owned(world, "team-a")[0].display_name == "A v2", what="edit in a stack applied")
        assert controller.status()["stacks"]["team-c"]["reconciles"] == untouched, (
            "a change wakes its stack only"
        )
    finally:
        assert controller.stop() == 0
    lines = [
        json.loads(line)
        for line in Path(controller.log.name).read_text().splitlines()
        if line.startswith("{")
    ]
    assert any(r["message"] == "stack vanished" and r.get("stack") == "team-b" for r in lines)
    assert any(r["message"] == "reconcile finished" and r.get("stack") == "team-c" for r in lines)


def test_manual_sync_applies_exactly_the_pending_plan_and_refuses_a_stale_one(world: World) -> None:
    stack = copy_example_stack(world.workdir / "manifests")
    with (stack / "mdr.yaml").open("a") as config:
        config.write("syncPolicy: manual\n")
    controller = ControllerProcess(world, "manifests", "--interval", "1h", env={"MDR_SYNC_TOKEN": TOKEN})
    try:
        eventually(lambda: controller.status().get("pendingPlan") is not None, what="a pending plan")
        pending = controller.status()["pendingPlan"]
        assert "create ModelDeployment/fraud-scorer" in pending["changes"]
        assert controller.status()["syncPolicy"] == "manual"
        time.sleep(1)
        assert world.deployments() == [], "a manual stack is planned, not applied"
        code, page = controller.get("/")
        assert code == 200 and 'name="token"' in page and pending["id"] in page  # the dashboard's button
        form = f"token=guess&plan={pending['id']}".encode()
        code, page = post(controller, "/ui/sync", form, {"Content-Type": "application/x-www-form-urlencoded"})
        assert code == 401 and "Not synced" in page and "<script" not in page

        url = "/api/stacks/risk-prod/sync"
        body = json.dumps({"plan": pending["id"]}).encode()
        assert post(controller, url, body, {"Authorization": "Bearer guess"})[0] == 401
        assert (
            post(controller, url, b'{"plan": "sha256:other"}', {"Authorization": f"Bearer {TOKEN}"})[0] == 409
        )
        assert world.deployments() == []
        address = f"http://127.0.0.1:{controller.port}"
        synced = world.mdr("sync", "risk-prod", "--controller", address, env={"MDR_SYNC_TOKEN": TOKEN})
        assert synced.returncode == 0, synced.stderr
        assert (
            "create ModelDeployment/fraud-scorer" in synced.stdout
            and f"applied plan {pending['id']}" in synced.stdout
        )
        assert len(world.deployments()) == 2
        eventually(lambda: controller.status().get("pendingPlan") is None, what="nothing pending after sync")

        fraud_yaml = stack / "fraud-scorer.yaml"
        edit(fraud_yaml, "  displayName: Fraud scorer", "  displayName: Fraud scorer v2")
        eventually(lambda: controller.status().get("pendingPlan") is not None, what="the edit is pending")
        pending = controller.status()["pendingPlan"]
        fraud = next(d for d in world.deployments() if d.freeform_tags["mdr-key"].endswith("fraud-scorer"))
        world.sdk().update_model_deployment(fraud.id, {"displayName": "changed by hand"})
        stale = world.mdr(
            "sync",
            "risk-prod",
            "--controller",
            address,
            "--plan",
            pending["id"],
            env={"MDR_SYNC_TOKEN": TOKEN},
        )
        assert stale.returncode == 1 and "stale" in stale.stderr, stale.stderr
        fraud = world.sdk().get_model_deployment(fraud.id).data
        assert fraud.display_name == "changed by hand", "a stale plan applies nothing"
    finally:
        assert controller.stop() == 0
    assert TOKEN not in Path(controller.log.name).read_text()


def _git(*args: str, cwd: Path | None = None) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x",
    }
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env)
    return done.stdout.strip()


def test_a_signed_push_webhook_reconciles_at_once_and_a_bad_signature_gets_401(
    world: World, tmp_path: Path
) -> None:
    bare, checkout = tmp_path / "repo.git", tmp_path / "checkout"
    _git("init", "--bare", "-b", "main", str(bare))
    _git("clone", str(bare), str(checkout))
    make_stack(checkout / "stacks/a", "team-a")
    make_stack(checkout / "stacks/b", "team-b")
    _git("add", "-A", cwd=checkout)
    _git("commit", "-m", "two stacks", cwd=checkout)
    _git("push", "origin", "HEAD:main", cwd=checkout)
    env = {"MDR_GITHUB_WEBHOOK_SECRET": HOOK_SECRET, "MDR_GITLAB_WEBHOOK_TOKEN": GITLAB_TOKEN}
    controller = ControllerProcess(
        world, "stacks", "--git-url", str(bare), "--git-interval", "1h", "--interval", "1h", env=env
    )
    try:
        eventually(lambda: len(owned(world, "team-a")) == 1 and len(owned(world, "team-b")) == 1, what="sync")
        edit(checkout / "stacks/b/fraud-scorer.yaml", "  displayName: Fraud scorer", "  displayName: Pushed")
        _git("commit", "-am", "rename", cwd=checkout)
        _git("push", "origin", "HEAD:main", cwd=checkout)
        revision = _git("rev-parse", "HEAD", cwd=checkout)
        push = json.dumps({"ref": "refs/heads/main", "after": revision}).encode()
        github = {"X-GitHub-Event": "push", "Content-Type": "application/json"}
        forged = {**github, "X-Hub-Signature-256": github_signature("not-the-secret", push)}
        assert post(controller, "/api/webhooks/github", push, forged)[0] == 401
        gitlab = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "guess"}
        assert post(controller, "/api/webhooks/gitlab", push, gitlab)[0] == 401
        time.sleep(2)
        assert owned(world, "team-b")[0].display_name == "Fraud scorer", "a refused webhook changes nothing"

        signed = {**github, "X-Hub-Signature-256": github_signature(HOOK_SECRET, push)}
        assert post(controller, "/api/webhooks/github", push, signed)[0] == 202
        eventually(
            lambda: owned(world, "team-b")[0].display_name == "Pushed", timeout=30, what="push applied"
        )
        eventually(
            lambda: controller.status()["stacks"]["team-b"].get("revision") == revision, what="revision"
        )
        counted = metric(controller, "mdr_webhook_requests_total")
        assert counted[(("outcome", "unauthorized"), ("provider", "github"))] == 1
        assert counted[(("outcome", "unauthorized"), ("provider", "gitlab"))] == 1
        assert counted[(("outcome", "accepted"), ("provider", "github"))] == 1
    finally:
        assert controller.stop() == 0
    text = Path(controller.log.name).read_text()
    assert HOOK_SECRET not in text and GITLAB_TOKEN not in text


def bare_stack(folder: Path, name: str) -> None:
    """A stack with no deployment: cheap to serve, so the test is about who serves it."""
    folder.mkdir(parents=True)
    (folder / "mdr.yaml").write_text(
        f"stack: {name}\nregion: us-ashburn-1\n"
        "defaults: {compartmentId: ocid1.compartment.oc1..aaaaaaaariskprod}\n"
    )


def leading(replica: ControllerProcess) -> set[str]:
    stacks = replica.status().get("stacks", {})
    return {name for name, state in stacks.items() if state.get("leader")}


def test_replicas_share_the_stacks_and_take_a_killed_ones_within_the_ttl(world: World) -> None:
    names = [f"team-{i}" for i in range(6)]
    for name in names:
        bare_stack(world.workdir / "tree" / name, name)
    shard = ("--shard-bucket", "mdr-state", "--shard-ttl", "6s", "--interval", "1h")
    replicas = [ControllerProcess(world, "tree", *shard) for _ in range(2)]
    try:

        def served_once(group: list[ControllerProcess]) -> bool:
            sets = [leading(r) for r in group]
            together = [n for s in sets for n in s]
            assert len(together) == len(set(together)), f"two replicas lead one stack: {sets}"
            return sorted(together) == sorted(names) and all(len(s) == len(names) // len(group) for s in sets)

        eventually(lambda: served_once(replicas), what="two replicas serve 3 stacks each")
        replicas.append(ControllerProcess(world, "tree", *shard))  # a third one joins: 2 each
        eventually(lambda: served_once(replicas), what="rebalanced to 2 each")
        victim = replicas.pop(0)
        orphaned = leading(victim)
        victim.process.kill()  # kill -9: no release, the leases must expire
        victim.process.wait()
        killed_at = time.monotonic()
        eventually(lambda: served_once(replicas), timeout=30, what="the killed replica's stacks taken")
        taken_after = time.monotonic() - killed_at
        print(f"stacks of the killed replica served again after {taken_after:.1f}s (TTL 6s)")
        assert orphaned and taken_after <= 6 + 2, f"taken after {taken_after:.1f}s"
        victim.stop()
    finally:
        for replica in replicas:
            assert replica.stop() == 0
