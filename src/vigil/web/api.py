"""The REST API: health, metrics, services, series, range queries, pushed samples, events.

Read endpoints are plain `def` (FastAPI runs them on its thread pool, each with its own store
connection); writes go through the engine's single writer. Every route documents the error statuses
it can answer (vigil.web.errors), so clients and fuzzers can rely on the OpenAPI description."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from vigil.engine import NotRunning
from vigil.model import MAX_NAME_CHARS, SeriesKey
from vigil.web.auth import ApiKeys
from vigil.web.errors import error, error_responses
from vigil.web.hints import query_hint, series_hint
from vigil.web.limits import BodyReader, WebLimits, content_type
from vigil.web.push import Columns, Rejection, parse_json_batch
from vigil.web.pushtext import parse_prometheus_text
from vigil.web.reads import ApiReads, encode
from vigil.web.samples_schema import SAMPLES_REQUEST_BODY
from vigil.web.timeparse import parse_step, parse_time

RESOLUTIONS = ("auto", "raw", "1m", "1h")
ALERT_STATES = ("firing", "resolved", "all")
PUSH_TYPES = ("application/json", "text/plain", "application/openmetrics-text")
INLINE_PARSE_BYTES = 65536  # bodies up to this are parsed on the event loop; larger on a thread


def _text(description: str | None = None) -> Any:
    """A free-text filter (service, kind, ...): compared for equality, bounded so each costs little."""
    return Query(None, max_length=MAX_NAME_CHARS, description=description)


def public_router(engine: Any) -> APIRouter:
    r = APIRouter(tags=["health"], responses=error_responses(429))

    @r.get("/healthz", summary="Liveness: the process answers")
    def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @r.get("/readyz", summary="Readiness: the store answers and the engine runs",
           responses={503: {"description": "Not ready; `problems` says why"}})
    def readyz() -> Response:
        problems = []
        try:
            if not engine.store.ping():
                problems.append("store not reachable")
        except Exception as exc:  # noqa: BLE001  # readiness reports any failure, it never raises
            problems.append(f"store not reachable: {type(exc).__name__}")
        if not engine.running:
            problems.append("engine not running")
        body = {"status": "ready" if not problems else "not ready", "problems": problems}
        return JSONResponse(body, status_code=200 if not problems else 503)

    @r.get("/metrics", summary="vigil's own metrics, Prometheus text format", response_class=PlainTextResponse)
    def metrics() -> Response:
        engine.refresh_metrics()
        return Response(generate_latest(engine.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return r


def _bad(detail: str) -> HTTPException:
    return HTTPException(status_code=400, detail=detail)


def api_router(engine: Any, keys: ApiKeys, reads: ApiReads, limits: WebLimits | None = None) -> APIRouter:
    r = APIRouter(prefix="/api/v1", tags=["api"], dependencies=[Depends(keys)],
                  responses=error_responses(401, 429, 503))
    store = engine.store
    bodies = BodyReader(limits or WebLimits())

    def service_views(records: list[Any], health_rows: list[dict]) -> list[dict[str, Any]]:
        # Grouped once, and the fleet's health computed once: linear in the fleet (1,000 services).
        probes: dict[str, list[dict[str, Any]]] = {}
        for h in health_rows:
            probes.setdefault(h["service"], []).append(
                {"probe": h["probe"], "health": _value(h["health"]), "since": h["since"], "detail": h["detail"]})
        health = engine.health()
        return [{"name": rec.name, "description": rec.description, "depends_on": rec.depends_on,
                 "labels": rec.labels, "health": health.get(rec.name, "unknown"), "probes": probes.get(rec.name, [])}
                for rec in records]

    @r.get("/services", summary="Services with their current health")
    @reads.endpoint
    def services() -> dict[str, Any]:
        return {"services": service_views(store.services(), store.health())}

    @r.get("/services/{name}", summary="One service", responses=error_responses(404))
    @reads.endpoint
    def service(name: str) -> dict[str, Any]:
        for s in store.services():
            if s.name == name:
                return service_views([s], store.health())[0]
        raise HTTPException(404, detail=f"no service named {name[:200]!r}")

    @r.get("/series", summary="List series, filtered by a selector or a name", responses=error_responses(400))
    def series(match: str | None = Query(None, description='selector, e.g. http_requests{service="web"}'),
               name: str | None = _text("metric name"),
               service: str | None = _text("only series with this service label"),
               limit: int = Query(1000, ge=1, le=100_000)) -> dict[str, Any]:
        matchers: dict[str, str] | None = None
        if match is not None:
            if name is not None:
                raise _bad("give either match or name, not both (a selector names its metric)")
            try:
                sel = SeriesKey.parse(match)
            except ValueError as exc:
                raise _bad(str(exc)) from None
            name, matchers = sel.name, sel.label_map
        if service is not None:
            matchers = {**(matchers or {}), "service": service}
        found = store.list_series(name=name, matchers=matchers, limit=limit)
        body: dict[str, Any] = {"series": [{"series": str(s.key), "name": s.key.name, "labels": s.key.label_map,
                                            "first_ts": s.first_ts, "last_ts": s.last_ts} for s in found]}
        if not found:
            body["hint"] = series_hint(store, name, matchers)
        return body

    @r.get("/query", summary="Range query over raw or rolled-up data", responses=error_responses(400))
    def query(series: str = Query(..., description='one series, e.g. cpu{service="web"}'),
              start: str = Query("-1h", description="epoch s, RFC 3339, 'now' or relative like -1h"),
              end: str = Query("now"),
              step: str | None = Query(None, description="seconds (60) or a duration (60s, 5m); mean per step"),
              resolution: str = Query("auto", description="auto | raw | 1m | 1h")) -> Response:
        now = engine.clock.now()
        try:
            key = SeriesKey.parse(series)
            t0, t1 = parse_time(start, now), parse_time(end, now)
            step_s = parse_step(step) if step is not None else None
        except ValueError as exc:
            raise _bad(str(exc)) from None
        if t1 < t0:
            raise _bad(f"end ({end}) is before start ({start})")
        if resolution not in RESOLUTIONS:
            raise _bad(f"resolution must be one of {', '.join(RESOLUTIONS)}; found {resolution[:40]!r}")
        res = store.query_range(key, t0, t1, step=step_s, resolution=resolution)
        body = {"series": str(key), "start": t0, "end": t1, "step": step_s, "resolution": res.resolution,
                "count": len(res.ts), "ts": res.ts, "values": res.values}
        if not len(res.ts):
            body["hint"] = query_hint(store, key, t0, t1)
        # orjson writes numpy arrays directly: a 60,000-point answer costs milliseconds, not a
        # Python float object per point.
        return Response(encode(body), media_type="application/json")

    @r.post("/samples", summary="Push samples: a JSON batch or Prometheus text, written whole or not at all",
            status_code=200, responses=error_responses(400, 413, 415), openapi_extra=SAMPLES_REQUEST_BODY)
    async def push(request: Request) -> Any:
        ctype = content_type(request)
        if ctype not in PUSH_TYPES:  # before reading a byte of the body
            return error(415, f"unsupported content type {ctype[:80]!r}; send application/json or text/plain "
                              "(Prometheus exposition) or application/openmetrics-text")
        try:
            body = await bodies.read(request)
            if not isinstance(body, (bytes, bytearray)):
                return body.response()
            parsed = await _parse_push(body, ctype, engine.clock.now())
            del body  # the parsed columns are all that is needed from here on
            if isinstance(parsed, Rejection):
                return error(400, parsed.detail())
            try:
                written = await engine.push(parsed.keys, parsed.ts, parsed.values)
            except NotRunning as exc:
                return error(503, str(exc), headers={"Retry-After": "5"})
        finally:
            bodies.release(request)
        return {"written": written}

    @r.get("/events", summary="The event log, newest first", responses=error_responses(400))
    @reads.endpoint
    def events(since: str | None = None, service: str | None = _text(), kind: str | None = _text(),
               limit: int = Query(200, ge=1, le=10_000)) -> dict[str, Any]:
        t0, _ = _window(since, None, engine.clock.now())
        evs = store.events(since=t0, service=service, kind=kind, limit=limit)  # oldest first
        return {"events": [{"ts": e.ts, "kind": e.kind, "service": e.service, "message": e.message,
                            "data": e.data} for e in reversed(evs)]}

    @r.get("/signals", summary="Signals from detectors, rules and forecasts, newest first",
           responses=error_responses(400))
    @reads.endpoint
    def signals(since: str | None = None, until: str | None = None, service: str | None = _text(),
                kind: str | None = _text(), limit: int = Query(200, ge=1, le=10_000)) -> dict[str, Any]:
        t0, t1 = _window(since, until, engine.clock.now())
        rows = store.signals(since=t0, until=t1, service=service, kind=kind, limit=limit)
        return {"signals": [_signal_view(x) for x in reversed(rows)]}

    @r.get("/alerts", summary="Alerts from detection, rules, health, forecasts, collection and outside, newest first",
           responses=error_responses(400))
    @reads.endpoint
    def alerts(state: str = Query("firing", description="firing | resolved | all"), service: str | None = _text(),
               limit: int = Query(200, ge=1, le=10_000)) -> dict[str, Any]:
        if state not in ALERT_STATES:
            raise _bad(f"state must be one of {', '.join(ALERT_STATES)}; found {state!r}")
        rows = store.alerts(None if state == "all" else state, service, limit)
        return {"alerts": [_alert_view(a) for a in rows]}

    @r.get("/decisions", summary="Decisions the engine took, with inputs and the rule that won",
           responses=error_responses(400))
    @reads.endpoint
    def decisions(since: str | None = None, kind: str | None = _text(), subject: str | None = _text(),
                  limit: int = Query(200, ge=1, le=10_000)) -> dict[str, Any]:
        t0, _ = _window(since, None, engine.clock.now())
        rows = store.decisions(since=t0, kind=kind, subject=subject, limit=limit)
        return {"decisions": [_decision_view(d) for d in reversed(rows)]}

    @r.get("/scaling/decisions", summary="Scaling decisions: inputs, forecast, winning rule, result",
           responses=error_responses(400))
    @reads.endpoint
    def scaling_decisions(since: str | None = None, service: str | None = _text(),
                          limit: int = Query(200, ge=1, le=10_000)) -> dict[str, Any]:
        t0, _ = _window(since, None, engine.clock.now())
        rows = store.decisions(since=t0, kind="scale", subject=service, limit=limit)
        return {"decisions": [_decision_view(d) for d in reversed(rows)]}

    @r.get("/forecasts", summary="The current forecast per series: mean, lo/hi path, model, version, backtest")
    def forecasts(service: str | None = _text()) -> Response:
        rows = [f for f in engine.stages.forecast.current.values() if service is None or f["service"] == service]
        return Response(encode({"forecasts": rows}), media_type="application/json")

    @r.post("/forecasts/{series:path}/rollback", summary="Make a series' previous forecast model current again",
            responses=error_responses(400, 404, 409))
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
    @reads.endpoint
    def probes(service: str | None = _text(), probe: str | None = _text(),
               limit: int = Query(100, ge=1, le=10_000)) -> dict[str, Any]:
        rows = store.probe_results(service=service, probe=probe, limit=limit)
        return {"results": [{"service": p.service, "probe": p.probe, "ts": p.ts, "ok": p.ok,
                             "latency_s": p.latency_s, "detail": p.detail, "values": p.values} for p in rows]}

    return r


async def _parse_push(body: bytes | bytearray, ctype: str, now: float) -> Columns | Rejection:
    """Parse off the event loop when the body is big enough for it to matter."""
    if ctype == "application/json":
        args: tuple[Any, ...] = (parse_json_batch, body, now)
    else:
        args = (parse_prometheus_text, body, now, ctype == "application/openmetrics-text")
    if len(body) > INLINE_PARSE_BYTES:
        return await run_in_threadpool(*args)
    return args[0](*args[1:])


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
