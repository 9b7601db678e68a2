"""vigil bench autoscale: replay a real demand trace through vigil's own ScalePolicy (predictive), the
exact HPA (the same class in reactive mode), a static peak and an oracle, on a simulated clock against a
simulated scale target.

The target: capacity per replica is set so mean demand needs 10 replicas; a replica asked for becomes
ready after the start-up delay D; a scale-down removes replicas at once (not-ready ones first); the
policy reads the metric 15 s late (demand per ready replica, unsaturated, like requests per replica)
every 15 s. Demand between trace rows is interpolated linearly. Walk-forward only: the forecaster is
fed observations as simulated time advances and refits on the past.
"""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import Progress

from vigil.act.scaling.policy import Observation, ScalePolicy
from vigil.bench.autoscale_traces import TraceError, read_trace
from vigil.config.scaling import PredictiveSettings, ScalingMetric, ScalingPolicyConfig, ScalingRate, ScalingRules
from vigil.model import Decision
from vigil.testing import FakeClock

app = typer.Typer(add_completion=False, help=__doc__)
err = Console(stderr=True)

PERIOD = 15.0
METRIC_LAG = 15.0
MEAN_REPLICAS = 10


# ----------------------------------------------------------------------------- trace

def load_trace(path: Path, column: str | None, time_column: str | None = None,
               step: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """-> (ts seconds, demand) in file order; time from a column (epoch seconds, or dates) or row*step."""
    try:
        tr = read_trace(path, column, time_column, step, min_rows=2)
    except TraceError as exc:
        raise typer.BadParameter(str(exc)) from None
    return tr.ts, tr.y


def resample(ts: np.ndarray, y: np.ndarray, period: float = PERIOD) -> np.ndarray:
    """Demand at every control period (linear between rows; absent rows are interpolated over)."""
    grid = np.arange(0.0, ts[-1] + 1e-9, period)
    return np.interp(grid, ts, y)


# ----------------------------------------------------------------------------- simulated target

@dataclass
class Outcome:
    name: str
    spec: np.ndarray  # replicas running (ready or starting) per step
    ready: np.ndarray
    actions: int
    extra: dict[str, Any] = field(default_factory=dict)

    def figures(self, demand: np.ndarray, cap: float) -> dict[str, Any]:
        capacity = self.ready * cap
        short = np.maximum(demand - capacity, 0.0)
        return {
            "replica_hours": round(float(self.spec.sum() * PERIOD / 3600.0), 2),
            "violation_minutes": round(float((short > 1e-9 * cap).sum() * PERIOD / 60.0), 2),
            "unserved_fraction": round(float(short.sum() / max(demand.sum(), 1e-12)), 6),
            "actions": int(self.actions),
            **self.extra,
        }


def ready_from_spec(spec: np.ndarray, delay_steps: int) -> np.ndarray:
    """Replicas ready at k = those present since k - delay: the rolling min of spec (newest go first)."""
    if delay_steps == 0:
        return spec.copy()
    padded = np.concatenate([np.full(delay_steps, spec[0]), spec])
    win = np.lib.stride_tricks.sliding_window_view(padded, delay_steps + 1)
    return win.min(axis=1)


def run_policy(name: str, policy_cfg: ScalingPolicyConfig, demand: np.ndarray, cap: float,
               delay: float, progress: Progress | None = None,
               record: Callable[[Decision], None] | None = None, calibrate_target: bool = False) -> Outcome:
    """Drive ScalePolicy (production code) step by step on a FakeClock."""
    clock = FakeClock(start=1_600_000_000.0)
    rules: Counter[str] = Counter()
    fallback = 0

    policy = ScalePolicy(name, policy_cfg, clock, record=record, calibrate_target=calibrate_target)
    n = len(demand)
    delay_steps = int(math.ceil(delay / PERIOD - 1e-9))
    lag = int(round(METRIC_LAG / PERIOD))
    start = max(policy_cfg.min_replicas, int(math.ceil(demand[0] / cap / policy_cfg.metric.target)))
    spec = np.empty(n, dtype=np.int64)
    ready = np.empty(n, dtype=np.int64)
    history = [start] * max(delay_steps, 1)  # spec over the last D: what is ready now
    current = start
    actions = ups = 0
    task = progress.add_task(name, total=n) if progress else None
    t0 = time.perf_counter()
    for k in range(n):
        r = min(history)
        ready[k] = r
        j = k - lag if k >= lag else 0
        r_obs = ready[j]
        metric = demand[j] / (r_obs * cap) if r_obs > 0 else 0.0
        d = policy.decide(Observation(current, int(r_obs), float(metric)))
        rules[d.rule] += 1
        if "predictive" in d.inputs and d.inputs["predictive"].endswith("reactive"):
            fallback += 1
        if d.result["act"]:
            new = int(d.result["replicas"])
            policy.scaled(current, new)
            ups += new > current
            current = new
            actions += 1
        if delay_steps:
            history.append(current)
            history.pop(0)
        else:
            history[0] = current
        spec[k] = current
        ready[k] = min(ready[k], current)  # a scale-down removes at once
        clock.set(clock.now() + PERIOD)
        if progress is not None and task is not None and k % 5000 == 0:
            progress.update(task, completed=k)
    if progress is not None and task is not None:
        progress.update(task, completed=n)
    extra: dict[str, Any] = {"decision_us": round((time.perf_counter() - t0) / n * 1e6, 1), "scale_ups": ups}
    if policy_cfg.mode == "predictive":
        extra["fallback_fraction"] = round(fallback / n, 4)
        extra["rules"] = dict(rules.most_common())
    return Outcome(name, spec, ready, actions, extra)


def static_peak(demand: np.ndarray, cap: float) -> Outcome:
    spec = np.full(len(demand), int(math.ceil(demand.max() / cap - 1e-9)), dtype=np.int64)
    return Outcome("static_peak", spec, spec.copy(), 0)


def oracle(demand: np.ndarray, cap: float, delay: float) -> Outcome:
    """Knows the future, still waits D: keeps what it will need within D (removing and re-adding would
    take D), so it is ready in time at the least replica-hours."""
    need = np.ceil(demand / cap - 1e-9).astype(np.int64)
    ds = int(math.ceil(delay / PERIOD - 1e-9))
    padded = np.concatenate([need, np.full(ds, need[-1])])
    spec = np.lib.stride_tricks.sliding_window_view(padded, ds + 1).max(axis=1)
    ready = ready_from_spec(spec, ds)
    return Outcome("oracle", spec, ready, int((np.diff(spec) != 0).sum()))


# ----------------------------------------------------------------------------- policies under test

def hpa_config(max_replicas: int, target: float = 0.7) -> ScalingPolicyConfig:
    return ScalingPolicyConfig(mode="reactive", min_replicas=1, max_replicas=max_replicas,
                               metric=ScalingMetric(kind="requests_per_replica", target=target))


def vigil_config(max_replicas: int, delay: float, target: float = 0.88, floor_target: float | None = None,
                 level: int = 95, tolerance: float = 0.1, relative: bool = False,
                 down_tolerance: float | None = 0.15, down_window: float = 300.0,
                 interval_window: float = 86400.0, **predictive: Any) -> ScalingPolicyConfig:
    """vigil as a user would set it next to their HPA: the same metric target (0.7) for the reactive
    fallback, and a higher target while the forecast is trusted."""
    down = ScalingRules(stabilization_window=down_window, tolerance=down_tolerance,
                        policies=[ScalingRate(type="Percent", value=100, period=15.0)])
    return ScalingPolicyConfig(
        mode="predictive", min_replicas=1, max_replicas=max_replicas, tolerance=tolerance, scale_down=down,
        metric=ScalingMetric(kind="requests_per_replica", target=0.7),
        predictive=PredictiveSettings(startup_delay=delay, metric_lag=METRIC_LAG, level=level,
                                      target=target, floor_target=floor_target, relative_errors=relative,
                                      refit_every=86400.0, step=300.0, interval_window=interval_window,
                                      **predictive))


def decision_speed(services: int = 500) -> dict[str, float]:
    """One scaling decision for each of `services` predictive policies, after a warm-up."""
    clock = FakeClock(start=1_600_000_000.0)
    cfg = vigil_config(100, 60.0)
    rng = np.random.default_rng(0)
    pols = [ScalePolicy(f"svc-{i}", cfg, clock) for i in range(services)]
    for _ in range(30):
        for p in pols:
            p.decide(Observation(10, 10, float(rng.uniform(0.5, 0.9))))
        clock.set(clock.now() + PERIOD)
    t0 = time.perf_counter()
    for p in pols:
        p.decide(Observation(10, 10, float(rng.uniform(0.5, 0.9))))
    return {"services": services, "seconds": round(time.perf_counter() - t0, 4)}


def run(trace: Path, column: str | None, time_column: str | None, step: float | None, delay: float,
        hpa_target: float = 0.7, show_progress: bool = True, frontier: bool = False,
        **vigil_kw: Any) -> dict[str, Any]:
    """One trace, as the bench always ran it (and its HPA frontier when asked)."""
    from vigil.bench import autoscale_suite as suite

    try:
        tr = read_trace(trace, column, time_column, step, min_rows=2)
    except TraceError as exc:
        raise typer.BadParameter(str(exc)) from None
    p = suite.Prepared.of(tr)
    jobs = suite.base_jobs(0, vigil_kw, hpa_target, frontier)
    with Progress(console=err, transient=True, disable=not show_progress) as progress:
        task = progress.add_task(trace.name, total=len(jobs))
        res = suite.run_jobs([p], delay, jobs, progress=lambda j, s: progress.advance(task))
    out = suite.assemble(p, 0, res, delay, hpa_target, frontier)
    out["_demand"], out["_cap"], out["_vigil_kw"] = p.demand, p.cap, vigil_kw
    return out


def reduction(ours: float, theirs: float) -> float | None:
    return round(1.0 - ours / theirs, 4) if theirs > 0 else None


def _plot(result: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib  # optional

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        err.print("matplotlib is not installed: no plot")
        return
    demand, cap, delay = result["_demand"], result["_cap"], result["delay_s"]
    mx = int(math.ceil(demand.max() / cap * 2)) + 4
    kw = dict(result["_vigil_kw"])
    calibrate = bool(kw.pop("calibrate_target", False))
    outs = [run_policy("vigil", vigil_config(mx, delay, **kw), demand, cap, delay, calibrate_target=calibrate),
            run_policy("hpa", hpa_config(mx), demand, cap, delay), oracle(demand, cap, delay)]
    t = np.arange(len(demand)) * PERIOD / 3600
    fig, ax = plt.subplots(figsize=(14, 5))
    ax.plot(t, demand, color="black", lw=0.6, label="demand")
    for o in outs:
        ax.plot(t, o.ready * cap, lw=0.6, label=f"{o.name} capacity")
    ax.set_xlabel("hours")
    ax.legend()
    fig.savefig(path, dpi=120)


@app.command()
def main(
    trace: list[Path] | None = typer.Option(None, "--trace", exists=True, dir_okay=False,
                                            help="a CSV demand trace (repeat for several)"),
    traces: Path | None = typer.Option(None, "--traces", exists=True, file_okay=False,
                                       help="a folder: every CSV under it (recursive), one table"),
    column: str | None = typer.Option(None, help="the demand column (default: detected per file)"),
    time_column: str | None = typer.Option(None, help="time column: epoch seconds or dates (default: detected)"),
    step: float | None = typer.Option(None, help="seconds between rows when there is no time column"),
    delay: float = typer.Option(60.0, help="replica start-up delay D, seconds"),
    frontier: bool = typer.Option(False, "--frontier", help="sweep the HPA target 0.5..0.95 and place vigil"),
    cv: bool = typer.Option(False, "--cv", help="leave-one-trace-out: settings chosen without the scored trace"),
    workers: int = typer.Option(1, min=1, max=2, help="worker processes (at most 2)"),
    json_out: bool = typer.Option(False, "--json", help="print one JSON object"),
    plot: Path | None = typer.Option(None, help="write a demand vs capacity chart (one trace; needs matplotlib)"),
    services: int = typer.Option(500, help="services in the decision-speed figure"),
    vigil_target: float = typer.Option(0.88, help="vigil's target per replica while its forecast is trusted"),
    self_calibrated: bool = typer.Option(True, "--self-calibrated/--fixed-headroom", help="trusted and floor "
                                         "targets set per service from its own forecast bound, as vigil does by "
                                         "default on a metric whose saturation it knows (--fixed-headroom: "
                                         "--vigil-target and --floor-target, the issue-4 settings)"),
    down_tolerance: float = typer.Option(0.15, help="vigil's behavior.scaleDown.tolerance"),
    floor_target: float | None = typer.Option(None, help="load the forecast's upper bound may reach"),
    level: int = typer.Option(95, help="forecast interval level of the floor"),
) -> None:
    """Replay demand traces through vigil (predictive), the exact HPA, static peak and an oracle."""
    from vigil.bench import autoscale_report as report

    vigil_kw: dict[str, Any] = {"target": vigil_target, "floor_target": floor_target, "level": level,
                                "down_tolerance": down_tolerance}
    if self_calibrated:
        vigil_kw["calibrate_target"] = True
    show = not json_out or sys.stderr.isatty()
    files = list(trace or [])
    if traces is not None:
        from vigil.bench.autoscale_traces import find_traces

        files += find_traces(traces)
    if not files:
        raise typer.BadParameter("give --trace FILE (one or more) or --traces DIR")
    if len(files) == 1 and traces is None and not cv:
        res = run(files[0], column, time_column, step, delay, show_progress=show, frontier=frontier, **vigil_kw)
        res["decision_speed"] = decision_speed(services)
        if plot is not None:
            _plot(res, plot)
        report.single(res, json_out)
        return
    if plot is not None:
        err.print("--plot draws one trace: ignored with several")
    out = report.many(files, column, time_column, step, delay, vigil_kw, frontier=frontier, cv=cv,
                      workers=workers, show_progress=show)
    out["decision_speed"] = decision_speed(services)
    report.print_many(out, json_out)
