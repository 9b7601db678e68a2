"""Roll-ups, step aggregation, maintenance idempotency and retention."""

import numpy as np
import pytest

from vigil.config.schema import Retention
from vigil.model import SeriesKey
from vigil.store import open_store

T0 = 1_699_920_000.0  # midnight UTC (a day boundary)
REQ = SeriesKey.of("requests", {"svc": "api"})
LAT = SeriesKey.of("latency", {"svc": "api"})


def _fill(store, hours: float, every: float = 10.0, start: float = T0):
    ts = start + every * np.arange(int(hours * 3600 / every))
    vals = np.sin(ts / 900.0) * 10 + (ts - start) / 3600.0
    for a in range(0, ts.size, 720):  # scrapes of 720 timestamps x 2 series
        t = ts[a:a + 720]
        store.write_batch([REQ, LAT] * t.size, np.repeat(t, 2), np.stack([vals[a:a + 720], -vals[a:a + 720]],
                                                                          axis=1).ravel())
    return ts, vals


def _expected(ts, vals, start, width):
    k = np.floor((ts - start) / width)
    uniq = np.unique(k)
    return start + uniq * width, np.array([vals[k == u].mean() for u in uniq])


def test_rollups_match_raw_aggregation(store):
    ts, vals = _fill(store, 5)
    store.maintain(ts[-1] + 120)  # hours 0..3 closed and rolled, hour 4 still open
    for res, width in (("1m", 60.0), ("1h", 3600.0)):
        r = store.query_range(REQ, T0, ts[-1], resolution=res)
        assert r.resolution == res
        ets, evals = _expected(ts, vals, T0, width)
        np.testing.assert_array_equal(r.ts, ets)
        np.testing.assert_allclose(r.values, evals, rtol=1e-12)
        # the open hour comes from raw samples, aggregated the same way
        assert r.ts[-1] >= T0 + 4 * 3600


def test_step_mean_and_auto_resolution(store):
    ts, vals = _fill(store, 3)
    store.maintain(ts[-1] + 3600)
    cases = [(None, "raw"), (30.0, "raw"), (60.0, "1m"), (300.0, "1m"), (3600.0, "1h"), (7200.0, "1h")]
    for step, res in cases:
        r = store.query_range(REQ, T0, ts[-1], step=step)
        assert r.resolution == res, step
        if step is not None:
            ets, evals = _expected(ts, vals, T0, step)
            np.testing.assert_array_equal(r.ts, ets)
            np.testing.assert_allclose(r.values, evals, rtol=1e-12)
    raw = store.query_range(REQ, T0, ts[-1], step=300.0, resolution="raw")
    rolled = store.query_range(REQ, T0, ts[-1], step=300.0, resolution="1m")
    np.testing.assert_allclose(raw.values, rolled.values, rtol=1e-12)


def test_step_buckets_align_to_start(store):
    ts, _vals = _fill(store, 2)
    store.maintain(ts[-1] + 3600)
    start = T0 + 90.0  # not on a minute: the first 1m bucket starts before `start`
    r = store.query_range(REQ, start, T0 + 1800, step=600.0)
    assert r.ts.tolist() == [start, start + 600, start + 1200]


def test_invalid_query_arguments(store):
    with pytest.raises(ValueError):
        store.query_range(REQ, T0, T0 + 1, step=0)
    with pytest.raises(ValueError):
        store.query_range(REQ, T0 + 1, T0)
    with pytest.raises(ValueError):
        store.query_range(REQ, T0, T0 + 1, resolution="5m")


def test_maintenance_is_idempotent(store):
    ts, _vals = _fill(store, 3)
    first = store.maintain(ts[-1] + 3600)
    assert first["rolled_hours"] == 3
    answers = [store.query_range(REQ, T0, ts[-1], resolution=r).values for r in ("raw", "1m", "1h")]
    again = store.maintain(ts[-1] + 3600)
    assert again["compacted_samples"] == 0 and again["rolled_hours"] == 0
    for r, before in zip(("raw", "1m", "1h"), answers):
        np.testing.assert_array_equal(store.query_range(REQ, T0, ts[-1], resolution=r).values, before)


def test_late_samples_are_rolled_up_again(store):
    ts, vals = _fill(store, 2)
    store.maintain(ts[-1] + 3600)
    store.write_batch([REQ], np.array([T0 + 5.0]), np.array([1000.0]))  # late, into a rolled hour
    store.maintain(ts[-1] + 3700)
    minute = store.query_range(REQ, T0, T0 + 59, resolution="1m")
    expected = np.r_[vals[:6], 1000.0].mean()
    np.testing.assert_allclose(minute.values, [expected])
    hour = store.query_range(REQ, T0, T0 + 1, resolution="1h")
    np.testing.assert_allclose(hour.values, [np.r_[vals[:360], 1000.0].mean()])


def test_retention_drops_old_raw_but_keeps_rollups(store_url):
    store = open_store(store_url, Retention(raw=2 * 3600.0, rollup_1m=4 * 3600.0, rollup_1h=86400.0 * 30))
    try:
        ts, vals = _fill(store, 6)
        now = ts[-1] + 10
        store.maintain(now)  # the newest raw hours stay; hours ending > 2 h before now go
        raw = store.query_range(REQ, T0, now)
        assert raw.ts[0] >= now - 3 * 3600 and raw.ts[-1] == ts[-1]
        minute = store.query_range(REQ, T0, now, resolution="1m")
        assert minute.ts[0] >= now - 5 * 3600
        hour = store.query_range(REQ, T0, now, resolution="1h")
        assert hour.ts[0] == T0  # 1h roll-ups are kept 30 days
        np.testing.assert_allclose(hour.values[0], vals[:360].mean())
        # much later: everything but the 1h roll-ups is gone
        later = now + 10 * 86400
        store.maintain(later)
        assert store.query_range(REQ, T0, later).ts.size == 0
        assert store.query_range(REQ, T0, later, resolution="1m").ts.size == 0
        assert store.query_range(REQ, T0, later, resolution="1h").ts.size == 6
    finally:
        store.close()


def test_late_samples_for_an_hour_past_raw_retention_do_not_erase_its_rollups(store_url):
    store = open_store(store_url, Retention(raw=2 * 3600.0, rollup_1m=30 * 86400.0, rollup_1h=30 * 86400.0))
    try:
        ts, vals = _fill(store, 6)
        now = ts[-1] + 10
        store.maintain(now)
        assert store.query_range(REQ, T0, T0 + 3599).ts.size == 0  # raw of hour 0 is gone
        before = store.query_range(REQ, T0, now, resolution="1h")
        store.write_batch([REQ], np.array([T0 + 5.0]), np.array([1e6]))  # very late
        store.maintain(now + 60)
        after = store.query_range(REQ, T0, now, resolution="1h")
        np.testing.assert_array_equal(after.ts, before.ts)
        np.testing.assert_allclose(after.values, before.values)
        np.testing.assert_allclose(after.values[0], vals[:360].mean())
    finally:
        store.close()


def test_late_samples_count_in_rollup_reads_before_maintenance(store):
    ts, vals = _fill(store, 2)
    store.maintain(ts[-1] + 3600)
    store.write_batch([REQ, REQ], np.array([T0 + 5.0, T0 + 10.0]), np.array([1000.0, 7.0]))  # new; rewrite
    minute = store.query_range(REQ, T0, T0 + 59, resolution="1m")  # no maintain in between
    np.testing.assert_allclose(minute.values, [np.r_[vals[0], 1000.0, 7.0, vals[2:6]].mean()])
