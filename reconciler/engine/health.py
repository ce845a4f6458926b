"""Run ``spec.healthCheck`` against a deployment, and roll a bad model swap back (issue 15 item 7).

A check is one signed POST of the sample request to the deployment's ``/predict`` (the same signer and
transport as ``mdr predict``), judged by ``reconciler.core.health.evaluate``. It runs after apply changed a
deployment (its work request succeeded and it is ACTIVE) and, in the controller, every ``interval``.

With ``policy.autoRollback: true``, a failed check right after a model swap points the deployment back at
the previous owned model (``mdr rollback``'s change, ``engine.rollback.rollback_change``) in the same write
that tags it ``mdr-rolledback: <revision>``, so that no later plan applies that revision again until the
manifest changes (a controller would otherwise swap the bad model in on every resync). The rollback is an
audited write like any other and a failed result of the apply: the desired state was not reached.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from reconciler.adapters.cloud_errors import NotFound
from reconciler.adapters.journal import AuditLog, Journal
from reconciler.adapters.live_reader import read_live
from reconciler.core.canonical import TAG_SPEC
from reconciler.core.errors import MdrError
from reconciler.core.health import TAG_ROLLED_BACK, Observed, Verdict, evaluate, is_model_swap
from reconciler.core.plan import Action, Change, Kind, Plan
from reconciler.core.status import DeploymentStatus
from reconciler.engine.apply import ApplyOptions, ApplyResult, ChangeResult, Executor
from reconciler.engine.predict import JSON, Payload, _post

#: the changes after which a deployment's check runs (a delete or an orphan leaves nothing to check)
CHECKED_ACTIONS = frozenset({Action.CREATE, Action.UPDATE, Action.REPLACE})


@dataclass(frozen=True)
class Checked:
    """One deployment's check: its verdict and, when it was rolled back, the model it went back to."""

    key: str
    verdict: Verdict
    rolled_back_to: str | None = None


def probe(url: str, check: dict[str, Any], provider: Any) -> Observed:
    """Send the sample request to ``{url}/predict`` and time the answer (never raises for a bad answer)."""
    payload = Payload(json.dumps(check.get("body")).encode(), JSON)
    started = time.monotonic()
    try:
        response = _post(
            f"{url.rstrip('/')}/predict", payload, provider, float(check.get("timeoutSeconds", 30)), False
        )
    except MdrError as exc:
        return Observed(None, None, (time.monotonic() - started) * 1000, str(exc))
    latency = (time.monotonic() - started) * 1000
    try:
        answer: Any = json.loads(response.content)
    except ValueError:
        answer = response.content.decode("utf-8", errors="replace")
    return Observed(int(response.status_code), answer, latency)


def check_deployment(deployment_id: str, check: dict[str, Any], provider: Any) -> Verdict | None:
    """The verdict on one deployment now; None when it is not ACTIVE (it serves nothing to check)."""
    try:
        data = provider.call(
            "GetModelDeployment", provider.data_science.get_model_deployment, deployment_id
        ).data
    except NotFound:
        return None
    if str(data.lifecycle_state) != "ACTIVE" or not data.model_deployment_url:
        return None
    return evaluate(check, probe(str(data.model_deployment_url), check, provider))


def after_apply(plan: Plan, result: ApplyResult, provider: Any, options: ApplyOptions) -> list[ChangeResult]:
    """Check every deployment this apply changed that has a ``healthCheck``; a failure is a failed result
    (after an auto-rollback when the policy asks for one and the change swapped the model)."""
    done = {r.change_id: r for r in result.results if r.status == "done"}
    out = []
    for change in plan.changes:
        check = change.desired.get("healthCheck")
        outcome = done.get(change.id)
        if change.kind != Kind.DEPLOYMENT or change.action not in CHECKED_ACTIONS or not check or not outcome:
            continue
        deployment_id = outcome.resource_id or change.live_id
        if not deployment_id:
            continue
        options.progress(f"{change.key}: health check")
        verdict = check_deployment(deployment_id, check, provider)
        if verdict is None or verdict.healthy:
            continue
        message = f"health check failed: {verdict.reason}"
        swap = change.action == Action.UPDATE and is_model_swap([f.path for f in change.fields])
        if check.get("autoRollback") and swap:
            message += "; " + _roll_back(plan, change, provider, options)
        elif check.get("autoRollback"):
            message += "; not rolled back (auto-rollback undoes a model or model group swap only)"
        out.append(ChangeResult(change.id, change.key, "health", "failed", message, deployment_id))
    return out


