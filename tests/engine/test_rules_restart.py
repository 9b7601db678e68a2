"""Rule state across restarts, as engine timelines on a fake clock: the engine stops and a new one
starts on the same store (SQLite file, and PostgreSQL). A condition that still holds does not fire
again, an episode that ended while vigil was down is resolved at the first evaluation, and a `for:`
timer goes on from its original start."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest

from tests.engine.test_rules_stage import STEP, T0, Script, cleared, run_on, signals
from tests.store.conftest import pg_url, store_url  # noqa: F401  (fixtures: SQLite and PostgreSQL)
from vigil.stages import rule_state
from vigil.stages.rule_state import RuleState
from vigil.store import open_store

SLOW = """
- kind: threshold
  name: p99-slow
  series: 'latency_ms{quantile="0.99"}'
  above: 200
  for: 5m
"""
LATENCY = 'latency_ms{quantile="0.99"}'


def latency(values: Any) -> Script:
    return lambda i: {LATENCY: values(i)}


async def restart(url: str, rules: str, script: Script, runs: int, after: Any, gap: float = 30.0
                  ) -> tuple[Any, Any]:
    """Close the previous engine's store, then run a new engine `gap` seconds after it stopped."""
    after.store.close()
    return await run_on(url, rules, script, runs, start=after.clock.now() + gap)


async def test_for_timer_and_open_episode_survive_restarts(store_url: str) -> None:  # noqa: F811
    # pending since run 5 (for: 5m) when the first engine stops at run 20
    e1, c1 = await run_on(store_url, SLOW, latency(lambda i: 300.0 if i >= 5 else 100.0), 20)
    assert signals(e1, "threshold") == []
    e2, c2 = await restart(store_url, SLOW, latency(lambda i: 300.0), 30, e1)
    fired = signals(e2, "threshold")
    e3, c3 = await restart(store_url, SLOW, latency(lambda i: 300.0 if i < 5 else 100.0), 10, e2)
    final, events = signals(e3, "threshold"), cleared(e3)
    e3.store.close()
    since = c1.times[5]
    due = next(t for t in c2.times if t - since >= 300)
    assert [s.ts for s in fired] == [due] and due < c2.times[0] + 300  # not a fresh 5 minutes
    assert fired[0].window_start == since
    assert len(final) == 1  # still above after the second restart: the same episode, no new signal
    assert [e.ts for e in events] == [c3.times[5]]  # and it clears once, when the value drops


async def test_a_timer_does_not_span_a_long_outage(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'v.db'}"
    e1, c1 = await run_on(url, SLOW, latency(lambda i: 300.0 if i >= 5 else 100.0), 20)
    e2, c2 = await restart(url, SLOW, latency(lambda i: 300.0), 35, e1, gap=600.0)  # no data for 10 min
    fired = signals(e2, "threshold")
    e2.store.close()
    assert [s.window_start for s in fired] == [c2.times[0]]
    assert fired[0].ts == c2.times[30]  # a fresh 5 minutes from the first sample after the restart


BOTH = """
- {kind: threshold, series: 'latency_ms{quantile="0.99"}', above: 200}
- {kind: absence, series: orders_total:rate, for: 1m}
"""


def shop(slow: bool, orders_until: float) -> Script:
    return lambda i: {LATENCY: 300.0 if slow else 100.0, "orders_total:rate": 5.0 if i < orders_until else None}


async def test_episodes_end_while_down_are_resolved_and_holding_ones_do_not_fire_again(
        store_url: str) -> None:  # noqa: F811
    e1, _ = await run_on(store_url, BOTH, shop(slow=True, orders_until=3), 15)
    before = {k: len(signals(e1, k)) for k in ("threshold", "absence")}
    # latency recovered while vigil was down; orders are still missing
    e2, c2 = await restart(store_url, BOTH, shop(slow=False, orders_until=0), 10, e1)
    after_2 = {k: len(signals(e2, k)) for k in ("threshold", "absence")}
    events_2 = cleared(e2)
    # orders are back while vigil was down again
    e3, c3 = await restart(store_url, BOTH, shop(slow=False, orders_until=float("inf")), 3, e2)
    after_3 = {k: len(signals(e3, k)) for k in ("threshold", "absence")}
    events_3 = cleared(e3)[len(events_2):]
    e3.store.close()
    assert before == {"threshold": 1, "absence": 1}
    assert after_2 == before == after_3  # no signal fired twice
    assert [e.ts for e in events_2] == [c2.times[0]]  # the threshold episode, at its first sample
    assert "threshold" in events_2[0].message
    assert len(events_3) == 1 and "absence" in events_3[0].message
    assert events_3[0].ts <= c3.times[0] + STEP  # at the first evaluation after the restart


async def test_a_renamed_rule_starts_afresh(tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    url = f"sqlite:///{tmp_path / 'v.db'}"
    e1, _ = await run_on(url, SLOW, latency(lambda i: 300.0), 35)
    caplog.set_level(logging.INFO, "vigil.rules")
    renamed = SLOW.replace("p99-slow", "p99-slower")
    e2, c2 = await restart(url, renamed, latency(lambda i: 300.0), 35, e1)
    found = signals(e2, "threshold")
    e2.store.close()
    assert "no longer configured" in caplog.text and "p99-slow@" in caplog.text
    assert [s.source for s in found] == ["rule:p99-slow", "rule:p99-slower"]
    assert found[1].window_start == c2.times[0]  # its timer started with the new engine


@pytest.mark.parametrize("blob, said", [
    (orjson.dumps({"version": 0, "open": [["shop", 0, "x"]]}), "format version 0"),
    (b"\x00not json", "could not be read"),
    (orjson.dumps({"version": 1, "rules": {"x": {"episodes": 3}}}), "could not be read"),
    (orjson.dumps({"version": 1, "saved_at": T0, "rules": {"x": {"timers": {}, "episodes": {
        "s": {"ts": T0, "series": "s", "kind": "threshold", "source": "rule:x", "severity": "loud"}}}}}),
     "could not be read"),
])
async def test_an_unreadable_or_older_state_is_ignored(tmp_path: Any, caplog: pytest.LogCaptureFixture,
                                                       blob: bytes, said: str) -> None:
    url = f"sqlite:///{tmp_path / 'v.db'}"
    store = open_store(url)
    store.save_state(rule_state.state_key("shop"), blob)
    store.close()
    e, c = await run_on(url, SLOW, latency(lambda i: 300.0), 35)
    found = signals(e, "threshold")
    saved = e.store.load_state(rule_state.state_key("shop"))
    e.store.close()
    assert said in caplog.text
    assert [s.ts for s in found] == [c.times[30]]  # the rules work, from scratch
    assert orjson.loads(saved)["version"] == rule_state.VERSION  # and the blob was rewritten


def test_saved_state_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rule_state, "MAX_ENTRIES", 3)
    rule = RuleState(
        episodes={f"s{i}": {"ts": T0 + i, "series": f"s{i}", "kind": "threshold", "source": "rule:x",
                            "severity": "warning"} for i in range(5)},
        timers={f"t{i}": (T0 + i, T0 + 10) for i in range(5)})
    saved_at, back = rule_state.decode("shop", rule_state.encode("shop", T0, {"r@1": rule}))
    assert saved_at == T0
    assert sorted(back["r@1"].episodes) == ["s2", "s3", "s4"]  # the newest
    assert sorted(back["r@1"].timers) == ["t2", "t3", "t4"]
    assert back["r@1"].timers["t4"] == (T0 + 4, T0 + 10)
