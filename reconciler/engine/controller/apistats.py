"""OCI API call counts of a provider, exported to the controller's metrics as increments since last time."""

from __future__ import annotations

from reconciler.adapters.cloud import Provider
from reconciler.engine.controller.metrics import ControllerMetrics


class ApiStatsExport:
    """The provider counts calls since it opened; Prometheus counters want what happened since the last
    export, so the last counts are kept here."""

    def __init__(self, metrics: ControllerMetrics) -> None:
        self._metrics = metrics
        self._last_stats: dict[str, int] = {}
        self._last_errors: dict[str, int] = {}

    def export(self, provider: Provider) -> None:
        counts = provider.stats.snapshot()
        errors = dict(provider.stats.errors)
        new_errors = {k: v - self._last_errors.get(k, 0) for k, v in errors.items()}
        self._metrics.add_api_calls(self._last_stats, counts, new_errors)
        self._last_stats, self._last_errors = counts, errors
        if provider.budget is not None:
            self._metrics.budget_rate.set(provider.budget.rate)
