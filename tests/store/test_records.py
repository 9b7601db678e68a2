"""Services, probe results, health, events, signals, decisions and state blobs."""

from vigil.model import Decision, Event, Health, ProbeResult, Severity, Signal
from vigil.store import ServiceRecord

T = 1_700_000_000.0


def test_services_upsert_and_read(store):
    store.upsert_services([ServiceRecord("storefront", "shop", ["catalog", "payments"], {"tier": "web"}),
                           ServiceRecord("catalog")])
    store.upsert_services([ServiceRecord("catalog", "items", [], {"tier": "backend"})])
    got = {s.name: s for s in store.services()}
    assert got["storefront"] == ServiceRecord("storefront", "shop", ["catalog", "payments"], {"tier": "web"})
    assert got["catalog"] == ServiceRecord("catalog", "items", [], {"tier": "backend"})
    store.upsert_services([])


def test_probe_results_filter_and_order(store):
    store.write_probe_results([
        ProbeResult("api", "http", T + i, i % 2 == 0, 0.01 * i, f"d{i}", {"status_code": 200.0})
        for i in range(5)] + [ProbeResult("db", "tcp", T, False, 1.5, "refused")])
    got = store.probe_results(service="api")
    assert [p.ts for p in got] == [T + i for i in range(5)]
    assert got[0] == ProbeResult("api", "http", T, True, 0.0, "d0", {"status_code": 200.0})
    assert [p.ts for p in store.probe_results(service="api", since=T + 3)] == [T + 3, T + 4]
    assert [p.ts for p in store.probe_results(service="api", limit=2)] == [T + 3, T + 4]  # the newest
    assert store.probe_results(probe="tcp")[0].detail == "refused"


def test_health_is_one_row_per_service_probe(store):
    store.set_health("api", "http", Health.UNHEALTHY, T, "3 failures")
    store.set_health("api", "http", Health.HEALTHY, T + 60, "ok again")
    store.set_health("db", "tcp", Health.UNKNOWN, T, "")
    assert store.health() == [
        {"service": "api", "probe": "http", "health": Health.HEALTHY, "since": T + 60, "detail": "ok again"},
        {"service": "db", "probe": "tcp", "health": Health.UNKNOWN, "since": T, "detail": ""},
    ]


def test_events_filters(store):
    store.append_events([Event(T + i, "probe" if i % 2 else "deploy", "api" if i < 3 else None, f"m{i}",
                               {"i": i, "nested": {"x": [1, 2]}}) for i in range(6)])
    assert [e.message for e in store.events()] == [f"m{i}" for i in range(6)]
    assert [e.message for e in store.events(service="api", kind="probe")] == ["m1"]
    assert [e.message for e in store.events(since=T + 2, until=T + 4)] == ["m2", "m3", "m4"]
    assert store.events(limit=1)[0].data == {"i": 5, "nested": {"x": [1, 2]}}
    assert store.events(kind="deploy")[-1].service is None


def test_signals_round_trip(store):
    sig = Signal(T, "api", 'latency{svc="api"}', "anomaly", Severity.WARNING, 0.93, "3 sigma", "zscore",
                 T - 60, T, {"z": 3.2})
    store.write_signals([sig, Signal(T + 1, "db", "x", "threshold", Severity.CRITICAL, 1.0, "r", "rule")])
    assert store.signals(service="api") == [sig]
    assert [s.service for s in store.signals(kind="threshold")] == ["db"]
    assert [s.service for s in store.signals(since=T + 0.5)] == ["db"]


def test_decisions_round_trip(store):
    d = Decision(T, "scale", "deployment/api", "hpa", {"cpu": 0.9, "replicas": 3}, {"replicas": 5})
    store.write_decisions([d, Decision(T + 1, "notify", "incident/7", "route", {}, {"sent": True})])
    assert store.decisions(kind="scale") == [d]
    assert store.decisions(subject="incident/7")[0].result == {"sent": True}
    assert len(store.decisions(since=T)) == 2


def test_state_blobs(store):
    assert store.load_state("detector/api") is None
    store.save_state("detector/api", b"\x00\x01binary")
    store.save_state("detector/api", b"v2")
    assert store.load_state("detector/api") == b"v2"
    assert store.ping()


def test_long_names_and_keys_are_accepted(store):
    key = "detect:zscore:" + 'x{' + ",".join(f'label{i}="{"v" * 20}"' for i in range(20)) + "}"
    assert len(key) > 500
    store.save_state(key, b"s")
    assert store.load_state(key) == b"s"
    kind = "a-rather-long-decision-kind-" * 5
    store.write_decisions([Decision(T, kind, key, "rule " * 50, {}, {})])
    assert store.decisions(kind=kind)[0].subject == key
