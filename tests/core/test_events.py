"""Which notification events a reconcile produces, which of them a sink hears again, and how fast."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.desired import DesiredState
from reconciler.core.events import (
    Deduplicator,
    Event,
    EventKind,
    Observation,
    RateLimiter,
    blocked_prunes,
    derive_events,
    failures_now,
)
from reconciler.core.plan import Kind, Plan, PlanOptions
from reconciler.core.prune import plan_prune

FRAUD = "ModelDeployment/fraud-scorer"
CHURN = "ModelDeployment/churn-api"


def kinds(events: list[Event]) -> list[tuple[str, str | None]]:
    return [(e.kind.value, e.subject) for e in events]


def test_drift_without_self_heal_is_reported_while_it_lasts_and_recovery_once_it_is_gone() -> None:
    drifting = Observation(drifted=frozenset({FRAUD}))
    first = derive_events("risk", None, drifting)
    assert kinds(first) == [("DriftDetected", FRAUD)]
    assert "not corrected" in first[0].message
    assert kinds(derive_events("risk", drifting, drifting)) == [("DriftDetected", FRAUD)]
    assert kinds(derive_events("risk", drifting, Observation())) == [("Recovered", FRAUD)]


def test_drift_corrected_by_self_heal_is_detected_and_recovered_in_the_same_reconcile() -> None:
    healed = Observation(drifted=frozenset({FRAUD}), healed=frozenset({FRAUD}))
    events = derive_events("risk", Observation(), healed)
    assert kinds(events) == [("DriftDetected", FRAUD), ("Recovered", FRAUD)]
    assert "corrected (self-heal)" in events[0].message
    assert events[1].message == "recovered from: drift"
    assert derive_events("risk", healed, Observation()) == []  # nothing was open any more


def test_a_failed_change_is_reported_until_it_succeeds_even_while_it_waits_in_backoff() -> None:
    failing = failures_now({}, [(FRAUD, False, "UpdateModelDeployment: work request failed")], [FRAUD])
    assert failing == {FRAUD: "UpdateModelDeployment: work request failed"}
    waiting = failures_now(failing, [], [FRAUD])  # not retried in this reconcile: still open
    assert waiting == failing
    before = Observation(failed=failing)
    assert kinds(derive_events("risk", before, Observation(failed=waiting))) == [("SyncFailed", FRAUD)]
    fixed = failures_now(waiting, [(FRAUD, True, "")], [])
    assert fixed == {}
    assert kinds(derive_events("risk", before, Observation(failed=fixed))) == [("Recovered", FRAUD)]


def test_a_degraded_deployment_and_its_recovery() -> None:
    degraded = Observation(degraded={CHURN: "FAILED"})
    events = derive_events("risk", Observation(), degraded)
    assert kinds(events) == [("HealthDegraded", CHURN)]
    assert events[0].message == "lifecycle state FAILED" and events[0].severity == "error"
    recovered = derive_events("risk", degraded, Observation())
    assert kinds(recovered) == [("Recovered", CHURN)]
    assert recovered[0].message == "recovered from: degraded"


def test_a_failed_reconcile_keeps_what_was_known_and_the_stack_recovers_when_it_works_again() -> None:
    known = Observation(drifted=frozenset({FRAUD}))
    broken = known.errored("cannot reach OCI: connection refused")
    events = derive_events("risk", known, broken)
    assert kinds(events) == [("SyncFailed", None), ("DriftDetected", FRAUD)]  # no false "Recovered"
    assert events[0].message == "reconcile failed: cannot reach OCI: connection refused"
    assert kinds(derive_events("risk", broken, known)) == [("DriftDetected", FRAUD), ("Recovered", None)]


def _prune_warning(desired: DesiredState, options: PlanOptions, policy: dict[str, str] | None = None) -> Plan:
    plan = Plan("risk", "us-ashburn-1")
    plan_prune(plan, desired, options, Kind.DEPLOYMENT, CHURN, "churn-api", "ocid1.x", {}, policy)
    return plan


def test_prunes_stopped_by_a_guard_are_found_in_the_planners_own_words() -> None:
    somewhere = DesiredState("risk", deployments={FRAUD: None})  # type: ignore[dict-item]
    incomplete = _prune_warning(DesiredState("risk", complete=False), PlanOptions(prune=True))
    protected = _prune_warning(somewhere, PlanOptions(prune=True), {"protect": "true"})
    empty_tree = _prune_warning(DesiredState("risk"), PlanOptions(prune=True))
    prune_off = _prune_warning(somewhere, PlanOptions(prune=False))
    for plan in (incomplete, protected, empty_tree):
        found = blocked_prunes(plan.warnings, plan.errors, [])
        assert list(found) == [CHURN], plan.warnings
    assert blocked_prunes(prune_off.warnings, [], []) == {}  # prune off is a setting, not a guard
    refused = blocked_prunes([], ["the plan deletes 4 resources, more than the allowed 3"], [CHURN])
    assert refused[CHURN].startswith("plan refused: the plan deletes 4")
    assert kinds(derive_events("risk", None, Observation(blocked_prunes=refused))) == [
        ("PruneBlocked", CHURN)
    ]


def test_the_same_event_is_sent_again_only_when_it_changes_or_the_repeat_interval_passes() -> None:
    dedup = Deduplicator(repeat_interval=3600)
    drift = Event(EventKind.DRIFT_DETECTED, "risk", FRAUD, "changed outside mdr")
    assert dedup.admit([drift], now=0) == [drift]
    assert dedup.admit([drift], now=60) == []
    assert dedup.admit([drift], now=3599) == []
    assert dedup.admit([drift], now=3600) == [drift]  # a reminder
    changed = Event(EventKind.DRIFT_DETECTED, "risk", FRAUD, "changed outside mdr; corrected")
    assert dedup.admit([changed], now=3601) == [changed]
    other = Event(EventKind.DRIFT_DETECTED, "risk", CHURN, "changed outside mdr")
    assert dedup.admit([changed, other], now=3602) == [other]


def test_a_condition_that_ended_is_news_when_it_comes_back() -> None:
    dedup = Deduplicator(repeat_interval=3600)
    drift = Event(EventKind.DRIFT_DETECTED, "risk", FRAUD, "changed outside mdr")
    assert dedup.admit([drift], now=0) == [drift]
    assert dedup.admit([], now=10) == []  # a reconcile without it: it ended
    assert dedup.admit([drift], now=20) == [drift]


def test_a_lock_alert_is_not_forgotten_by_reconciles_only_by_its_end() -> None:
    dedup = Deduplicator(repeat_interval=3600)
    held = Event(EventKind.LOCK_HELD_TOO_LONG, "risk", None, "held for 900s")
    assert dedup.admit([held], now=0, reconcile=False) == [held]
    dedup.admit([], now=1)
    assert dedup.admit([held], now=2, reconcile=False) == []
    dedup.forget(EventKind.LOCK_HELD_TOO_LONG, "risk")
    assert dedup.admit([held], now=3, reconcile=False) == [held]


condition = st.tuples(
    st.sampled_from(list(EventKind)), st.sampled_from([FRAUD, CHURN, None]), st.sampled_from(["a", "b"])
)


@given(st.lists(st.tuples(st.integers(0, 50), st.lists(condition, max_size=4)), max_size=30))
def test_no_unchanged_condition_is_sent_twice_within_the_repeat_interval(
    batches: list[tuple[int, list[tuple[EventKind, str | None, str]]]],
) -> None:
    dedup = Deduplicator(repeat_interval=100)
    now = 0
    sent: dict[tuple[str, str, str | None], tuple[str, int]] = {}
    present_before: set[tuple[str, str, str | None]] = set()
    for step, batch in batches:
        now += step
        events = [Event(kind, "risk", subject, message) for kind, subject, message in dict.fromkeys(batch)]
        admitted = dedup.admit(events, now)
        for event in admitted:
            last = sent.get(event.condition)
            if last is not None and event.condition in present_before and last[0] == event.fingerprint:
                assert now - last[1] >= 100
            sent[event.condition] = (event.fingerprint, now)
        present_before = {e.condition for e in events}
        assert all(e in events for e in admitted)


@given(st.lists(st.floats(0, 30, allow_nan=False), max_size=200), st.integers(1, 10))
def test_a_sink_never_sends_more_than_its_rate_in_any_minute(gaps: list[float], per_minute: int) -> None:
    limiter = RateLimiter(per_minute)
    now, sends = 0.0, []
    for gap in gaps:
        now += gap
        wait = limiter.wait(now)
        while wait > 0:  # the worker sleeps, then asks again
            now += max(wait, 1e-6)  # a sleep is never shorter than the clock can tell
            wait = limiter.wait(now)
        limiter.record(now)
        sends.append(now)
    for index, start in enumerate(sends):
        in_window = [t for t in sends[index:] if t - start < 60]
        assert len(in_window) <= per_minute


def test_a_retry_failing_the_same_way_is_the_same_event_despite_new_request_ids() -> None:
    dedup = Deduplicator(repeat_interval=3600)

    def failure(request: str, work_request: str) -> Event:
        message = (
            f"OCI answered 500 InternalServerError to UpdateModelDeployment: boom (opc-request-id {request}); "
            f"work request ocid1.datascienceworkrequest.oc1.iad.{work_request} failed"
        )
        return Event(EventKind.SYNC_FAILED, "risk", FRAUD, message)

    assert dedup.admit([failure("A1B2C3D4E5F6A7B8C9D0", "amaaaaaaone")], now=0) != []
    assert dedup.admit([failure("0F9E8D7C6B5A4F3E2D1C", "amaaaaaatwo")], now=30) == []
    other = Event(EventKind.SYNC_FAILED, "risk", FRAUD, "OCI answered 400 InvalidParameter: shape")
    assert dedup.admit([other], now=60) == [other]
