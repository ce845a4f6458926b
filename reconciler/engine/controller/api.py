"""The controller's POST routes: git push webhooks, and the sync of a manual stack's pending plan.

``POST /api/webhooks/github`` and ``/api/webhooks/gitlab``: verified (``webhooks.judge``) with the secret
in ``MDR_GITHUB_WEBHOOK_SECRET`` / ``MDR_GITLAB_WEBHOOK_TOKEN``; a route whose secret is not set answers
404, so an unconfigured controller takes no unauthenticated request. ``POST /api/stacks/NAME/sync`` with
``Authorization: Bearer TOKEN`` (``MDR_SYNC_TOKEN``) and an optional JSON body ``{"plan": ID}``, and the
dashboard's ``POST /ui/sync`` form (fields ``token`` and ``plan``), apply exactly that pending plan.
Secrets are compared in constant time and never echoed or logged.
"""

from __future__ import annotations

import hmac
import html
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote

from prometheus_client import CollectorRegistry, Counter

from reconciler.engine.controller.endpoints import Request
from reconciler.engine.controller.loop import Controller
from reconciler.engine.controller.webhooks import judge

log = logging.getLogger("mdr.controller")

SYNC_TOKEN_ENV = "MDR_SYNC_TOKEN"
GITHUB_SECRET_ENV = "MDR_GITHUB_WEBHOOK_SECRET"
GITLAB_TOKEN_ENV = "MDR_GITLAB_WEBHOOK_TOKEN"
#: how long a sync request waits for the apply before answering 202 (the apply goes on)
SYNC_WAIT_SECONDS = 600.0
WEBHOOKS = {"/api/webhooks/github": "github", "/api/webhooks/gitlab": "gitlab"}
Answer = tuple[int, bytes, str]


@dataclass(frozen=True)
class ApiSecrets:
    sync_token: str | None = None
    github: str | None = None
    gitlab: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ApiSecrets:
        return cls(
            env.get(SYNC_TOKEN_ENV) or None,
            env.get(GITHUB_SECRET_ENV) or None,
            env.get(GITLAB_TOKEN_ENV) or None,
        )


class Served(Protocol):
    """The stack controller(s) behind the API: one stack, or a fleet."""

    def stack(self, name: str | None) -> Controller | None: ...

    def pull(self, reason: str) -> None: ...


class ControllerApi:
    def __init__(
        self, served: Served, secrets: ApiSecrets, branch: str | None, registry: CollectorRegistry
    ) -> None:
        self.served = served
        self.secrets = secrets
        self.branch = branch  # the followed git branch; None for a plain folder (any push wakes it)
        self.webhooks = Counter(
            "mdr_webhook_requests",
            "Git webhook requests by provider and outcome (unauthorized: a bad signature or token)",
            ["provider", "outcome"],
            registry=registry,
        )
        self.syncs = Counter(
            "mdr_sync_requests", "Manual sync requests by HTTP status", ["status"], registry=registry
        )

    def handles(self, path: str) -> bool:
        return (
            path in WEBHOOKS
            or path == "/ui/sync"
            or (path.startswith("/api/stacks/") and path.endswith("/sync"))
        )

    def answer(self, request: Request) -> Answer:
        if request.path in WEBHOOKS:
            return self._webhook(WEBHOOKS[request.path], request)
        if request.path == "/ui/sync":
            form = parse_qs(request.body.decode("utf-8", "replace"))
            token, form_plan = (form.get(k, [""])[0] for k in ("token", "plan"))
            status, data = self._sync(None, token, form_plan or None)
            return status, _page(status, str(data.get("message", ""))), "text/html; charset=utf-8"
        name = unquote(request.path[len("/api/stacks/") : -len("/sync")])
        authorization = request.headers.get("authorization", "")
        token = authorization[7:] if authorization.lower().startswith("bearer ") else ""
        try:
            body = json.loads(request.body or b"{}")
            plan = body.get("plan") if isinstance(body, dict) else None
        except ValueError:
            return 400, b'{"message": "the body is JSON: {\\"plan\\": ID} or nothing"}\n', "application/json"
        status, data = self._sync(name, token, plan if isinstance(plan, str) else None)
        return status, (json.dumps(data, indent=2) + "\n").encode(), "application/json"

    def _webhook(self, provider: str, request: Request) -> Answer:
        secret = self.secrets.github if provider == "github" else self.secrets.gitlab
        if secret is None:
            self.webhooks.labels(provider, "disabled").inc()
            env = GITHUB_SECRET_ENV if provider == "github" else GITLAB_TOKEN_ENV
            return 404, f"the {provider} webhook is off: set {env} to its secret\n".encode(), "text/plain"
        verdict = judge(provider, secret, request.headers, request.body, self.branch)
        self.webhooks.labels(provider, verdict.outcome).inc()
        if verdict.outcome == "unauthorized":
            log.warning("webhook refused: bad signature", extra={"provider": provider})
        elif verdict.outcome == "accepted":
            log.info("webhook: push received", extra={"provider": provider, "branch": verdict.branch})
            self.served.pull(f"{provider} push to {verdict.branch}")
        return verdict.status, verdict.message.encode(), "text/plain"

    def _sync(self, name: str | None, token: str, plan: str | None) -> tuple[int, dict[str, Any]]:
        status, data = self._sync_answer(name, token, plan)
        self.syncs.labels(str(status)).inc()
        return status, data

    def _sync_answer(self, name: str | None, token: str, plan: str | None) -> tuple[int, dict[str, Any]]:
        expected = self.secrets.sync_token
        if expected is None:
            return 403, {"message": f"sync over HTTP is off: set {SYNC_TOKEN_ENV} on the controller"}
        if not hmac.compare_digest(expected.encode(), token.encode()):
            log.warning("sync refused: bad token", extra={"stack": name})
            return 401, {"message": "bad or missing token (Authorization: Bearer TOKEN)"}
        controller = self.served.stack(name)
        if controller is None:
            return 404, {"message": f"no stack named {name!r} is served by this replica"}
        state = controller.status()
        if not state.get("leader"):
            return 409, {
                "message": f"this replica does not lead stack {state.get('stack') or name}; ask the one that does"
            }
        if state.get("syncPolicy") != "manual":
            return 409, {"message": "this stack is syncPolicy: auto; the controller applies it itself"}
        ticket = controller.manual.submit(plan)
        controller.request("manual sync")
        if not ticket.done.wait(SYNC_WAIT_SECONDS) or ticket.outcome is None:
            return 202, {"message": "still applying; follow it in /status"}
        return ticket.outcome.status, ticket.outcome.to_dict()


def _page(status: int, message: str) -> bytes:
    """The answer to the dashboard's sync form: plain HTML, no script, every value escaped."""
    title = "Synced" if status == 200 else "Not synced"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
        f"<h1>{title}</h1><p>{html.escape(message)}</p><p><a href='/'>Back to the dashboard</a></p></body></html>"
    ).encode()
