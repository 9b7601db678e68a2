"""GET /api/v1/reports/{kind}: each kind in each format, its content type, and the errors (bad time,
unknown zone, unknown kind or format, no key)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.web.conftest import API_KEY


async def test_each_kind_in_each_format(api: tuple[httpx.AsyncClient, Any]) -> None:
    client, engine = api
    r = await client.post(
        "/api/v1/alerts",
        json={"alerts": [{"name": "CatalogDown", "service": "catalog", "severity": "critical"}]},
    )
    assert r.status_code == 200
    for kind in ("daily", "weekly", "executive"):
        html = await client.get(f"/api/v1/reports/{kind}")
        assert html.status_code == 200 and html.headers["content-type"] == "text/html; charset=utf-8"
        assert html.text.startswith("<!DOCTYPE html>") and "<svg" in html.text and "<script" not in html.text
        md = await client.get(f"/api/v1/reports/{kind}", params={"format": "md", "time_zone": "Asia/Tokyo"})
        assert md.headers["content-type"] == "text/markdown; charset=utf-8"
        assert (
            md.text.startswith(f"# {kind.capitalize()} report: ") and "Asia/Tokyo" in md.text.splitlines()[0]
        )
        assert "| catalog | 1 |" in md.text
    figures = (await client.get("/api/v1/reports/daily", params={"format": "json"})).json()
    assert figures["kind"] == "daily" and figures["end"] - figures["start"] == 86400
    catalog = next(s for s in figures["services"] if s["service"] == "catalog")
    assert catalog["incidents"] == 1 and catalog["availability_from"] == "incidents"


async def test_the_period_ends_at_the_time_asked(api: tuple[httpx.AsyncClient, Any]) -> None:
    client, engine = api
    now = engine.clock.now()
    figures = (await client.get("/api/v1/reports/weekly", params={"format": "json", "at": "-1d"})).json()
    assert figures["end"] == now - 86400 and figures["start"] == now - 8 * 86400


async def test_errors(api: tuple[httpx.AsyncClient, Any]) -> None:
    client, _ = api
    bad_time = await client.get("/api/v1/reports/daily", params={"at": "yesterday"})
    assert bad_time.status_code == 400 and "invalid time 'yesterday'" in bad_time.json()["detail"]
    bad_zone = await client.get("/api/v1/reports/daily", params={"time_zone": "../../etc/passwd"})
    assert bad_zone.status_code == 400 and "unknown time zone" in bad_zone.json()["detail"]
    assert (await client.get("/api/v1/reports/monthly")).status_code == 422
    assert (await client.get("/api/v1/reports/daily", params={"format": "pdf"})).status_code == 422
    anonymous = await client.get("/api/v1/reports/daily", headers={"Authorization": ""})
    assert anonymous.status_code == 401 and API_KEY not in anonymous.text
