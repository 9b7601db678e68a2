"""The rules stage in the real engine, as timelines on a fake clock with a real SQLite store: each
declared rule fires once per episode, after its duration, with a reason and evidence, and clears."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vigil.app import build_app
from vigil.config import parse_config
from vigil.detect.sli import fraction_under
from vigil.model import Sample, SeriesKey
from vigil.sources import Collection
from vigil.stages.rules import RulesStage
from vigil.testing import FakeClock, InlineWriter

T0 = 1_700_000_000.0
STEP = 10.0
HEAD = """
store: {{url: "{url}"}}
services:
  - name: shop
    detect: {{enabled: false}}
    rules:
"""

Script = Callable[[int], dict[str, float | None]]


class ScriptedCollector:
    """A metric source whose run i yields script(i): {series selector: value (None: not sent)}."""

    kind, name, service, interval, timeout = "scrape", "scrape", "shop", STEP, 2.0

    def __init__(self, script: Script) -> None:
        self.script, self.times = script, []  # type: list[float]

    async def collect(self, now: float) -> Collection:
        i = len(self.times)
        self.times.append(now)
        samples = [Sample(SeriesKey.of("up", {"service": "shop"}), now, 1.0)]
        for selector, value in self.script(i).items():
            if value is not None:
                key = SeriesKey.parse(selector)
                samples.append(Sample(SeriesKey.of(key.name, {**key.label_map, "service": "shop"}), now, value))
        return Collection("shop", "scrape", now, samples=samples)


def config_text(url: str, rules: str) -> str:
    return HEAD.format(url=url) + "\n".join("      " + line for line in rules.strip().splitlines())


async def run_on(url: str, rules: str, script: Script, runs: int, start: float = T0
                 ) -> tuple[Any, ScriptedCollector]:
    """An engine on the store at `url` from `start`, `runs` collections, then stopped (store open)."""
    cfg = parse_config(config_text(url, rules), env={})
    clock = FakeClock(start)
    collector = ScriptedCollector(script)
    _, engine = build_app(cfg, clock=clock, collectors=[collector], writer=InlineWriter(), worker=InlineWriter())
    await engine.start()
    for _ in range(runs):
        await clock.advance(STEP)
    await clock.advance(1)
    await engine.stop()
    return engine, collector


async def run(tmp_path: Path, rules: str, script: Script, runs: int) -> tuple[Any, ScriptedCollector]:
    return await run_on(f"sqlite:///{tmp_path / 'v.db'}", rules, script, runs)


def signals(engine: Any, kind: str) -> list[Any]:
    found = engine.store.signals(service="shop", kind=kind)
    return sorted(found, key=lambda s: s.ts)


def cleared(engine: Any) -> list[Any]:
    """Each episode's end, as the event log shows it: its alert resolved."""
    return [e for e in engine.store.events(service="shop", kind="alert") if e.data["status"] == "resolved"]


async def test_threshold_fires_after_for_and_clears_only_past_clear(tmp_path: Path) -> None:
    # run index -> latency: a 30 s burst (shorter than for: 1m), then a long one with a dip to 180
    # (between clear 150 and above 200: still the same episode), a drop to 100 (clears), another burst.
    def latency(i: int) -> float:
        if 10 <= i < 13 or 20 <= i < 30 or 32 <= i < 35 or i >= 40:
            return 300.0
        if 30 <= i < 32:
            return 180.0
        return 100.0

    rules = """
- kind: threshold
  name: p99-slow
  series: 'latency_ms{quantile="0.99"}'
  above: 200
  for: 1m
  clear: 150
  severity: critical
"""
    engine, c = await run(tmp_path, rules, lambda i: {'latency_ms{quantile="0.99"}': latency(i)}, 50)
    found = signals(engine, "threshold")
    events = cleared(engine)
    from vigil.explain import explain

    shown = await explain(engine.config, engine.store, "shop", T0, T0 + 1000)
    engine.store.close()
    assert [s.source for s in shown.signals] == ["rule:p99-slow"] * 2  # vigil explain shows them
    assert [s.ts for s in found] == [c.times[26], c.times[46]]  # 60 s after 20 and 40; not after the 30 s burst
    first = found[0]
    assert first.severity.value == "critical" and first.source == "rule:p99-slow"
    assert "p99-slow" in first.reason and "above 200" in first.reason
    assert first.evidence["value"] == 300.0 and first.evidence["clear"] == 150.0
    assert first.window_start == c.times[20]
    assert [e.ts for e in events] == [c.times[35]]  # 180 did not clear it; 100 did
    assert events[0].message.startswith("RESOLVED [critical] p99-slow: ") and "is back past 150" in events[0].message


