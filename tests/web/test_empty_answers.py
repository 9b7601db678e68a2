"""An empty answer says why: which part of the selector matched nothing, and series close to it
(issue 9, item 19)."""

from __future__ import annotations

T0 = 1_700_000_000.0


async def _push(client, series: list[str]) -> None:  # type: ignore[no-untyped-def]
    items = [{"series": s, "ts": T0 + i, "value": 1.0} for s in series for i in range(3)]
    r = await client.post("/api/v1/samples", json={"samples": items})
    assert r.status_code == 200, r.text


async def test_query_of_an_unknown_label_value_names_it_and_lists_close_series(api) -> None:
    client, _ = api
    await _push(client, ['latency{service="web"}', 'latency{service="db"}'])
    r = await client.get("/api/v1/query", params={"series": 'latency{service="wbe"}', "start": str(T0),
                                                  "end": str(T0 + 10), "resolution": "raw"})
    body = r.json()
    assert r.status_code == 200 and body["count"] == 0
    assert body["hint"]["reason"] == "no series on 'latency' has service='wbe'"
    assert set(body["hint"]["close_series"]) == {'latency{service="web"}', 'latency{service="db"}'}


async def test_query_of_an_unknown_name_says_so(api) -> None:
    client, _ = api
    await _push(client, ['latency{service="web"}'])
    r = await client.get("/api/v1/query", params={"series": 'latncy{service="web"}'})
    hint = r.json()["hint"]
    assert hint["reason"] == "no series is named 'latncy'"
    assert hint["close_series"] == ['latency{service="web"}']  # same labels, another name


async def test_query_outside_the_series_span_gives_its_span(api) -> None:
    client, _ = api
    await _push(client, ["rps"])
    r = await client.get("/api/v1/query", params={"series": "rps", "start": str(T0 - 100), "end": str(T0 - 50),
                                                  "resolution": "raw"})
    hint = r.json()["hint"]
    assert hint["reason"] == "the series has no samples in this range"
    assert hint["first_ts"] == T0 and hint["last_ts"] == T0 + 2


async def test_answers_with_data_carry_no_hint(api) -> None:
    client, _ = api
    await _push(client, ['latency{service="web"}'])
    q = await client.get("/api/v1/query", params={"series": 'latency{service="web"}', "start": str(T0),
                                                  "end": str(T0 + 10), "resolution": "raw"})
    assert q.json()["count"] == 3 and "hint" not in q.json()
    s = await client.get("/api/v1/series", params={"match": "latency"})
    assert len(s.json()["series"]) == 1 and "hint" not in s.json()


async def test_series_listing_that_matches_nothing_says_which_part(api) -> None:
    client, _ = api
    await _push(client, ['latency{service="web",zone="a"}', 'latency{service="db",zone="b"}'])
    r = await client.get("/api/v1/series", params={"match": 'latency{service="web",zone="b"}'})
    hint = r.json()["hint"]
    assert r.json()["series"] == []
    assert hint["reason"] == "each matcher matches some series, but no series matches them all"
    assert len(hint["close_series"]) == 2
    r = await client.get("/api/v1/series", params={"name": "nothing"})
    assert r.json()["hint"]["reason"] == "no series is named 'nothing'"
