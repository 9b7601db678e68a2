"""The circuit breaker's state machine, on `now` values chosen by the test."""

from __future__ import annotations

import pytest

from vigil.breaker import BreakerPolicy, BreakerState, CircuitBreaker

T = 1000.0


def calls(b: CircuitBreaker, results: list[bool], at: float, spacing: float = 1.0) -> float:
    for i, ok in enumerate(results):
        assert b.allow(at + i * spacing)
        b.record(ok, at + i * spacing)
    return at + len(results) * spacing


def test_opens_at_half_failures_over_the_window_with_at_least_five_calls():
    b = CircuitBreaker("e")
    calls(b, [False, False, False, False], T)
    assert b.state(T + 4) is BreakerState.CLOSED  # 4 calls: too few to judge
    calls(b, [True], T + 4)
    assert b.state(T + 5) is BreakerState.OPEN  # 4 of 5 failed
    assert not b.allow(T + 30)
    snap = b.snapshot(T + 30)
    assert snap["state"] == "open" and snap["state_code"] == 1 and snap["retry_at"] == T + 4 + 60


def test_stays_closed_below_the_ratio_and_forgets_old_calls():
    b = CircuitBreaker("e")
    calls(b, [False, True, False, True, True, True], T)  # 2 of 6
    assert b.state(T + 6) is BreakerState.CLOSED
    b2 = CircuitBreaker("e")
    calls(b2, [False, False, False], T)
    calls(b2, [True, False], T + 100)  # the first three left the 60 s window: 1 of 2
    assert b2.state(T + 102) is BreakerState.CLOSED


def test_half_open_lets_three_trials_through_and_closes_when_they_succeed():
    b = CircuitBreaker("e")
    calls(b, [False] * 5, T)
    reopen = T + 4 + 60
    assert b.state(reopen) is BreakerState.HALF_OPEN
    assert [b.allow(reopen) for _ in range(4)] == [True, True, True, False]  # 3 trials out at once
    b.record(True, reopen)
    assert not b.allow(reopen)  # a trial done, two still out: no more
    b.record(True, reopen)
    b.record(True, reopen)
    assert b.state(reopen) is BreakerState.CLOSED and b.allow(reopen)


def test_a_failed_trial_opens_it_again():
    b = CircuitBreaker("e")
    calls(b, [False] * 5, T)
    reopen = T + 4 + 60
    assert b.allow(reopen)
    b.record(False, reopen + 1)
    assert b.state(reopen + 2) is BreakerState.OPEN and b.snapshot(reopen + 2)["opened_count"] == 2
    assert b.state(reopen + 61) is BreakerState.HALF_OPEN


def test_release_gives_back_a_trial_slot():
    b = CircuitBreaker("e", BreakerPolicy(trial_calls=1))
    calls(b, [False] * 5, T)
    assert b.allow(T + 100) and not b.allow(T + 100)
    b.release()
    assert b.allow(T + 100)


def test_configurable_and_checked():
    b = CircuitBreaker(
        "e", BreakerPolicy(failure_ratio=1.0, window=10.0, min_calls=2, open_for=5.0, trial_calls=1)
    )
    calls(b, [False, True], T)
    assert b.state(T + 2) is BreakerState.CLOSED  # 50 % < 100 %
    calls(b, [False, False], T + 20)
    assert b.state(T + 22) is BreakerState.OPEN and b.state(T + 21 + 5) is BreakerState.HALF_OPEN
    with pytest.raises(ValueError, match="failure_ratio"):
        BreakerPolicy(failure_ratio=0)
