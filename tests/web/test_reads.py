"""The API's short reads run on their one read thread and answer JSON encoded there, with the
endpoint's own parameters, validation and errors (vigil.web.reads)."""

from __future__ import annotations

import math
import threading

import httpx
import numpy as np
import orjson
from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import PlainTextResponse

from vigil.web.reads import ApiReads, encode


def _app() -> tuple[FastAPI, ApiReads]:
    app, reads = FastAPI(), ApiReads()

    @app.get("/page")
    @reads.endpoint
    def page(limit: int = Query(50, ge=1, le=100), name: str | None = None) -> dict[str, object]:
        if name == "missing":
            raise HTTPException(404, detail="no such thing")
        return {"thread": threading.current_thread().name, "limit": limit, "values": np.arange(3.0),
                "tags": {"b", "a"}, "gap": math.nan}

    @app.get("/text")
    @reads.endpoint
    def text() -> PlainTextResponse:
        return PlainTextResponse("as it is")

    return app, reads


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vigil.test")


async def test_a_read_runs_on_the_read_thread_and_answers_json() -> None:
    app, reads = _app()
    async with _client(app) as client:
        r = await client.get("/page", params={"limit": 7})
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        assert r.json() == {"thread": r.json()["thread"], "limit": 7, "values": [0.0, 1.0, 2.0], "tags": ["a", "b"],
                            "gap": None}
        assert r.json()["thread"].startswith("vigil-api-read")
        # every read takes the same one thread
        assert {(await client.get("/page")).json()["thread"] for _ in range(5)} == {r.json()["thread"]}
    reads.close()


async def test_the_endpoints_validation_and_errors_are_kept() -> None:
    app, reads = _app()
    async with _client(app) as client:
        bad = await client.get("/page", params={"limit": 0})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "limit"]
        missing = await client.get("/page", params={"name": "missing"})
        assert missing.status_code == 404 and missing.json() == {"detail": "no such thing"}
        assert (await client.get("/text")).text == "as it is"  # a Response it returns is passed through
        params = app.openapi()["paths"]["/page"]["get"]["parameters"]
        assert [p["name"] for p in params] == ["limit", "name"]
        assert params[0]["schema"]["maximum"] == 100
    reads.close()


def test_encode_matches_what_the_api_wrote_before() -> None:
    value = {"a": 1, "b": [1.5, None], "c": {"d": "é"}, 3: "non-string key"}
    assert orjson.loads(encode(value)) == {"a": 1, "b": [1.5, None], "c": {"d": "é"}, "3": "non-string key"}
