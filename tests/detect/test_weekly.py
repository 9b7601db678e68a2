"""The weekly profile (same hour of the week on past weeks) and the flat-baseline reason."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.detect import DETECTORS

MONDAY = 1_699_833_600.0  # 2023-11-13 00:00 UTC, a Monday
DAY = 86400.0
THRESHOLD = DETECTORS.load("ensemble").THRESHOLDS["standard"]


def _office_load(weeks: int, step: float, seed: int, poisson: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Weekdays: 40 at night, up to 100 in office hours; weekends a flat 15."""
    rng = np.random.default_rng(seed)
    ts = MONDAY + step * np.arange(int(weeks * 7 * DAY / step))
    hour = (ts % DAY) / 3600
    weekday = ((ts - MONDAY) // DAY) % 7 < 5
    level = np.where(weekday, 40 + 60 * np.clip(np.sin(np.pi * (hour - 7) / 12), 0, None) ** 2, 15.0)
    if poisson:
        return ts, rng.poisson(level).astype(float)
    return ts, level + rng.normal(0, 2, ts.shape[0])


@pytest.mark.parametrize("kind", ["seasonal", "ensemble"])
def test_weekday_load_on_a_sunday_and_a_weekend_shaped_wednesday_are_flagged(kind: str) -> None:
    step = 300.0
    per_day = int(DAY / step)
    ts, xs = _office_load(6, step, seed=3)
    sunday = (4 * 7 + 6) * per_day + 9 * 12  # 09:00 on the Sunday of week 5
    xs[sunday:sunday + 36] = xs[sunday - 6 * per_day:sunday - 6 * per_day + 36]  # Monday's 09:00-12:00
    wednesday = (5 * 7 + 2) * per_day  # week 6
    xs[wednesday:wednesday + per_day] = xs[wednesday - 3 * per_day:wednesday - 2 * per_day]  # a Sunday
    det = DETECTORS.create(kind)
    det.score_many(ts[:sunday], xs[:sunday])
    peak = det.update(ts[sunday], xs[sunday])
    assert peak.value >= THRESHOLD
    assert "for this hour on Sundays (09:00-10:00 UTC)" in peak.reason and "above the expected" in peak.reason
    det.score_many(ts[sunday + 1:wednesday], xs[sunday + 1:wednesday])
    lull = det.update(ts[wednesday], xs[wednesday])
    assert lull.value >= THRESHOLD and "below" in lull.reason and "on Wednesdays (00:00-01:00 UTC)" in lull.reason
    # Neither is news to recent history or the daily profile: without the weekly profile both pass.
    plain = DETECTORS.create(kind, w_week=0.0).score_many(ts, xs)
    assert plain[sunday:sunday + 36].max() < THRESHOLD
    assert plain[wednesday:wednesday + per_day].max() < THRESHOLD


def test_the_normal_weekly_pattern_stops_alarming_once_weeks_are_known() -> None:
    ts, xs = _office_load(6, 60.0, seed=1, poisson=True)  # 1-minute data: recent history is 17 hours
    week = int(7 * DAY / 60.0)
    later = slice(3 * week, None)  # from week 4 on, 3 past weeks know every hour
    for kind in ("seasonal", "ensemble"):
        plain = DETECTORS.create(kind, w_week=0.0).score_many(ts, xs)
        weekly = DETECTORS.create(kind).score_many(ts, xs)
        assert plain[later].max() >= THRESHOLD  # weekends and Monday mornings look new to recent history
        assert weekly[later].max() < THRESHOLD


def test_the_weekly_profile_needs_week_min_past_weeks() -> None:
    step = 300.0
    per_day = int(DAY / step)
    ts, xs = _office_load(3, step, seed=4)
    sunday = (2 * 7 + 6) * per_day + 9 * 12  # week 3: two past Sundays
    xs[sunday] = 100.0
    two = DETECTORS.create("ensemble").score_many(ts, xs)
    three = DETECTORS.create("ensemble", week_min=3).score_many(ts, xs)
    np.testing.assert_array_equal(two[:14 * per_day], three[:14 * per_day])  # nothing weekly in 2 weeks
    assert two[sunday] >= THRESHOLD
    assert three[sunday] < THRESHOLD


@pytest.mark.parametrize("level", [0.0, 42.0])
def test_a_flat_baseline_is_named_not_measured_in_robust_deviations(level: float) -> None:
    ts = MONDAY + 60.0 * np.arange(200)
    det = DETECTORS.create("ensemble")
    det.score_many(ts, np.full(200, level))
    s = det.update(ts[-1] + 60, level + 5)
    assert s.value >= THRESHOLD
    assert s.reason == (f"value {level + 5:.4g} departs from a flat {level:.4g}: 200 of the last 200 normal "
                        f"points were exactly {level:.4g}")
    noisy = DETECTORS.create("ensemble")
    noisy.score_many(ts, level + np.random.default_rng(1).normal(0, 1, 200))
    assert "robust deviations" in noisy.update(ts[-1] + 60, level + 50).reason


def _weekly_series() -> tuple[np.ndarray, np.ndarray]:
    """15-minute office load over 12 weeks with what the weekly profile's bookkeeping must survive: gaps of
    hours, days and 5 weeks, quantised values (tied hourly means), a tenfold level shift, and values so
    large that hourly means overflow to inf."""
    ts, xs = _office_load(12, 900.0, seed=5)
    xs = np.round(xs / 5) * 5
    ts[2000:] += 7 * 3600.0
    ts[3000:] += 3 * DAY
    ts[5000:] += 35 * DAY
    xs[6000:] *= 10
    xs[7000:7200] = 1.6e308 * np.sign(np.random.default_rng(0).normal(size=200))  # accepted as a shift
    return ts, xs


@pytest.mark.parametrize("resets", [0.0, 1.0])
def test_the_sorted_hourly_means_are_kept_exactly_as_a_full_sort_gives_them(resets: float) -> None:
    """The spread of the recent hourly means is read off a sorted order kept incrementally; at every point it
    must equal what sorting all recent means at the hour's end gives (the rule it replaced)."""
    from vigil.detect import kernel as K

    ts, xs = _weekly_series()
    # season_miss off: with it the daily profile stops speaking on the overflowed stretch, recall then
    # takes those points for behaviour, and the level shift this test needs is never accepted.
    det = DETECTORS.create("ensemble", shift_resets_season=resets, season_miss=0)
    s = det._s
    closes = spreads = 0
    overflowed = 0
    for t, x in zip(ts, xs):
        fs0, week0, hour0 = s["fs"].copy(), s["week"].copy(), s["week_hour"].copy()
        det.update(float(t), float(x))
        fs = s["fs"]
        want = fs0[K.S_WSPREAD]
        if fs[K.S_BINS] > 0 and int(t // 3600) != fs0[K.S_WHOUR] and fs0[K.S_WCNT] > 0:
            closes += 1
            done = int(fs0[K.S_WHOUR])
            j = (done % K.WEEK_BINS) * K.WEEKS + (done // K.WEEK_BINS) % K.WEEKS
            week0[j] = fs0[K.S_WSUM] / fs0[K.S_WCNT]
            hour0[j] = done
            recent = np.sort(week0[hour0 > done - K.WEEK_BINS * K.WEEKS])
            n = recent.shape[0]
            if n >= 24:
                spreads += 1
                want = (recent[(3 * n) // 4] - recent[n // 4]) / 1.349
        np.testing.assert_array_equal(fs[K.S_WSPREAD], want)
        n = int(fs[K.S_WORD_N])
        kept = s["week_order"][:n]
        recent = np.flatnonzero(s["week_hour"] > fs[K.S_WORD_LO])
        assert sorted(kept.tolist()) == recent.tolist()
        np.testing.assert_array_equal(s["week"][kept], np.sort(s["week"][recent]))
        overflowed += np.isinf(s["week"][kept]).any()
    assert closes > 1000 and spreads > 500
    assert overflowed > 0  # hourly means that overflowed to inf were kept in order too
    assert fs[K.S_SHIFTS] > 0


def test_a_state_saved_before_the_order_was_kept_loads_and_continues_identically() -> None:
    """Earlier versions saved no `week_order` and left its fs slots at 0: the order is rebuilt at the next
    hour's end from the saved hourly means, and scores continue as if never saved."""
    import io

    from vigil.detect import kernel as K

    ts, xs = _office_load(6, 300.0, seed=2)
    cut = 4 * 7 * 288 + 100
    det = DETECTORS.create("ensemble")
    det.score_many(ts[:cut], xs[:cut])
    with np.load(io.BytesIO(det.state())) as z:
        old = {k: z[k] for k in z.files if k != "week_order"}
    old["fs"][K.S_WORD_N:K.S_WORD_OK + 1] = 0.0
    buf = io.BytesIO()
    np.savez(buf, **old)
    restored = type(det).from_state(buf.getvalue())
    assert restored._s["fs"][K.S_WORD_OK] == 0
    went_on = det.score_many(ts[cut:], xs[cut:])
    np.testing.assert_array_equal(restored.score_many(ts[cut:], xs[cut:]), went_on)
    assert restored._s["fs"][K.S_WORD_OK] == 1
    for k in ("fs", "week", "week_hour", "week_order"):  # the spread and the kept order too, not only scores
        np.testing.assert_array_equal(restored._s[k], det._s[k])
