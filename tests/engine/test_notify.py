"""Notification delivery against a real local HTTP receiver: signatures, payload shapes, secrets kept out,
retries with backoff, and a sink that hangs or fails never holding up the caller."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator

import oci
import pytest
from support.receiver import Receiver
from support.receiver import receiver as local_receiver
from support.world import EXAMPLE_COMPARTMENT, World

from reconciler.core.events import Event, EventKind, Observation, RateLimiter
from reconciler.core.manifest_notify import OciSink, SlackSink, WebhookSink
from reconciler.engine.controller.metrics import ControllerMetrics
from reconciler.engine.notify.notifier import Notifier
from reconciler.engine.notify.payload import Envelope, Redactor
from reconciler.engine.notify.sinks import (
    NotifyConfigError,
    OciSender,
    SinkError,
    SlackSender,
    WebhookSender,
    build_sender,
)
from reconciler.engine.notify.worker import SinkWorker

HMAC_KEY = "hmac-key-0123456789"
FRAUD = "ModelDeployment/fraud-scorer"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with local_receiver() as rec:
        yield rec


def envelope(kind: EventKind = EventKind.DRIFT_DETECTED, message: str = "changed outside mdr") -> Envelope:
    event = Event(kind, "risk-prod", FRAUD, message)
    return Envelope("d1", event, "2026-01-01T00:00:00Z", "3f2c", "endpoint:http://emu", "host:1:ab")


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError("not reached")


def sample(metrics: ControllerMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def test_a_webhook_is_signed_with_hmac_sha256_of_the_exact_body(receiver: Receiver) -> None:
    sender = WebhookSender("hook", receiver.url + "/mdr", HMAC_KEY)
    sender.send(envelope(), Redactor(sender.secrets))
    _, headers, body = receiver.received[0]
    expected = "sha256=" + hmac.new(HMAC_KEY.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-mdr-signature-256"], expected)
    assert headers["x-mdr-event"] == "DriftDetected" and headers["content-type"] == "application/json"
    assert json.loads(body) == {
        "apiVersion": "mdr/v1",
        "kind": "Event",
        "id": "d1",
        "type": "DriftDetected",
        "severity": "warning",
        "stack": "risk-prod",
        "subject": FRAUD,
        "message": "changed outside mdr",
        "time": "2026-01-01T00:00:00Z",
        "revision": "3f2c",
        "target": "endpoint:http://emu",
        "controller": "host:1:ab",
    }


def test_a_slack_payload_has_text_and_blocks_and_never_the_webhook_url(receiver: Receiver) -> None:
    url = receiver.url + "/services/T000/B000/XXXXSECRETTOKEN"
    sender = SlackSender("chat", url)
    leaky = envelope(EventKind.SYNC_FAILED, f"POST {url} failed; SECRET_VALUE=hunter2-swordfish")
    sender.send(leaky, Redactor([*sender.secrets, "hunter2-swordfish"]))
    _, headers, body = receiver.received[0]
    payload = json.loads(body)
    assert payload["text"].startswith("mdr risk-prod: SyncFailed ModelDeployment/fraud-scorer: POST")
    assert [b["type"] for b in payload["blocks"]] == ["section", "context"]
    assert ":red_circle:" in payload["blocks"][0]["text"]["text"]
    assert "XXXXSECRETTOKEN" not in body.decode() and "hunter2-swordfish" not in body.decode()
    assert "[redacted]" in payload["text"]
    assert "x-mdr-signature-256" not in headers


def test_no_secret_reaches_a_signed_webhook_either(receiver: Receiver) -> None:
    sender = WebhookSender("hook", receiver.url, HMAC_KEY)
    leaky = envelope(EventKind.SYNC_FAILED, f"echoed key {HMAC_KEY} and token s3cr3t-env-value")
    sender.send(leaky, Redactor([*sender.secrets, "s3cr3t-env-value", "ab"]))
    text = receiver.received[0][2].decode()
    assert HMAC_KEY not in text and "s3cr3t-env-value" not in text
    assert "echoed key [redacted] and token [redacted]" in json.loads(text)["message"]


def test_a_failing_sink_is_retried_with_backoff_until_it_answers(receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    metrics = ControllerMetrics()
    sender = WebhookSender("hook", receiver.url, HMAC_KEY)
    worker = SinkWorker(sender, Redactor(), RateLimiter(60), metrics.notifications, retry_base=0.05)
    worker.start()
    try:
        worker.submit(envelope())
        eventually(lambda: sample(metrics, "mdr_notifications_sent_total", sink="hook") == 1)
    finally:
        worker.stop()
    assert len(receiver.received) == 3
    assert receiver.received[0][2] == receiver.received[2][2]  # the same delivery, the same signature
    assert sample(metrics, "mdr_notifications_failed_total", sink="hook") == 2


def test_a_receiver_that_refuses_the_payload_is_not_retried(receiver: Receiver) -> None:
    receiver.statuses = [400]
    metrics = ControllerMetrics()
    worker = SinkWorker(
        WebhookSender("hook", receiver.url, HMAC_KEY), Redactor(), RateLimiter(60), metrics.notifications
    )
    worker.start()
    try:
        worker.submit(envelope())
        eventually(
            lambda: sample(metrics, "mdr_notifications_dropped_total", sink="hook", reason="rejected") == 1
        )
    finally:
        worker.stop()
    assert len(receiver.received) == 1


def test_a_hanging_sink_never_blocks_the_caller_and_a_full_queue_drops_the_oldest(receiver: Receiver) -> None:
    receiver.hang = True
    metrics = ControllerMetrics()
    sender = WebhookSender("hook", receiver.url, HMAC_KEY, timeout=30)
    worker = SinkWorker(sender, Redactor(), RateLimiter(600), metrics.notifications, capacity=3)
    worker.start()
    try:
        worker.submit(envelope(message="first"))
        eventually(lambda: worker.pending() == 0)  # taken by the worker, which now hangs in the send
        started = time.monotonic()
        for number in range(10):
            worker.submit(envelope(message=f"event {number}"))
        assert time.monotonic() - started < 0.5  # appending never waits for the sink
        assert worker.pending() == 3 and worker.overflowed == 7
        assert sample(metrics, "mdr_notifications_dropped_total", sink="hook", reason="overflow") == 7
        receiver.release.set()
        eventually(lambda: len(receiver.received) == 4)
    finally:
        worker.stop()
    assert [b["message"] for b in receiver.bodies()] == ["first", "event 7", "event 8", "event 9"]


def test_a_sink_whose_secret_variable_is_unset_is_a_clear_error() -> None:
    sink = WebhookSink(name="ops", type="webhook", url="https://hooks.example.com/x", secretEnv="OPS_KEY")
    with pytest.raises(NotifyConfigError, match="sink 'ops': secretEnv: the environment variable OPS_KEY"):
        build_sender(sink, None, env={})
    slack = SlackSink(name="chat", type="slack", urlEnv="SLACK_URL")
    with pytest.raises(NotifyConfigError, match="SLACK_URL is unset or empty"):
        build_sender(slack, None, env={"SLACK_URL": ""})
    topic = OciSink(name="oncall", type="oci", topicId="ocid1.onstopic.oc1.iad.aaaa")
    with pytest.raises(NotifyConfigError, match="sink 'oncall': type oci needs an OCI Notifications client"):
        build_sender(topic, None, env={})


def test_the_notifier_filters_and_deduplicates_per_sink(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_HOOK_KEY", HMAC_KEY)
    everything = WebhookSink(name="all", type="webhook", url=receiver.url + "/all", secretEnv="TEST_HOOK_KEY")
    recoveries = WebhookSink(
        name="ok", type="webhook", url=receiver.url + "/ok", secretEnv="TEST_HOOK_KEY", events=["Recovered"]
    )
    notifier = Notifier("risk-prod", None, ControllerMetrics().notifications)
    notifier.configure([everything, recoveries])
    try:
        drifting = Observation(drifted=frozenset({FRAUD}))
        notifier.observe(drifting)
        notifier.observe(drifting)  # still drifted: not news
        notifier.observe(Observation())
        eventually(lambda: len(receiver.received) == 3)
        time.sleep(0.2)
    finally:
        notifier.close()
    sent = sorted((b["type"], b["subject"]) for b in receiver.bodies())
    assert sent == [("DriftDetected", FRAUD), ("Recovered", FRAUD), ("Recovered", FRAUD)]


def test_a_reconcile_holding_the_lock_too_long_is_reported_and_so_is_its_end(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_HOOK_KEY", HMAC_KEY)
    monkeypatch.setenv("MDR_LOCK_ALERT_SECONDS", "0.2")
    sink = WebhookSink(name="all", type="webhook", url=receiver.url, secretEnv="TEST_HOOK_KEY")
    notifier = Notifier("risk-prod", None)
    notifier.configure([sink])
    try:
        notifier.reconcile_started("resync")
        eventually(lambda: len(receiver.received) == 1)
        notifier.reconcile_finished(0.5)
        eventually(lambda: len(receiver.received) == 2)
        notifier.reconcile_started("resync")
        notifier.reconcile_finished(0.01)  # a quick one: nothing to say
        time.sleep(0.4)
    finally:
        notifier.close()
    bodies = receiver.bodies()
    assert [b["type"] for b in bodies] == ["LockHeldTooLong", "Recovered"]
    assert "held the stack lock for 0.2s" in bodies[0]["message"]


def test_edited_sinks_take_effect_and_a_missing_secret_keeps_the_previous_settings(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_HOOK_KEY", HMAC_KEY)
    sink = WebhookSink(name="all", type="webhook", url=receiver.url + "/v1", secretEnv="TEST_HOOK_KEY")
    notifier = Notifier("risk-prod", None)
    notifier.configure([sink])
    try:
        moved = sink.model_copy(update={"url": receiver.url + "/v2"})
        notifier.configure([moved])
        broken = moved.model_copy(update={"url": receiver.url + "/v3", "secretEnv": "UNSET_KEY"})
        with pytest.raises(NotifyConfigError, match="UNSET_KEY"):
            notifier.configure([broken])
        notifier.observe(Observation(drifted=frozenset({FRAUD})))
        eventually(lambda: len(receiver.received) == 1)
    finally:
        notifier.close()
    assert receiver.received[0][0] == "/v2"


def test_an_oci_sink_publishes_through_the_sdk_and_an_unknown_topic_is_not_retried(world: World) -> None:
    kwargs = {"service_endpoint": world.emulator.url, "retry_strategy": oci.retry.NoneRetryStrategy()}
    config = world.emulator.oci_config()
    control = oci.ons.NotificationControlPlaneClient(config, **kwargs)
    data = oci.ons.NotificationDataPlaneClient(config, **kwargs)
    details = oci.ons.models.CreateTopicDetails(name="alerts", compartment_id=EXAMPLE_COMPARTMENT)
    topic = control.create_topic(details).data.topic_id
    OciSender("oncall", topic, data).send(envelope(), Redactor())
    published = world.emulator.notifications.messages(topic)
    assert published[0]["title"] == "mdr risk-prod: DriftDetected ModelDeployment/fraud-scorer"
    assert json.loads(published[0]["body"])["subject"] == FRAUD
    with pytest.raises(SinkError) as raised:
        OciSender("oncall", "ocid1.onstopic.oc1.iad.gone", data).send(envelope(), Redactor())
    assert not raised.value.retry and "404" in str(raised.value)
