import numpy as np
import pytest

from vigil.forecast.backtest import backtest, coverage, mase, rolling_origins, smape, under_forecast_rate

from .conftest import daily


def test_metrics_on_hand_computed_cases():
    insample = np.array([1.0, 2, 3, 5, 6, 7])  # season 3: diffs 4, 4, 4 -> scale 4
    assert mase([10, 10], [8, 12], insample, 3) == pytest.approx(0.5)  # MAE 2 / 4
    assert smape([100, 0], [50, 0]) == pytest.approx(100 * (2 * 50 / 150) / 2)  # 0/0 counts as 0
    assert smape([np.nan, 10], [3, 10]) == 0.0
    assert coverage([1, 2, 3, 4], [0, 0, 0, 5], [2, 2, 2, 6]) == pytest.approx(0.5)
    assert under_forecast_rate([1, 2, 3, np.nan], [2, 2, 2, 2]) == pytest.approx(1 / 3)
    assert mase([1, 1], [1, 1], np.ones(6), 3) == 0.0  # flat history, perfect forecast
    assert np.isinf(mase([1, 2], [1, 1], np.ones(6), 3))


def test_rolling_origins_are_the_last_ones_with_enough_history():
    assert rolling_origins(100, 24, 24, 3, 20) == [28, 52, 76]
    assert rolling_origins(100, 24, 24, 10, 30) == [52, 76]


def test_seasonal_naive_on_a_pure_season_is_perfect_and_scores_itself_as_one():
    y = np.tile(np.arange(24.0), 10)
    r = backtest(y, "seasonal_naive", 24, 24, windows=3)
    assert r.windows == 3 and r.mase == 0.0 and r.smape == 0.0 and r.coverage == 1.0
    noisy = backtest(daily(12), "seasonal_naive", 24, 24, windows=3)
    assert noisy.relative_mae == pytest.approx(1.0)
    assert noisy.fallbacks == 0 and noisy.seconds >= 0


def test_backtest_counts_fallbacks_and_score_penalises_bad_coverage():
    r = backtest(daily(4), "ets", 24, 24, windows=3, min_train=24)
    assert r.fallbacks >= 1 and r.fallback_reasons
    good = backtest(daily(12), "profile", 24, 24, windows=3)
    assert good.score == pytest.approx(good.mase + max(0.0, abs(good.coverage - 0.8) - 0.05))
