"""`vigil bench forecast` at smoke size, on a tiny trace folder made here (never ../shared)."""

import json
from datetime import datetime, timedelta

import numpy as np
from typer.testing import CliRunner

from vigil.bench.forecast import app


def test_bench_forecast_json_on_a_tiny_trace_folder(tmp_path):
    folder = tmp_path / "nab" / "data" / "realAWSCloudwatch"
    folder.mkdir(parents=True)
    start = datetime(2014, 4, 10)
    rng = np.random.default_rng(0)
    lines = ["timestamp,value"]
    for i in range(10 * 288):  # 10 days of 5-minute counts
        value = 100 + 50 * np.sin(2 * np.pi * i / 288) + rng.normal(0, 5)
        lines.append(f"{(start + timedelta(minutes=5 * i)):%Y-%m-%d %H:%M:%S},{value:.1f}")
    (folder / "elb_request_count_8c0756.csv").write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(app, ["--data", str(tmp_path), "--json", "--forecasters",
                                      "seasonal_naive,profile", "--windows", "3", "--fleet-series", "40"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    row = report["forecasters"]["profile"]["nab_elb_requests"]
    assert {"mase", "smape", "coverage_80", "series_per_s"} <= set(row)
    assert row["windows"] == 3 and report["traces"]["nab_elb_requests"]["hours"] >= 239
    assert report["fleet"]["series"] == 40 and report["fleet"]["fallbacks"] == 0


def test_bench_forecast_rejects_unknown_kinds(tmp_path):
    result = CliRunner().invoke(app, ["--data", str(tmp_path), "--forecasters", "prophet"])
    assert result.exit_code == 2
