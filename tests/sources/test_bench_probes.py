import json

import psutil
from typer.testing import CliRunner

from vigil.bench.probes import app


def _target_servers() -> list[psutil.Process]:
    me = psutil.Process()
    return [p for p in me.children(recursive=True) if "serve_targets" in " ".join(p.cmdline())]


def test_bench_probes_smoke_prints_one_json_object_and_leaves_no_server():
    result = CliRunner().invoke(app, ["--targets", "20", "--interval", "1", "--duration", "2", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["targets"] == 20 and figures["interval_s"] == 1.0
    assert figures["failures"] == 0 and figures["probes"] >= 20
    assert 0 <= figures["start_lag_p99_s"] < 1.0
    assert 0 < figures["cpu_fraction_of_one_core"]
    assert _target_servers() == []
