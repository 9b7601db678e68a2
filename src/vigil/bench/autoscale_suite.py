"""Many traces, many policy runs: every run is one job (a trace, a policy, its settings), so the HPA's
frontier and a cross-validation grid share the work and run on up to two worker processes."""

from __future__ import annotations

import math
import multiprocessing
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vigil.bench import autoscale as sim
from vigil.bench.autoscale_frontier import TARGETS, compare
from vigil.bench.autoscale_traces import Trace

MAX_WORKERS = 2  # the build machines have two shared cores


@dataclass(slots=True)
class Prepared:
    """A trace on the simulation's grid."""

    trace: Trace
    demand: np.ndarray
    cap: float
    max_replicas: int

    @classmethod
    def of(cls, trace: Trace) -> Prepared:
        demand = sim.resample(trace.ts, trace.y)
        cap = float(demand.mean() / sim.MEAN_REPLICAS)
        return cls(trace, demand, cap, int(math.ceil(demand.max() / cap * 2)) + 4)


@dataclass(frozen=True, slots=True)
class Job:
    trace: int  # index into the prepared traces
    label: str  # "vigil", "hpa@0.7", "vigil#3" (grid point 3)
    kind: str  # "vigil" | "hpa"
    settings: tuple[tuple[str, Any], ...] = field(default=())


_PREPARED: list[Prepared] = []
_DELAY = 60.0


def _init(prepared: list[Prepared], delay: float) -> None:
    global _PREPARED, _DELAY  # noqa: PLW0603 - the worker's read-only copy of the traces
    _PREPARED, _DELAY = prepared, delay


def _run(job: Job) -> tuple[Job, dict[str, Any], float]:
    p = _PREPARED[job.trace]
    kw = dict(job.settings)
    calibrate = False
    if job.kind == "hpa":
        cfg = sim.hpa_config(p.max_replicas, kw["target"])
    else:
        calibrate = bool(kw.pop("calibrate_target", False))
        cfg = sim.vigil_config(p.max_replicas, _DELAY, **kw)
    t0 = time.perf_counter()
    out = sim.run_policy(job.label, cfg, p.demand, p.cap, _DELAY, calibrate_target=calibrate)
    return job, out.figures(p.demand, p.cap), time.perf_counter() - t0


def run_jobs(prepared: list[Prepared], delay: float, jobs: list[Job], workers: int = 1,
             progress: Callable[[Job, float], None] | None = None) -> dict[tuple[int, str], dict[str, Any]]:
    """Figures per (trace, label). A run asked for under several labels runs once; longest traces first so
    two workers end together."""
    same: dict[tuple[int, str, tuple[tuple[str, Any], ...]], list[Job]] = {}
    for j in jobs:
        same.setdefault((j.trace, j.kind, j.settings), []).append(j)
    todo = sorted((js[0] for js in same.values()), key=lambda j: -len(prepared[j.trace].demand))
    workers = max(1, min(MAX_WORKERS, workers, len(todo)))
    results: dict[tuple[int, str], dict[str, Any]] = {}
    done: Iterable[tuple[Job, dict[str, Any], float]]
    if workers == 1:
        _init(prepared, delay)
        done = map(_run, todo)
    else:
        pool = multiprocessing.get_context("fork").Pool(workers, initializer=_init, initargs=(prepared, delay))
        done = pool.imap_unordered(_run, todo)
    try:
        for job, fig, secs in done:
            for twin in same[(job.trace, job.kind, job.settings)]:
                results[(twin.trace, twin.label)] = fig
            if progress:
                progress(job, secs)
    finally:
        if workers > 1:
            pool.close()
            pool.join()
    return results


def hpa_label(target: float) -> str:
    return f"hpa@{target:g}"


def base_jobs(i: int, vigil_kw: dict[str, Any], hpa_target: float, frontier: bool) -> list[Job]:
    jobs = [Job(i, "vigil", "vigil", tuple(sorted(vigil_kw.items())))]
    targets = sorted({hpa_target, *TARGETS}) if frontier else [hpa_target]
    jobs += [Job(i, hpa_label(t), "hpa", (("target", t),)) for t in targets]
    return jobs


def assemble(p: Prepared, i: int, results: dict[tuple[int, str], dict[str, Any]], delay: float,
             hpa_target: float, frontier: bool) -> dict[str, Any]:
    """One trace's object: as the single-trace bench always printed, plus `frontier` when swept."""
    demand, cap = p.demand, p.cap
    pols = {"vigil": dict(results[(i, "vigil")]), "hpa": dict(results[(i, hpa_label(hpa_target))])}
    for o in (sim.static_peak(demand, cap), sim.oracle(demand, cap, delay)):
        pols[o.name] = o.figures(demand, cap)
    base = pols["oracle"]["replica_hours"] or 1.0
    for v in pols.values():
        v["replica_hours_vs_oracle"] = round(v["replica_hours"] / base, 3)
    v, h = pols["vigil"], pols["hpa"]
    out: dict[str, Any] = {
        **p.trace.describe(), "steps": int(len(demand)), "days": round(len(demand) * sim.PERIOD / 86400, 2),
        "delay_s": delay, "period_s": sim.PERIOD, "metric_lag_s": sim.METRIC_LAG, "capacity_per_replica": cap,
        "policies": pols,
        "vs_hpa": {
            "violation_minutes_reduction": sim.reduction(v["violation_minutes"], h["violation_minutes"]),
            "replica_hours_reduction": sim.reduction(v["replica_hours"], h["replica_hours"]),
            "actions_ratio": round(v["actions"] / h["actions"], 3) if h["actions"] else None,
        },
    }
    if frontier:
        out["frontier"] = compare(v, frontier_points(results, i), h["actions"])
    return out


def frontier_points(results: dict[tuple[int, str], dict[str, Any]], i: int) -> list[dict[str, float]]:
    return [{"target": t, "replica_hours": results[(i, hpa_label(t))]["replica_hours"],
             "violation_minutes": results[(i, hpa_label(t))]["violation_minutes"]} for t in TARGETS]
