"""The store against a plain-Python model: random writes (out of order, repeated timestamps, several
series) interleaved with maintenance at random times must read back exactly as the model says, raw
and rolled up."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.model import SeriesKey
from vigil.store import open_store

T0 = 1_699_920_000.0
KEYS = [SeriesKey.of("m", {"k": str(i)}) for i in range(3)]

write = st.tuples(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 4 * 360 - 1),
                                     st.integers(-1000, 1000)), min_size=1, max_size=40),
                  st.booleans())  # samples (series, 10 s slot, value), then maintain or not


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(write, min_size=1, max_size=12))
def test_store_matches_a_model(tmp_path_factory, steps):
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('m') / 'm.db'}")
    model: dict[int, dict[float, float]] = {0: {}, 1: {}, 2: {}}
    clock = T0
    try:
        for samples, maintain in steps:
            keys = [KEYS[s] for s, _, _ in samples]
            ts = np.array([T0 + 10.0 * slot for _, slot, _ in samples])
            vals = np.array([float(v) for _, _, v in samples])
            store.write_batch(keys, ts, vals)
            for (s, _, _), t, v in zip(samples, ts, vals):
                model[s][float(t)] = float(v)  # last write wins
            clock = max(clock, float(ts.max()))
            if maintain:
                store.maintain(clock + 61)
        end = T0 + 4 * 3600
        for s, key in enumerate(KEYS):
            expect_ts = np.array(sorted(model[s]))
            expect_v = np.array([model[s][t] for t in expect_ts])
            r = store.query_range(key, T0, end)
            np.testing.assert_array_equal(r.ts, expect_ts)
            np.testing.assert_array_equal(r.values, expect_v)
            for res, width in (("1m", 60.0), ("1h", 3600.0)):
                r = store.query_range(key, T0, end, step=width, resolution=res)
                k = np.floor((expect_ts - T0) / width)
                uk = np.unique(k)
                np.testing.assert_array_equal(r.ts, T0 + uk * width)
                np.testing.assert_allclose(r.values, [expect_v[k == u].mean() for u in uk])
            latest = store.latest(key)
            assert latest == ((expect_ts[-1], expect_v[-1]) if expect_ts.size else None)
    finally:
        store.close()
