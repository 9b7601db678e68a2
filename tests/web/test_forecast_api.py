"""The forecasts endpoints, in-process over ASGI, with the forecast stage on a fake clock over a real
SQLite store: the current forecast per series, and model rollback as an audited decision."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.engine.test_forecast_stage import CPU, HOUR, T0, forecast_stage, prefill, step_until
from tests.web.conftest import API_KEY
from vigil.app import build_app
from vigil.config import parse_config
from vigil.testing import FakeClock, InlineWriter

CFG = """
store: {{url: "sqlite:///{db}"}}
server:
  api_keys: [{{name: tests, key: {key}}}]
services:
  - name: shop
    detect: {{enabled: false}}
    forecast:
      retrain_every: 1h
      series: [{{series: cpu_percent}}]
"""


async def test_forecasts_and_rollback(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    cfg = parse_config(CFG.format(db=tmp_path / "v.db", key=API_KEY), env={})
    app, engine = build_app(cfg, clock=clock, collectors=[], writer=InlineWriter(), worker=InlineWriter())
    prefill(engine.store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://vigil.test",
                                 headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        await engine.start()
        try:
            await step_until(engine, clock, T0 + 1.2 * HOUR)  # the first model, then a refresh an hour later
            body = (await client.get("/api/v1/forecasts", params={"service": "shop"})).json()
            (fc,) = body["forecasts"]
            assert fc["series"] == str(CPU) and fc["version"] == 2 and fc["kind"] == "profile"
            assert len(fc["mean"]) == len(fc["lo"]) == len(fc["hi"]) == len(fc["ts"]) == 24
            assert fc["ts"][0] == T0 + HOUR and fc["backtest"]["windows"] == 7  # the hour after its history
            assert (await client.get("/api/v1/forecasts", params={"service": "other"})).json() == {"forecasts": []}

            r = await client.post(f"/api/v1/forecasts/{CPU}/rollback")
            assert r.status_code == 200, r.text
            assert r.json()["rule"] == "rollback" and r.json()["result"] == {
                "version": 1, "kind": "profile", "previous_version": 2}
            again = (await client.get("/api/v1/forecasts")).json()["forecasts"][0]
            assert again["version"] == 1 and again["ts"][0] == T0  # version 1's own fitted model
            audited = (await client.get("/api/v1/decisions", params={"kind": "forecast_model"})).json()
            assert audited["decisions"][0]["rule"] == "rollback"

            nothing_left = await client.post(f"/api/v1/forecasts/{CPU}/rollback")
            assert nothing_left.status_code == 409 and "no earlier champion" in nothing_left.text
            unknown = await client.post('/api/v1/forecasts/cpu_percent{service="nope"}/rollback')
            assert unknown.status_code == 404
            assert (await client.post("/api/v1/forecasts/cpu{oops/rollback")).status_code == 400
            async with httpx.AsyncClient(transport=transport, base_url="http://vigil.test") as anon:
                assert (await anon.get("/api/v1/forecasts")).status_code == 401
                assert (await anon.post(f"/api/v1/forecasts/{CPU}/rollback")).status_code == 401
            assert forecast_stage(engine).current[str(CPU)]["version"] == 1
        finally:
            await engine.stop()
            engine.store.close()
