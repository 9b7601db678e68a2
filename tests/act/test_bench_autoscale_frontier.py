"""The HPA frontier of `vigil bench autoscale --frontier` and the CLI's JSON for many traces."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from vigil.bench import autoscale, autoscale_cv
from vigil.bench import autoscale_suite as suite
from vigil.bench.autoscale_frontier import TARGETS, compare, cost_at_violations, pareto, violations_at_cost
from vigil.bench.autoscale_traces import read_trace


def _trace(path: Path, days: float = 1.6, seed: int = 3, spikes: bool = True) -> Path:
    rng = np.random.default_rng(seed)
    n = int(days * 1440)
    t = np.arange(n) * 60
    y = 100 + 60 * np.sin(2 * np.pi * t / 86400) + rng.normal(0, 6, n)
    if spikes:
        for k in rng.integers(200, n - 10, 12):
            y[k:k + 4] += rng.uniform(40, 120)
    path.write_text("timestamp,requests\n" + "\n".join(f"{int(a)},{b:.3f}" for a, b in zip(t, y)) + "\n")
    return path


def P(target: float, rh: float, vm: float) -> dict[str, float]:  # noqa: N802 - a point, short
    return {"target": target, "replica_hours": rh, "violation_minutes": vm}


def test_interpolation_and_the_ends() -> None:
    pts = [P(0.5, 200, 0), P(0.6, 160, 0), P(0.7, 140, 10), P(0.8, 120, 30), P(0.9, 110, 80), P(0.95, 112, 90)]
    front = pareto(pts)
    assert [p["target"] for p in front] == [0.9, 0.8, 0.7, 0.6]  # 0.95 is dominated, 0.5 costs more for 0
    assert violations_at_cost(front, 130) == (20.0, "interpolated")
    assert violations_at_cost(front, 100)[0] == 80  # cheaper than every target: the cheapest one's
    assert violations_at_cost(front, 170)[0] == 0  # dearer than a target without violations: none
    assert cost_at_violations(front, 20) == (130.0, "interpolated")
    assert cost_at_violations(front, 0)[0] == 160  # the cheapest target without violations
    assert cost_at_violations(front, 100)[0] is None
    fr = compare({"replica_hours": 130, "violation_minutes": 5, "actions": 40}, pts, 50)
    assert fr["violation_ratio_at_equal_cost"] == 0.25 and fr["met"]
    assert fr["cost_ratio_at_equal_violations"] == round(130 / 150, 4)
    assert not compare({"replica_hours": 130, "violation_minutes": 5, "actions": 51}, pts, 50)["met"]  # actions
    dear = compare({"replica_hours": 170, "violation_minutes": 0, "actions": 1}, pts, 50)
    # dearer than a target without violations: that HPA has none either (0/0 is 1.0), and costs less
    assert dear["violation_ratio_at_equal_cost"] == 1.0 and dear["cost_ratio_at_equal_violations"] == round(
        170 / 160, 4) and not dear["met"]
    risky = pareto([P(0.7, 100, 30), P(0.5, 140, 10)])
    assert violations_at_cost(risky, 150)[0] is None  # dearer than every target, which all have violations
    # no HPA target without violations, vigil without: that ratio is not known
    assert cost_at_violations(pareto([P(0.7, 100, 3), P(0.5, 140, 1)]), 0)[0] is None


def test_frontier_on_a_synthetic_trace(tmp_path: Path) -> None:
    p = suite.Prepared.of(read_trace(_trace(tmp_path / "t.csv")))
    jobs = suite.base_jobs(0, {"target": 0.88}, 0.7, frontier=True)
    res = suite.run_jobs([p], 60.0, jobs)
    pts = suite.frontier_points(res, 0)
    assert [q["target"] for q in pts] == list(TARGETS)
    rh = [q["replica_hours"] for q in pts]
    assert rh == sorted(rh, reverse=True) and rh[0] > 1.2 * rh[-1]  # a higher target costs less
    assert pts[-1]["violation_minutes"] > pts[0]["violation_minutes"]
    out = suite.assemble(p, 0, res, 60.0, 0.7, frontier=True)
    fr, v = out["frontier"], out["policies"]["vigil"]
    front = pareto(pts)
    eq, _ = violations_at_cost(front, v["replica_hours"])
    assert eq is not None and eq > 0  # vigil's cost is inside the HPA's range on this trace
    assert fr["violation_ratio_at_equal_cost"] == round(v["violation_minutes"] / eq, 4)
    assert out["policies"]["hpa"]["replica_hours"] == res[(0, "hpa@0.7")]["replica_hours"]


def test_cli_many_traces_json(tmp_path: Path) -> None:
    d = tmp_path / "traces"
    (d / "sub").mkdir(parents=True)
    _trace(d / "a.csv", days=0.6, seed=1)
    _trace(d / "sub" / "b.csv", days=0.6, seed=2, spikes=False)
    (d / "broken.csv").write_text("name\nx\ny\n")
    res = CliRunner().invoke(autoscale.app, ["--traces", str(d), "--frontier", "--json", "--services", "5"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert [Path(t["trace"]).name for t in out["traces"]] == ["a.csv", "b.csv"]
    assert out["failed"][0]["trace"].endswith("broken.csv") and "pass --step" in out["failed"][0]["error"]
    for t in out["traces"]:
        assert t["column"] == "requests" and t["time"] == "column timestamp"
        assert set(t["policies"]) == {"vigil", "hpa", "static_peak", "oracle"}
        fr = t["frontier"]
        assert [q["target"] for q in fr["hpa_points"]] == list(TARGETS)
        assert {"violation_ratio_at_equal_cost", "cost_ratio_at_equal_violations"} <= set(fr)
        h = next(q for q in fr["hpa_points"] if q["target"] == 0.7)
        assert h["replica_hours"] == t["policies"]["hpa"]["replica_hours"]
    assert out["frontier_met"] == sum(t["frontier"]["met"] for t in out["traces"])


def test_cv_scores_each_trace_with_settings_chosen_on_the_others(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(autoscale_cv, "GRID", ({"target": 0.7}, {"target": 0.95}))
    files = [_trace(tmp_path / f"t{i}.csv", days=0.5, seed=i) for i in range(3)]
    args = [a for f in files for a in ("--trace", str(f))]
    res = CliRunner().invoke(autoscale.app, [*args, "--cv", "--fixed-headroom", "--json", "--services", "5"])
    assert res.exit_code == 0, res.output
    cv = json.loads(res.stdout.strip().splitlines()[-1])["cv"]
    assert [Path(f["trace"]).name for f in cv["folds"]] == ["t0.csv", "t1.csv", "t2.csv"]
    assert cv["met"] == sum(f["met"] for f in cv["folds"])
    for f in cv["folds"]:
        assert f["chosen"] in autoscale_cv.GRID
        assert "violation_ratio_at_equal_cost" in f and "cost_ratio_at_equal_violations" in f


def test_cv_needs_two_traces(tmp_path: Path) -> None:
    res = CliRunner().invoke(autoscale.app, ["--trace", str(_trace(tmp_path / "one.csv", days=0.3)), "--cv"])
    text = " ".join(res.output.replace("│", " ").split())  # rich wraps the error in a box
    assert res.exit_code == 2 and "at least 2 readable traces" in text


def test_one_trace_without_json_ends_in_words_not_a_dict(tmp_path: Path) -> None:
    res = CliRunner().invoke(autoscale.app, ["--trace", str(_trace(tmp_path / "t.csv", days=0.3)),
                                             "--services", "5"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "vigil against the HPA at 0.7:" in text and "fewer violation minutes" in text
    assert "{" not in text.split("vigil against the HPA")[1]  # no raw dict (issue 9, item 19)
