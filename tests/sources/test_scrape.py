import math
import time

import pytest

from vigil.config.sources import ScrapeSource
from vigil.sources.exposition import MetricFilter, ScrapeState, convert, histogram_quantile
from vigil.sources.scrape import ScrapeCollector


def by_key(samples):
    return {str(s.key): s.value for s in samples}


COUNTER = """# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{{code="200"}} {ok}
http_requests_total{{code="500"}} {err}
# HELP memory_bytes Resident memory.
# TYPE memory_bytes gauge
memory_bytes {mem}
"""


def test_gauge_as_is_and_counter_rate_with_reset():
    state = ScrapeState()
    first, state = convert(COUNTER.format(ok=100, err=5, mem=1e6), 1000.0, "shop", state)
    # No previous value: no rates yet, gauges straight away.
    assert by_key(first) == {'memory_bytes{service="shop"}': 1e6}
    second, state = convert(COUNTER.format(ok=130, err=5, mem=2e6), 1010.0, "shop", state)
    assert by_key(second) == {
        'http_requests_total:rate{code="200",service="shop"}': 3.0,
        'http_requests_total:rate{code="500",service="shop"}': 0.0,
        'memory_bytes{service="shop"}': 2e6,
    }
    # The target restarted: 130 -> 20 is a reset, the increase is 20 over 10 s.
    third, state = convert(COUNTER.format(ok=20, err=5, mem=2e6), 1020.0, "shop", state)
    assert by_key(third)['http_requests_total:rate{code="200",service="shop"}'] == 2.0
    assert all(s.ts == 1020.0 for s in third)


def test_raw_counters_when_rates_are_off():
    samples, _ = convert(COUNTER.format(ok=100, err=5, mem=1), 1000.0, "shop", ScrapeState(), rates=False)
    assert by_key(samples)['http_requests_total{code="200",service="shop"}'] == 100


HISTOGRAM = """# TYPE request_seconds histogram
request_seconds_bucket{{path="/",le="0.1"}} {a}
request_seconds_bucket{{path="/",le="0.5"}} {b}
request_seconds_bucket{{path="/",le="1.0"}} {c}
request_seconds_bucket{{path="/",le="+Inf"}} {d}
request_seconds_sum{{path="/"}} {s}
request_seconds_count{{path="/"}} {d}
"""


def test_histogram_quantiles_from_bucket_increases():
    state = ScrapeState()
    first, state = convert(HISTOGRAM.format(a=10, b=20, c=30, d=40, s=12), 100.0, "shop", state,
                           quantiles=[0.5, 0.9, 0.99])
    assert first == []
    # Increases over the interval: le=0.1: 50, le=0.5: 130, le=1: 180, +Inf: 200 (200 observations).
    second, state = convert(HISTOGRAM.format(a=60, b=150, c=210, d=240, s=52), 110.0, "shop", state,
                            quantiles=[0.5, 0.9, 0.99])
    got = by_key(second)
    # p50: rank 100 lies in (0.1, 0.5] which holds 80 (50..130): 0.1 + 0.4 * (100 - 50) / 80 = 0.35.
    assert got['request_seconds{path="/",quantile="0.5",service="shop"}'] == pytest.approx(0.35)
    # p90: rank 180 is exactly the top of (0.5, 1]: 0.5 + 0.5 * (180 - 130) / 50 = 1.0.
    assert got['request_seconds{path="/",quantile="0.9",service="shop"}'] == pytest.approx(1.0)
    # p99: rank 198 falls in +Inf: the highest finite bound, 1.0.
    assert got['request_seconds{path="/",quantile="0.99",service="shop"}'] == pytest.approx(1.0)
    assert got['request_seconds_count:rate{path="/",service="shop"}'] == pytest.approx(20.0)
    assert got['request_seconds_sum:rate{path="/",service="shop"}'] == pytest.approx(4.0)
    # No observations in the next interval: no quantile (PromQL would say NaN).
    third, _ = convert(HISTOGRAM.format(a=60, b=150, c=210, d=240, s=52), 120.0, "shop", state)
    assert not any("quantile" in str(s.key) for s in third)


