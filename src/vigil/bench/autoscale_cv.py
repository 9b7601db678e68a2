"""Leave-one-trace-out for what vigil's scaling has that was tuned on traces.

Every setting in the grid (`GRID`, or `GRID_CALIBRATED` with self-calibrated headroom) is run on every
trace (the HPA frontier once per trace). For each trace in turn the setting that did best on all the others
is chosen and scored on the held-out one; the held-out scores are the figure of merit. A trace's score is
the smaller of violation_ratio_at_equal_cost / 0.5 and cost_ratio_at_equal_violations / 0.85 (<= 1 meets
the goal; an unknown ratio counts as 10), times the actions ratio to the HPA at 0.7 when that is above 1.
A setting is best on the training traces when it meets the goal on most of them, then by the lowest mean
log score.
"""

from __future__ import annotations

import math
from typing import Any

from vigil.bench import autoscale_suite as suite
from vigil.bench.autoscale_frontier import COST_GOAL, VIOLATION_GOAL, compare

# The settings tuned on the traces so far (the trusted target, the scale-down tolerance, the burst hold).
# Few points: one vigil run of worldcup98 takes 2-13 minutes on the shared build machine. With fixed
# targets the trusted target is what was tuned; self-calibrated headroom has none, and the scale-down
# tolerance (0.15, chosen on the traces) is what is left to choose.
GRID: tuple[dict[str, Any], ...] = ({"target": 0.8}, {"target": 0.88}, {"target": 0.95})
GRID_CALIBRATED: tuple[dict[str, Any], ...] = ({"down_tolerance": 0.1}, {"down_tolerance": 0.15})


def grid_for(base: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    return GRID_CALIBRATED if base.get("calibrate_target") else GRID
UNKNOWN = 10.0


def grid_label(k: int) -> str:
    return f"vigil#{k}"


def grid_jobs(traces: int, base: dict[str, Any]) -> list[suite.Job]:
    grid = grid_for(base)
    return [suite.Job(i, grid_label(k), "vigil", settings(base, g)) for i in range(traces) for k, g in enumerate(grid)]


def settings(base: dict[str, Any], point: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted({**base, **point}.items()))


def score(fr: dict[str, Any]) -> float:
    vr, cr = fr["violation_ratio_at_equal_cost"], fr["cost_ratio_at_equal_violations"]
    s = min(UNKNOWN if vr is None else vr / VIOLATION_GOAL, UNKNOWN if cr is None else cr / COST_GOAL)
    a = fr["actions_vs_hpa_0.7"]
    return s * max(1.0, a or 1.0)


def _rank(frs: list[dict[str, Any]]) -> tuple[int, float]:
    met = sum(bool(f["met"]) for f in frs)
    return -met, sum(math.log(max(score(f), 1e-3)) for f in frs) / max(1, len(frs))


def leave_one_out(prepared: list[suite.Prepared], results: dict[tuple[int, str], dict[str, Any]],
                  hpa_target: float, base: dict[str, Any]) -> dict[str, Any]:
    grid = grid_for(base)
    n = len(prepared)
    hpa = [results[(i, suite.hpa_label(hpa_target))] for i in range(n)]
    fr = [[compare(results[(i, grid_label(k))], suite.frontier_points(results, i), hpa[i]["actions"])
           for k in range(len(grid))] for i in range(n)]
    folds = []
    for held in range(n):
        train = [i for i in range(n) if i != held]
        best = min(range(len(grid)), key=lambda k: _rank([fr[i][k] for i in train]))
        f = fr[held][best]
        folds.append({"trace": str(prepared[held].trace.path), "chosen": grid[best],
                      "violation_ratio_at_equal_cost": f["violation_ratio_at_equal_cost"],
                      "cost_ratio_at_equal_violations": f["cost_ratio_at_equal_violations"],
                      "actions_vs_hpa_0.7": f["actions_vs_hpa_0.7"], "met": f["met"],
                      "vigil": results[(held, grid_label(best))]})
    in_best = min(range(len(grid)), key=lambda k: _rank([fr[i][k] for i in range(n)]))
    return {
        "grid": list(grid), "folds": folds, "met": sum(bool(f["met"]) for f in folds),
        "in_sample_chosen": grid[in_best], "in_sample_met": sum(bool(fr[i][in_best]["met"]) for i in range(n)),
        "per_setting_met": [sum(bool(fr[i][k]["met"]) for i in range(n)) for k in range(len(grid))],
    }
