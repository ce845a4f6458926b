"""Pure pieces of the controller: the adaptive API budget, durations, backoff and status rendering."""

from __future__ import annotations

import pytest

from reconciler.core.budget import TokenBucket
from reconciler.core.errors import MdrError
from reconciler.engine.controller.config import BACKOFF_MAX_SECONDS, Backoff, parse_duration, parse_listen


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_budget_allows_a_burst_then_paces_calls_at_its_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=5, clock=clock, sleep=clock.sleep)
    waits = [bucket.acquire() for _ in range(15)]
    assert sum(waits[:5]) == 0
    assert clock.now == pytest.approx(1.0, rel=0.01)  # 10 more calls at 10/s


def test_budget_halves_on_throttling_and_recovers_additively() -> None:
    bucket = TokenBucket(rate=8, burst=8, min_rate=1, increase=0.5, decrease=0.5)
    bucket.on_throttled()
    assert bucket.rate == 4
    bucket.on_throttled()
    bucket.on_throttled()
    bucket.on_throttled()
    assert bucket.rate == 1, "never below the floor"
    for _ in range(4):
        bucket.on_success()
    assert bucket.rate == 3
    for _ in range(100):
        bucket.on_success()
    assert bucket.rate == 8, "never above the configured rate"


def test_backoff_grows_exponentially_up_to_a_cap() -> None:
    backoff = Backoff()
    delays = []
    for _ in range(12):
        backoff.fail(0.0)
        delays.append(backoff.next_attempt)
    assert delays[1] > delays[0] * 1.3
    assert max(delays) <= BACKOFF_MAX_SECONDS * 1.2


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("30s", 30), ("5m", 300), ("1h", 3600), ("0.5s", 0.5)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_listen_address() -> None:
    assert parse_listen(":9000") == ("0.0.0.0", 9000)
    assert parse_listen("127.0.0.1:8080") == ("127.0.0.1", 8080)


@pytest.mark.parametrize("text", ["abc", "5x", "", "-1s", "nan", "inf"])
def test_a_bad_duration_is_a_one_line_error(text: str) -> None:
    with pytest.raises(MdrError, match="is not a duration"):
        parse_duration(text)
