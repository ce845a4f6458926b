"""``mdr sync STACK``: apply the pending plan of a ``syncPolicy: manual`` stack, through its controller.

The controller holds the stack's lock, so the sync goes to it over HTTP (``POST /api/stacks/NAME/sync``
with ``Authorization: Bearer $MDR_SYNC_TOKEN``) rather than taking the lock here. The pending plan is shown
first, and its id is sent along: the controller applies exactly that plan, or refuses (exit 1) when the
plan changed since, or went stale against the cloud.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

from reconciler.cli.common import EXIT_ERROR, Subparsers
from reconciler.core.errors import MdrError

TOKEN_ENV = "MDR_SYNC_TOKEN"
URL_ENV = "MDR_CONTROLLER_URL"
DEFAULT_URL = "http://127.0.0.1:9000"


def _call(url: str, data: bytes | None = None, token: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=900) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body or b"{}")
        except ValueError:
            return exc.code, {"message": body.decode("utf-8", "replace").strip()}
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise MdrError(f"cannot reach the controller at {url}: {exc}. Is --controller right?") from None


def pending_plan(status: dict[str, Any], stack: str) -> dict[str, Any] | None:
    """The stack's pending plan in a controller's /status (one stack, or a fleet's ``stacks``)."""
    state = status.get("stacks", {}).get(stack) if status.get("fleet") else status
    if not state or (not status.get("fleet") and state.get("stack") != stack):
        raise MdrError(f"the controller does not serve a stack named {stack!r} (or does not lead it)")
    if state.get("syncPolicy") != "manual":
        raise MdrError(f"stack {stack} is syncPolicy: auto; its controller applies it without mdr sync")
    plan = state.get("pendingPlan")
    return plan if isinstance(plan, dict) else None


def cmd_sync(args: argparse.Namespace) -> int:
    token = os.environ.get(TOKEN_ENV)
    if not token:
        raise MdrError(f"set {TOKEN_ENV} to the controller's sync token")
    base = (args.controller or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")
    _code, status = _call(f"{base}/status")
    plan = pending_plan(status, args.stack)
    if plan is None and args.plan is None:
        print(f"{args.stack}: nothing is pending; the stack matches its manifests")
        return 0
    ident = args.plan or (plan or {}).get("id")
    if plan is not None:
        print(f"pending plan {plan['id']} of {args.stack}:")
        for change in plan.get("changes", []):
            print(f"  {change}")
    code, answer = _call(
        f"{base}/api/stacks/{quote(args.stack)}/sync", json.dumps({"plan": ident}).encode(), token
    )
    for result in answer.get("results", []):
        print(f"  {result.get('status')}: {result.get('key')} {result.get('message') or ''}".rstrip())
    message = str(answer.get("message") or f"HTTP {code}")
    if code == 200:
        print(message)
        return 0
    print(f"error: {message}", file=sys.stderr)
    return EXIT_ERROR


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "sync", help="apply the pending plan of a syncPolicy: manual stack, through its controller"
    )
    p.add_argument("stack", help="the stack's name (stack: in its mdr.yaml)")
    p.add_argument(
        "--controller",
        help=f"the controller's --listen address (default ${URL_ENV}, else {DEFAULT_URL})",
    )
    p.add_argument("--plan", help="the id of the plan you reviewed (default: the one pending now)")
    p.set_defaults(handler=cmd_sync)
