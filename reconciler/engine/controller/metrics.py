"""Prometheus metrics of the controller, in a registry of its own (no global state between instances)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

SYNC_VALUES = ("Synced", "OutOfSync", "Missing")
HEALTH_VALUES = ("Healthy", "Suspended", "Progressing", "Degraded", "Missing")


class NotificationCounters:
    """What became of each sink's notifications (``notify.worker.Counters``)."""

    def __init__(self, r: CollectorRegistry) -> None:
        self._sent = Counter(
            "mdr_notifications_sent", "Notifications delivered, by sink", ["sink"], registry=r
        )
        self._failed = Counter(
            "mdr_notifications_failed", "Notification delivery attempts that failed", ["sink"], registry=r
        )
        self._dropped = Counter(
            "mdr_notifications_dropped",
            "Notifications given up: overflow (queue full), retries (exhausted), rejected (4xx), error (a defect)",
            ["sink", "reason"],
            registry=r,
        )

    def sent(self, sink: str) -> None:
        self._sent.labels(sink).inc()

    def failed(self, sink: str) -> None:
        self._failed.labels(sink).inc()

    def dropped(self, sink: str, reason: str) -> None:
        self._dropped.labels(sink, reason).inc()


class ControllerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.reconciles = Counter("mdr_reconcile", "Reconcile runs by outcome", ["outcome"], registry=r)
        self.duration = Histogram(
            "mdr_reconcile_duration_seconds",
            "Reconcile duration",
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900),
            registry=r,
        )
        self.drift = Gauge(
            "mdr_drifted_deployments", "Deployments whose live state drifted from git", registry=r
        )
        self.sync = Gauge(
            "mdr_deployment_sync", "1 for the deployment's sync status", ["name", "status"], registry=r
        )
        self.health = Gauge(
            "mdr_deployment_health", "1 for the deployment's health", ["name", "status"], registry=r
        )
        self.api_calls = Counter("mdr_api_calls", "OCI API calls by operation", ["operation"], registry=r)
        self.api_errors = Counter(
            "mdr_api_errors", "OCI API calls that failed, by operation", ["operation"], registry=r
        )
        self.revision = Gauge(
            "mdr_last_applied_revision_info", "Last applied git revision", ["revision"], registry=r
        )
        self.lease = Gauge(
            "mdr_lease_held", "1 when this replica holds the stack's lease", ["holder"], registry=r
        )
        self.budget_rate = Gauge("mdr_api_budget_rate", "Current API request budget (calls/s)", registry=r)
        self.last_success = Gauge("mdr_last_successful_reconcile_timestamp_seconds", "Unix time", registry=r)
        self.notifications = NotificationCounters(r)

    def set_statuses(self, statuses: list[tuple[str, str, str]]) -> None:
        """(name, sync, health) per deployment; one-hot gauges like kube-state-metrics."""
        self.sync.clear()
        self.health.clear()
        for name, sync, health in statuses:
            for value in SYNC_VALUES:
                self.sync.labels(name, value).set(1 if value == sync else 0)
            for value in HEALTH_VALUES:
                self.health.labels(name, value).set(1 if value == health else 0)

    def add_api_calls(self, before: dict[str, int], after: dict[str, int], errors: dict[str, int]) -> None:
        for operation, count in after.items():
            delta = count - before.get(operation, 0)
            if delta > 0:
                self.api_calls.labels(operation).inc(delta)
        for operation, count in errors.items():
            if count > 0:
                self.api_errors.labels(operation).inc(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)