def _roll_back(plan: Plan, change: Change, provider: Any, options: ApplyOptions) -> str:
    """Point the deployment back at its previous owned model, tagged with the revision undone; what
    happened, in words for apply's output."""
    # rollback imports workflows, which imports us
    from reconciler.engine.rollback import check_group_members, rollback_change

    compartment = str(change.desired.get("compartmentId") or "")
    revision = str((change.desired.get("ownershipTags") or {}).get(TAG_SPEC) or "")
    audit = AuditLog.for_stack(plan.stack).for_target(getattr(provider, "label", "") or "unknown")
    try:
        live = read_live(provider, plan.stack, {compartment}, set())
        update_type = str(change.desired.get("groupUpdateType") or "ZDT")
        undo, current, target = rollback_change(live, change.name, None, update_type)
        group = "groupId" in undo.desired["model"]
        if group:  # a version whose member models `keep` has deleted cannot be served again
            check_group_members(provider, target)
    except MdrError as exc:
        audit.write(change.key, "AutoRollback", "failed", resource_id=change.live_id, detail=str(exc))
        return f"auto-rollback impossible: {exc}"
    undo.desired["recordTags"] = {TAG_ROLLED_BACK: revision}
    undo.reason = f"auto-rollback after a failed health check: {current} -> {target}"
    options.progress(f"{change.key}: health check failed; rolling back to {target}")
    rollback_plan = Plan(plan.stack, plan.region, [undo])
    journal = Journal.for_stack(plan.stack)
    outcome = Executor(provider, rollback_plan, journal, audit, options).run()
    detail = f"{'model group' if group else 'model'} {current} -> {target}; revision {revision[:12]} held"
    if not outcome.ok:
        why = "; ".join(r.message for r in outcome.results if r.status != "done")
        audit.write(change.key, "AutoRollback", "failed", resource_id=undo.live_id, detail=f"{detail}: {why}")
        return f"auto-rollback to {target} FAILED: {why}"
    audit.write(change.key, "AutoRollback", "succeeded", resource_id=undo.live_id, detail=detail)
    what = "model group" if group else "model"
    return (
        f"rolled back automatically to the previous {what} {target} (was {current}); this revision "
        f"({revision[:12]}) is not applied again until the manifest changes"
    )


def _checks(plan: Plan) -> dict[str, dict[str, Any]]:
    """Deployment name -> its health check, for the deployments the plan covers that have one."""
    return {
        c.name: c.desired["healthCheck"]
        for c in plan.changes
        if c.kind == Kind.DEPLOYMENT and c.desired.get("healthCheck")
    }


def _mark(status: DeploymentStatus, verdict: Verdict | None) -> None:
    if verdict is not None and not verdict.healthy and status.health == "Healthy":
        status.health, status.reason = "Degraded", f"health check failed: {verdict.reason}"


def check_statuses(statuses: list[DeploymentStatus], plan: Plan, provider: Any) -> None:
    """``mdr status``: run each ACTIVE deployment's check now; a failure turns Healthy into Degraded."""
    checks = _checks(plan)
    for status in statuses:
        check = checks.get(status.name)
        if check and status.health == "Healthy" and status.url:
            _mark(status, evaluate(check, probe(status.url, check, provider)))


class HealthMonitor:
    """The controller's periodic checks: each deployment's check runs when its ``interval`` has passed,
    and its last verdict marks the status of every reconcile until the next run."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self.clock = clock
        self._last: dict[str, tuple[float, Verdict]] = {}

    def update(self, statuses: list[DeploymentStatus], plan: Plan, provider: Any) -> None:
        checks = _checks(plan)
        self._last = {k: v for k, v in self._last.items() if k in checks}
        now = self.clock()
        for status in statuses:
            check = checks.get(status.name)
            if not check or status.health != "Healthy" or not status.url:
                self._last.pop(status.name, None)
                continue
            interval = check.get("intervalSeconds")
            seen = self._last.get(status.name)
            if interval and (seen is None or now - seen[0] >= interval):
                seen = (now, evaluate(check, probe(status.url, check, provider)))
                self._last[status.name] = seen
            _mark(status, seen[1] if seen else None)