def test_histogram_quantile_matches_promql_edge_cases():
    buckets = [(0.1, 50.0), (0.5, 130.0), (1.0, 180.0), (math.inf, 200.0)]
    assert histogram_quantile(0.25, buckets) == pytest.approx(0.1)  # rank 50: top of the first bucket
    assert histogram_quantile(0.1, buckets) == pytest.approx(0.04)  # 0 + 0.1 * 20 / 50
    assert math.isnan(histogram_quantile(0.5, [(0.1, 0.0), (math.inf, 0.0)]))
    assert math.isnan(histogram_quantile(0.5, [(0.1, 1.0), (0.5, 2.0)]))  # no +Inf bucket
    assert histogram_quantile(2.0, buckets) == math.inf


SUMMARY = """# TYPE rpc_seconds summary
rpc_seconds{{quantile="0.5"}} 0.2
rpc_seconds{{quantile="0.99"}} 0.9
rpc_seconds_sum {s}
rpc_seconds_count {c}
"""


def test_summary_quantiles_kept_and_count_rated():
    _, state = convert(SUMMARY.format(s=10, c=100), 0.0, "shop", ScrapeState())
    samples, _ = convert(SUMMARY.format(s=20, c=150), 5.0, "shop", state)
    assert by_key(samples) == {
        'rpc_seconds{quantile="0.5",service="shop"}': 0.2,
        'rpc_seconds{quantile="0.99",service="shop"}': 0.9,
        'rpc_seconds_sum:rate{service="shop"}': 2.0,
        'rpc_seconds_count:rate{service="shop"}': 10.0,
    }


def test_include_exclude_and_service_label():
    text = ("# TYPE a_total counter\na_total 1\n# TYPE b gauge\nb{service=\"x\"} 2\n"
            "# TYPE go_gc gauge\ngo_gc 3\n")
    keep = MetricFilter(include=["a_total", "b", "go_.*"], exclude=["go_.*"])
    samples, _ = convert(text, 0.0, "shop", ScrapeState(), rates=False, keep=keep)
    assert by_key(samples) == {'a_total{service="shop"}': 1.0, 'b{exported_service="x",service="shop"}': 2.0}
    # include matches the family name too: "a" selects the counter a_total.
    samples, _ = convert(text, 0.0, "shop", ScrapeState(), rates=False, keep=MetricFilter(include=["a"]))
    assert by_key(samples) == {'a_total{service="shop"}': 1.0}


async def test_scrape_collector_against_a_real_endpoint(server, unused_tcp_port):
    server.metrics_text = COUNTER.format(ok=100, err=0, mem=5)
    spec = ScrapeSource(kind="scrape", url=f"{server.url}/metrics", exclude=["memory_.*"])
    collector = ScrapeCollector("shop", "scrape", spec)
    try:
        first = await collector.collect(1000.0)
        server.metrics_text = COUNTER.format(ok=150, err=0, mem=5)
        second = await collector.collect(1010.0)
    finally:
        await collector.aclose()
    assert first.error is None and second.error is None
    got = by_key(second.samples)
    assert got['http_requests_total:rate{code="200",service="shop"}'] == 5.0
    assert got[f'up{{instance="{server.url}/metrics",service="shop"}}'] == 1.0
    assert not any(k.startswith("memory_bytes") for k in got)

    down = ScrapeCollector("shop", "scrape", ScrapeSource(kind="scrape", url=f"http://127.0.0.1:{unused_tcp_port}/m"))
    try:
        failed = await down.collect(time.time())
    finally:
        await down.aclose()
    assert failed.error == f"connect refused: http://127.0.0.1:{unused_tcp_port}/m"
    assert by_key(failed.samples)[f'up{{instance="http://127.0.0.1:{unused_tcp_port}/m",service="shop"}}'] == 0.0


async def test_unparseable_exposition_is_an_error_not_a_crash(server):
    server.metrics_text = "this is { not metrics\n"
    collector = ScrapeCollector("shop", "scrape", ScrapeSource(kind="scrape", url=f"{server.url}/metrics"))
    try:
        result = await collector.collect(time.time())
    finally:
        await collector.aclose()
    assert result.error and result.error.startswith("cannot parse metrics")


async def test_large_exposition_is_read_whole(server):
    server.metrics_text = "# TYPE g gauge\n" + "".join(f'g{{i="{i}"}} {i}\n' for i in range(5000))
    assert len(server.metrics_text) > 64 * 1024
    collector = ScrapeCollector("shop", "scrape", ScrapeSource(kind="scrape", url=f"{server.url}/metrics"))
    try:
        result = await collector.collect(time.time())
    finally:
        await collector.aclose()
    assert result.error is None
    assert sum(1 for s in result.samples if s.key.name == "g") == 5000
