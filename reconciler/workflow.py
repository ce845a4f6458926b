"""Commands that combine loading, locking, planning and applying (the shell around the pure core)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from reconciler.apply import ApplyOptions, ApplyResult, Executor, StalePlan, stale_changes
from reconciler.errors import MdrError
from reconciler.journal import AuditLog, Journal
from reconciler.live import read_live
from reconciler.lock import held, lock_for
from reconciler.plan import Plan
from reconciler.planner import compute_plan, load_valid_stack, read_plan
from reconciler.render import render, summary_line


class PlanRefused(MdrError):
    """The plan has errors (protect, maxDeletes, duplicates) and must not be applied."""


@dataclass
class ApplyRequest:
    path: Path
    auto_approve: bool = False
    prune: bool | None = None
    allow_deletes: int | None = None
    lock_timeout: float = 60.0
    output: str = "text"
    options: ApplyOptions | None = None


def apply_options_for(plan: Plan, provider: Any, base: ApplyOptions) -> ApplyOptions:
    artifacts = plan.context.get("artifacts")
    if artifacts:
        base.artifact_bucket = (
            artifacts["bucket"],
            artifacts.get("namespace"),
            artifacts.get("prefix", "mdr/"),
        )
        base.large_artifact_bytes = int(artifacts.get("thresholdBytes", base.large_artifact_bytes))
    if provider.endpoint:  # emulators finish work in milliseconds to seconds: a lower floor for polls
        base.poll_initial_seconds = min(base.poll_initial_seconds, 0.1)
        base.poll_max_seconds = min(base.poll_max_seconds, 1.0)
    return base


def execute(plan: Plan, provider: Any, options: ApplyOptions) -> ApplyResult:
    if plan.errors:
        raise PlanRefused("the plan has errors; nothing was applied:\n  " + "\n  ".join(plan.errors))
    executor = Executor(
        provider,
        plan,
        Journal.for_stack(plan.stack),
        AuditLog.for_stack(plan.stack),
        apply_options_for(plan, provider, options),
    )
    return executor.run()


def apply_saved_plan(
    plan_path: Path, provider: Any, lock_timeout: float, options: ApplyOptions
) -> ApplyResult:
    """Apply exactly a saved plan, refusing if any touched resource changed since it was computed."""
    plan = read_plan(plan_path)
    context = plan.context
    lock = lock_for(plan.stack, context.get("lock"), provider)
    options.fence = getattr(lock, "lost", None)
    with held(lock, lock_timeout):
        live = read_live(
            provider, plan.stack, context.get("compartments", []), set(context.get("logGroupNames", []))
        )
        problems = stale_changes(plan, live)
        if problems:
            raise StalePlan(
                "the saved plan is stale; nothing was applied. Plan again. Changed since the plan:\n  "
                + "\n  ".join(problems)
            )
        return execute(plan, provider, options)


def apply_tree(
    request: ApplyRequest,
    provider_factory: Callable[[str], Any],
    confirm: Callable[[Plan], bool],
    out: TextIO = sys.stdout,
) -> tuple[Plan, ApplyResult | None]:
    """Plan under the stack's lock, show it, confirm, then apply it (Terraform's ``apply`` without a plan file)."""
    stack = load_valid_stack(request.path)
    assert stack.config is not None
    config = stack.config
    with provider_factory(config.region) as provider:
        lock = lock_for(config.stack, config.lock.model_dump() if config.lock else None, provider)
        options = request.options or ApplyOptions()
        options.fence = getattr(lock, "lost", None)
        with held(lock, request.lock_timeout):
            plan = compute_plan(
                stack, provider, prune=request.prune, allow_deletes=request.allow_deletes
            ).plan
            out.write(render(plan, request.output, out))
            if plan.errors:
                raise PlanRefused("the plan has errors; nothing was applied")
            if not plan.has_changes:
                return plan, None
            if not request.auto_approve and not confirm(plan):
                raise MdrError("apply cancelled; nothing was changed")
            return plan, execute(plan, provider, options)


def report(result: ApplyResult, out: TextIO) -> None:
    counts = result.counts()
    for item in result.results:
        if item.status != "done":
            out.write(f"  {item.status}: {item.key} ({item.action}): {item.message}\n")
    verdict = "Apply complete" if result.ok else "Apply finished with errors"
    out.write(
        f"{verdict}: {counts['done']} done, {counts['failed']} failed, {counts['skipped']} not attempted.\n"
    )


__all__ = [
    "ApplyRequest",
    "PlanRefused",
    "apply_saved_plan",
    "apply_tree",
    "execute",
    "report",
    "summary_line",
]
