"""The ``notifications:`` list of ``mdr.yaml``: where the controller sends events, and which ones.

Three kinds of sink, like Flux's notification-controller providers: a generic ``webhook`` (JSON signed with
HMAC-SHA256), ``slack`` (a Slack-compatible incoming-webhook payload) and ``oci`` (OCI Notifications
``PublishMessage`` to a topic). Secrets never live in the manifest, which is committed to git: the HMAC key
and the Slack URL (itself a credential) are read from environment variables the sink names.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from reconciler.core.manifest_parts import DNS_LABEL, Strict, _ocid_pattern, field_error

#: every event the controller can send, by the name a sink's ``events:`` filter uses
EVENT_NAMES = (
    "SyncFailed",
    "DriftDetected",
    "HealthDegraded",
    "Recovered",
    "PruneBlocked",
    "LockHeldTooLong",
)

EventName = Literal[
    "SyncFailed", "DriftDetected", "HealthDegraded", "Recovered", "PruneBlocked", "LockHeldTooLong"
]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
SinkName = Annotated[str, StringConstraints(pattern=DNS_LABEL, max_length=63)]
HttpUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s/?#]+[^\s]*$", max_length=2048)]


class SinkBase(Strict):
    name: SinkName = Field(description="Names the sink in logs and metrics (label sink)")
    events: list[EventName] | None = Field(
        None,
        description="Send only these events (default: all): " + ", ".join(EVENT_NAMES),
    )
    repeatIntervalSeconds: int = Field(
        3600,
        ge=60,
        le=7 * 24 * 3600,
        description="An event that has not changed (same kind, deployment and message) is sent again only "
        "after this long, as a reminder",
    )
    maxPerMinute: int = Field(
        20, ge=1, le=600, description="At most this many messages a minute; more wait their turn"
    )

    @field_validator("events")
    @classmethod
    def _events_listed_once(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise field_error((), "events: list at least one event, or leave events out to send all")
        return value


class WebhookSink(SinkBase):
    """A JSON POST signed with HMAC-SHA256 of the body in ``X-Mdr-Signature-256: sha256=<hex>``."""

    type: Literal["webhook"]
    url: HttpUrl = Field(description="Where events are POSTed (no credential in it: it is committed)")
    secretEnv: EnvName = Field(
        description="The environment variable holding the HMAC-SHA256 key; the controller refuses to "
        "start when it is unset or empty"
    )


class SlackSink(SinkBase):
    """A Slack-compatible incoming-webhook payload (``text`` and ``blocks``)."""

    type: Literal["slack"]
    urlEnv: EnvName = Field(
        description="The environment variable holding the incoming-webhook URL (a Slack webhook URL is a "
        "credential, so it is never written in the manifest)"
    )


class OciSink(SinkBase):
    """OCI Notifications: ``PublishMessage`` to a topic, with the controller's own OCI credentials."""

    type: Literal["oci"]
    topicId: Annotated[str, StringConstraints(pattern=_ocid_pattern("onstopic"))] = Field(
        description="The OCID of the OCI Notifications topic (ocid1.onstopic...)"
    )


Sink = Annotated[WebhookSink | SlackSink | OciSink, Field(discriminator="type")]


def check_unique_names(
    sinks: list[WebhookSink | SlackSink | OciSink],
) -> list[WebhookSink | SlackSink | OciSink]:
    """Sink names label metrics and logs: two sinks with one name would be indistinguishable there."""
    seen: set[str] = set()
    for index, sink in enumerate(sinks):
        if sink.name in seen:
            raise field_error((index, "name"), f"sink name {sink.name!r} is used twice", sink.name)
        seen.add(sink.name)
    return sinks
