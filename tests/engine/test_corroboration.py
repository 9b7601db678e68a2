"""Corroboration: an anomaly alert fires when related series agree (detect/corroboration.py).

The gate on its own (sums, windows, neighbourhoods, a firing alert nearby), then in the real engine on
a fake clock: several series of a service jumping together fire one alert each, with the evidence;
one series jumping alone is a signal and a recorded "not corroborated" decision, and no alert; series
of an unrelated service do not corroborate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vigil.app import build_app
from vigil.config import parse_config
from vigil.detect.corroboration import Corroboration
from vigil.incidents.correlate import ServiceGraph
from vigil.model import Alert, AlertStatus, Sample, SeriesKey
from vigil.sources import Collection
from vigil.testing import FakeClock, InlineWriter

GRAPH = ServiceGraph({"storefront": ["payments"], "payments": [], "search": []})


def gate(window: float = 120.0) -> Corroboration:
    return Corroboration(lambda s: GRAPH.within(s, 2), window)


def anomaly(service: str, series: str) -> Alert:
    return Alert({"alertname": "Anomaly", "service": service, "series": series}, AlertStatus.FIRING, 0.0)


def test_evidence_is_the_best_score_of_each_related_series_within_the_window() -> None:
    g = gate()
    g.add(1000, "payments", "a", 0.9)
    g.add(1030, "payments", "a", 0.5)  # the same series again: its best score counts once
    g.add(1040, "storefront", "b", 0.8)  # a caller of payments: related
    g.add(1050, "search", "c", 1.0)  # unrelated
    g.add(800, "payments", "d", 1.0)  # outside the window
    v = g.judge("payments", 1060, 1.7, 120, [])
    assert v.corroborated and v.evidence == pytest.approx(1.7) and v.series == ("a", "b")
    assert not g.judge("payments", 1060, 1.8, 120, []).corroborated
    assert not g.judge("search", 1060, 1.5, 120, []).corroborated  # search sees only its own 1.0


def test_an_alert_firing_on_a_related_service_corroborates_at_once() -> None:
    g = gate()
    probe = Alert({"alertname": "ProbeFailing", "service": "storefront"}, AlertStatus.FIRING, 0.0)
    v = g.judge("payments", 1000, 3.5, 120, [probe])
    assert v.corroborated and v.by_alert == "ProbeFailing on storefront"
    assert not g.judge("search", 1000, 3.5, 120, [probe]).corroborated


def test_release_takes_the_held_alerts_of_the_neighbourhood_and_lapse_the_stale_ones() -> None:
    g = gate()
    for svc, series, ts in [("payments", "a", 1000), ("storefront", "b", 1010), ("search", "c", 1020),
                            ("payments", "old", 700)]:
        g.hold(series, svc, anomaly(svc, series), ts, 120)
    lapsed = g.lapse(1030)
    assert [p.series for p in lapsed] == ["old"]
    released = g.release("payments")
    assert [p.series for p in released] == ["a", "b"]  # oldest first; search is not a neighbour
    assert list(g.pending) == ["c"]
    assert [p.series for p in g.lapse(1200)] == ["c"]


# ---------------------------------------------------------------------------------- in the engine

T0 = 1_700_000_000.0
CFG = """
store: {{url: "sqlite:///{db}"}}
services:
  - name: storefront
    depends_on: [payments]
  - name: payments
  - name: search
  - name: solo
