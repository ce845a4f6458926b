"""The controller as a separate process against the emulator, observed from outside like an operator would."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from support.world import World, copy_example_stack, edit

from reconciler.emulator import Emulator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ControllerProcess:
    def __init__(
        self, world: World, *args: str, state: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "MDR_STATE_DIR": str(state or world.workdir / ".mdr"),
            "NO_COLOR": "1",
            **(env or {}),
        }
        command = [
            sys.executable,
            "-m",
            "reconciler",
            "controller",
            *args,
            "--listen",
            f"127.0.0.1:{self.port}",
            "--log-format",
            "json",
            *world.target_args(),
        ]
        self.log = (world.workdir / f"controller-{self.port}.log").open("w")
        self.process = subprocess.Popen(
            command, cwd=world.workdir, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            return 0, ""

    def status(self) -> dict[str, Any]:
        code, body = self.get("/status")
        return json.loads(body) if code == 200 else {}

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return int(self.process.returncode)


def eventually(check: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached within {timeout}s")


def fraud(world: World) -> Any:
    found = [
        d for d in world.deployments() if d.freeform_tags.get("mdr-key") == "ModelDeployment/fraud-scorer"
    ]
    return found[0] if found else None


def test_manifest_edit_on_disk_is_applied_and_metrics_parse(world: World) -> None:
    stack = copy_example_stack(world.workdir / "manifests")
    controller = ControllerProcess(world, "manifests", "--interval", "1h")
    try:
        eventually(
            lambda: controller.status().get("reconciles", 0) >= 1 and len(world.deployments()) == 2,
            what="initial sync",
        )
        assert controller.get("/healthz")[0] == 200
        assert controller.get("/readyz")[0] == 200
        edit(stack / "fraud-scorer.yaml", "  displayName: Fraud scorer", "  displayName: Fraud scorer v2")
        eventually(
            lambda: fraud(world) is not None and fraud(world).display_name == "Fraud scorer v2",
            what="edit applied",
        )
        code, text = controller.get("/metrics")
        assert code == 200
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert "mdr_reconcile" in families and "mdr_api_calls" in families
        sync = {
            (s.labels["name"], s.labels["status"]): s.value for s in families["mdr_deployment_sync"].samples
        }
        eventually(lambda: controller.status()["deployments"][1]["sync"] == "Synced", what="synced status")
        assert sync[("fraud-scorer", "Synced")] in (0.0, 1.0)
    finally:
        assert controller.stop() == 0


def test_git_commit_is_applied_and_its_revision_reported(world: World, tmp_path: Path) -> None:
    bare = tmp_path / "repo.git"
    checkout = tmp_path / "checkout"
    run = lambda *args, cwd=None: subprocess.run(  # noqa: E731 - a tiny local helper
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@x",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@x",
        },
    )
    run("init", "--bare", "-b", "main", str(bare))
    run("clone", str(bare), str(checkout))
    copy_example_stack(checkout / "manifests")
    run("add", "-A", cwd=checkout)
    run("commit", "-m", "initial", cwd=checkout)
    run("push", "origin", "HEAD:main", cwd=checkout)
    controller = ControllerProcess(
        world,
        "manifests",
        "--git-url",
        str(bare),
        "--branch",
        "main",
        "--git-interval",
        "1s",
        "--interval",
        "1h",
    )
    try:
        eventually(lambda: len(world.deployments()) == 2, what="initial sync from git")
        edit(checkout / "manifests" / "fraud-scorer.yaml", "    ocpus: 1", "    ocpus: 2")
        run("commit", "-am", "more cpu", cwd=checkout)
        run("push", "origin", "HEAD:main", cwd=checkout)
        revision = run("rev-parse", "HEAD", cwd=checkout).stdout.strip()

        def applied() -> bool:
            status = controller.status()
            return status.get("last_applied_revision") == revision and status.get("revision") == revision

        eventually(applied, what="new commit applied")
        detail = world.sdk().get_model_deployment(fraud(world).id).data
        shape = (
            detail.model_deployment_configuration_details.model_configuration_details.instance_configuration
        )
        assert shape.model_deployment_instance_shape_config_details.ocpus == 2
    finally:
        assert controller.stop() == 0


def test_drift_is_reported_and_corrected_only_with_self_heal(world: World) -> None:
    copy_example_stack(world.workdir / "manifests")
    watcher = ControllerProcess(world, "manifests", "--interval", "1s")
    try:
        eventually(
            lambda: len(world.deployments()) == 2 and watcher.status().get("reconciles", 0) >= 1,
            what="initial sync",
        )
        eventually(lambda: fraud(world).lifecycle_state == "ACTIVE", what="active")
        world.sdk().update_model_deployment(fraud(world).id, {"displayName": "changed by hand"})
        eventually(
            lambda: "ModelDeployment/fraud-scorer" in watcher.status().get("drift", []), what="drift reported"
        )
        time.sleep(2)
        assert fraud(world).display_name == "changed by hand", "without --self-heal drift is only reported"
    finally:
        assert watcher.stop() == 0
    healer = ControllerProcess(world, "manifests", "--interval", "1s", "--self-heal")
    try:
        eventually(lambda: fraud(world).display_name == "Fraud scorer", what="drift corrected")
    finally:
        assert healer.stop() == 0


def test_standby_takes_over_when_the_leader_dies(world: World) -> None:
    stack = copy_example_stack(world.workdir / "manifests")
    leader = ControllerProcess(world, "manifests", "--interval", "1h")
    try:
        eventually(
            lambda: leader.status().get("leader") is True and len(world.deployments()) == 2, what="leader"
        )
        standby = ControllerProcess(world, "manifests", "--interval", "1h")
        try:
            eventually(lambda: standby.get("/status")[0] == 200, what="standby up")
            time.sleep(1)
            assert standby.status()["leader"] is False
            assert standby.get("/readyz") == (200, "standby\n")
            leader.process.kill()
            leader.process.wait()
            eventually(lambda: standby.status().get("leader") is True, what="standby takes the lock")
            edit(stack / "fraud-scorer.yaml", "  displayName: Fraud scorer", "  displayName: After failover")
            eventually(lambda: fraud(world).display_name == "After failover", what="standby applies")
        finally:
            assert standby.stop() == 0
    finally:
        leader.stop()


def test_bad_manifest_blocks_only_its_own_deployment(world: World) -> None:
    stack = copy_example_stack(world.workdir / "manifests")
    edit(stack / "churn-container.yaml", "    ocpus: 2", "    ocpus: lots")
    controller = ControllerProcess(world, "manifests", "--interval", "1h")
    try:
        eventually(
            lambda: fraud(world) is not None and controller.status().get("reconciles", 0) >= 1,
            what="valid deployment applied",
        )
        status = controller.status()
        assert any("churn-container.yaml" in issue and "ocpus" in issue for issue in status["invalid"])
        assert [d.display_name for d in world.deployments()] == ["Fraud scorer"]
    finally:
        assert controller.stop() == 0


def test_an_oci_outage_is_reported_and_survived(world: World, tmp_path: Path) -> None:
    copy_example_stack(world.workdir / "manifests")
    port = world.emulator.port
    world.emulator.stop()
    world.emulator = Emulator(state_dir=tmp_path / "emu", port=port, work_request_seconds=0.05).start()
    world.config_file = world.emulator.write_oci_config(tmp_path / "emu-oci")  # its key survives restarts
    controller = ControllerProcess(
        world, "manifests", "--interval", "1h", env={"MDR_RETRY_MAX_ATTEMPTS": "1"}
    )
    try:
        eventually(lambda: controller.status().get("reconciles", 0) >= 1, what="initial sync")
        world.emulator.stop()  # OCI goes away
        (world.workdir / "manifests" / "fraud-scorer.yaml").write_text(
            (world.workdir / "manifests" / "fraud-scorer.yaml")
            .read_text()
            .replace("replicas: 1", "replicas: 2")
        )
        eventually(
            lambda: "cannot reach OCI" in (controller.status().get("last_error") or ""),
            what="outage reported",
        )
        assert controller.process.poll() is None  # still running
        world.emulator = Emulator(state_dir=tmp_path / "emu", port=port, work_request_seconds=0.05).start()
        eventually(lambda: controller.status().get("last_error") is None, timeout=60, what="recovery")
        config = fraud(world).model_deployment_configuration_details.model_configuration_details
        assert config.scaling_policy.instance_count == 2  # the edit made during the outage is applied
    finally:
        assert controller.stop() == 0


def _prune_on(stack: Path) -> None:
    edit(stack / "mdr.yaml", "prune: false", "prune: true")


def _deletes(world: World) -> int:
    return world.emulator.counters().get("DeleteModelDeployment", 0)


def test_an_editor_save_never_prunes_but_a_real_removal_does(world: World, tmp_path: Path) -> None:
    """Truncate-then-write and rename-away-then-back saves look like removals for a moment: never a delete."""
    stack = copy_example_stack(world.workdir / "manifests")
    _prune_on(stack)
    manifest = stack / "churn-container.yaml"
    text = manifest.read_text()
    controller = ControllerProcess(world, "manifests", "--interval", "1h", "--prune-settle", "4s")
    try:
        eventually(
            lambda: len(world.deployments()) == 2 and controller.status().get("reconciles", 0) >= 1,
            what="initial sync",
        )
        manifest.write_text("")  # an editor truncates ...
        time.sleep(1.5)
        manifest.write_text(text)  # ... and writes 1.5 s later
        aside = tmp_path / "churn-container.yaml.bak"
        manifest.rename(aside)  # a save through a backup rename
        time.sleep(1.5)
        aside.rename(manifest)
        time.sleep(6)  # longer than --prune-settle: a deferred prune would have run by now
        assert _deletes(world) == 0
        assert len(world.deployments()) == 2
        manifest.unlink()  # a real removal is pruned once reads --prune-settle apart agree
        eventually(lambda: len(world.deployments()) == 1, timeout=60, what="real removal pruned")
        assert _deletes(world) == 1
    finally:
        assert controller.stop() == 0


def test_a_leader_that_lost_its_lease_stands_by_and_can_lead_again(world: World) -> None:
    """A paused leader loses its lease: the standby leads and reconciles at once; the old leader, resumed,
    sends no write, stands by, and leads again when the new leader dies."""
    stack = copy_example_stack(world.workdir / "manifests")
    edit(stack / "mdr.yaml", "maxDeletes: 3", "maxDeletes: 3\nlock: {bucket: mdr-locks, ttlSeconds: 15}")
    first = ControllerProcess(world, "manifests", "--interval", "1h")
    second: ControllerProcess | None = None
    try:
        eventually(
            lambda: first.status().get("leader") is True and len(world.deployments()) == 2, what="lead"
        )
        second = ControllerProcess(world, "manifests", "--interval", "1h")
        eventually(lambda: second.get("/readyz") == (200, "standby\n"), what="standby")
        first.process.send_signal(signal.SIGSTOP)
        eventually(lambda: second.status().get("leader") is True, timeout=60, what="takeover")
        eventually(
            lambda: second.status().get("reconciles", 0) >= 1, timeout=10, what="reconcile on taking over"
        )
        first.process.send_signal(signal.SIGCONT)
        eventually(lambda: first.status().get("leader") is False, timeout=30, what="old leader stands by")
        assert first.process.poll() is None
        edit(stack / "fraud-scorer.yaml", "  displayName: Fraud scorer", "  displayName: Second leader")
        eventually(lambda: fraud(world).display_name == "Second leader", what="new leader applies")
        second.process.kill()
        second.process.wait()
        eventually(lambda: first.status().get("leader") is True, timeout=60, what="old leader leads again")
        edit(stack / "fraud-scorer.yaml", "  displayName: Second leader", "  displayName: First again")
        eventually(lambda: fraud(world).display_name == "First again", what="writes resume after re-leading")
    finally:
        first.process.send_signal(signal.SIGCONT)
        assert first.stop() == 0
        if second is not None:
            second.stop()


def test_a_suspended_deployment_is_reported_in_the_controller_log_once(world: World) -> None:
    stack = copy_example_stack(world.workdir / "manifests")
    edit(stack / "fraud-scorer.yaml", "  annotations:\n", "  annotations:\n    mdr.io/suspend: 'true'\n")
    controller = ControllerProcess(world, "manifests", "--interval", "1s")
    try:
        eventually(lambda: controller.status().get("reconciles", 0) >= 3, what="a few reconciles")
    finally:
        assert controller.stop() == 0
    lines = (world.workdir / f"controller-{controller.port}.log").read_text().splitlines()
    suspended = [json.loads(x) for x in lines if "mdr.io/suspend" in x]
    assert len(suspended) == 1, suspended
    assert suspended[0]["level"] == "warning" and "fraud-scorer" in suspended[0]["warning"]
