"""Samples: round trips, atomicity, ordering, series listing, compaction being invisible."""

import threading
import time

import numpy as np
import pytest

from vigil.model import Sample, SeriesKey

T0 = 1_699_999_200.0  # on an hour boundary
CPU = SeriesKey.of("cpu", {"host": "a", "env": "prod"})
CPU_B = SeriesKey.of("cpu", {"host": "b", "env": "prod"})
MEM = SeriesKey.of("mem", {"host": "a", "env": "dev"})


def test_write_samples_round_trip_and_latest(store):
    n = store.write_samples([Sample(CPU, T0 + i, float(i)) for i in range(10)] + [Sample(MEM, T0, 7.0)])
    assert n == 11
    r = store.query_range(CPU, T0, T0 + 100)
    assert r.resolution == "raw"
    np.testing.assert_array_equal(r.ts, T0 + np.arange(10))
    np.testing.assert_array_equal(r.values, np.arange(10.0))
    assert store.latest(CPU) == (T0 + 9, 9.0)
    assert store.latest(MEM) == (T0, 7.0)
    assert store.latest(SeriesKey.of("nothing")) is None
    assert store.query_range(SeriesKey.of("nothing"), T0, T0 + 1).ts.size == 0


def test_range_bounds_are_inclusive(store):
    store.write_samples([Sample(CPU, T0 + i, float(i)) for i in range(10)])
    r = store.query_range(CPU, T0 + 2, T0 + 5)
    np.testing.assert_array_equal(r.ts, T0 + np.array([2, 3, 4, 5.0]))


@pytest.mark.parametrize("bad", [
    Sample(MEM, T0, "not a number"),  # type: ignore[arg-type]
    Sample(MEM, float("nan"), 1.0),
    Sample(MEM, None, 1.0),  # type: ignore[arg-type]
    Sample("mem", T0, 1.0),  # type: ignore[arg-type]
])
def test_a_bad_sample_rejects_the_whole_batch(store, bad):
    store.write_samples([Sample(CPU, T0, 1.0)])
    with pytest.raises(ValueError):
        store.write_samples([Sample(CPU, T0 + 1, 2.0), Sample(CPU_B, T0 + 1, 2.0), bad])
    assert store.query_range(CPU, T0, T0 + 10).ts.tolist() == [T0]
    assert [s.key for s in store.list_series()] == [CPU]  # no series left behind either


def test_bad_item_is_named(store):
    with pytest.raises(ValueError, match="sample 2: value"):
        store.write_samples([Sample(CPU, T0, 1.0), Sample(CPU, T0 + 1, 1.0), Sample(CPU, T0 + 2, "x")])


def test_write_batch_columnar_with_mismatched_lengths_is_rejected(store):
    with pytest.raises(ValueError):
        store.write_batch([CPU, MEM], np.array([T0]), np.array([1.0, 2.0]))
    assert store.list_series() == []


def test_out_of_order_and_repeated_timestamps_last_write_wins(store):
    store.write_batch([CPU] * 3, np.array([T0 + 5, T0 + 1, T0 + 3]), np.array([5.0, 1.0, 3.0]))
    store.write_batch([CPU], np.array([T0 + 3]), np.array([33.0]))
    r = store.query_range(CPU, T0, T0 + 10)
    assert r.ts.tolist() == [T0 + 1, T0 + 3, T0 + 5]
    assert r.values.tolist() == [1.0, 33.0, 5.0]
    store.maintain(T0 + 3 * 3600)  # compacted and rolled: same answer
    r = store.query_range(CPU, T0, T0 + 10)
    assert r.values.tolist() == [1.0, 33.0, 5.0]
    assert store.latest(CPU) == (T0 + 5, 5.0)


def test_compaction_and_rollup_do_not_change_raw_answers(store):
    keys = [CPU, CPU_B, MEM]
    ts = T0 + 10.0 * np.arange(1000)  # ~2.8 hours, written as scrapes of 20 timestamps
    for a in range(0, 1000, 20):
        i = np.arange(a, a + 20.0)
        store.write_batch(keys * 20, np.repeat(ts[a:a + 20], 3), np.stack([i, -i, i * 0.5], axis=1).ravel())
    before = store.query_range(CPU_B, T0, ts[-1])
    report = store.maintain(ts[-1] + 120)
    assert report["compacted_samples"] == 3000 and report["rolled_hours"] == 2
    after = store.query_range(CPU_B, T0, ts[-1])
    np.testing.assert_array_equal(before.ts, after.ts)
    np.testing.assert_array_equal(before.values, after.values)
    np.testing.assert_array_equal(after.values, -np.arange(1000.0))
    assert store.latest(MEM) == (ts[-1], 999 * 0.5)


