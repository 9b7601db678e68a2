"""Every registered forecaster, same checks: no exclusion lists."""

import numpy as np
import pytest

from vigil.forecast import FORECASTERS, create, dump_state, fit_predict_many, load_state
from vigil.model import Forecast

from .conftest import HOUR, T0, daily

KINDS = FORECASTERS.kinds()


def check_shape(fc: Forecast, h: int, levels=(80,)) -> None:
    assert fc.mean.shape == (h,) and fc.ts.shape == (h,)
    assert np.isfinite(fc.mean).all()
    for lv in levels:
        lo, hi = fc.intervals[lv]
        assert np.isfinite(lo).all() and np.isfinite(hi).all()
        assert (lo <= fc.mean + 1e-9).all() and (fc.mean <= hi + 1e-9).all()


@pytest.mark.parametrize("kind", KINDS)
def test_forecast_is_ordered_nested_and_timestamped(kind, ten_days, hours):
    fc = create(kind).fit(ten_days, 24, hours).predict(30, levels=(80, 95))
    check_shape(fc, 30, (80, 95))
    assert fc.fallback_reason is None, fc.fallback_reason
    lo80, hi80 = fc.intervals[80]
    lo95, hi95 = fc.intervals[95]
    assert (lo95 <= lo80 + 1e-9).all() and (hi80 <= hi95 + 1e-9).all()
    assert np.allclose(fc.ts, hours[-1] + HOUR * np.arange(1, 31))


@pytest.mark.parametrize("kind", KINDS)
def test_interval_width_grows_or_holds_with_horizon(kind, ten_days):
    fc = create(kind).fit(ten_days, 24).predict(48)
    lo, hi = fc.intervals[80]
    width = hi - lo
    assert (np.diff(width) >= -1e-6 * max(1.0, width.max())).all(), width


@pytest.mark.parametrize("kind", KINDS)
def test_too_little_history_falls_back_with_a_reason(kind):
    fc = create(kind).fit(daily(1)[:10], 24).predict(24)
    check_shape(fc, 24)
    assert fc.fallback_reason and "10 observations" in fc.fallback_reason


@pytest.mark.parametrize("kind", KINDS)
def test_no_history_at_all(kind):
    fc = create(kind).fit(np.full(100, np.nan), 24).predict(5)
    check_shape(fc, 5)
    assert fc.fallback_reason


@pytest.mark.parametrize("kind", KINDS)
def test_constant_series(kind):
    fc = create(kind).fit(np.full(240, 7.0), 24).predict(12)
    check_shape(fc, 12)
    assert np.allclose(fc.mean, 7.0)


@pytest.mark.parametrize("kind", KINDS)
def test_gaps_and_infinities_are_tolerated(kind, ten_days):
    y = ten_days.copy()
    y[[0, 5, 50, 51, 52, 200]] = np.nan
    y[100] = np.inf
    check_shape(create(kind).fit(y, 24).predict(24), 24)


@pytest.mark.parametrize("kind", KINDS)
def test_weekly_seasons_accepted(kind, ten_days):
    check_shape(create(kind).fit(ten_days, (24, 168)).predict(24), 24)


@pytest.mark.parametrize("kind", KINDS)
def test_state_round_trip(kind, ten_days, hours):
    fitted = create(kind).fit(ten_days, 24, hours)
    before = fitted.predict(24, (80,))
    after = load_state(dump_state(fitted)).predict(24, (80,))
    assert after.model == before.model
    assert np.allclose(after.mean, before.mean) and np.allclose(after.ts, before.ts)
    assert np.allclose(after.intervals[80][1], before.intervals[80][1])


@pytest.mark.parametrize("kind", KINDS)
def test_fleet_path_matches_shapes_and_flags_bad_rows(kind):
    Y = np.stack([daily(9, seed=s) for s in range(3)])
    Y[1] = np.nan
    out = fit_predict_many(Y, 24, 24, (80,), kind=kind)
    assert out.mean.shape == (3, 24) and out.intervals[80][0].shape == (3, 24)
    assert np.isfinite(out.mean).all()
    assert out.fallback_reasons[1] and out.fallback_reasons[0] is None


def test_nonnegative_series_never_forecast_below_zero():
    y = np.maximum(0.0, daily(9, noise=30.0) - 100)
    fc = create("profile").fit(y, 24).predict(24)
    assert (fc.intervals[80][0] >= 0).all() and (fc.mean >= 0).all()


def test_seasonal_naive_repeats_the_last_day_and_week():
    y = np.arange(24 * 8, dtype=float)
    day = create("seasonal_naive").fit(y, 24).predict(24)
    week = create("seasonal_naive_week").fit(y, (24, 168)).predict(24)
    assert np.allclose(day.mean, y[-24:]) and np.allclose(week.mean, y[-168:-144])
    short = create("seasonal_naive_week").fit(y[:100], (24, 168)).predict(24)
    assert short.fallback_reason and "less than a week" in short.fallback_reason


def test_profile_single_series_equals_fleet_row():
    Y = np.stack([daily(12, seed=s) for s in range(4)])
    fleet = fit_predict_many(Y, 24, 24, (80,))
    one = create("profile").fit(Y[2], 24).predict(24)
    assert np.allclose(fleet.mean[2], one.mean) and np.allclose(fleet.intervals[80][1][2], one.intervals[80][1])


def test_profile_beats_seasonal_naive_on_noisy_daily_series():
    Y = np.stack([daily(15, seed=s, noise=10.0, weekly=False) for s in range(50)])
    train, actual = Y[:, :-24], Y[:, -24:]
    prof = fit_predict_many(train, 24, 24, (80,), kind="profile")
    naive = fit_predict_many(train, 24, 24, (80,), kind="seasonal_naive")
    assert np.abs(prof.mean - actual).mean() < 0.9 * np.abs(naive.mean - actual).mean()
    lo, hi = prof.intervals[80]
    assert 0.7 <= ((actual >= lo) & (actual <= hi)).mean() <= 0.9


def test_unknown_kind_names_the_known_ones():
    with pytest.raises(LookupError, match="profile"):
        create("prophet")
    assert T0 % 86_400 == 0


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("h", [1, 3])
def test_short_horizons_need_no_fallback(kind, h, ten_days):
    fc = create(kind).fit(ten_days, 24).predict(h)
    check_shape(fc, h)
    assert fc.fallback_reason is None, fc.fallback_reason
