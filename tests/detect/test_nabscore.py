"""NAB scoring on hand-computed cases (no dependency on the NAB data)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from vigil.detect.nabscore import MAX_TP, optimize, probation_rows, score_at, sweep_file

T0 = np.datetime64("2020-01-01T00:00:00")


def _ts(n: int) -> np.ndarray:
    return T0 + np.arange(n) * np.timedelta64(300, "s")


def _sig(y: float) -> float:  # NAB's scaled sigmoid, written out independently
    return -1.0 if y >= 3 else 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def _file(scores: np.ndarray, windows=((40, 49),)):
    ts = _ts(len(scores))
    return sweep_file("c/f.csv", ts, scores, [(ts[a], ts[b]) for a, b in windows])


def test_probation_rule() -> None:
    assert probation_rows(100) == 15
    assert probation_rows(4032) == 604
    assert probation_rows(10_000) == 750


def test_detection_at_left_edge_earns_full_tp() -> None:
    s = np.zeros(100)
    s[40] = 1.0
    r = score_at([_file(s)], "standard", 0.5)
    assert r.raw == pytest.approx(1.0)
    assert r.normalized == pytest.approx(100.0)


def test_detection_at_right_edge_and_fp_after_window() -> None:
    s = np.zeros(100)
    s[49] = 1.0  # y = -(49 - 49 + 1) / 10
    s[59] = 1.0  # 10 rows past the window, width 10: d = 10 / 9
    s[20] = 1.0  # before the first window: full FP cost
    s[5] = 1.0  # probation: ignored
    r = score_at([_file(s)], "standard", 0.5)
    expected = _sig(-0.1) / _sig(-1.0) + 0.11 * _sig(10 / 9) - 0.11
    assert r.raw == pytest.approx(expected)
    assert (r.tp, r.fp, r.fn) == (1, 2, 0)
    low_fp = score_at([_file(s)], "reward_low_FP", 0.5)
    assert low_fp.raw == pytest.approx(_sig(-0.1) / _sig(-1.0) + 0.22 * _sig(10 / 9) - 0.22)


def test_only_first_detection_in_window_counts_and_missed_window_costs_fn() -> None:
    s = np.zeros(100)
    s[42:49] = 1.0
    one = score_at([_file(s, windows=((40, 49), (70, 79)))], "reward_low_FN", 0.5)
    assert one.raw == pytest.approx(_sig(-8 / 10) / MAX_TP - 2.0)
    assert one.null == -4.0 and one.perfect == 2.0


def test_null_scores_zero_and_optimiser_prefers_nothing_over_noise() -> None:
    s = np.full(100, 0.5)
    r = optimize([_file(s)], "standard")
    assert r.threshold == 1.1 and r.normalized == pytest.approx(0.0)


def test_optimiser_finds_the_separating_threshold() -> None:
    s = np.zeros(100)
    s[40] = 0.9
    s[70] = 0.6  # an FP below the TP's score
    r = optimize([_file(s)], "standard")
    assert r.threshold == pytest.approx(0.9)
    assert r.normalized == pytest.approx(100.0)


def _corpus(root: Path) -> None:
    rng = np.random.default_rng(3)
    (root / "data" / "cat").mkdir(parents=True)
    (root / "labels").mkdir()
    labels = {}
    for k in range(2):
        n = 600
        ts = _ts(n)
        v = 10 + rng.normal(0, 1, n)
        v[400:405] += 40
        rows = ["timestamp,value"] + [f"{str(t).replace('T', ' ')},{x:.3f}" for t, x in zip(ts, v)]
        rows.insert(100, rows[100])  # a repeated timestamp: row order must survive
        (root / "data" / "cat" / f"f{k}.csv").write_text("\n".join(rows) + "\n")
        labels[f"cat/f{k}.csv"] = [[str(ts[380]).replace("T", " ") + ".000000",
                                    str(ts[420]).replace("T", " ") + ".000000"]]
    (root / "labels" / "combined_windows.json").write_text(json.dumps(labels))


def test_bench_nab_json_and_results_layout(tmp_path: Path) -> None:
    from vigil.bench.nab import app

    _corpus(tmp_path / "nab")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["--data", str(tmp_path / "nab"), "--write-results", str(out), "--json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    for key in ("detector", "standard", "reward_low_FP", "reward_low_FN", "thresholds"):
        assert key in got
    assert got["detector"] == "ensemble" and got["threshold_mode"] == "shipped"
    assert got["standard"] > 50  # the injected jumps are found
    written = (out / "ensemble" / "cat" / "ensemble_f0.csv").read_text().splitlines()
    source = (tmp_path / "nab" / "data" / "cat" / "f0.csv").read_text().splitlines()
    assert written[0] == "timestamp,value,anomaly_score,label"
    assert [r.split(",")[:2] for r in written[1:]] == [r.split(",") for r in source[1:]]
    assert sum(int(r.split(",")[3]) for r in written[1:]) == 41
    opt = json.loads(CliRunner().invoke(app, ["--data", str(tmp_path / "nab"), "--optimize", "--json"]).output)
    assert opt["standard"] >= got["standard"]
    fixed = json.loads(CliRunner().invoke(app, ["--data", str(tmp_path / "nab"), "--threshold", "2",
                                                "--json"]).output)
    assert fixed["standard"] == 0.0 and fixed["thresholds"]["standard"] == 2.0
    null = json.loads(CliRunner().invoke(app, ["--data", str(tmp_path / "nab"), "--detector", "null",
                                               "--optimize", "--json"]).output)
    assert null["standard"] == 0.0


def test_bench_nab_by_category(tmp_path: Path) -> None:
    from vigil.bench.nab import app

    _corpus(tmp_path / "nab")
    src = tmp_path / "nab" / "data"
    (src / "other").mkdir()
    for k in range(2):  # a second category, same shape, so leave-one-out has something to choose on
        (src / "other" / f"g{k}.csv").write_text((src / "cat" / f"f{k}.csv").read_text())
    labels = json.loads((tmp_path / "nab" / "labels" / "combined_windows.json").read_text())
    labels.update({f"other/g{k}.csv": labels[f"cat/f{k}.csv"] for k in range(2)})
    (tmp_path / "nab" / "labels" / "combined_windows.json").write_text(json.dumps(labels))
    res = CliRunner().invoke(app, ["--data", str(tmp_path / "nab"), "--by-category", "--json"])
    assert res.exit_code == 0, res.output
    cats = json.loads(res.output)["categories"]
    assert set(cats) == {"cat", "other"}
    row = cats["cat"]["standard"]
    assert row["at_thresholds"] == cats["other"]["standard"]["at_thresholds"]  # identical files
    assert row["optimized_here"] >= row["leave_one_out"]
    assert CliRunner().invoke(app, ["--data", str(tmp_path / "nab"), "--by-category"]).exit_code == 0
