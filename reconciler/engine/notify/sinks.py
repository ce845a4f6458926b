"""The three kinds of sink, each sending one envelope, and building them from ``mdr.yaml``'s ``notifications``.

A send raises ``SinkError`` saying whether trying again may help (a timeout, a 429 or a 5xx) or not (any other
4xx: a wrong URL or a receiver that refuses the payload). Error texts name the sink, never its URL (a Slack
URL is a credential) nor a secret.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol

import oci

from reconciler.adapters.cloud_errors import cloud_errors, describe_cloud_error, status_of
from reconciler.core.errors import MdrError
from reconciler.core.manifest_notify import OciSink, SlackSink, WebhookSink
from reconciler.engine.notify.payload import (
    SIGNATURE_HEADER,
    Envelope,
    Redactor,
    oci_message,
    signature,
    slack_body,
    webhook_body,
)

#: seconds to connect and to read an answer: a hanging receiver costs the sink's own thread this, no more
HTTP_TIMEOUT = 10.0
USER_AGENT = "mdr-controller"


class SinkError(MdrError):
    def __init__(self, message: str, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


class NotifyConfigError(MdrError):
    """A sink cannot be built: the environment variable holding its secret is unset or empty."""


class Sender(Protocol):
    name: str
    kind: str
    #: values no payload may contain (this sink's own credentials)
    secrets: tuple[str, ...]

    def send(self, envelope: Envelope, redactor: Redactor) -> None: ...


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def post_json(what: str, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> None:
    """POST ``body``; raises ``SinkError`` unless the receiver answers 2xx."""
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("User-Agent", USER_AGENT)
    for name, value in headers.items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read(64 * 1024)
    except urllib.error.HTTPError as exc:
        raise SinkError(f"{what} answered {exc.code}", retry=_retryable(exc.code)) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:  # refused, timed out, unresolvable
        reason = getattr(exc, "reason", None) or exc
        raise SinkError(f"{what} cannot be reached: {type(reason).__name__}", retry=True) from None


class WebhookSender:
    kind = "webhook"

    def __init__(self, name: str, url: str, secret: str, timeout: float = HTTP_TIMEOUT) -> None:
        self.name, self.url, self.timeout = name, url, timeout
        self._secret = secret
        self.secrets: tuple[str, ...] = (secret,)

    def send(self, envelope: Envelope, redactor: Redactor) -> None:
        body = webhook_body(envelope, redactor)
        headers = {
            SIGNATURE_HEADER: signature(self._secret, body),
            "X-Mdr-Event": envelope.event.kind.value,
            "X-Mdr-Delivery": envelope.id,
        }
        post_json(f"webhook sink {self.name}", self.url, body, headers, self.timeout)


class SlackSender:
    kind = "slack"

    def __init__(self, name: str, url: str, timeout: float = HTTP_TIMEOUT) -> None:
        self.name, self.timeout = name, timeout
        self._url = url
        self.secrets: tuple[str, ...] = (url,)

    def send(self, envelope: Envelope, redactor: Redactor) -> None:
        post_json(f"slack sink {self.name}", self._url, slack_body(envelope, redactor), {}, self.timeout)


class OciSender:
    """``PublishMessage`` through the provider's Notifications client (the controller's auth and target)."""

    kind = "oci"
    secrets: tuple[str, ...] = ()

    def __init__(self, name: str, topic_id: str, client: Any) -> None:
        self.name, self.topic_id, self.client = name, topic_id, client

    def send(self, envelope: Envelope, redactor: Redactor) -> None:
        title, body = oci_message(envelope, redactor)
        details = oci.ons.models.MessageDetails(title=title, body=body)
        try:
            self.client.publish_message(self.topic_id, details)
        except cloud_errors() as exc:
            status = status_of(exc)
            retry = status is None or _retryable(status)
            raise SinkError(f"oci sink {self.name}: {describe_cloud_error(exc)}", retry=retry) from None


def _env_secret(env: Mapping[str, str], sink: str, field: str, variable: str) -> str:
    value = env.get(variable, "")
    if not value:
        raise NotifyConfigError(
            f"mdr.yaml: notifications: sink {sink!r}: {field}: the environment variable {variable} is unset "
            "or empty; set it in the controller's environment (it holds a secret, so it is not in the manifest)"
        )
    return value


def build_sender(
    sink: WebhookSink | SlackSink | OciSink, ons_client: Any, env: Mapping[str, str] | None = None
) -> Sender:
    env = os.environ if env is None else env
    if isinstance(sink, WebhookSink):
        return WebhookSender(sink.name, sink.url, _env_secret(env, sink.name, "secretEnv", sink.secretEnv))
    if isinstance(sink, SlackSink):
        return SlackSender(sink.name, _env_secret(env, sink.name, "urlEnv", sink.urlEnv))
    if ons_client is None:
        raise NotifyConfigError(
            f"mdr.yaml: notifications: sink {sink.name!r}: type oci needs an OCI Notifications client, "
            "which this target does not provide"
        )
    return OciSender(sink.name, sink.topicId, ons_client)