def test_list_series_by_name_and_label_matchers(store):
    store.write_samples([Sample(CPU, T0, 1.0), Sample(CPU_B, T0 + 5, 1.0), Sample(MEM, T0 + 9, 1.0)])
    assert {s.key for s in store.list_series()} == {CPU, CPU_B, MEM}
    assert {s.key for s in store.list_series("cpu")} == {CPU, CPU_B}
    assert [s.key for s in store.list_series("cpu", {"host": "b"})] == [CPU_B]
    assert {s.key for s in store.list_series(None, {"host": "a"})} == {CPU, MEM}
    assert store.list_series(None, {"host": "a", "env": "dev"})[0].key == MEM
    assert store.list_series("cpu", {"host": "zzz"}) == []
    assert len(store.list_series(limit=2)) == 2
    info = store.list_series("cpu", {"host": "b"})[0]
    assert (info.first_ts, info.last_ts) == (T0 + 5, T0 + 5)


def test_series_extents_after_maintenance(store):
    store.write_batch([CPU] * 800, T0 + 10.0 * np.arange(800), np.ones(800))
    store.maintain(T0 + 8000 + 3600)
    store.write_batch([CPU], np.array([T0 + 9000.0]), np.array([1.0]))
    info = store.list_series("cpu")[0]
    assert (info.first_ts, info.last_ts) == (T0, T0 + 9000.0)


def test_series_extents_follow_the_write_ahead_and_are_decoded_once_per_state(store, monkeypatch):
    import vigil.store.samples as samples

    decoded = []
    real = samples._wal_extents
    monkeypatch.setattr(samples, "_wal_extents", lambda conn: decoded.append(1) or real(conn))
    store.write_samples([Sample(CPU, T0 + 5, 1.0), Sample(MEM, T0 + 9, 1.0)])
    for _ in range(5):  # one per service, as a root-cause ranking asks: one decode for all
        assert [(i.first_ts, i.last_ts) for i in store.list_series("cpu")] == [(T0 + 5, T0 + 5)]
    assert len(decoded) == 1
    store.write_samples([Sample(CPU, T0 + 1, 1.0), Sample(CPU, T0 + 20, 1.0)])  # a new row: decoded again
    assert [(i.first_ts, i.last_ts) for i in store.list_series("cpu")] == [(T0 + 1, T0 + 20)]
    assert store.list_series("mem")[0].last_ts == T0 + 9
    assert len(decoded) == 2
    store.maintain(T0 + 2 * 3600)  # compaction empties the write-ahead: the extents come from chunks
    store.write_samples([Sample(MEM, T0 + 30, 2.0)])  # refilled from the first id again on SQLite
    assert [(i.first_ts, i.last_ts) for i in store.list_series("cpu")] == [(T0 + 1, T0 + 20)]
    assert [(i.first_ts, i.last_ts) for i in store.list_series("mem")] == [(T0 + 9, T0 + 30)]


def test_many_series_in_one_batch(store):
    keys = [SeriesKey.of("req", {"i": str(i)}) for i in range(1500)]
    assert store.write_batch(keys, np.full(1500, T0), np.arange(1500.0)) == 1500
    assert store.write_batch(keys, np.full(1500, T0 + 10), np.arange(1500.0)) == 1500
    assert len(store.list_series("req")) == 1500
    assert store.latest(keys[1234]) == (T0 + 10, 1234.0)


def test_sqlite_readers_do_not_wait_for_a_writer(tmp_path):
    from vigil.store import open_store

    s = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        s.write_samples([Sample(CPU, T0, 1.0)])
        holding, release = threading.Event(), threading.Event()

        def long_write() -> None:  # a write transaction held open, as a slow writer would
            with s._db.write.begin() as conn:
                conn.exec_driver_sql("INSERT INTO state(key, blob, updated_at) VALUES ('x', x'00', 0)")
                holding.set()
                release.wait(10)

        t = threading.Thread(target=long_write)
        t.start()
        assert holding.wait(5)
        try:
            # Reads answer at once while the write lock is held, and see the last committed state.
            assert s.query_range(CPU, T0, T0 + 1).values.tolist() == [1.0]
            assert s.latest(CPU) == (T0, 1.0)
            assert s.load_state("x") is None
        finally:
            release.set()
            t.join()
        assert s.load_state("x") == b"\x00"
    finally:
        s.close()


def test_reads_during_writes_and_maintenance_never_lose_or_double_samples(store):
    keys = [CPU, CPU_B]
    stop = threading.Event()
    problems: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            r = store.query_range(CPU, T0, T0 + 1e6)
            if r.ts.size and not np.array_equal(r.ts, T0 + 20.0 * np.arange(r.ts.size)):
                problems.append(f"gap or double in {r.ts.size} points")
            time.sleep(0.005)

    t = threading.Thread(target=reader)
    t.start()
    try:
        for i in range(350):
            store.write_batch(keys, np.full(2, T0 + 20.0 * i), np.ones(2))
            if i % 50 == 49:
                store.maintain(T0 + 20.0 * i + 3600)
    finally:
        stop.set()
        t.join()
    assert problems == []
    assert store.query_range(CPU, T0, T0 + 1e6).ts.size == 350
