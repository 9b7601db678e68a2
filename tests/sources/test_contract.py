"""Contract checks run against every registered source kind (no exclusion list): a target that is
down is a result, not an exception; the run ends within the timeout; nothing secret is shown."""

from __future__ import annotations

import sys
import time

import pytest

from vigil.clock import SystemClock
from vigil.config.schema import parse_config
from vigil.sources import COLLECTORS, PROBE_KINDS, Collector, HttpPool, Scheduler, build_collectors

SECRET = "hunter2-not-to-be-shown"


def spec_for(kind: str, port: int) -> str:
    """A source of each kind pointing at a closed port, with a secret in its URL or headers."""
    url = f"http://vigil:{SECRET}@127.0.0.1:{port}"
    headers = f'headers: {{Authorization: "Bearer {SECRET}"}}'
    return {
        "http": f'{{kind: http, url: "{url}/health", timeout: 1s, {headers}}}',
        "tcp": f"{{kind: tcp, host: 127.0.0.1, port: {port}, timeout: 1s}}",
        "command": f'{{kind: command, command: ["{sys.executable}", "-c", "raise SystemExit(1)"], timeout: 2s}}',
        "scrape": f'{{kind: scrape, url: "{url}/metrics", timeout: 1s, {headers}}}',
        "promql": f'{{kind: promql, url: "{url}", query: up, name: up_q, timeout: 1s, {headers}}}',
    }[kind]


@pytest.mark.parametrize("kind", COLLECTORS.kinds())
async def test_a_down_target_is_a_result_not_an_exception(kind, unused_tcp_port):
    section = "probes" if kind in PROBE_KINDS else "metrics"
    config = parse_config(f"services:\n  - name: shop\n    {section}:\n      - {spec_for(kind, unused_tcp_port)}\n")
    [collector] = build_collectors(config, HttpPool())
    assert isinstance(collector, Collector) and collector.kind == kind
    assert (collector.service, collector.interval) == ("shop", getattr(config.services[0], section)[0].interval)
    scheduler = Scheduler([collector], SystemClock(), _ignore)
    started = time.monotonic()
    try:
        collection = await scheduler.run_once(collector)
    finally:
        await scheduler.stop()
    assert time.monotonic() - started < collector.timeout + 1.5
    assert scheduler.stats.crashes == 0 and scheduler.stats.timeouts == 0
    if kind in PROBE_KINDS:
        assert collection.probe is not None and not collection.probe.ok and collection.probe.detail
        shown = collection.probe.detail
    else:
        assert collection.error
        shown = collection.error
    shown += " ".join(str(s.key) for s in collection.samples)
    assert SECRET not in shown and SECRET not in repr(collection)


async def _ignore(collection) -> None:
    pass


def test_secrets_in_config_do_not_print():
    config = parse_config(f"services:\n  - name: shop\n    probes:\n      - {spec_for('http', 1)}\n")
    assert SECRET not in repr(config.services[0].probes[0].headers)
