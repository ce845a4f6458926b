"""Execute a plan: dependency order, bounded concurrency, work-request waits, idempotent creates.

Each change runs its steps in order; independent changes run concurrently (``concurrency`` overall and
``per_compartment`` per compartment). A failed change stops only the changes that depend on it.

Crash safety: every create carries a deterministic ``opc-retry-token`` derived from (stack, key, operation,
spec hash) and is preceded by a lookup by ownership tags, so a crash between "created" and "recorded" never
duplicates a resource; the OCID and work-request id are journaled before waiting, so a re-run resumes
waiting. A lookup that finds more than one owned candidate stops with an error instead of guessing.

Modules: ``scheduler`` (the ``Executor``), ``calls`` (audited, fenced writes; waits; journal records),
``logging_steps``, ``model_steps``, ``deployment_steps`` (what each kind of change does), ``staleness``
(saved-plan checks), ``options`` (options, results, errors) and ``hooks`` (test injection points).
"""

from reconciler.engine.apply.calls import retry_token
from reconciler.engine.apply.hooks import ApplyHooks, NoHooks
from reconciler.engine.apply.options import (
    ApplyOptions,
    ApplyResult,
    ChangeFailed,
    ChangeResult,
    StalePlan,
)
from reconciler.engine.apply.scheduler import Executor
from reconciler.engine.apply.staleness import stale_changes

__all__ = [
    "ApplyHooks",
    "ApplyOptions",
    "ApplyResult",
    "ChangeFailed",
    "ChangeResult",
    "Executor",
    "NoHooks",
    "StalePlan",
    "retry_token",
    "stale_changes",
]
