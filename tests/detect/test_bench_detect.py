from __future__ import annotations

import json

from typer.testing import CliRunner

from vigil.bench.detect import app


def test_bench_detect_json_smoke() -> None:
    res = CliRunner().invoke(app, ["--series", "2", "--points", "2000", "--updates", "500", "--json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    assert got["points_per_s"] > 0 and got["update_p99_us"] > 0
    assert 0 < got["state_bytes_per_series"] < 64 * 1024
