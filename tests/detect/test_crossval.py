"""Cross-validated NAB scores: settings and thresholds chosen without the part scored, pooled as NAB
normalises; the `vigil bench nab --cv` JSON; a heavy-tailed normal series keeps the daily profile quiet."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from vigil.detect import DETECTORS
from vigil.detect import crossval as cv
from vigil.detect.nabscore import optimize, score_at, sweep_file

T0 = np.datetime64("2020-01-01T00:00:00")


def _file(name: str, peak: int, height: float, base: int, fp_height: float | None = None):
    """100 rows, one window at rows 40-49, a detection of `height` at row `peak` (and a false alarm)."""
    ts = T0 + np.arange(100) * np.timedelta64(300, "s")
    s = np.zeros(100)
    s[peak] = height
    if fp_height is not None:
        s[80] = fp_height
    return sweep_file(name, ts, s, [(ts[40], ts[49])], window_base=base)


def test_grid_is_the_product_in_the_given_order() -> None:
    assert cv.grid({}) == [{}]
    assert cv.grid({"b": (2, 1), "a": (5,)}) == [{"a": 5, "b": 2}, {"a": 5, "b": 1}]


def test_each_fold_is_scored_at_what_the_other_folds_chose() -> None:
    # Category a: detections at 0.6 with a false alarm at 0.9 (best threshold 0.6, the FP costs);
    # category b: a detection at 0.95 and a false alarm at 0.5 (best 0.95). Held out, each is scored at
    # the threshold the other one chose.
    files = [_file("a/1.csv", 40, 0.6, 0, fp_height=0.5), _file("a/2.csv", 41, 0.6, 1),
             _file("b/1.csv", 40, 0.95, 2, fp_height=0.9), _file("b/2.csv", 40, 0.95, 3)]
    names = [f.name for f in files]
    keys, folds = cv.folds_by(names, cv.category)
    assert keys == ["a", "b"] and folds == [[0, 1], [2, 3]]
    result = cv.cross_validate([files], folds)
    th_b = optimize(files[2:], "standard").threshold
    th_a = optimize(files[:2], "standard").threshold
    assert result.folds[0].thresholds["standard"] == th_b and result.folds[1].thresholds["standard"] == th_a
    held_a, held_b = score_at(files[:2], "standard", th_b), score_at(files[2:], "standard", th_a)
    raw = held_a.raw + held_b.raw
    null, perfect = held_a.null + held_b.null, held_a.perfect + held_b.perfect
    assert result.pooled("standard") == pytest.approx(100 * (raw - null) / (perfect - null))
    # in-sample is at least as good as held out
    everything = optimize(files, "standard").normalized
    assert everything >= result.pooled("standard")


def test_the_setting_is_chosen_on_the_training_files_only() -> None:
    # Candidate 0 finds category a's windows, candidate 1 finds b's: a fold holding out a trains on b and
    # so takes candidate 1 (and misses a's windows), and the other way round.
    a0, a1 = _file("a/1.csv", 40, 0.9, 0), _file("a/1.csv", 40, 0.0, 0)
    b0, b1 = _file("b/1.csv", 40, 0.0, 1), _file("b/1.csv", 40, 0.9, 1)
    result = cv.cross_validate([[a0, b0], [a1, b1]], [[0], [1]])
    assert [c.candidate for c in result.folds] == [1, 0]
    assert result.pooled("standard") == pytest.approx(0.0)
    assert cv.choose([[a0, b0], [a1, b1]], [0, 1])[0] == 0  # a tie goes to the first candidate
    summary = cv.summary(result, ["a", "b"], [{"k": 1.0}, {"k": 2.0}], per_fold=True)
    assert summary["settings_chosen"] == {"k=2": 1, "k=1": 1}
    assert summary["categories"]["a"]["settings"] == {"k": 2.0} and summary["categories"]["a"]["standard"] == 0


def _corpus(root: Path) -> None:
    rng = np.random.default_rng(3)
    (root / "labels").mkdir(parents=True)
    labels = {}
    for cat in ("c1", "c2"):
        (root / "data" / cat).mkdir(parents=True)
        for k in range(2):
            n = 600
            ts = T0 + np.arange(n) * np.timedelta64(300, "s")
            v = 10 + rng.normal(0, 1, n)
            v[400:405] += 40
            rows = ["timestamp,value"] + [f"{str(t).replace('T', ' ')},{x:.3f}" for t, x in zip(ts, v)]
            (root / "data" / cat / f"f{k}.csv").write_text("\n".join(rows) + "\n")
            labels[f"{cat}/f{k}.csv"] = [[str(ts[380]).replace("T", " "), str(ts[420]).replace("T", " ")]]
    (root / "labels" / "combined_windows.json").write_text(json.dumps(labels))


def test_bench_nab_cv_json(tmp_path: Path) -> None:
    from vigil.bench.nab import app

    _corpus(tmp_path / "nab")
    args = ["--data", str(tmp_path / "nab"), "--cv", "--grid", "quiet=100,50", "--json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)  # progress lines go to stderr
    c = out["cv"]
    for key in ("standard", "low_fp", "low_fn", "categories", "leave_one_file_out", "in_sample"):
        assert key in c
    assert set(c["categories"]) == {"c1", "c2"} and c["candidates"] == 2 and c["tuned"] == {"quiet": [100, 50]}
    assert c["standard"] > 0 and c["leave_one_file_out"]["standard"] > 0  # jumps are found held out
    assert c["in_sample"]["standard"] >= c["standard"]
    assert sum(c["settings_chosen"].values()) == 2 and sum(c["leave_one_file_out"]["settings_chosen"].values()) == 4
    assert {"standard", "reward_low_FP", "reward_low_FN"} <= set(out)  # the in-sample figures stay beside
    text = CliRunner().invoke(app, ["--data", str(tmp_path / "nab"), "--cv", "--grid", "quiet=100"])
    assert text.exit_code == 0 and "cross-validated" in text.output


@pytest.mark.parametrize(("grid", "message"), [("quiet", "NAME=V1,V2"), ("quiet=a,b", "NAME=V1,V2"),
                                               ("nonsense=1,2", "does not take this setting")])
def test_bench_nab_cv_refuses_a_bad_grid(tmp_path: Path, grid: str, message: str) -> None:
    from vigil.bench.nab import app

    _corpus(tmp_path / "nab")
    res = CliRunner().invoke(app, ["--data", str(tmp_path / "nab"), "--cv", "--grid", grid, "--json"])
    assert res.exit_code != 0 and message in res.output


def _bursty_counts(n: int = 12_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Poisson counts on a daily cycle plus frequent bursts of heavy-tailed height (tweet-volume-like)."""
    rng = np.random.default_rng(seed)
    ts = 1.4e9 + 300.0 * np.arange(n)
    lam = 20 + 15 * np.sin(2 * np.pi * (ts % 86400) / 86400)
    for i in np.flatnonzero(rng.random(n) < 1 / 150):
        length = min(int(rng.integers(1, 12)), n - i)
        lam[i:i + length] += rng.pareto(1.5) * 30 * np.exp(-np.arange(length) / 3)
    return ts, rng.poisson(lam).astype(float)


def test_a_daily_profile_surprised_too_often_stops_speaking() -> None:
    ts, xs = _bursty_counts()
    threshold = DETECTORS.load("ensemble").THRESHOLDS["standard"]
    on = DETECTORS.create("ensemble").score_many(ts, xs)
    off = DETECTORS.create("ensemble", season_miss=0).score_many(ts, xs)
    alarms_on, alarms_off = int((on[750:] >= threshold).sum()), int((off[750:] >= threshold).sum())
    assert alarms_on * 2 <= alarms_off, (alarms_on, alarms_off)
    def by_daily_profile(**settings: float) -> int:
        det = DETECTORS.create("ensemble", **settings)
        scores = [det.update(t, x) for t, x in zip(ts, xs)]
        return sum("for this time of day" in s.reason for s in scores[750:] if s.value >= threshold)

    assert by_daily_profile() * 4 <= by_daily_profile(season_miss=0)
