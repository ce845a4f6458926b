"""Notifications from a real controller process: a signed webhook, a Slack payload and an OCI Notifications
topic hear about drift, its correction and a failed sync; a sink that hangs or fails never slows reconciling."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import oci
from prometheus_client.parser import text_string_to_metric_families
from support.receiver import Receiver, receiver
from support.world import EXAMPLE_COMPARTMENT, World, copy_example_stack, edit
from test_controller_e2e import ControllerProcess, eventually, fraud

HOOK_KEY = "e2e-hmac-key-do-not-leak"
SLACK_PATH = "/services/T0001/B0001/SLACKTOKENDONOTLEAK"
FRAUD = "ModelDeployment/fraud-scorer"


def _notifications(stack: Path, text: str) -> None:
    with (stack / "mdr.yaml").open("a") as config:
        config.write("notifications:\n" + text)


def _topic(world: World) -> str:
    kwargs = {
        "service_endpoint": world.emulator.url,
        "retry_strategy": oci.retry.NoneRetryStrategy(),
    }
    control = oci.ons.NotificationControlPlaneClient(world.emulator.oci_config(), **kwargs)
    details = oci.ons.models.CreateTopicDetails(name="mdr-alerts", compartment_id=EXAMPLE_COMPARTMENT)
    return str(control.create_topic(details).data.topic_id)


def _topic_messages(world: World, topic: str) -> list[dict[str, Any]]:
    url = f"{world.emulator.url}/_emulator/notifications/topics/{topic}/messages"
    with urllib.request.urlopen(url, timeout=5) as answer:
        return list(json.loads(answer.read())["items"])


def _events(rec: Receiver, path: str) -> list[tuple[str, str | None]]:
    return [(b["type"], b["subject"]) for b in rec.bodies(path)]


def _slack_events(rec: Receiver) -> list[str]:
    return [b["text"] for b in rec.bodies(SLACK_PATH)]


def _metric(controller: ControllerProcess, name: str, **labels: str) -> float:
    _, text = controller.get("/metrics")
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def test_drift_self_heal_and_a_failed_sync_reach_every_sink_signed_and_without_secrets(world: World) -> None:
    stack = copy_example_stack(world.workdir / "manifests")
    topic = _topic(world)
    with receiver() as rec:
        _notifications(
            stack,
            f"  - {{name: ops-hook, type: webhook, url: '{rec.url}/hook', secretEnv: HOOK_KEY}}\n"
            "  - {name: team-chat, type: slack, urlEnv: SLACK_URL}\n"
            f"  - {{name: oncall, type: oci, topicId: {topic}}}\n",
        )
        env = {"HOOK_KEY": HOOK_KEY, "SLACK_URL": rec.url + SLACK_PATH}
        controller = ControllerProcess(world, "manifests", "--interval", "1s", "--self-heal", env=env)
        try:
            eventually(
                lambda: fraud(world) is not None and fraud(world).lifecycle_state == "ACTIVE",
                what="initial sync",
            )
            eventually(lambda: controller.status().get("reconciles", 0) >= 2, what="settled")
            assert rec.received == []  # a healthy stack says nothing

            world.sdk().update_model_deployment(fraud(world).id, {"displayName": "changed by hand"})
            eventually(
                lambda: ("Recovered", FRAUD) in _events(rec, "/hook"), what="drift corrected and notified"
            )
            assert _events(rec, "/hook") == [("DriftDetected", FRAUD), ("Recovered", FRAUD)]
            eventually(lambda: len(_slack_events(rec)) == 2, what="slack messages")
            eventually(lambda: len(_topic_messages(world, topic)) == 2, what="OCI topic messages")

            world.emulator.set_faults(world.emulator.faults.updated({"fail_work_requests": 1.0}))
            edit(stack / "fraud-scorer.yaml", "  displayName: Fraud scorer", "  displayName: Fraud scorer v2")
            eventually(lambda: ("SyncFailed", FRAUD) in _events(rec, "/hook"), what="sync failure notified")
        finally:
            world.emulator.set_faults(world.emulator.faults.updated({"fail_work_requests": 0.0}))
            assert controller.stop() == 0

    for _, headers, body in rec.received:
        if headers.get("x-mdr-signature-256") is None:
            continue
        expected = "sha256=" + hmac.new(HOOK_KEY.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-mdr-signature-256"], expected)
    hook = rec.bodies("/hook")
    assert all(b["stack"] == "risk-prod" and b["apiVersion"] == "mdr/v1" for b in hook)
    assert hook[0]["message"] == "changed outside mdr; corrected (self-heal)"
    failed = next(b for b in hook if b["type"] == "SyncFailed")
    assert failed["severity"] == "error" and failed["message"]
    slack = rec.bodies(SLACK_PATH)
    assert slack[0]["text"].startswith("mdr risk-prod: DriftDetected ModelDeployment/fraud-scorer")
    assert slack[0]["blocks"][0]["type"] == "section"
    published = _topic_messages(world, topic)
    assert published[0]["title"] == "mdr risk-prod: DriftDetected ModelDeployment/fraud-scorer"
    assert json.loads(published[1]["body"])["type"] == "Recovered"
    everything = b"".join(body for _, _, body in rec.received) + json.dumps(published).encode()
    assert HOOK_KEY.encode() not in everything and b"SLACKTOKENDONOTLEAK" not in everything


def test_a_hanging_and_a_failing_sink_do_not_slow_reconciling(world: World) -> None:
    stack = copy_example_stack(world.workdir / "manifests")
    with receiver() as hanging, receiver() as failing:
        hanging.hang = True
        failing.statuses = [500] * 1000
        _notifications(
            stack,
            f"  - {{name: stuck, type: webhook, url: '{hanging.url}/hook', secretEnv: HOOK_KEY}}\n"
            f"  - {{name: broken, type: webhook, url: '{failing.url}/hook', secretEnv: HOOK_KEY}}\n",
        )
        controller = ControllerProcess(world, "manifests", "--interval", "1s", env={"HOOK_KEY": HOOK_KEY})
        try:
            eventually(
                lambda: fraud(world) is not None and fraud(world).lifecycle_state == "ACTIVE",
                what="initial sync",
            )
            world.sdk().update_model_deployment(fraud(world).id, {"displayName": "changed by hand"})
            eventually(lambda: FRAUD in controller.status().get("drift", []), what="drift seen")
            eventually(lambda: len(failing.received) >= 2, what="the failing sink retried")
            before = controller.status()["reconciles"]
            time.sleep(6)
            during = controller.status()["reconciles"] - before
            assert during >= 4, f"{during} reconciles in 6 s at --interval 1s while sinks hang and fail"
            assert _metric(controller, "mdr_notifications_failed_total", sink="broken") >= 2
            assert _metric(controller, "mdr_notifications_sent_total", sink="stuck") == 0
            assert len(hanging.received) == 0  # its only delivery is still hanging
        finally:
            assert controller.stop() == 0
