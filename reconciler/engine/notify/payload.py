"""What each sink is sent for an event: the generic JSON envelope, its HMAC signature, Slack's payload and
an OCI Notifications message; and the redaction that keeps every known secret out of all of them."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from reconciler.core.events import Event

API_VERSION = "mdr/v1"
SIGNATURE_HEADER = "X-Mdr-Signature-256"
#: secrets shorter than this are not searched for: replacing a two-letter value would mangle every message
MIN_SECRET_LENGTH = 4
REDACTED = "[redacted]"
SLACK_EMOJI = {"error": ":red_circle:", "warning": ":warning:", "info": ":white_check_mark:"}


class Redactor:
    """Replaces every known secret value (HMAC keys, Slack URLs, secretEnv values, auth material) in text.

    A message can quote anything an API or a user wrote (an error echoing a request, say), so every string
    of a payload goes through here before it is serialised, whatever the sink."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # longest first: a secret containing another is replaced whole
        self.secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value

    def deep(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.deep(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.deep(v) for v in value]
        return value


@dataclass(frozen=True)
class Envelope:
    """An event with where and when it happened: one delivery, whatever the sink."""

    id: str
    event: Event
    time: str
    revision: str | None
    target: str | None
    controller: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": "Event",
            "id": self.id,
            "type": self.event.kind.value,
            "severity": self.event.severity,
            "stack": self.event.stack,
            "subject": self.event.subject,
            "message": self.event.message,
            "time": self.time,
            "revision": self.revision,
            "target": self.target,
            "controller": self.controller,
        }

    @property
    def title(self) -> str:
        about = f" {self.event.subject}" if self.event.subject else ""
        return f"mdr {self.event.stack}: {self.event.kind.value}{about}"


def webhook_body(envelope: Envelope, redactor: Redactor) -> bytes:
    return json.dumps(redactor.deep(envelope.to_dict()), sort_keys=True).encode()


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of the body>``, as GitHub signs its webhooks (receivers know the format)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def slack_body(envelope: Envelope, redactor: Redactor) -> bytes:
    """An incoming-webhook payload: ``text`` (the notification line) and Block Kit ``blocks``."""
    event = envelope.event
    headline = f"{SLACK_EMOJI[event.severity]} *{envelope.title}*"
    facts = [f"*Stack:* {event.stack}", f"*Event:* {event.kind.value}"]
    if event.subject:
        facts.append(f"*Resource:* {event.subject}")
    if envelope.revision:
        facts.append(f"*Revision:* {envelope.revision[:12]}")
    payload = {
        "text": f"{envelope.title}: {event.message}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{headline}\n{event.message}"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(facts)}]},
        ],
    }
    return json.dumps(redactor.deep(payload)).encode()


def oci_message(envelope: Envelope, redactor: Redactor) -> tuple[str, str]:
    """(title, body) of a ``PublishMessage``: the title for e-mail subscribers, the JSON envelope as body."""
    body = json.dumps(redactor.deep(envelope.to_dict()), sort_keys=True, indent=2)
    return redactor.text(envelope.title)[:255], body
