"""`vigil explain --replay` re-runs the service's rules over stored samples as a dry run: which rules
would have fired, when and why, and when their episodes would have ended; nothing is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.engine.test_rules_stage import config_text
from vigil.config import parse_config
from vigil.explain import explain
from vigil.model import Sample, SeriesKey
from vigil.stages.rule_state import state_key
from vigil.store import open_store

T0 = 1_700_000_000.0
RULES = """
- {kind: threshold, name: p99-slow, series: 'latency_ms{quantile="0.99"}', above: 200, for: 1m, clear: 150}
- {kind: absence, series: orders_total:rate, for: 2m}
"""
LATENCY = SeriesKey.of("latency_ms", {"quantile": "0.99", "service": "shop"})
ORDERS = SeriesKey.of("orders_total:rate", {"service": "shop"})


def latency(i: int) -> float:
    return 300.0 if 30 <= i < 60 else 100.0  # above 200 from t = 300 s to 600 s


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Any, Any, Path]:
    """10 s samples over 20 minutes: latency crosses 200 for 5 minutes; orders stop at t = 900 s."""
    url = f"sqlite:///{tmp_path / 'v.db'}"
    store = open_store(url)
    samples = [Sample(LATENCY, T0 + 10 * i, latency(i)) for i in range(120)]
    samples += [Sample(ORDERS, T0 + 10 * i, 5.0) for i in range(90)]
    store.write_samples(samples)
    cfg_file = tmp_path / "vigil.yaml"
    cfg_file.write_text(config_text(url, RULES))
    yield parse_config(cfg_file.read_text(), env={}), store, cfg_file
    store.close()


async def test_replay_shows_when_and_why_rules_would_fire(stored: tuple[Any, Any, Path]) -> None:
    cfg, store, _ = stored
    ex = await explain(cfg, store, "shop", T0, T0 + 1200, replay=True)
    assert ex.signals == [] and ex.rules_replayed == 2  # nothing was recorded: only the replay speaks
    assert ex.rule_signals is not None and ex.rule_clears is not None
    by_source = {s.source: s for s in ex.rule_signals}
    assert sorted(by_source) == ["rule:absence:orders_total:rate", "rule:p99-slow"]
    slow = by_source["rule:p99-slow"]
    assert slow.ts == T0 + 360 and slow.window_start == T0 + 300  # above since 300 s, for 1 minute
    assert "above 200" in slow.reason
    gone = by_source["rule:absence:orders_total:rate"]
    assert T0 + 890 + 120 <= gone.ts <= T0 + 890 + 120 + 30  # judged every 30 s
    assert gone.evidence["last_seen"] == T0 + 890  # as of that moment, not the end of the data
    assert [a.ends_at for a in ex.rule_clears] == [T0 + 600]  # back to 100: past clear 150
    assert store.signals() == [] and store.load_state(state_key("shop")) is None  # a dry run


async def test_replay_of_a_range_before_the_crossing_fires_nothing(stored: tuple[Any, Any, Path]) -> None:
    cfg, store, _ = stored
    ex = await explain(cfg, store, "shop", T0, T0 + 290, replay=True)
    assert ex.rule_signals == [] and ex.rule_clears == []


def test_explain_command_lists_the_rules_that_would_fire(stored: tuple[Any, Any, Path]) -> None:
    from typer.testing import CliRunner

    from vigil.cli import app

    _, _, cfg_file = stored
    result = CliRunner().invoke(app, ["explain", "shop", "-c", str(cfg_file), "--since", str(T0),
                                      "--until", str(T0 + 1200), "--replay"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "rules replay (dry run): 2 rules of shop" in out
    assert "would fire rule:p99-slow (threshold, warning)" in out and "above 200" in out
    assert "would fire rule:absence:orders_total:rate (absence, warning)" in out
    assert "would clear: shop: p99-slow" in out


def test_explain_command_says_why_a_scale_decision_was_taken(stored: tuple[Any, Any, Path]) -> None:
    from typer.testing import CliRunner

    from vigil.cli import app
    from vigil.model import Decision

    _, store, cfg_file = stored
    store.write_decisions([Decision(
        ts=T0 + 100, kind="scale", subject="shop", rule="ForecastFloor",
        inputs={"current_replicas": 3, "predictive": "backtest MASE 0.612 < 1",
                "rough_demand": "roughness 1.57 >= 1.25: burst headroom 3.2, scale-down window 900s"},
        result={"replicas": 5, "act": True})])
    result = CliRunner().invoke(app, ["explain", "shop", "-c", str(cfg_file), "--since", str(T0),
                                      "--until", str(T0 + 1200)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "3 -> 5 replicas" in out and "backtest MASE 0.612 < 1" in out
    assert "scale-down window 900s" in out
