"""On-call over the API and the CLI: who is on call now in every schedule (and at another time), a
schedule's shifts over a range, the escalation policies; bad input is a 400 that says why."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from vigil.app import build_app
from vigil.cli import app as cli
from vigil.config import parse_config
from vigil.testing import FakeClock

KEY = "oncall-api-test-key"
NOW = dt.datetime(2024, 3, 6, 12, tzinfo=dt.UTC).timestamp()  # a Wednesday: alice's week in primary
CFG = """
store: {{url: "sqlite:///{db}"}}
server: {{api_keys: [{{name: ops, key: {key}}}]}}
services:
  - {{name: payments, escalation: pager}}
  - {{name: search}}
alerting:
  route: {{receiver: team}}
  receivers: [{{name: team}}, {{name: alice-pager}}, {{name: bob-pager}}]
oncall:
  users:
    - {{name: alice, receiver: alice-pager}}
    - {{name: bob, receiver: bob-pager}}
  schedules:
    - name: primary
      time_zone: Europe/Berlin
      layers: [{{name: weekly, start: 2024-03-04, handoff: "09:00", users: [alice, bob]}}]
      overrides: [{{user: bob, start: "2024-03-06T18:00:00+01:00", end: "2024-03-07T08:00:00+01:00"}}]
    - name: empty
      layers: [{{start: 2030-01-01, users: [alice]}}]
  escalation_policies:
    - name: pager
      levels: [{{notify: ["oncall:primary"]}}, {{after: 10m, notify: [team]}}]
      repeat_every: 30m
  default_policy: pager
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "vigil.yaml"
    path.write_text(CFG.format(db=tmp_path / "v.db", key=KEY))
    return path


@pytest.fixture
async def client(config_file: Path) -> AsyncIterator[httpx.AsyncClient]:
    cfg = parse_config(CFG.format(db=config_file.parent / "v.db", key=KEY), env={})
    app, engine = build_app(cfg, clock=FakeClock(NOW), collectors=[])
    await engine.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://vigil.test",
                                     headers={"Authorization": f"Bearer {KEY}"}) as c:
            yield c
    finally:
        await engine.stop()
        engine.store.close()


def berlin(*parts: int) -> float:
    return dt.datetime(*parts, tzinfo=dt.timezone(dt.timedelta(hours=1))).timestamp()


async def test_who_is_on_call_now_in_every_schedule(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/oncall")
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    assert body["at"] == NOW
    primary, empty = body["schedules"]
    assert primary == {"schedule": "primary", "time_zone": "Europe/Berlin", "user": "alice",
                       "receiver": "alice-pager", "source": "weekly", "since": berlin(2024, 3, 4, 9),
                       "until": berlin(2024, 3, 6, 18)}
    assert empty["schedule"] == "empty" and empty["user"] is None
    later = (await client.get("/api/v1/oncall", params={"at": "2024-03-06T20:00:00+01:00"})).json()
    assert later["schedules"][0]["user"] == "bob" and later["schedules"][0]["source"] == "override"
    assert (await client.get("/api/v1/oncall", headers={"Authorization": ""})).status_code == 401


async def test_a_schedules_shifts_over_a_range(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/oncall/primary", params={"from": "2024-03-06T00:00:00+01:00",
                                                           "to": "2024-03-12T00:00:00+01:00"})
    assert r.status_code == 200
    shifts = [(s["start"], s["user"], s["source"]) for s in r.json()["shifts"]]
    assert shifts == [(berlin(2024, 3, 6), "alice", "weekly"), (berlin(2024, 3, 6, 18), "bob", "override"),
                      (berlin(2024, 3, 7, 8), "alice", "weekly"), (berlin(2024, 3, 11, 9), "bob", "weekly")]
    default = (await client.get("/api/v1/oncall/primary")).json()  # from now, 7 days
    assert default["to"] - default["from"] == 7 * 86400 and default["shifts"][0]["start"] == NOW


@pytest.mark.parametrize("path,params,status,says", [
    ("/api/v1/oncall/nobody", {}, 404, "no schedule 'nobody'; known: primary, empty"),
    ("/api/v1/oncall/primary", {"from": "soon"}, 400, "from: invalid time 'soon'"),
    ("/api/v1/oncall/primary", {"from": "now", "to": "-1h"}, 400, "to must be after from"),
    ("/api/v1/oncall/primary", {"to": "2025-01-01T00:00:00Z"}, 400, "a range is at most 93 days"),
    ("/api/v1/oncall", {"at": "99999999999999"}, 400, "out of range"),
])
async def test_bad_input_says_why(client: httpx.AsyncClient, path: str, params: dict, status: int,
                                  says: str) -> None:
    r = await client.get(path, params=params)
    assert r.status_code == status and says in r.json()["detail"], r.text


async def test_escalation_policies_with_their_services(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/v1/escalation-policies")).json()
    assert body == {"default_policy": "pager", "policies": [{
        "name": "pager", "services": ["payments"], "repeat_every": 1800.0, "max_repeats": 3,
        "levels": [{"level": 1, "after": 0.0, "notify": ["oncall:primary"]},
                   {"level": 2, "after": 600.0, "notify": ["team"]}]}]}


def test_the_cli_says_who_is_on_call(config_file: Path) -> None:
    out = CliRunner().invoke(cli, ["oncall", "-c", str(config_file), "--at", "2024-03-06T12:00:00Z"])
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines() == [
        "primary: alice (receiver alice-pager), weekly until 2024-03-06 17:00:00 UTC",
        "empty: nobody on call"]
    bad = CliRunner().invoke(cli, ["oncall", "-c", str(config_file), "--at", "tea time"])
    assert bad.exit_code == 2 and "invalid time 'tea time'" in bad.output
