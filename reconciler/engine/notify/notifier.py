"""The controller's notifier: reconcile observations in, deduplicated and filtered events out to each sink.

Everything here runs on the reconcile loop's thread and returns at once: events are derived (pure), each sink's
filter and memory of what it sent decide what it gets, and its worker thread delivers. A watchdog reports a
reconcile that holds the stack lock too long (everyone else who writes the stack waits meanwhile).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from reconciler.core.events import Deduplicator, Event, EventKind, Observation, RateLimiter, derive_events
from reconciler.core.manifest_notify import OciSink, SlackSink, WebhookSink
from reconciler.engine.notify.payload import Envelope, Redactor
from reconciler.engine.notify.sinks import build_sender
from reconciler.engine.notify.worker import Counters, SinkWorker

log = logging.getLogger("mdr.notify")

SinkConfig = WebhookSink | SlackSink | OciSink
#: a reconcile holding the stack lock longer than this is reported (``MDR_LOCK_ALERT_SECONDS`` overrides)
LOCK_ALERT_SECONDS = 900.0
#: how long shutdown waits for deliveries in progress
CLOSE_SECONDS = 2.0
#: auth material of the OCI config that no payload may contain
AUTH_KEYS = ("key_content", "pass_phrase", "security_token")


@dataclass
class _Route:
    config: SinkConfig
    worker: SinkWorker
    dedup: Deduplicator
    events: frozenset[str] | None = None

    def wants(self, event: Event) -> bool:
        return self.events is None or event.kind.value in self.events


@dataclass
class Context:
    """What every envelope says besides the event; updated by the controller as it learns it."""

    revision: str | None = None
    target: str | None = None
    controller: str | None = None
    extra_secrets: list[str] = field(default_factory=list)


def lock_alert_seconds() -> float:
    raw = os.environ.get("MDR_LOCK_ALERT_SECONDS")
    return float(raw) if raw else LOCK_ALERT_SECONDS


class Notifier:
    def __init__(
        self,
        stack: str,
        ons_client: Any,
        counters: Counters | None = None,
        clock: Callable[[], float] = time.monotonic,
        worker_options: dict[str, Any] | None = None,
    ) -> None:
        self.stack = stack
        self.ons_client = ons_client
        self.counters = counters
        self.clock = clock
        self.worker_options = dict(worker_options or {})
        self.context = Context()
        self.routes: dict[str, _Route] = {}
        self._previous: Observation | None = None
        self._watchdog: threading.Timer | None = None
        self._lock_alerted = False
        self._lock = threading.Lock()
        #: the loop and the watchdog both dispatch; each sink's memory is updated by one at a time
        self._dispatch_lock = threading.Lock()

    # -- configuration --

    def configure(self, sinks: Sequence[SinkConfig], secrets: Iterable[str] = ()) -> None:
        """Apply ``mdr.yaml``'s sinks: unchanged ones keep their queue and memory, changed ones restart.

        Raises ``NotifyConfigError`` (and changes nothing) when a sink's secret variable is unset."""
        senders = {s.name: build_sender(s, self.ons_client) for s in sinks if self._changed(s)}
        self.context.extra_secrets = [s for s in secrets if s]
        redactor = self._redactor(senders.values())
        with self._dispatch_lock:  # the watchdog may be dispatching meanwhile
            wanted = {s.name for s in sinks}
            for name in [n for n in self.routes if n not in wanted or n in senders]:
                self.routes.pop(name).worker.stop(timeout=0)
            for sink in sinks:
                if sink.name in senders:
                    worker = SinkWorker(
                        senders[sink.name],
                        redactor,
                        RateLimiter(sink.maxPerMinute),
                        self.counters,
                        clock=self.clock,
                        **self.worker_options,
                    )
                    events = frozenset(sink.events) if sink.events is not None else None
                    self.routes[sink.name] = _Route(
                        sink, worker.start(), Deduplicator(sink.repeatIntervalSeconds), events
                    )
            for route in self.routes.values():
                route.worker.redactor = redactor

    def _changed(self, sink: SinkConfig) -> bool:
        route = self.routes.get(sink.name)
        return route is None or route.config != sink

    def _redactor(self, new_senders: Iterable[Any]) -> Redactor:
        secrets = list(self.context.extra_secrets)
        for sender in [*new_senders, *(r.worker.sender for r in self.routes.values())]:
            secrets.extend(sender.secrets)
        return Redactor(secrets)

    # -- events --

    def observe(self, observation: Observation) -> list[Event]:
        """A reconcile finished with ``observation``; returns the events it produced (before filtering)."""
        events = derive_events(self.stack, self._previous, observation)
        self._previous = observation
        self._dispatch(events, reconcile=True)
        return events

    def observe_error(self, message: str) -> list[Event]:
        """A reconcile failed as a whole: what was known of each resource still holds."""
        return self.observe((self._previous or Observation()).errored(message))

    def emit(self, event: Event) -> None:
        """An event from outside a reconcile (the lock watchdog)."""
        self._dispatch([event], reconcile=False)

    def _dispatch(self, events: list[Event], reconcile: bool) -> None:
        with self._dispatch_lock:
            self._dispatch_locked(events, reconcile)

    def _dispatch_locked(self, events: list[Event], reconcile: bool) -> None:
        now = self.clock()
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        context = self.context
        for route in list(self.routes.values()):
            for event in route.dedup.admit([e for e in events if route.wants(e)], now, reconcile):
                envelope = Envelope(
                    uuid.uuid4().hex, event, stamp, context.revision, context.target, context.controller
                )
                route.worker.submit(envelope)
                log.info(
                    "notification queued",
                    extra={"sink": route.config.name, "event": event.kind.value, "subject": event.subject},
                )

    # -- the lock watchdog --

    def reconcile_started(self, reason: str) -> None:
        """Arm the watchdog: a reconcile that still holds the lock after the alert time is reported."""
        seconds = lock_alert_seconds()
        timer = threading.Timer(seconds, self._lock_held, args=(reason, seconds))
        timer.daemon = True
        with self._lock:
            self._watchdog = timer
            self._lock_alerted = False
        timer.start()

    def _lock_held(self, reason: str, seconds: float) -> None:
        with self._lock:
            self._lock_alerted = True
        message = (
            f"a reconcile ({reason}) has held the stack lock for {seconds:g}s and is still running; "
            "other writers (mdr apply in CI, standby replicas) wait meanwhile"
        )
        self.emit(Event(EventKind.LOCK_HELD_TOO_LONG, self.stack, None, message))

    def reconcile_finished(self, seconds: float) -> None:
        with self._lock:
            timer, alerted = self._watchdog, self._lock_alerted
            self._watchdog, self._lock_alerted = None, False
        if timer is not None:
            timer.cancel()
        if alerted:
            for route in self.routes.values():
                route.dedup.forget(EventKind.LOCK_HELD_TOO_LONG, self.stack)
            message = (
                f"the long reconcile finished after {seconds:.0f}s; the stack lock is free for its next use"
            )
            self.emit(Event(EventKind.RECOVERED, self.stack, "lock", message))

    def close(self) -> None:
        with self._lock:
            timer = self._watchdog
        if timer is not None:
            timer.cancel()
        workers = [route.worker for route in self.routes.values()]
        for worker in workers:
            worker.signal_stop()
        deadline = time.monotonic() + CLOSE_SECONDS
        for worker in workers:  # one deadline for all: shutdown never waits on each hanging sink in turn
            worker.join(deadline - time.monotonic())


def secret_values(env_names: Iterable[str], oci_config: dict[str, Any] | None) -> list[str]:
    """Values no payload may contain: those of the secretEnv variables and the OCI auth material."""
    values = [os.environ.get(name, "") for name in env_names]
    for key in AUTH_KEYS:
        value = (oci_config or {}).get(key)
        if isinstance(value, str):
            values.append(value)
    return [v for v in values if v]
