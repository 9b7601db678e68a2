"""Prometheus text and OpenMetrics pushes: timestamps checked as JSON ones are (NaN/Inf are 400, not
500), Unicode label values stored exactly, errors that name the line."""

from __future__ import annotations

import time

import pytest

T0 = 1_700_000_000.0
MS = int(T0 * 1000)
TEXT = {"Content-Type": "text/plain; version=0.0.4"}


async def push_text(client, text: str, headers: dict | None = None):  # type: ignore[no-untyped-def]
    return await client.post("/api/v1/samples", content=text.encode(), headers=headers or TEXT)


@pytest.mark.parametrize("ts,message", [
    ("NaN", "must be an integer number of milliseconds"),
    ("+Inf", "must be an integer number of milliseconds"),
    ("-Inf", "must be an integer number of milliseconds"),
    ("nan", "must be an integer number of milliseconds"),
    ("-1000", "must not be negative"),
    ("100000000000000000000", "after the year 5138"),
    (str(int(T0)), "looks like seconds"),  # seconds where milliseconds are expected
    (str(MS) + ".5", "must be an integer number of milliseconds"),
])
async def test_bad_text_timestamps_are_400(api, ts: str, message: str) -> None:
    client, engine = api
    r = await push_text(client, f"# TYPE m gauge\nm 1 {ts}\n")
    assert r.status_code == 400, r.text
    (err,) = r.json()["detail"]["errors"]
    assert err["line"] == 2 and message in err["error"], err
    assert engine.store.list_series(name="m") == []


async def test_text_values(api) -> None:
    client, engine = api
    r = await push_text(client, f"a 1e3 {MS}\nb -2.5 {MS}\nc +Inf {MS}\nd 1_000 {MS}\n")
    errors = r.json()["detail"]["errors"]
    assert r.status_code == 400 and [e["line"] for e in errors] == [3, 4]
    assert "not finite" in errors[0]["error"] and "is not a number" in errors[1]["error"]
    ok = await push_text(client, f"a 1e3 {MS}\nb -2.5 {MS}\n")
    assert ok.json() == {"written": 2}
    assert engine.store.latest(engine.store.list_series(name="a")[0].key) == (T0, 1000.0)


async def test_text_without_timestamp_uses_now(api, clock) -> None:
    client, engine = api
    assert (await push_text(client, 'up{job="x"} 1\n')).json() == {"written": 1}
    (s,) = engine.store.list_series(name="up")
    assert engine.store.latest(s.key) == (clock.now(), 1.0)


@pytest.mark.parametrize("value", ["Zürich", "東京", "🚀 launch", 'quote " and back\\slash', "two\nlines"])
async def test_unicode_label_values_round_trip_through_every_path(api, value: str) -> None:
    client, engine = api
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    assert (await push_text(client, f'm{{c="{escaped}"}} 1 {MS}\n')).json() == {"written": 1}
    r = await client.post("/api/v1/samples", json={"samples": [{"name": "m", "labels": {"c": value},
                                                                "ts": T0 + 1, "value": 2}]})
    assert r.json() == {"written": 1}
    (listed,) = (await client.get("/api/v1/series", params={"match": f'm{{c="{escaped}"}}'})).json()["series"]
    assert listed["labels"] == {"c": value}
    q = await client.get("/api/v1/query", params={"series": listed["series"], "start": str(T0 - 1),
                                                  "end": str(T0 + 2), "resolution": "raw"})
    assert q.status_code == 200 and q.json()["values"] == [1.0, 2.0], q.text
    assert [s.key.label_map["c"] for s in engine.store.list_series(name="m")] == [value]


async def test_openmetrics_timestamps_are_seconds_and_exemplars_are_skipped(api) -> None:
    client, engine = api
    text = (f'# TYPE rq counter\nrq_total{{path="/a"}} 3 {T0} # {{trace_id="abc"}} 1 {T0}\n'
            f"temp 21.5 {T0 + 10}\n# EOF\n")
    r = await push_text(client, text, {"Content-Type": "application/openmetrics-text; version=1.0.0"})
    assert r.json() == {"written": 2}, r.text
    (s,) = engine.store.list_series(name="temp")
    assert engine.store.latest(s.key) == (T0 + 10, 21.5)
    bad = await push_text(client, f"temp 1 {MS}\n", {"Content-Type": "application/openmetrics-text"})
    assert bad.status_code == 400 and "looks like milliseconds" in bad.text


async def test_malformed_lines_name_their_line(api) -> None:
    client, _ = api
    r = await push_text(client, 'good 1\nm{a="1" 2\nm{a=1} 3\nno_value\nm 1 2 3\n\xff\n')
    errors = {e["line"]: e["error"] for e in r.json()["detail"]["errors"]}
    assert r.status_code == 400 and sorted(errors) == [2, 3, 4, 5, 6], errors
    assert "invalid series" in errors[3]
    assert "expected a value" in errors[4] and "expected a value" in errors[5]


async def test_hostile_text_line_is_cheap(api) -> None:
    """One line of 1 MB of escaped quotes: the library parser this replaced re-sliced the line per
    quote (quadratic); now the line is refused by its length, then the rest is scanned once."""
    client, _ = api
    text = 'm{a="' + '\\"' * 500_000 + '"} 1\n' + 'n{a="' + '\\"' * 8000 + '"} 1\n'
    plain = 'm{a="' + 'x' * 1_000_000 + '"} 1\n' + 'n{a="' + 'x' * 16_000 + '"} 1\n'
    started = time.perf_counter()
    await push_text(client, plain)
    baseline = time.perf_counter() - started
    started = time.perf_counter()
    r = await push_text(client, text)
    # against a line of the same size without quotes, in the same run: quadratic would be hours
    assert time.perf_counter() - started < 5 * baseline + 1.0
    errors = r.json()["detail"]["errors"]
    assert r.status_code == 400 and "a sample line is at most" in errors[0]["error"]
    assert errors[1]["line"] == 2  # the second line's value is over the label value cap
