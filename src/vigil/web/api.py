"""The REST API: health, metrics, services, series, range queries, pushed samples, events.

Read endpoints are plain `def` (FastAPI runs them on its thread pool, each with its own store
connection); writes go through the engine's single writer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
import orjson
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from vigil.config.types import parse_duration
from vigil.engine import NotRunning
from vigil.model import SeriesKey
from vigil.web.auth import ApiKeys
from vigil.web.push import PushError, parse_json_batch, parse_prometheus_text
from vigil.web.timeparse import parse_time

MAX_PUSH_BYTES = 64 * 1024 * 1024
RESOLUTIONS = ("auto", "raw", "1m", "1h")
ALERT_STATES = ("firing", "resolved", "all")


def public_router(engine: Any) -> APIRouter:
    r = APIRouter(tags=["health"])

    @r.get("/healthz", summary="Liveness: the process answers")
    def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @r.get("/readyz", summary="Readiness: the store answers and the engine runs")
    def readyz() -> Response:
        problems = []
        try:
            if not engine.store.ping():
                problems.append("store not reachable")
        except Exception as exc:
            problems.append(f"store not reachable: {type(exc).__name__}")
        if not engine.running:
            problems.append("engine not running")
        body = {"status": "ready" if not problems else "not ready", "problems": problems}
        return JSONResponse(body, status_code=200 if not problems else 503)

    @r.get("/metrics", summary="vigil's own metrics, Prometheus text format")
    def metrics() -> Response:
        engine.refresh_metrics()
        return Response(generate_latest(engine.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return r


def _bad(detail: str, **extra: Any) -> HTTPException:
    return HTTPException(status_code=400, detail={"error": detail, **extra} if extra else detail)


def api_router(engine: Any, keys: ApiKeys) -> APIRouter:
    r = APIRouter(prefix="/api/v1", dependencies=[Depends(keys)])
    store = engine.store

    def service_view(rec: Any, health_rows: list[dict]) -> dict[str, Any]:
        probes = [
            {"probe": h["probe"], "health": _value(h["health"]), "since": h["since"], "detail": h["detail"]}
            for h in health_rows if h["service"] == rec.name
        ]
        return {"name": rec.name, "description": rec.description, "depends_on": rec.depends_on,
                "labels": rec.labels, "health": engine.health().get(rec.name, "unknown"), "probes": probes}

    @r.get("/services", summary="Services with their current health")
    def services() -> dict[str, Any]:
        rows = store.health()
        return {"services": [service_view(s, rows) for s in store.services()]}

    @r.get("/services/{name}", summary="One service")
    def service(name: str) -> dict[str, Any]:
        for s in store.services():
            if s.name == name:
                return service_view(s, store.health())
        raise HTTPException(404, detail=f"no service named {name!r}")

    @r.get("/series", summary="List series, filtered by name and labels")
    def series(match: str | None = Query(None, description='selector, e.g. http_requests{service="web"}'),
               name: str | None = None, limit: int = Query(1000, ge=1, le=100_000)) -> dict[str, Any]:
        matchers: dict[str, str] | None = None
        if match:
            try:
                sel = SeriesKey.parse(match)
            except ValueError as exc:
                raise _bad(str(exc)) from None
            name, matchers = sel.name, sel.label_map
        found = store.list_series(name=name, matchers=matchers, limit=limit)
        return {"series": [{"series": str(s.key), "name": s.key.name, "labels": s.key.label_map,
                            "first_ts": s.first_ts, "last_ts": s.last_ts} for s in found]}

    @r.get("/query", summary="Range query over raw or rolled-up data")
    def query(series: str = Query(..., description='one series, e.g. cpu{service="web"}'),
              start: str = Query("-1h", description="epoch s, RFC 3339, 'now' or relative like -1h"),
              end: str = Query("now"), step: str | None = Query(None, description="e.g. 60s; mean per step"),
              resolution: str = Query("auto", description="auto | raw | 1m | 1h")) -> Response:
        now = engine.clock.now()
        try:
            key = SeriesKey.parse(series)
            t0, t1 = parse_time(start, now), parse_time(end, now)
            step_s = parse_duration(step) if step is not None else None
        except Exception as exc:
            raise _bad(str(exc)) from None
        if t1 < t0:
            raise _bad(f"end ({end}) is before start ({start})")
        if resolution not in RESOLUTIONS:
            raise _bad(f"resolution must be one of {', '.join(RESOLUTIONS)}; found {resolution!r}")
        if step_s is not None and step_s <= 0:
            raise _bad("step must be more than 0s")
        res = store.query_range(key, t0, t1, step=step_s, resolution=resolution)
        body = {"series": str(key), "start": t0, "end": t1, "step": step_s, "resolution": res.resolution,
                "count": int(len(res.ts)), "ts": res.ts, "values": res.values}
        # orjson writes numpy arrays directly: a 60,000-point answer costs milliseconds, not a
        # Python float object per point.
        return Response(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json")

    @r.post("/samples", summary="Push samples: a JSON batch or Prometheus text, written whole or not at all",
            status_code=200)
    async def push(request: Request) -> dict[str, Any]:
        body = await request.body()
        if len(body) > MAX_PUSH_BYTES:
            raise HTTPException(413, detail=f"body too large: {len(body)} bytes, at most {MAX_PUSH_BYTES}")
        ctype = request.headers.get("content-type", "application/json").split(";")[0].strip()
        now = engine.clock.now()
        if ctype == "application/json":
            parse = parse_json_batch
        elif ctype in ("text/plain", "application/openmetrics-text"):
            parse = parse_prometheus_text
        else:
            raise HTTPException(415, detail=f"unsupported content type {ctype!r}; send application/json "
                                            "or text/plain (Prometheus exposition)")
        try:
            cols = await run_in_threadpool(parse, body, now) if len(body) > 65536 else parse(body, now)
        except PushError as exc:
            raise HTTPException(400, detail={"error": exc.message, "errors": exc.errors}) from None
        try:
            written = await engine.push(cols.keys, cols.ts, cols.values)
        except NotRunning as exc:
            raise HTTPException(503, detail=str(exc), headers={"Retry-After": "5"}) from None
        return {"written": written}

    @r.get("/events", summary="The event log, newest first")
    def events(since: str | None = None, service: str | None = None, kind: str | None = None,
               limit: int = Query(200, ge=1, le=10_000)) -> dict[str, Any]:
        t0, _ = _window(since, None, engine.clock.now())
        evs = store.events(since=t0, service=service, kind=kind, limit=limit)  # oldest first
        return {"events": [{"ts": e.ts, "kind": e.kind, "service": e.service, "message": e.message,
                            "data": e.data} for e in reversed(evs)]}

    @r.get("/signals", summary="Signals from detectors, rules and forecasts, newest first")
    def signals(since: str | None = None, until: str | None = None, service: str | None = None,
                kind: str | None = None, limit: int = Query(200, ge=1, le=10_000)) -> dict[str, Any]:
        t0, t1 = _window(since, until, engine.clock.now())
        rows = store.signals(since=t0, until=t1, service=service, kind=kind, limit=limit)
        return {"signals": [_signal_view(x) for x in reversed(rows)]}

    @r.get("/alerts", summary="Alerts from detection, rules, health, forecasts and collection, newest first")
    def alerts(state: str = Query("firing", description="firing | resolved | all"), service: str | None = None,
               limit: int = Query(200, ge=1, le=10_000)) -> dict[str, Any]:
        if state not in ALERT_STATES:
            raise _bad(f"state must be one of {', '.join(ALERT_STATES)}; found {state!r}")
        rows = store.alerts(None if state == "all" else state, service, limit)
        return {"alerts": [_alert_view(a) for a in rows]}

    @r.get("/decisions", summary="Decisions the engine took, with inputs and the rule that won")
    def decisions(since: str | None = None, kind: str | None = None, subject: str | None = None,
                  limit: int = Query(200, ge=1, le=10_000)) -> dict[str, Any]:
        t0, _ = _window(since, None, engine.clock.now())
        rows = store.decisions(since=t0, kind=kind, subject=subject, limit=limit)
        return {"decisions": [_decision_view(d) for d in reversed(rows)]}

    @r.get("/scaling/decisions", summary="Scaling decisions: inputs, forecast, winning rule, result")
    def scaling_decisions(since: str | None = None, service: str | None = None,
                          limit: int = Query(200, ge=1, le=10_000)) -> dict[str, Any]:
        t0, _ = _window(since, None, engine.clock.now())
        rows = store.decisions(since=t0, kind="scale", subject=service, limit=limit)
        return {"decisions": [_decision_view(d) for d in reversed(rows)]}

    @r.get("/forecasts", summary="The current forecast per series: mean, lo/hi path, model, version, backtest")
    def forecasts(service: str | None = None) -> Response:
        rows = [f for f in engine.stages.forecast.current.values() if service is None or f["service"] == service]
        return Response(orjson.dumps({"forecasts": rows}, option=orjson.OPT_SERIALIZE_NUMPY),
                        media_type="application/json")

    @r.post("/forecasts/{series:path}/rollback", summary="Make a series' previous forecast model current again")
    async def forecast_rollback(series: str) -> dict[str, Any]:
        from vigil.stages.forecasting import NoPreviousModel

        try:
            key = SeriesKey.parse(series)
        except ValueError as exc:
            raise _bad(str(exc)) from None
        try:
            decision = await engine.stages.forecast.rollback(str(key))
            await engine.run_pass()  # recorded (and audited) before the answer
        except KeyError:
            raise HTTPException(404, detail=f"{key} is not forecast (see GET /api/v1/forecasts)") from None
        except NoPreviousModel as exc:
            raise HTTPException(409, detail=str(exc)) from None
        return _decision_view(decision)

    @r.get("/probes", summary="Recent probe results")
    def probes(service: str | None = None, probe: str | None = None,
               limit: int = Query(100, ge=1, le=10_000)) -> dict[str, Any]:
        rows = store.probe_results(service=service, probe=probe, limit=limit)
        return {"results": [{"service": p.service, "probe": p.probe, "ts": p.ts, "ok": p.ok,
                             "latency_s": p.latency_s, "detail": p.detail, "values": p.values} for p in rows]}

    return r


def _window(since: str | None, until: str | None, now: float) -> tuple[float | None, float | None]:
    try:
        return (parse_time(since, now) if since else None, parse_time(until, now) if until else None)
    except ValueError as exc:
        raise _bad(str(exc)) from None


def _signal_view(x: Any) -> dict[str, Any]:
    return {"ts": x.ts, "service": x.service, "series": x.series, "kind": x.kind,
            "severity": _value(x.severity), "score": x.score, "reason": x.reason, "source": x.source,
            "window_start": x.window_start, "window_end": x.window_end, "evidence": x.evidence}


def _alert_view(a: Any) -> dict[str, Any]:
    return {"fingerprint": a.fingerprint, "status": a.status.value, "labels": a.labels,
            "annotations": a.annotations, "starts_at": a.starts_at, "ends_at": a.ends_at, "source": a.source,
            "service": a.service, "severity": a.severity.value, "evidence": a.evidence}


def _decision_view(d: Any) -> dict[str, Any]:
    return {"ts": d.ts, "kind": d.kind, "subject": d.subject, "rule": d.rule, "inputs": d.inputs,
            "result": d.result}


def _value(h: Any) -> str:
    return getattr(h, "value", h)
