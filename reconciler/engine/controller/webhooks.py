"""Git push webhooks: is this request really from GitHub or GitLab, and is it a push to the followed branch?

GitHub signs the raw body with HMAC-SHA256 of the webhook's secret (``X-Hub-Signature-256: sha256=HEX``);
GitLab sends the webhook's secret token as is (``X-Gitlab-Token``). Both are compared in constant time.
Pure functions: the endpoint reads the body, these decide.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from urllib.parse import parse_qs

#: header carrying the event kind, per provider
EVENT_HEADERS = {"github": "x-github-event", "gitlab": "x-gitlab-event"}
PUSH_EVENTS = {"github": "push", "gitlab": "Push Hook"}


@dataclass(frozen=True)
class Verdict:
    """What to answer a webhook: ``outcome`` is also the metric label."""

    status: int
    outcome: str  # accepted | ignored | unauthorized | bad_request
    message: str
    branch: str | None = None


def github_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def authentic(provider: str, secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The request carries the shared secret (GitLab) or a signature made with it (GitHub)."""
    if provider == "github":
        expected = github_signature(secret, body)
        return hmac.compare_digest(expected.encode(), headers.get("x-hub-signature-256", "").encode())
    return hmac.compare_digest(secret.encode(), headers.get("x-gitlab-token", "").encode())


def _json_of(body: bytes) -> bytes:
    """GitHub's form content type sends ``payload=<url-encoded JSON>``; the JSON one sends it as is."""
    if body.startswith(b"payload="):
        return parse_qs(body.decode("utf-8", "replace")).get("payload", [""])[0].encode()
    return body


def judge(provider: str, secret: str, headers: dict[str, str], body: bytes, branch: str | None) -> Verdict:
    """Authenticate first (nothing about the payload is looked at before), then: a push to ``branch``
    (any branch when None, a plain folder) is accepted; other events and branches are ignored."""
    if not authentic(provider, secret, headers, body):
        return Verdict(401, "unauthorized", "bad or missing signature\n")
    event = headers.get(EVENT_HEADERS[provider], "")
    if provider == "github" and event == "ping":
        return Verdict(200, "ignored", "pong\n")
    if event != PUSH_EVENTS[provider]:
        return Verdict(202, "ignored", f"ignored: not a push event ({event or 'none'})\n")
    try:
        payload = json.loads(_json_of(body))
        ref = payload["ref"]
    except (ValueError, KeyError, TypeError):
        return Verdict(400, "bad_request", "a push payload is JSON with a 'ref'\n")
    if not isinstance(ref, str) or not ref.startswith("refs/heads/"):
        return Verdict(202, "ignored", "ignored: not a branch push\n")
    pushed = ref[len("refs/heads/") :]
    if branch is not None and pushed != branch:
        return Verdict(202, "ignored", f"ignored: a push to {pushed}, not {branch}\n")
    return Verdict(202, "accepted", f"accepted: reconciling {pushed}\n", pushed)
