"""The default detector's own behaviours (the contract checks in test_contract.py run on every kind)."""

from __future__ import annotations

import io

import numpy as np

from vigil.detect import DETECTORS
from vigil.detect import kernel as K

T0 = 1_700_000_000.0 - (1_700_000_000.0 % 86400)  # midnight UTC
STEP = 300.0
THRESHOLD = DETECTORS.load("ensemble").THRESHOLDS["standard"]


def _noise(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return T0 + STEP * np.arange(n), 50 + rng.normal(0, 1, n)


def test_a_nightly_job_becomes_the_daily_rhythm_but_other_times_still_count() -> None:
    ts, xs = _noise(288 * 10, seed=11)
    rng = np.random.default_rng(12)
    nightly = [d * 288 + 36 + (d % 3) for d in range(10)]  # about 03:00, give or take 10 minutes
    xs[nightly] = rng.uniform(80, 100, 10)
    other = 288 * 8 + 180  # a spike at 15:00 on day 8
    xs[other] = 90.0
    rule = DETECTORS.create("ensemble").score_many(ts, xs)
    plain = DETECTORS.create("ensemble", daily_damp=1.0).score_many(ts, xs)
    np.testing.assert_array_equal(rule[:nightly[3]], plain[:nightly[3]])  # needs 3 earlier days
    later = nightly[3:]
    assert plain[later].max() >= THRESHOLD  # recall alone leaves some of them alarming
    assert rule[later].max() < THRESHOLD
    assert rule[other] >= THRESHOLD  # not at the nightly time: still news


def test_likelihood_flags_a_modest_value_on_a_series_whose_scores_are_quiet() -> None:
    ts, xs = _noise(2600, seed=5)
    xs[2500] = 55.0  # 5 standard deviations: not enough for novelty alone on 1,024 noisy points
    det = DETECTORS.create("ensemble")
    det.score_many(ts[:2500], xs[:2500])
    s = det.update(ts[2500], xs[2500])
    assert s.value >= THRESHOLD and "unusually novel" in s.reason
    without = DETECTORS.create("ensemble", w_likelihood=0.0).score_many(ts, xs)
    assert without[2500] < THRESHOLD
    # one event, one alarm: the following points do not alarm again for the same stretch
    rest = det.score_many(ts[2501:], xs[2501:])
    assert rest.max() < THRESHOLD


def test_state_saved_by_an_older_version_still_loads() -> None:
    ts, xs = _noise(1500, seed=2)
    det = DETECTORS.create("ensemble")
    det.score_many(ts[:1000], xs[:1000])
    # An older blob: fewer parameters, a shorter float state, no likelihood history.
    old = {k: v for k, v in det._s.items() if k not in ("lik", "lik_short")}
    old["fs"] = old["fs"][:32]
    buf = io.BytesIO()
    np.savez(buf, params=det._p[:26], **old)
    restored = type(det).from_state(buf.getvalue())
    assert restored._p[K.P_W_LIK] == det._p[K.P_W_LIK]  # new parameters keep the class defaults
    scores = restored.score_many(ts[1000:], xs[1000:])
    assert np.all(np.isfinite(scores)) and scores.max() < THRESHOLD


def test_state_saved_before_the_daily_profile_check_loads_with_the_check_on() -> None:
    ts, xs = _noise(1500, seed=3)
    det = DETECTORS.create("ensemble")
    det.score_many(ts[:1000], xs[:1000])
    buf = io.BytesIO()
    np.savez(buf, params=det._p[:K.P_SEASON_MISS], **det._s)  # 36 parameters, as saved before issue 10
    restored = type(det).from_state(buf.getvalue())
    assert restored._p[K.P_SEASON_MISS] == K.WEEK_MISS
    np.testing.assert_array_equal(restored.score_many(ts[1000:], xs[1000:]), det.score_many(ts[1000:], xs[1000:]))
