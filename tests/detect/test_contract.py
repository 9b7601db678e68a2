"""Every registered detector through the same checks: bad input, cold start, bounded state,
save/restore, batch == streaming. No exclusion lists."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vigil.detect import DETECTORS
from vigil.model import Score

KINDS = DETECTORS.kinds()
T0 = 1_700_000_000.0


def _series(n: int = 3000, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = T0 + 60.0 * np.arange(n)
    phase = 2 * np.pi * (ts % 86400) / 86400
    return ts, 100 + 20 * np.sin(phase) + rng.normal(0, 2, n)


@pytest.fixture(params=KINDS)
def kind(request) -> str:
    return request.param


def _stream(det, ts, xs) -> np.ndarray:
    return np.array([det.update(t, x).value for t, x in zip(ts, xs)])


def test_registry_lists_the_detectors() -> None:
    assert {"ensemble", "seasonal", "changepoint", "spike"} <= set(KINDS)


def test_works_before_any_learning(kind: str) -> None:
    det = DETECTORS.create(kind)
    s = det.update(T0, 5.0)
    assert isinstance(s, Score) and s.value == 0.0 and "learning" in s.reason
    assert det.score_one(T0 + 60, 6.0).value == 0.0


def test_scores_in_unit_interval_with_reasons(kind: str) -> None:
    ts, xs = _series(1500)
    xs[1200] += 500
    det = DETECTORS.create(kind)
    scores = [det.update(t, x) for t, x in zip(ts, xs)]
    assert all(0.0 <= s.value <= 1.0 and s.reason for s in scores)


def test_batch_equals_streaming(kind: str) -> None:
    ts, xs = _series()
    xs[2000:2100] += 40
    xs[2500] = np.nan
    batch = DETECTORS.create(kind).score_many(ts, xs)
    live = _stream(DETECTORS.create(kind), ts, xs)
    np.testing.assert_array_equal(batch, live)


def test_state_round_trip_gives_identical_scores(kind: str) -> None:
    ts, xs = _series()
    a = DETECTORS.create(kind)
    a.score_many(ts[:2000], xs[:2000])
    b = type(a).from_state(a.state())
    np.testing.assert_array_equal(a.score_many(ts[2000:], xs[2000:]), b.score_many(ts[2000:], xs[2000:]))


def test_state_is_bounded(kind: str) -> None:
    ts, xs = _series(20_000)
    det = DETECTORS.create(kind)
    det.score_many(ts[:2000], xs[:2000])
    small = len(det.state())
    det.score_many(ts[2000:], xs[2000:])
    assert len(det.state()) <= max(small, 1) * 1.05 + 1024
    assert len(det.state()) < 64 * 1024


def test_nan_and_infinity_are_skipped_and_counted(kind: str) -> None:
    ts, xs = _series(300)
    det, twin = DETECTORS.create(kind), DETECTORS.create(kind)
    det.score_many(ts[:200], xs[:200])
    twin.score_many(ts[:200], xs[:200])
    for bad in (math.nan, math.inf, -math.inf):
        s = det.update(ts[200], bad)
        assert s.value == 0.0 and "skipped" in s.reason
    assert det.counters["skipped_non_finite"] == 3
    # Skipped means skipped: the rest of the series scores as if the bad points never came.
    np.testing.assert_array_equal(det.score_many(ts[201:], xs[201:]), twin.score_many(ts[201:], xs[201:]))


def test_out_of_order_is_skipped_and_duplicates_are_scored(kind: str) -> None:
    ts, xs = _series(300)
    det = DETECTORS.create(kind)
    det.score_many(ts[:250], xs[:250])
    late = det.update(ts[100], xs[100])
    assert late.value == 0.0 and "older" in late.reason
    assert det.counters["skipped_out_of_order"] == 1
    dup = det.update(ts[249], xs[249])
    assert "skipped" not in dup.reason and dup.value < 0.5
    assert det.counters["seen"] == 251


def test_gaps_do_not_break_scoring(kind: str) -> None:
    rng = np.random.default_rng(5)
    ts, xs = T0 + 60.0 * np.arange(600), 50 + rng.normal(0, 1, 600)
    ts[300:] += 7 * 86400  # a week without data
    scores = DETECTORS.create(kind).score_many(ts, xs)
    assert np.all(np.isfinite(scores)) and scores[300:].max() < 0.9


def test_constant_series_never_alarms_then_a_change_does(kind: str) -> None:
    ts = T0 + 60.0 * np.arange(500)
    xs = np.full(500, 42.0)
    det = DETECTORS.create(kind)
    assert det.score_many(ts, xs).max() == 0.0
    if kind != "changepoint":  # CUSUM needs a few points to accumulate
        assert det.update(ts[-1] + 60, 50.0).value > 0.5


def test_very_sparse_series(kind: str) -> None:
    ts = T0 + np.cumsum(np.array([0, 3600, 50, 86400, 7, 400_000, 60]))
    xs = np.array([1.0, 2.0, 1.5, 1.0, 2.5, 1.2, 1.1])
    scores = DETECTORS.create(kind).score_many(ts, xs)
    assert np.all(scores == 0.0)  # still learning: says so rather than guessing


def test_unit_change_is_a_level_shift_not_a_permanent_alarm(kind: str) -> None:
    ts, xs = _series(2000)
    xs[1000:] *= 1000.0  # seconds -> milliseconds
    det = DETECTORS.create(kind)
    scores = det.score_many(ts, xs)
    if kind in ("ensemble", "seasonal", "spike"):
        assert scores[1000:1010].max() > 0.5
    assert scores[1600:].max() < 0.5  # absorbed as the new normal, not a permanent alarm


def test_never_learns_from_points_judged_anomalous(kind: str) -> None:
    ts, xs = _series(1500)
    det = DETECTORS.create(kind)
    det.score_many(ts, xs)
    judged = det.update(ts[-1] + 60, 5000.0).value
    history = det._s["ring"]
    assert (5000.0 in history) == (judged < 0.5)
    assert kind == "changepoint" or judged > 0.5


def test_reason_names_the_value_and_expectation() -> None:
    ts, xs = _series(1500)
    det = DETECTORS.create("ensemble")
    det.score_many(ts, xs)
    s = det.update(ts[-1] + 60, 912.0)
    assert s.value > 0.9 and "912" in s.reason and "above" in s.reason
