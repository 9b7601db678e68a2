import pytest

from vigil.config import ConfigError
from vigil.config.schema import parse_config
from vigil.sources import COLLECTORS, Collector, build_collectors

CONFIG = """
services:
  - name: shop
    probes:
      - {kind: http, url: "http://127.0.0.1:1/health"}
      - {kind: http, url: "http://127.0.0.1:1/ready", interval: 30s, timeout: 3s}
      - {kind: tcp, host: 127.0.0.1, port: 5432, name: db}
      - {kind: command, command: [/bin/true]}
    metrics:
      - {kind: scrape, url: "http://127.0.0.1:1/metrics", include: ["http_.*"]}
      - {kind: promql, url: "http://127.0.0.1:9090", query: "sum(rate(x[1m]))", name: shop_rps}
"""


def test_build_collectors_one_per_probe_and_source():
    collectors = build_collectors(parse_config(CONFIG))
    assert [(c.service, c.name, c.kind, c.interval, c.timeout) for c in collectors] == [
        ("shop", "http", "http", 10.0, 5.0),
        ("shop", "http-2", "http", 30.0, 3.0),
        ("shop", "db", "tcp", 10.0, 5.0),
        ("shop", "command", "command", 10.0, 5.0),
        ("shop", "scrape", "scrape", 15.0, 5.0),
        ("shop", "shop_rps", "promql", 30.0, 10.0),
    ]
    assert all(isinstance(c, Collector) for c in collectors)
    # All HTTP collectors share one connection pool.
    assert len({id(c.http) for c in collectors if hasattr(c, "http")}) == 1


def test_registry_knows_every_kind():
    assert COLLECTORS.kinds() == ["command", "http", "promql", "scrape", "tcp"]


@pytest.mark.parametrize("snippet, message", [
    ('{kind: scrape, url: "http://x/metrics", include: ["("]}', "invalid regex"),
    ('{kind: scrape, url: "http://x/metrics", interval: 5s, timeout: 10s}', "must not exceed interval"),
    ('{kind: promql, url: "http://x", query: up, name: "bad name"}', "must be a metric name"),
])
def test_bad_metric_sources_are_rejected(snippet, message):
    with pytest.raises(ConfigError) as exc:
        parse_config(f"services:\n  - name: s\n    metrics:\n      - {snippet}\n")
    assert message in str(exc.value.problems)