"""


class Fleet:
    """Scripted series, one value per 10 s run: `jumps[(service, series)]` is the run at which that
    series jumps from ~100 to 900 for five points."""

    kind, name, service, interval, timeout = "scrape", "scrape", "payments", 10.0, 2.0

    def __init__(self, series: list[tuple[str, str]], jumps: dict[tuple[str, str], int]) -> None:
        self.keys = {sv: SeriesKey.of(sv[1], {"service": sv[0]}) for sv in series}
        self.jumps, self.run = jumps, 0
        self.rng = np.random.default_rng(7)

    async def collect(self, now: float) -> Collection:
        out = []
        for sv, key in self.keys.items():
            at = self.jumps.get(sv)
            high = at is not None and at <= self.run < at + 5
            out.append(Sample(key, now, 900.0 if high else 100 + self.rng.normal(0, 3)))
        self.run += 1
        return Collection("payments", "scrape", now, samples=out)


# 12 series a service, so the default evidence (5.5) is below half of any neighbourhood's; solo has two
SERIES = [(svc, f"s{i}_ms") for svc in ("payments", "storefront", "search") for i in range(12)] + \
    [("solo", "s0_ms"), ("solo", "s1_ms")]


async def run(db: Path, jumps: dict[tuple[str, str], int], runs: int = 260) -> Any:
    cfg = parse_config(CFG.format(db=db), env={})
    clock = FakeClock(T0)
    _, engine = build_app(cfg, clock=clock, collectors=[Fleet(SERIES, jumps)], writer=InlineWriter(),
                          worker=InlineWriter())
    await engine.start()
    await clock.advance(10 * runs)
    await engine.stop()
    return engine.store


def fired(store: Any) -> list[Alert]:
    return [a for a in store.alerts(status=None) if a.name == "Anomaly"]


async def test_series_of_one_service_jumping_together_fire_with_their_evidence(tmp_path: Path) -> None:
    store = await run(tmp_path / "v.db", {("payments", f"s{i}_ms"): 200 for i in range(7)})
    alerts, signals = fired(store), store.signals(service="payments")
    decisions = [d for d in store.decisions(kind="anomaly_alert")]
    store.close()
    assert len(signals) == 7
    assert sorted(a.labels["series"] for a in alerts) == sorted(s.series for s in signals)
    # the series whose signals reach the evidence fire together; the rest join them (an alert nearby)
    why = [a.annotations["corroboration"] for a in alerts]
    by_sum = [w for w in why if w.startswith("corroborated: detector scores summing to")]
    assert by_sum and all(w == "corroborated by Anomaly on payments firing nearby" for w in why if w not in by_sum)
    assert {d.rule for d in decisions} == {"corroborated"} and len(decisions) == 7
    assert all(d.inputs["evidence"] >= 5.5 and len(d.inputs["series"]) >= 6
               for d in decisions if not d.inputs["firing_nearby"])


async def test_one_series_jumping_alone_is_a_signal_and_no_alert(tmp_path: Path) -> None:
    store = await run(tmp_path / "v.db", {("payments", "s3_ms"): 200})
    alerts, signals = fired(store), store.signals(service="payments")
    decisions = store.decisions(kind="anomaly_alert")
    store.close()
    assert len(signals) == 1 and alerts == []
    [d] = decisions
    assert d.rule == "not_corroborated" and d.subject == signals[0].series and d.result == {"fired": False}


async def test_neighbours_corroborate_and_strangers_do_not(tmp_path: Path) -> None:
    own = {("payments", f"s{i}_ms"): 200 for i in range(4)}
    callers = {("storefront", f"s{i}_ms"): 201 for i in range(3)}
    store = await run(tmp_path / "a.db", {**own, **callers})
    near = fired(store)
    store.close()
    assert {a.service for a in near} == {"payments", "storefront"} and len(near) == 7
    strangers = {("search", f"s{i}_ms"): 201 for i in range(3)}
    store = await run(tmp_path / "b.db", {**own, **strangers})
    far = fired(store)
    store.close()
    assert far == []  # neither group reaches the evidence on its own


async def test_a_service_with_few_series_is_asked_at_most_half_of_them(tmp_path: Path) -> None:
    store = await run(tmp_path / "v.db", {("solo", "s0_ms"): 200, ("solo", "s1_ms"): 200})
    alerts = fired(store)
    decisions = store.decisions(kind="anomaly_alert")
    store.close()
    assert sorted(a.labels["series"] for a in alerts) == ['s0_ms{service="solo"}', 's1_ms{service="solo"}']
    assert {d.rule for d in decisions} == {"corroborated"}
