"""What a service's dashboard page draws beyond raw series: each SLO's error budget over its window
(`GET /api/v1/services/{name}/slo`) and the latency distribution over time from a histogram
(`GET /api/v1/services/{name}/latency`). Both read the store's roll-ups for long ranges, in the
threadpool (plain `def` endpoints): nothing heavy on the event loop."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query

from vigil.detect.budget import error_budget
from vigil.detect.distribution import distribution, histograms, pick
from vigil.detect.sli import SliReader
from vigil.web.auth import ApiKeys
from vigil.web.errors import error_responses
from vigil.web.timeparse import parse_step, parse_time

MAX_STEPS = 2000  # columns of a latency map: more would not be drawn anyway


def service_views_router(engine: Any, keys: ApiKeys) -> APIRouter:
    r = APIRouter(prefix="/api/v1", dependencies=[Depends(keys)], tags=["dashboard"],
                  responses=error_responses(400, 401, 404, 429, 503))
    store = engine.store
    sli = SliReader(store)

    def configured(name: str) -> Any:
        for s in engine.config.services:
            if s.name == name:
                return s
        raise HTTPException(404, detail=f"no service named {name[:200]!r}")

    @r.get("/services/{name}/slo", summary="Each SLO's error budget: remaining, burn rates, and both over "
                                             "its window")
    def slo(name: str) -> dict[str, Any]:
        svc = configured(name)
        now = engine.clock.now()
        out = []
        for rule in svc.rules:
            if rule.kind != "slo":
                continue
            ts, good, total = sli.good_total(rule, name, now - rule.window, now)
            out.append(error_budget(rule, ts, good, total, now))
        return {"service": name, "now": now, "slos": out}

    @r.get("/services/{name}/latency", summary="Latency distribution over time, from a histogram's quantiles")
    def latency(name: str, histogram: str | None = Query(None, max_length=200, description="its name; default: the "
                                                          "first whose name says duration or latency"),
                start: str = Query("-6h", description="epoch s, RFC 3339, 'now' or relative like -1h"),
                end: str = Query("now"), step: str = Query("5m", description="a duration, e.g. 1m")
                ) -> dict[str, Any]:
        configured(name)
        now = engine.clock.now()
        try:
            t0, t1, step_s = parse_time(start, now), parse_time(end, now), parse_step(step)
        except ValueError as exc:
            raise HTTPException(400, detail=str(exc)) from None
        if t1 < t0:
            raise HTTPException(400, detail=f"end ({end}) is before start ({start})")
        if (t1 - t0) / step_s > MAX_STEPS:
            raise HTTPException(400, detail=f"at most {MAX_STEPS} steps: from {start} to {end} needs a step of "
                                            f"at least {(t1 - t0) / MAX_STEPS:.0f}s; found {step}")
        found = histograms(store.list_series(matchers={"service": name}, limit=10_000))
        chosen = histogram if histogram is not None else pick(list(found))
        if chosen is None or chosen not in found:
            known = ", ".join(found) or "none"
            raise HTTPException(404, detail=f"no histogram {chosen!r} stored for {name[:200]!r} (histograms with "
                                            f"quantile series: {known})" if chosen else
                                f"no histogram stored for {name[:200]!r}: no series with a quantile label")
        levels = [q for q, _ in found[chosen]]
        reads = [sli.read(key, t0, t1, step_s) for _, key in found[chosen]]
        body = distribution(levels, reads)
        return {"service": name, "histogram": chosen, "histograms": list(found), "start": t0, "end": t1,
                "step": step_s, "series": [str(k) for _, k in found[chosen]], **body}

    return r
