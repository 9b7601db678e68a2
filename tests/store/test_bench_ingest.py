"""`vigil bench ingest` at a tiny size: a smoke test of the harness and its JSON fields (the
figures themselves are not asserted: benchmarks are not timed tests)."""

import orjson
from typer.testing import CliRunner

from vigil.bench.ingest import app

FIELDS = {"store_samples_per_s", "api_samples_per_s", "postgres_store_samples_per_s",
          "range_query_7d_p95_ms", "range_query_1d_rollup_p95_ms", "peak_rss_mb", "naive_samples_per_s"}


def test_bench_ingest_json_has_every_field(tmp_path):
    result = CliRunner().invoke(app, ["--samples", "20000", "--series", "20", "--days", "0.25",
                                      "--queries", "3", "--naive-samples", "5000", "--api-samples", "2000",
                                      "--no-postgres", "--workdir", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    line = [ln for ln in result.stdout.splitlines() if ln.startswith("{")]
    assert len(line) == 1
    figures = orjson.loads(line[0])
    assert FIELDS <= set(figures)
    assert figures["store_samples_per_s"] > 0 and figures["range_query_7d_p95_ms"] > 0
    assert figures["postgres_store_samples_per_s"] is None
