from __future__ import annotations

import json

from typer.testing import CliRunner

from vigil.bench.detect import app


def bench(*args: str) -> dict:
    res = CliRunner().invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_bench_detect_json_smoke() -> None:
    got = bench("--series", "2", "--points", "2000", "--updates", "500")
    assert got["points_per_s"] > 0 and got["update_p99_us"] > 0
    assert 0 < got["state_bytes_per_series"] < 64 * 1024
    # 2,000 five-minute points are 6.9 days: too short for the weekly profile (2 past weeks of an hour)
    assert got["days_covered"] == 6.9 and got["weekly_active_points"] == 0


def test_bench_detect_reaches_the_weekly_profile() -> None:
    got = bench("--series", "1", "--points", "6000", "--updates", "300")
    assert got["days_covered"] == 20.8 and got["interval_s"] == 300
    # active from day 14 on: about a third of the replay, and every timed update (days 21-22)
    assert 1000 < got["weekly_active_points"] < 6000 * 7 / 20.8
    assert got["weekly_active_updates"] >= 290
    assert got["weekly_verdict_updates"] > 0