async def test_absence_fires_once_after_for_and_clears_when_data_returns(tmp_path: Path) -> None:
    rules = """
- kind: absence
  series: orders_total:rate
  for: 1m
"""
    engine, c = await run(tmp_path, rules, lambda i: {"orders_total:rate": None if 10 <= i < 30 else 5.0}, 40)
    found = signals(engine, "absence")
    events = cleared(engine)
    engine.store.close()
    assert len(found) == 1
    last_seen = c.times[9]
    assert last_seen + 60 <= found[0].ts <= last_seen + 60 + 30 + STEP  # evaluated every 30 s
    assert "no data for" in found[0].reason and found[0].evidence["last_seen"] == last_seen
    assert len(events) == 1 and c.times[30] <= events[0].ts <= c.times[30] + 30 + STEP


def slo_rules(burn_rates: str) -> str:
    return f"""
- kind: slo
  name: checkout
  objective: 99
  good: 'requests:rate{{code="ok"}}'
  total: requests:rate
  burn_rates: {burn_rates}
"""


BURNS = ("[{long: 10m, short: 2m, factor: 14.4, severity: critical}, "
         "{long: 30m, short: 5m, factor: 1, severity: warning}]")


def requests(error_ratio: Callable[[int], float]) -> Script:
    # `requests:rate` is summed over its series: ok + error make the total, as with a `code` label
    def script(i: int) -> dict[str, float | None]:
        bad = 100.0 * error_ratio(i)
        return {'requests:rate{code="ok"}': 100.0 - bad, 'requests:rate{code="error"}': bad}
    return script


async def test_slo_error_burst_pages_with_burn_rates_in_evidence(tmp_path: Path) -> None:
    engine, c = await run(tmp_path, slo_rules(BURNS), requests(lambda i: 0.5 if 60 <= i < 90 else 0.0), 100)
    found = signals(engine, "slo_burn")
    engine.store.close()
    pages = [s for s in found if s.severity.value == "critical"]
    assert len(pages) == 1, [s.reason for s in found]
    page = pages[0]
    assert c.times[60] < page.ts <= c.times[60] + 3 * 60  # within a few minutes of the burst
    assert page.series == "slo:checkout" and page.reason.startswith("slo:checkout: page:")
    assert page.evidence["action"] == "page" and page.evidence["objective_pct"] == 99
    fast = page.evidence["burn_rates"][0]
    assert fast["factor"] == 14.4 and fast["long_burn"] > 14.4 and fast["short_burn"] > 14.4
    assert fast["long"] == "10m" and fast["short"] == "2m"


async def test_slo_slow_small_burn_tickets_but_does_not_page(tmp_path: Path) -> None:
    engine, _ = await run(tmp_path, slo_rules(BURNS), requests(lambda i: 0.03), 100)  # 3x burn
    found = signals(engine, "slo_burn")
    engine.store.close()
    assert [s.severity.value for s in found] == ["warning"]
    assert found[0].reason.startswith("slo:checkout: ticket:")
    assert 2.5 < found[0].evidence["burn_rates"][1]["long_burn"] < 3.5


async def test_slo_from_probe_success(tmp_path: Path) -> None:
    rules = """
- kind: slo
  name: up
  objective: 99
  probe: health
  burn_rates: [{long: 10m, short: 2m, factor: 14.4}]
"""
    def script(i: int) -> dict[str, float]:
        return {'probe_success{probe="health"}': 0.0 if i >= 30 and i % 2 else 1.0}
    engine, _ = await run(tmp_path, rules, script, 60)
    found = signals(engine, "slo_burn")
    engine.store.close()
    assert len(found) == 1 and found[0].evidence["action"] == "page"


async def test_latency_slo_from_histogram_quantiles(tmp_path: Path) -> None:
    rules = """
- kind: slo
  name: fast
  objective: 99
  latency: {series: latency_ms, under: 300}
  burn_rates: [{long: 10m, short: 2m, factor: 14.4}]
"""

    def script(i: int) -> dict[str, float | None]:
        slow = i >= 40  # the median itself goes past 300 ms: about half the requests are slow
        return {'latency_ms{quantile="0.5"}': 320.0 if slow else 100.0,
                'latency_ms{quantile="0.9"}': 400.0 if slow else 150.0,
                'latency_ms{quantile="0.99"}': 600.0 if slow else 250.0,
                "latency_ms_count:rate": 50.0}
    engine, c = await run(tmp_path, rules, script, 70)
    found = signals(engine, "slo_burn")
    engine.store.close()
    assert len(found) == 1 and found[0].ts > c.times[40]


