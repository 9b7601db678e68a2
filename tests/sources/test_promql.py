"""PromQL source against a real Prometheus (Debian package `prometheus`), started here on a free
loopback port with its own storage folder, scraping a real local HTTP service."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from vigil.config.sources import PromqlSource
from vigil.sources.promql import PromqlCollector

METRICS = b"""# TYPE shop_temperature gauge
shop_temperature{room="a"} 21.5
shop_temperature{room="b"} 19
# TYPE shop_orders_total counter
shop_orders_total 42
"""


class _Metrics(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(METRICS)))
        self.end_headers()
        self.wfile.write(METRICS)

    def log_message(self, *args: object) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return orjson.loads(resp.read())


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    if not shutil.which(binary):
        pytest.skip("prometheus is not installed (Debian package prometheus)")
    target = ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    folder = tmp_path_factory.mktemp("prometheus")
    (folder / "prometheus.yml").write_text(f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: shop
    static_configs: [{{targets: ["127.0.0.1:{target.server_address[1]}"]}}]
""")
    port = _free_port()
    log = open(folder / "prometheus.log", "wb")
    proc = subprocess.Popen([binary, f"--config.file={folder / 'prometheus.yml'}",
                             f"--storage.tsdb.path={folder / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:  # until Prometheus answers and has scraped the target at least twice
            try:
                q = urllib.parse.quote("count_over_time(shop_orders_total[1m])")
                data = _get_json(f"{base}/api/v1/query?query={q}")["data"]["result"]
                if data and float(data[0]["value"][1]) >= 2:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("prometheus did not come up:\n" + (folder / "prometheus.log").read_text()[-2000:])
            time.sleep(0.25)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
        target.shutdown()
        target.server_close()


async def collect(base: str, query: str, **kw):
    spec = PromqlSource(kind="promql", url=base, query=query, name=kw.pop("name", "shop_result"), **kw)
    collector = PromqlCollector("shop", spec.name, spec)
    try:
        return collector, await collector.collect(time.time())
    finally:
        await collector.aclose()


@pytest.mark.prometheus
async def test_instant_query(prometheus):
    _, result = await collect(prometheus, "shop_temperature", name="temperature")
    assert result.error is None
    got = {str(s.key): s.value for s in result.samples}
    assert got == {
        f'temperature{{instance="{_instance(result)}",job="shop",room="a",service="shop"}}': 21.5,
        f'temperature{{instance="{_instance(result)}",job="shop",room="b",service="shop"}}': 19.0,
    }
    _, scalar = await collect(prometheus, "sum(shop_temperature)")
    assert [(str(s.key), s.value) for s in scalar.samples] == [('shop_result{service="shop"}', 40.5)]


def _instance(result) -> str:
    return result.samples[0].key.label_map["instance"]


@pytest.mark.prometheus
async def test_range_query_backfills_then_adds_only_new_points(prometheus):
    spec = PromqlSource(kind="promql", url=prometheus, query="shop_orders_total", name="orders",
                        range="10s", step="1s", interval="30s")
    collector = PromqlCollector("shop", "orders", spec)
    try:
        now = time.time()
        first = await collector.collect(now)
        again = await collector.collect(now)
    finally:
        await collector.aclose()
    assert first.error is None
    assert len(first.samples) >= 2 and all(s.value == 42.0 for s in first.samples)
    assert all(now - 10.5 <= s.ts <= now + 0.5 for s in first.samples)
    assert sorted(s.ts for s in first.samples) == [s.ts for s in first.samples]
    assert again.samples == []  # nothing newer than what was delivered


@pytest.mark.prometheus
async def test_bad_query_is_a_reported_failure(prometheus):
    _, result = await collect(prometheus, "sum(")
    assert result.samples == []
    assert result.error.startswith("Prometheus bad_data (HTTP 400) for 'sum(':")


async def test_unreachable_prometheus_is_a_reported_failure():
    port = _free_port()
    _, result = await collect(f"http://127.0.0.1:{port}", "up")
    assert result.error == f"connect refused: http://127.0.0.1:{port}/api/v1/query"
