"""OCI Notifications through the real SDK: CreateTopic and GetTopic (control plane), PublishMessage (data
plane), and the admin read-back a test uses to see what was published."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import oci
import pytest
from conftest import COMPARTMENT, client_kwargs

from reconciler.emulator import Emulator


def _clients(emulator: Emulator) -> tuple[Any, Any]:
    config = emulator.oci_config()
    control = oci.ons.NotificationControlPlaneClient(config, **client_kwargs(emulator))
    data = oci.ons.NotificationDataPlaneClient(config, **client_kwargs(emulator))
    return control, data


def _topic(control: Any, name: str = "mdr-alerts") -> Any:
    details = oci.ons.models.CreateTopicDetails(name=name, compartment_id=COMPARTMENT, description="alerts")
    return control.create_topic(details).data


def _admin(emulator: Emulator, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"{emulator.url}/_emulator/notifications/{path}", timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_published_message_is_kept_for_reading_back(emulator: Emulator) -> None:
    control, data = _clients(emulator)
    topic = _topic(control)
    assert topic.lifecycle_state == "ACTIVE" and topic.topic_id.startswith("ocid1.onstopic.")
    assert topic.api_endpoint == emulator.url
    assert control.get_topic(topic.topic_id).data.name == "mdr-alerts"
    details = oci.ons.models.MessageDetails(title="mdr risk-prod: DriftDetected", body='{"type": "x"}')
    result = data.publish_message(topic.topic_id, details).data
    assert result.message_id
    status, answer = _admin(emulator, f"topics/{topic.topic_id}/messages")
    assert status == 200
    assert [(m["title"], m["body"]) for m in answer["items"]] == [
        ("mdr risk-prod: DriftDetected", '{"type": "x"}')
    ]
    assert answer["items"][0]["messageId"] == result.message_id
    assert _admin(emulator, "messages")[1]["items"] == answer["items"]


def test_publishing_to_an_unknown_topic_is_a_404_as_on_oci(emulator: Emulator) -> None:
    _, data = _clients(emulator)
    with pytest.raises(oci.exceptions.ServiceError) as raised:
        data.publish_message("ocid1.onstopic.oc1.iad.nosuchtopic", oci.ons.models.MessageDetails(body="x"))
    assert (raised.value.status, raised.value.code) == (404, "NotAuthorizedOrNotFound")
    assert _admin(emulator, "topics/ocid1.onstopic.oc1.iad.nosuchtopic/messages")[0] == 404


def test_a_message_without_a_body_or_over_64_kb_is_refused(emulator: Emulator) -> None:
    control, data = _clients(emulator)
    topic = _topic(control)
    for body in ("", "x" * (64 * 1024 + 1)):
        with pytest.raises(oci.exceptions.ServiceError) as raised:
            data.publish_message(topic.topic_id, oci.ons.models.MessageDetails(body=body))
        assert raised.value.status == 400
    assert _admin(emulator, "messages")[1]["items"] == []


def test_topic_names_are_unique(emulator: Emulator) -> None:
    control, _ = _clients(emulator)
    _topic(control)
    with pytest.raises(oci.exceptions.ServiceError) as raised:
        _topic(control)
    assert raised.value.status == 409


def test_topics_and_messages_survive_a_restart(tmp_path: Path) -> None:
    with Emulator(state_dir=tmp_path) as first:
        control, data = _clients(first)
        topic = _topic(control)
        data.publish_message(topic.topic_id, oci.ons.models.MessageDetails(body="kept"))
    with Emulator(state_dir=tmp_path) as second:
        control, _ = _clients(second)
        assert control.get_topic(topic.topic_id).data.api_endpoint == second.url
        assert [m["body"] for m in _admin(second, "messages")[1]["items"]] == ["kept"]
