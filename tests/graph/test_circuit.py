"""The LLM circuit breaker: opens after N consecutive failures, half-opens after the wait."""

from __future__ import annotations

import pytest

from dealcast.graph.circuit import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    CircuitBreaker,
    breaker,
    reset_breakers,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_three_consecutive_failures_and_skips_for_60s() -> None:
    clock = Clock()
    cb = CircuitBreaker(clock=clock)
    for _ in range(2):
        assert cb.allow()
        cb.record_failure()
    assert cb.state == CLOSED and cb.allow()
    cb.record_failure()
    assert cb.state == OPEN
    assert not cb.allow() and cb.retry_in() == pytest.approx(60.0)
    clock.now += 59.9
    assert not cb.allow()
    clock.now += 0.1
    assert cb.state == HALF_OPEN and cb.retry_in() == 0.0


def test_success_resets_the_count() -> None:
    cb = CircuitBreaker(clock=Clock())
    cb.record_failure()
    cb.record_failure()
    cb.record_success()
    cb.record_failure()
    cb.record_failure()
    assert cb.state == CLOSED  # never three in a row


def test_half_open_lets_one_trial_through() -> None:
    clock = Clock()
    cb = CircuitBreaker(failure_threshold=1, reset_after_s=10, clock=clock)
    cb.record_failure()
    assert not cb.allow()
    clock.now += 10
    assert cb.allow()  # the trial
    assert not cb.allow()  # only one at a time
    cb.record_success()
    assert cb.state == CLOSED and cb.allow() and cb.allow()


def test_failed_trial_reopens_for_another_wait() -> None:
    clock = Clock()
    cb = CircuitBreaker(clock=clock)
    for _ in range(3):
        cb.record_failure()
    clock.now += 60
    assert cb.allow()
    cb.record_failure()  # one failure is enough in half-open state
    assert cb.state == OPEN and not cb.allow()
    clock.now += 60
    assert cb.allow()


def test_registry_shares_breakers_per_key() -> None:
    reset_breakers()
    a = breaker("http://x/v1|m")
    assert breaker("http://x/v1|m") is a and breaker("http://y/v1|m") is not a
    reset_breakers()
    assert breaker("http://x/v1|m") is not a


@pytest.mark.parametrize("kw", [{"failure_threshold": 0}, {"reset_after_s": 0}])
def test_bad_settings(kw: dict) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(**kw)