def test_fraction_under_reads_the_quantile_curve() -> None:
    levels = np.array([0.5, 0.9, 0.99])
    assert fraction_under(levels, np.array([100.0, 150.0, 250.0]), 300) == 1.0
    assert fraction_under(levels, np.array([100.0, 200.0, 400.0]), 300) == pytest.approx(0.945)
    assert fraction_under(levels, np.array([200.0, 300.0, 500.0]), 100) == pytest.approx(0.25)
    assert np.isnan(fraction_under(levels, np.full(3, np.nan), 100))


async def test_leak_reports_growth_per_hour_and_time_to_limit(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    noise = rng.normal(0, 2e4, 400)
    rules = """
- kind: leak
  series: process_resident_memory_bytes
  min_growth_pct_per_hour: 2
  window: 30m
  limit: 2e8
"""
    # +5 MB/h on 100 MB: 5 %/h
    def script(i: int) -> dict[str, float]:
        return {"process_resident_memory_bytes": 1e8 + 5e6 * i * STEP / 3600 + noise[i]}
    engine, c = await run(tmp_path, rules, script, 150)
    found = signals(engine, "leak")
    engine.store.close()
    assert len(found) == 1
    leak = found[0]
    assert leak.ts >= c.times[0] + 15 * 60  # half the window of data at least
    assert 4.0 < leak.evidence["growth_pct_per_h"] < 6.0
    assert 15 * 3600 < leak.evidence["eta_s"] < 25 * 3600
    assert "%/h" in leak.reason and "reaches the limit" in leak.reason


async def test_steady_memory_is_not_a_leak(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    noise = rng.normal(0, 1e6, 400)
    rules = "- {kind: leak, series: process_resident_memory_bytes, window: 30m}"
    engine, _ = await run(tmp_path, rules, lambda i: {"process_resident_memory_bytes": 1e8 + noise[i]}, 150)
    assert signals(engine, "leak") == []
    engine.store.close()


async def test_drift_between_reference_and_current_window(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    values = np.concatenate([rng.normal(100, 3, 90), rng.normal(130, 3, 60)])
    rules = """
- kind: drift
  series: basket_size
  reference: 10m
  current: 5m
  ks_p_value: 0.01
  psi: 0.2
  min_points: 20
"""
    engine, c = await run(tmp_path, rules, lambda i: {"basket_size": float(values[i])}, 150)
    found = signals(engine, "drift")
    engine.store.close()
    assert len(found) == 1
    assert c.times[90] < found[0].ts < c.times[90] + 5 * 60
    assert found[0].evidence["psi"] > 0.2 and found[0].evidence["ks_p"] < 0.01
    assert "median" in found[0].reason


async def test_will_cross_projects_the_linear_trend(tmp_path: Path) -> None:
    rules = """
- kind: will_cross
  series: disk_used_bytes
  limit: 1000
  within: 30m
  window: 5m
"""
    # 0.5 per second from 0: the trend says 1000 is under 30 min away from t = 200 s on
    engine, c = await run(tmp_path, rules, lambda i: {"disk_used_bytes": 0.5 * i * STEP}, 40)
    found = signals(engine, "trend")
    engine.store.close()
    assert len(found) == 1
    assert c.times[20] <= found[0].ts <= c.times[20] + 30 + STEP
    assert found[0].evidence["eta_s"] <= 1800 and found[0].evidence["limit"] == 1000


async def test_rate_of_change(tmp_path: Path) -> None:
    rules = """
- kind: rate_of_change
  series: queue_depth
  max_per_minute: 60
  window: 2m
"""
    # flat, then +50 every 10 s (5/s, limit 1/s) for 2 minutes, then flat again
    def depth(i: int) -> float:
        return 10.0 + 50.0 * min(max(i - 30, 0), 12)
    engine, c = await run(tmp_path, rules, lambda i: {"queue_depth": depth(i)}, 70)
    found = signals(engine, "rate_of_change")
    events = cleared(engine)
    engine.store.close()
    assert len(found) == 1 and c.times[30] < found[0].ts < c.times[42]
    assert found[0].evidence["rate_per_s"] > 1.0 and "/min" in found[0].reason
    assert len(events) == 1


async def test_stage_is_registered_after_detection(tmp_path: Path) -> None:
    cfg = parse_config(config_text(f"sqlite:///{tmp_path / 'v.db'}", "- {kind: absence, series: x}"), env={})
    _, engine = build_app(cfg, clock=FakeClock(T0), collectors=[])
    names = [s.name for s in engine.loop]
    engine.store.close()
    assert names.index("rules") == names.index("detect") + 1 and names[-1] == "record"
    assert isinstance(engine.stages.rules, RulesStage)


async def test_absence_of_a_series_never_received_and_a_below_threshold(tmp_path: Path) -> None:
    rules = """
- {kind: absence, series: 'heartbeat{job="nightly"}', for: 2m}
- {kind: threshold, series: free_connections, below: 5, clear: 10}
"""
    pool = [20.0] * 5 + [3.0] * 3 + [7.0] * 3 + [12.0] * 3 + [2.0] * 3
    engine, c = await run(tmp_path, rules, lambda i: {"free_connections": pool[min(i, len(pool) - 1)]}, 20)
    absent, low = signals(engine, "absence"), signals(engine, "threshold")
    engine.store.close()
    assert len(absent) == 1 and "never received" in absent[0].reason
    assert T0 + 120 <= absent[0].ts <= T0 + 120 + 30 + STEP
    assert [s.ts for s in low] == [c.times[5], c.times[14]]  # 7 is not past clear 10; 12 is
    assert "below 5" in low[0].reason


async def test_window_rules_are_judged_on_their_own_cadence(tmp_path: Path) -> None:
    rules = "- {kind: absence, series: orders_total:rate, evaluate_every: 2m}"
    engine, _ = await run(tmp_path, rules, lambda i: {"orders_total:rate": 1.0}, 30)
    stage = engine.stages.rules
    engine.store.close()
    assert stage.evaluations == 3  # 300 s of data: at the first pass, then 2 and 4 minutes later


RATIO_RULE = """
- kind: threshold
  name: error-share
  series: 'http_request_errors_total:rate'
  per: 'http_requests_total:rate'
  above: 0.05
  for: 20s
  clear: 0.01
  severity: critical
"""


def shares(errors: Callable[[int], float], requests: Callable[[int], float]) -> Script:
    """Two routes, each with an error rate and a request rate: the rule sums each selector's series."""
    return lambda i: {f'{name}{{route="{r}"}}': f(i) for r in ("/a", "/b")
                      for name, f in (("http_request_errors_total:rate", errors), ("http_requests_total:rate",
                                                                                  requests))}


async def test_threshold_per_fires_on_the_ratio_clears_with_hysteresis_and_skips_no_denominator(
        tmp_path: Path) -> None:
    # per route: run index -> errors/s (requests 10/s, so the share is errors / 10)
    errors = {5: 1.0, 6: 1.0, 7: 1.0, 8: 0.2, 9: 0.2, 10: 0.0, 12: 2.0, 13: 2.0, 14: 2.0}
    zero = {6, 10}  # no requests at all: these points are skipped
    engine, c = await run(tmp_path, RATIO_RULE, shares(lambda i: errors.get(i, 0.0),
                                                       lambda i: 0.0 if i in zero else 10.0), 20)
    found = signals(engine, "threshold")
    events = cleared(engine)
    engine.store.close()
    # 0.1 from run 5; the skipped run 6 neither resets nor fires the `for: 20s` timer: it fires at run 7
    assert [s.ts for s in found] == [c.times[7], c.times[14]]
    first = found[0]
    assert first.source == "rule:error-share" and first.severity.value == "critical"
    assert first.series == "http_request_errors_total:rate / http_requests_total:rate"
    assert first.reason == ("error-share: http_request_errors_total:rate / http_requests_total:rate = 0.1 (10%) "
                            "above 0.05 for 20s (rule: for 20s)")
    assert first.evidence["numerator"] == 2.0 and first.evidence["denominator"] == 20.0
    assert first.window_start == c.times[5]
    # 0.02 (runs 8, 9) is below the limit but above clear: the same episode; run 10 (0 / 0) is skipped;
    # 0 / 20 at run 11 clears it (and run 15 the second episode)
    assert [e.ts for e in events] == [c.times[11], c.times[15]]
    assert "is back past 0.01" in events[0].message


async def test_threshold_per_episode_survives_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'v.db'}"
    holding = shares(lambda i: 3.0, lambda i: 10.0)
    engine, c = await run_on(url, RATIO_RULE, holding, 5)
    assert [s.ts for s in signals(engine, "threshold")] == [c.times[2]]
    engine.store.close()
    # still 30 % after the restart: the same episode, no second signal; then it ends and clears
    engine, c = await run_on(url, RATIO_RULE, shares(lambda i: 3.0 if i < 3 else 0.0, lambda i: 10.0), 5,
                             start=T0 + 60)
    found, events = signals(engine, "threshold"), cleared(engine)
    engine.store.close()
    assert len(found) == 1
    assert [e.ts for e in events] == [c.times[3]]
