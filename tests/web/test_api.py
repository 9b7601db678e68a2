"""The REST API, driven in-process over ASGI against a real SQLite store."""

from __future__ import annotations

import httpx
import pytest

from tests.web.conftest import API_KEY

T0 = 1_700_000_000.0


def batch(n: int, series: str = 'latency_ms{service="catalog"}', t0: float = T0) -> dict:
    return {"samples": [{"series": series, "ts": t0 + 10 * i, "value": float(i)} for i in range(n)]}


async def test_health_and_metrics_need_no_key(api) -> None:
    client, _ = api
    async with httpx.AsyncClient(transport=client._transport, base_url="http://vigil.test") as anon:
        assert (await anon.get("/healthz")).json() == {"status": "alive"}
        ready = await anon.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        metrics = await anon.get("/metrics")
        assert metrics.status_code == 200 and "vigil_samples_ingested" in metrics.text
        assert (await anon.get("/api/v1/services")).status_code == 401
        wrong = await anon.get("/api/v1/services", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "nope" not in wrong.text
        assert (await anon.get("/api/v1/services", headers={"X-API-Key": API_KEY})).status_code == 200


async def test_readyz_fails_when_engine_stopped(api) -> None:
    client, engine = api
    engine.running = False
    r = await client.get("/readyz")
    assert r.status_code == 503 and "engine not running" in r.json()["problems"]
    engine.running = True


async def test_services_show_dependencies_and_health(api) -> None:
    client, _ = api
    body = (await client.get("/api/v1/services")).json()
    by_name = {s["name"]: s for s in body["services"]}
    assert by_name["storefront"]["depends_on"] == ["catalog"]
    assert by_name["catalog"]["health"] == "unknown"
    assert (await client.get("/api/v1/services/nope")).status_code == 404


async def test_push_then_query_and_list(api) -> None:
    client, _ = api
    r = await client.post("/api/v1/samples", json=batch(30))
    assert r.status_code == 200, r.text
    assert r.json() == {"written": 30}
    q = await client.get("/api/v1/query", params={"series": 'latency_ms{service="catalog"}',
                                                  "start": str(T0), "end": str(T0 + 1000), "resolution": "raw"})
    assert q.status_code == 200, q.text
    body = q.json()
    assert body["count"] == 30 and body["values"][:3] == [0.0, 1.0, 2.0] and body["ts"][1] == T0 + 10
    s = await client.get("/api/v1/series", params={"match": 'latency_ms{service="catalog"}'})
    assert [x["series"] for x in s.json()["series"]] == ['latency_ms{service="catalog"}']


async def test_push_with_name_and_labels_and_step(api) -> None:
    client, _ = api
    items = [{"name": "rps", "labels": {"service": "web"}, "ts": T0 + i, "value": float(i % 10)}
             for i in range(100)]
    assert (await client.post("/api/v1/samples", json={"samples": items})).json() == {"written": 100}
    q = await client.get("/api/v1/query", params={"series": 'rps{service="web"}', "start": str(T0),
                                                  "end": str(T0 + 99), "step": "10s", "resolution": "raw"})
    body = q.json()
    assert body["count"] == 10
    assert body["values"] == pytest.approx([4.5] * 10)


async def test_bad_batch_is_rejected_whole_with_details(api) -> None:
    client, _ = api
    items = batch(5)["samples"]
    items[3]["value"] = "fast"
    r = await client.post("/api/v1/samples", json={"samples": items})
    assert r.status_code == 400
    detail = r.json()["detail"]
    assert "nothing was written" in detail["error"]
    assert detail["errors"] == [{"index": 3, "error": "\"value\" must be a number; found 'fast'"}]
    q = await client.get("/api/v1/query", params={"series": 'latency_ms{service="catalog"}',
                                                  "start": str(T0), "end": str(T0 + 1000)})
    assert q.json()["count"] == 0


@pytest.mark.parametrize("item,message", [
    ({"series": "bad name{}", "ts": T0, "value": 1}, "invalid series"),
    ({"series": "ok", "ts": T0 * 1000, "value": 1}, "looks like milliseconds"),
    ({"series": "ok", "ts": T0, "value": float("nan")}, None),
    ({"series": "ok", "ts": T0, "value": 1, "unit": "ms"}, "unknown field(s): unit"),
    ({"ts": T0, "value": 1}, 'missing "series"'),
])
async def test_bad_items(api, item: dict, message: str | None) -> None:
    client, _ = api
    content = httpx.Request("POST", "/", json={"samples": [item]}).content if message else \
        b'{"samples": [{"series": "ok", "ts": 1700000000, "value": NaN}]}'
    r = await client.post("/api/v1/samples", content=content, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    if message:
        assert any(message in e["error"] for e in r.json()["detail"]["errors"]), r.text


async def test_prometheus_text_push(api) -> None:
    client, _ = api
    text = ("# TYPE queue_depth gauge\n"
            f'queue_depth{{service="worker"}} 7 {int(T0 * 1000)}\n'
            f'queue_depth{{service="worker"}} 9 {int((T0 + 10) * 1000)}\n')
    r = await client.post("/api/v1/samples", content=text, headers={"Content-Type": "text/plain"})
    assert r.json() == {"written": 2}, r.text
    q = await client.get("/api/v1/query", params={"series": 'queue_depth{service="worker"}',
                                                  "start": str(T0 - 1), "end": str(T0 + 20), "resolution": "raw"})
    assert q.json()["values"] == [7.0, 9.0]


async def test_unsupported_content_type_and_bad_json(api) -> None:
    client, _ = api
    r = await client.post("/api/v1/samples", content=b"x", headers={"Content-Type": "application/xml"})
    assert r.status_code == 415
    r = await client.post("/api/v1/samples", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.text


@pytest.mark.parametrize("params,message", [
    ({"series": "x", "start": "yesterday"}, "invalid time"),
    ({"series": "x", "start": "now", "end": "-1h"}, "before start"),
    ({"series": "x", "resolution": "5m"}, "resolution must be one of"),
    ({"series": "x{", "start": "-1h"}, "invalid series"),
    ({"series": "x", "step": "0s"}, "step must be more than 0s"),
])
async def test_bad_queries_are_400(api, params: dict, message: str) -> None:
    client, _ = api
    r = await client.get("/api/v1/query", params=params)
    assert r.status_code == 400 and message in r.text


async def test_relative_times_use_the_engine_clock(api, clock) -> None:
    client, _ = api
    now = clock.now()
    await client.post("/api/v1/samples", json=batch(6, series="up", t0=now - 50))
    q = await client.get("/api/v1/query", params={"series": "up", "start": "-25s", "end": "now", "resolution": "raw"})
    assert q.json()["count"] == 3


async def test_openapi_is_served_and_secret_free(api) -> None:
    client, _ = api
    spec = (await client.get("/openapi.json")).json()
    assert "/api/v1/samples" in spec["paths"] and "/api/v1/query" in spec["paths"]
    assert API_KEY not in str(spec)
    assert (await client.get("/docs")).status_code == 200


async def test_events_record_engine_start(api) -> None:
    client, _ = api
    events = (await client.get("/api/v1/events")).json()["events"]
    assert any(e["kind"] == "engine" and "started" in e["message"] for e in events)


async def test_signals_and_decisions_endpoints(api, clock) -> None:
    from vigil.model import Decision, Severity, Signal

    client, engine = api
    now = clock.now()
    engine.store.write_signals([Signal(ts=now - 5, service="catalog", series='latency_ms{service="catalog"}',
                                       kind="anomaly", severity=Severity.WARNING, score=0.93,
                                       reason="value 912 ms is 6.1 robust deviations above 140 ms",
                                       source="ensemble", evidence={"value": 912})])
    engine.store.write_decisions([Decision(ts=now - 3, kind="scale", subject="storefront", rule="predictive floor",
                                           inputs={"metric": 0.9}, result={"replicas": 6}),
                                  Decision(ts=now - 2, kind="remediate", subject="catalog", rule="restart",
                                           inputs={}, result={"dry_run": True})])
    sig = (await client.get("/api/v1/signals", params={"service": "catalog", "since": "-1m"})).json()["signals"]
    assert [(s["kind"], s["severity"], s["score"]) for s in sig] == [("anomaly", "warning", 0.93)]
    assert (await client.get("/api/v1/signals", params={"since": "soon"})).status_code == 400
    scale = (await client.get("/api/v1/scaling/decisions")).json()["decisions"]
    assert [(d["subject"], d["result"]["replicas"]) for d in scale] == [("storefront", 6)]
    every = (await client.get("/api/v1/decisions")).json()["decisions"]
    assert [d["kind"] for d in every] == ["remediate", "scale"]  # newest first
