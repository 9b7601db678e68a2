"""The root-cause ranker on small synthetic incidents: a root cause whose callers degrade after it, the
same without a graph, and a flat series that jumps (which a plain z-score puts first) that must not
dominate; the graph walk on its own; evidence read from a real SQLite store stops where it should."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vigil.incidents.evidence import Evidence, Reads, SeriesWindow, read_evidence, scope
from vigil.incidents.graph import walk
from vigil.incidents.rootcause import (
    FakeRootCause,
    IncidentView,
    RankSettings,
    RootCause,
    ShiftRanker,
    anomalies,
    series_shifts,
)
from vigil.incidents.shift import rarity_of
from vigil.model import SeriesKey
from vigil.store import open_store

START = 1_700_000_000.0
STEP = 60.0


def window(service: str, metric: str, values: np.ndarray, start_index: int) -> SeriesWindow:
    ts = START + STEP * (np.arange(len(values)) - start_index) + 10  # samples 10 s after each minute
    key = SeriesKey.of(metric, {"service": service})
    return SeriesWindow(key, ts[:start_index], values[:start_index], ts[start_index:], values[start_index:])


def series(rng: np.random.Generator, level: float, n: int = 130, rel: float = 0.05) -> np.ndarray:
    return level * (1 + rel * rng.standard_normal(n))


def shifted(values: np.ndarray, at: int, delta: float) -> np.ndarray:
    out = values.copy()
    out[at:] += delta
    return out


def stepped(values: np.ndarray, at: int, factor: float) -> np.ndarray:
    out = values.copy()
    out[at:] *= factor
    return out


def cascade(rng: np.random.Generator, graph: bool) -> Evidence:
    """db fails at the start (latency x8, cpu x3); cart, which calls it, gets slow a minute later; the
    front door, which calls cart, a minute after that. 120 samples of history, 10 after."""
    at = 120
    windows = {
        "db": [window("db", "latency", stepped(series(rng, 0.1), at, 8), at),
               window("db", "cpu", stepped(series(rng, 20), at, 3), at),
               window("db", "requests", series(rng, 100), at)],
        "cart": [window("cart", "latency", stepped(series(rng, 0.1), at + 1, 4), at),
                 window("cart", "cpu", series(rng, 20), at),
                 window("cart", "requests", series(rng, 100), at)],
        "front": [window("front", "latency", stepped(series(rng, 0.1), at + 2, 3), at),
                  window("front", "cpu", series(rng, 20), at),
                  window("front", "errors", stepped(series(rng, 5), at + 2, 3), at)],
        "mail": [window("mail", "cpu", series(rng, 10), at), window("mail", "latency", series(rng, 0.3), at)],
    }
    depends = {"front": ["cart", "mail"], "cart": ["db"]} if graph else {}
    return Evidence(START, windows, depends)


def view(evidence: Evidence) -> IncidentView:
    return IncidentView(tuple(evidence.services), START)


def test_a_root_cause_whose_callers_degrade_after_it_ranks_first_and_says_why() -> None:
    evidence = cascade(np.random.default_rng(3), graph=True)
    suspects = ShiftRanker().rank(view(evidence), evidence)
    assert suspects[0].service == "db" and {s.service for s in suspects[1:3]} == {"cart", "front"}
    top = suspects[0]
    assert top.anomalous_callers == ("cart",) and top.anomalous_callees == ()
    assert 'latency{service="db"}' in top.why and 'cpu{service="db"}' in top.why
    assert "first at +10 s" in top.why  # the first sample after the start, 10 s past the minute
    assert "a level new to that history" in top.why  # an 8-fold latency: never seen in its history
    assert "Anomalous callers it would explain: cart" in top.why
    assert "2 of its 3 series moved clearly" in top.why
    assert {s.series for s in top.shifts[:2]} == {'latency{service="db"}', 'cpu{service="db"}'}
    latency = next(s for s in top.shifts if s.series.startswith("latency"))
    assert 7 < latency.after / latency.before < 9  # went from ~0.1 to ~0.8
    cart = next(s for s in suspects if s.service == "cart")
    assert cart.anomalous_callees == ("db",) and "which may explain it instead" in cart.why


def test_without_a_graph_the_service_with_most_series_moved_ranks_first() -> None:
    evidence = cascade(np.random.default_rng(4), graph=False)
    suspects = ShiftRanker().rank(view(evidence), evidence)
    assert suspects[0].service == "db"
    assert "dependency graph" not in suspects[0].why and "callers" not in suspects[0].why


def test_a_flat_series_that_jumps_does_not_dominate() -> None:
    """`idle`'s client latency sat at its floor for two hours, then jumped 6000x on one series; the
    cause moved three series clearly, by tens of their own spreads. A plain z-score puts idle first."""
    rng = np.random.default_rng(5)
    at = 120
    flat = np.full(130, 0.0046)
    flat[[30, 77]] = 0.0049
    flat[at:at + 3] = 28.0
    evidence = Evidence(START, {
        "idle": [window("idle", "client_latency", flat, at), window("idle", "cpu", series(rng, 5), at)],
        "payments": [window("payments", m, stepped(series(rng, lvl), at, f), at)
                     for m, lvl, f in (("cpu", 30, 3.0), ("memory", 500, 1.5), ("latency", 0.2, 3.0))],
        "reports": [window("reports", "cpu", series(rng, 30), at)]})
    # the README's z-score baseline: each series' shift, 30 min before vs 5 min after, in its std
    naive = {s: max(abs(np.mean(w.after[:5]) - np.mean(w.before[-30:])) / max(np.std(w.before[-30:]), 1e-12)
                    for w in ws) for s, ws in evidence.series.items()}
    assert max(naive, key=naive.get) == "idle"  # the decoy works on a plain z-score
    suspects = ShiftRanker().rank(view(evidence), evidence)
    assert [s.service for s in suspects][:2] == ["payments", "idle"]
    assert suspects[0].anomaly > 2 * suspects[1].anomaly


def test_a_series_that_moved_before_the_start_is_not_news_at_it() -> None:
    """A level that shifted 20 minutes before (an earlier incident, a splice) counts for nothing."""
    rng = np.random.default_rng(6)
    at = 120
    evidence = Evidence(START, {
        "early": [window("early", m, shifted(series(rng, 10), at - 20, 40), at) for m in ("a", "b", "c")],
        "now": [window("now", "a", stepped(series(rng, 10), at, 2), at),
                window("now", "b", series(rng, 3), at)]})
    suspects = ShiftRanker().rank(view(evidence), evidence)
    assert suspects[0].service == "now"
    assert suspects[1].anomaly < 1.0 and "0 of its 3 series moved clearly" in suspects[1].why


def test_the_walk_moves_blame_down_to_the_anomalous_callee() -> None:
    share = walk({"front": 3.0, "cart": 3.0, "db": 3.0, "mail": 0.1},
                 {"front": ["cart", "mail"], "cart": ["db"]}, back=0.5, stay="beyond")
    assert max(share, key=share.get) == "db" and share["mail"] < share["front"]
    # no graph: the walk keeps each service's own share
    alone = walk({"a": 1.0, "b": 3.0}, {})
    assert alone == pytest.approx({"a": 0.25, "b": 0.75})
    with pytest.raises(ValueError, match="stay must be"):
        walk({"a": 1.0}, {}, stay="sometimes")


def test_the_prior_lets_an_anomalous_caller_pass_blame_to_callees_that_look_normal() -> None:
    # a delay on the way to `pay`: the caller's latency moved, `pay` itself barely did
    anomaly = {"front": 4.0, "pay": 0.3, "mail": 0.0, "sli": 2.0}
    graph = {"front": ["pay", "mail"]}
    without = walk(anomaly, graph, back=0.5, prior=0.0)
    with_prior = walk(anomaly, graph, back=0.5, prior=1.0)
    assert without["mail"] == pytest.approx(0.0, abs=1e-12) and with_prior["mail"] > 0
    assert with_prior["pay"] > without["pay"] and with_prior["pay"] > with_prior["mail"]
    assert with_prior["front"] < without["front"]
    assert sum(with_prior.values()) == pytest.approx(1.0)


def test_scope_follows_the_graph_both_ways_and_is_everything_without_one() -> None:
    graph = {"front": ["cart"], "cart": ["db"], "batch": ["archive"]}
    assert scope(["cart"], graph, ["front", "cart", "db", "batch", "archive"]) == ["cart", "db", "front"]
    assert scope(["cart"], {}, ["front", "cart", "db"]) == ["cart", "db", "front"]
    # an incident holding a service that is in no edge (an SLI series): everything known is in scope
    assert scope(["sli", "cart"], graph, ["front", "cart", "db", "sli"]) == ["cart", "db", "front", "sli"]


def test_the_fake_ranks_in_its_scripted_order() -> None:
    fake: RootCause = FakeRootCause(order=["db", "ghost"])
    incident = IncidentView(("front", "db", "cart"), START)
    assert [s.service for s in fake.rank(incident, Evidence(START, {}))] == ["db", "front", "cart"]


def test_evidence_from_a_real_store_stops_a_few_samples_after_the_start(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'v.db'}")
    try:
        fast = SeriesKey.of("latency", {"service": "api"})
        slow = SeriesKey.of("requests", {"service": "api"})
        other = SeriesKey.of("cpu", {"service": "batch"})
        ts = START - 7200 + STEP * np.arange(240)  # two hours before the start to two after
        store.write_batch([fast] * 240, ts, np.arange(240.0))
        slow_ts = START - 36_000 + 300.0 * np.arange(240)  # every 5 minutes, ten hours either side
        store.write_batch([slow] * 240, slow_ts, np.arange(240.0))
        store.write_batch([other] * 240, ts, np.ones(240))
        reads = Reads(history_samples=50)
        evidence = read_evidence(store, START, ["api"], {"api": ["batch"]}, reads)
        assert evidence.services == ["api"] and evidence.depends_on == {"api": ["batch"]}
        by_name = {w.key.name: w for w in evidence.series["api"]}
        lat, req = by_name["latency"], by_name["requests"]
        assert len(lat.before) == 50 and lat.before_ts[-1] < START
        assert lat.after_ts[0] == START and lat.after_ts[-1] == START + 300  # 5 minutes of 1-minute samples
        assert req.step == 300 and req.after_ts[-1] == START + 600  # two of its own samples
        assert evidence.read_until == START + 600
    finally:
        store.close()


def test_settings_change_the_judgement_not_the_reads() -> None:
    evidence = cascade(np.random.default_rng(7), graph=True)
    short = ShiftRanker(RankSettings(history_samples=30, saturation=10.0, back=1.0, stay="beyond"))
    suspects = short.rank(view(evidence), evidence)
    assert suspects[0].service == "db" and all(s.history == 30 for s in suspects[0].shifts)


def test_rarity_is_a_rank_of_the_new_level_in_the_series_own_history() -> None:
    hist = np.array([1.0] * 90 + [9.0] * 10)
    assert rarity_of(hist, 1.0, 20.0) == pytest.approx(1.0)  # never that high before
    assert rarity_of(hist, 1.0, 9.0) == pytest.approx(-np.log(11 / 101) / np.log(101))  # 10 of 100 were
    assert rarity_of(hist, 20.0, 9.0) == pytest.approx(0.0, abs=1e-12)  # every sample was that low
    assert rarity_of(np.empty(0), 1.0, 2.0) == 1.0


def flipping(at: int) -> np.ndarray:
    """An idle service's client latency: at its floor, with a timeout level every 15 minutes for a
    few minutes, and at the timeout again from the start."""
    out = np.full(130, 0.005)
    for t in range(5, at - 10, 15):  # the last one ends 6 minutes before the start
        out[t:t + 4] = 28.8
    out[at:] = 28.8
    return out


def test_a_series_flipping_between_levels_it_knows_weighs_less_than_a_new_level() -> None:
    """Idle services' client latencies jump to levels their history has seen many times (a huge z
    each: their spread is their floor's); `cause` moves four series to levels never seen. The count
    alone puts `idle_a` (four such series) first; the rarity view and the metric-name view put the cause
    first, and so does their fusion."""
    rng = np.random.default_rng(8)
    at = 120

    def idle(name: str, quantiles: tuple[int, ...]) -> list[SeriesWindow]:
        return [window(name, f"client_p{q}", flipping(at), at) for q in quantiles]

    evidence = Evidence(START, {
        "idle_a": idle("idle_a", (50, 90, 95, 99)), "idle_b": idle("idle_b", (90, 95, 99)),
        "idle_c": idle("idle_c", (50, 90, 95)),
        "cause": [window("cause", m, stepped(series(rng, lvl), at, 3.0), at)
                  for m, lvl in (("cpu", 30), ("memory", 500), ("latency", 0.2), ("syscalls", 80))],
        "quiet": [window("quiet", "cpu", series(rng, 30), at)]})
    shifts = series_shifts(evidence, RankSettings())
    views = anomalies(shifts, RankSettings().saturation)
    assert max(views["count"], key=views["count"].get) == "idle_a"  # the decoy wins on the count
    assert all(x.rarity < 0.5 for x in shifts["idle_a"]) and all(x.rarity == 1.0 for x in shifts["cause"])
    idle_a = next(x for x in ShiftRanker().rank(view(evidence), evidence) if x.service == "idle_a")
    assert "a level that history had reached before: rarity 0." in idle_a.why
    assert max(views["rare"], key=views["rare"].get) == "cause"
    assert max(views["distinct"], key=views["distinct"].get) == "cause"
    assert [s.service for s in ShiftRanker().rank(view(evidence), evidence)][:2] == ["cause", "idle_a"]


def test_a_metric_that_moved_in_every_service_says_little_about_which_one() -> None:
    """Node CPU moved in every service (they share a node); only `cause` moved its own latency."""
    rng = np.random.default_rng(9)
    at = 120
    names = ("cause", "b", "c", "d")
    evidence = Evidence(START, {
        s: [window(s, "node_cpu", stepped(series(rng, 40), at, 2.0), at),
            window(s, "latency", stepped(series(rng, 0.2), at, 2.0 if s == "cause" else 1.0), at)]
        for s in names})
    views = anomalies(series_shifts(evidence, RankSettings()), RankSettings().saturation)
    assert views["count"]["cause"] == pytest.approx(max(views["count"].values()))
    assert views["distinct"]["cause"] > 3 * max(views["distinct"][s] for s in names[1:])
    assert ShiftRanker().rank(view(evidence), evidence)[0].service == "cause"
