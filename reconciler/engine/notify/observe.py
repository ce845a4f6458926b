"""The controller's side of notifications: it turns a reconcile (its plans, apply results, statuses and
back-off) into an ``Observation`` for the notifier, and keeps the sinks in line with ``mdr.yaml``.

Until ``start`` (no sink configured, or before the stack is read) every call does nothing, so the loop calls
it unconditionally.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from reconciler.core.events import Observation, blocked_prunes, failures_now
from reconciler.core.manifest import StackConfig
from reconciler.core.plan import Kind, Plan
from reconciler.core.stack import Stack
from reconciler.core.status import DeploymentStatus
from reconciler.engine.notify.notifier import Notifier, secret_values
from reconciler.engine.notify.sinks import NotifyConfigError
from reconciler.engine.notify.worker import Counters

log = logging.getLogger("mdr.notify")


def secret_env_names(stack: Stack) -> list[str]:
    """Every environment variable a deployment's ``secretEnv`` reads (``fromEnv``)."""
    return sorted(
        {
            ref.fromEnv
            for deployment in stack.deployments
            for ref in deployment.manifest.spec.runtime.secretEnv.values()
            if ref.fromEnv
        }
    )


class ControllerNotifications:
    def __init__(self) -> None:
        self.notifier: Notifier | None = None
        self._failing: dict[str, str] = {}
        self._oci_config: dict[str, Any] | None = None

    def start(self, stack: Stack, provider: Any, counters: Counters, target: str, holder: str | None) -> None:
        """Build the sinks of ``mdr.yaml``; raises ``NotifyConfigError`` when a sink's secret is unset."""
        assert stack.config is not None
        self.notifier = Notifier(stack.config.stack, getattr(provider, "notifications", None), counters)
        self.notifier.context.target = target
        self.notifier.context.controller = holder
        self._oci_config = getattr(provider, "config", None)
        self.notifier.configure(stack.config.notifications, self._secrets(stack))
        if stack.config.notifications:
            log.info("notifications on", extra={"sinks": [s.name for s in stack.config.notifications]})

    def _secrets(self, stack: Stack) -> list[str]:
        return secret_values(secret_env_names(stack), self._oci_config)

    def reconcile_started(self, reason: str, revision: str | None) -> None:
        if self.notifier is not None:
            self.notifier.context.revision = revision
            self.notifier.reconcile_started(reason)

    def reconfigure(self, config: StackConfig, stack: Stack) -> None:
        """Follow ``notifications:`` edits; a sink whose secret is missing keeps its old settings."""
        if self.notifier is None:
            return
        try:
            self.notifier.configure(config.notifications, self._secrets(stack))
        except NotifyConfigError as exc:
            log.error("notification settings not applied", extra={"error": str(exc)})

    def reconciled(
        self,
        stack: Stack,
        first: Plan,
        results: Iterable[tuple[str, bool, str]],
        statuses: Iterable[DeploymentStatus],
        in_backoff: Iterable[str],
    ) -> None:
        """One reconcile's findings. ``stack``: as read for it (``notifications:`` may have changed);
        ``first``: the plan before applying (drift, prune guards); ``statuses``: after applying;
        ``in_backoff``: keys the controller will not retry yet (their failure is still open)."""
        if self.notifier is None:
            return
        if stack.config is not None:
            self.reconfigure(stack.config, stack)
        results = list(results)
        drifted = frozenset(c.key for c in first.actionable if c.drift)
        done = {key for key, ok, _ in results if ok}
        self._failing = failures_now(self._failing, results, in_backoff)
        prunes = [c.key for c in first.changes if c.is_prune]
        self.notifier.observe(
            Observation(
                drifted=drifted,
                healed=drifted & done,
                failed=dict(self._failing),
                degraded={
                    f"{Kind.DEPLOYMENT.value}/{s.name}": "; ".join(
                        filter(None, [s.lifecycle or "?", s.reason])
                    )
                    for s in statuses
                    if s.health == "Degraded"
                },
                blocked_prunes=blocked_prunes(first.warnings, first.errors, prunes),
            )
        )

    def reconcile_failed(self, message: str) -> None:
        if self.notifier is not None:
            self.notifier.observe_error(message)

    def reconcile_finished(self, seconds: float) -> None:
        if self.notifier is not None:
            self.notifier.reconcile_finished(seconds)

    def close(self) -> None:
        if self.notifier is not None:
            self.notifier.close()
