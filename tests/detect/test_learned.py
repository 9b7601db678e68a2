"""The learned detector (IsolationForest over windowed features): what the contract tests do not cover."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.detect import DETECTORS
from vigil.detect import learned as L

T0 = 1_700_000_000.0


def _series(n: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = T0 + 300.0 * np.arange(n)
    return ts, 50 + 10 * np.sin(2 * np.pi * (ts % 86400) / 86400) + rng.normal(0, 1, n)


def test_registered_and_not_the_default() -> None:
    from vigil.detect import DEFAULT_DETECTOR

    assert "learned" in DETECTORS.kinds() and DEFAULT_DETECTOR == "ensemble"
    assert isinstance(DETECTORS.create("learned"), L.LearnedForest)


def test_forest_walk_matches_scikit_learn() -> None:
    from sklearn.ensemble import IsolationForest

    det = DETECTORS.create("learned")
    det.score_many(*_series(700))
    X = det._training_rows()
    model = IsolationForest(n_estimators=L.N_TREES, max_samples=min(L.MAX_SAMPLES, len(X)),
                            random_state=0).fit(X)
    probe = X[:50] + np.random.default_rng(0).normal(0, 2, (50, 3))
    ours = np.array([det._isolate(*row) for row in probe])
    np.testing.assert_allclose(ours, -model.score_samples(probe), rtol=0, atol=1e-12)


def test_refits_on_a_bounded_window_of_normal_points() -> None:
    det = DETECTORS.create("learned")
    det.score_many(*_series(3000))
    fs = det._s["fs"]
    assert fs[L.F_FIT_END] > 2000 and det._training_rows().shape == (L.FIT_WINDOW, 3)


def test_a_spike_is_flagged_with_a_reason_and_not_learned() -> None:
    ts, xs = _series(1500)
    det = DETECTORS.create("learned")
    det.score_many(ts, xs)
    learned_before = det._s["fs"][L.F_LEARNED]
    s = det.update(ts[-1] + 300, 400.0)
    assert s.value > 0.9 and "400" in s.reason and "above" in s.reason
    assert det._s["fs"][L.F_LEARNED] == learned_before
    normal = det.update(ts[-1] + 600, xs[-1])
    assert normal.value < 0.5  # the step back is unusual (it is in the features), not an alarm


def test_score_one_does_not_learn() -> None:
    ts, xs = _series(600)
    det = DETECTORS.create("learned")
    det.score_many(ts, xs)
    before = det.state()
    a = det.score_one(ts[-1] + 300, 400.0)
    assert a.value > 0.9 and det.state() == before
    assert det.update(ts[-1] + 300, 400.0).value == pytest.approx(a.value)


def test_deterministic_and_restored_without_pickling_the_model() -> None:
    ts, xs = _series(1200)
    a, b = DETECTORS.create("learned"), DETECTORS.create("learned")
    np.testing.assert_array_equal(a.score_many(ts, xs), b.score_many(ts, xs))
    blob = a.state()
    assert b"sklearn" not in blob and len(blob) < 64 * 1024
    restored = L.LearnedForest.from_state(blob)
    t2, x2 = _series(400, seed=9)
    t2 = t2 + ts[-1] - T0 + 300
    np.testing.assert_array_equal(a.score_many(t2, x2), restored.score_many(t2, x2))
