"""`vigil bench forecast`: backtest accuracy and speed of every forecaster on real traces, and the
fleet default's speed on 10,000 series.

Traces are rolled up to hours; each forecaster is backtested with rolling origins one day apart and
a 24 h horizon (vigil.forecast.backtest, the production code). The fleet figure fits and forecasts N
synthetic series of 14 days hourly, built from the real traces' shapes with random level, noise and
phase, through `vigil.forecast.fit_predict_many`, and scores the day after."""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
import typer
from rich.console import Console
from rich.table import Table

from vigil.forecast import FLEET_DEFAULT, FORECASTERS, fit_predict_many
from vigil.forecast.backtest import backtest, coverage, mae, seasonal_scale

app = typer.Typer(add_completion=False, help=__doc__)
err = Console(stderr=True)
HOUR = 3600.0


@dataclass(slots=True)
class Trace:
    name: str
    path: str
    column: str
    values: np.ndarray  # hourly
    daily: bool = True  # has a daily cycle (the MASE < 1 target applies)


def _default_data() -> Path:
    return Path(__file__).resolve().parents[3].parent / "shared" / "data"


def _parse_time(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()


def hourly(ts: np.ndarray, values: np.ndarray, how: str, step: float) -> np.ndarray:
    """Roll a regular series up to hours ('sum' for counts, 'mean' for levels); hours less than half
    covered (the partial first and last) are dropped; missing rows count as 0 for sums."""
    hour = np.floor(ts / HOUR).astype(np.int64)
    idx = hour - hour[0]
    ok = np.isfinite(values)
    total = np.bincount(idx[ok], weights=values[ok], minlength=idx[-1] + 1)
    count = np.bincount(idx[ok], minlength=idx[-1] + 1)
    per_hour = HOUR / step
    out = total if how == "sum" else np.where(count > 0, total / np.maximum(count, 1), np.nan)
    keep = np.flatnonzero(count >= per_hour / 2)
    if keep.size == 0:
        return out[:0]
    return out[keep[0]:keep[-1] + 1]


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def load_traces(data: Path) -> list[Trace]:
    """The traces of ../shared/data/traces/README.md and the NAB ELB series, hourly, one column each."""
    specs = [  # (name, relative path, column, time: column name | step seconds, roll-up)
        ("worldcup98", "traces/worldcup98/invocation_count_per_minute.csv", "count", "period", "sum"),
        ("alibaba2018_cpu", "traces/datacenter_aggregates/"
         "alibaba2018_machine_usage_days_1_to_8_grouped_300_seconds.csv", "cpu_util_percent", 300.0, "mean"),
        ("google2019_cpu", "traces/datacenter_aggregates/google2019_instance_usage_grouped_300_seconds_month.csv",
         "avg_cpu", 300.0, "mean"),
        ("azure2019_cpu", "traces/datacenter_aggregates/azure_v2_vm_cpu_readings_month_aggregated_cpu_mem.csv",
         "cpu_usage", "timestamp", "mean"),
        ("nab_elb_requests", "nab/data/realAWSCloudwatch/elb_request_count_8c0756.csv", "value", "timestamp", "sum"),
    ]
    traces = []
    for name, rel, column, when, how in specs:
        path = data / rel
        if not path.exists():
            err.print(f"[yellow]skip[/] {name}: {path} not found")
            continue
        header, rows = _read(path)
        col = header.index(column)
        values = np.array([float(r[col]) if r[col] else np.nan for r in rows])
        if isinstance(when, float):
            ts, step = np.arange(len(values)) * when, when
        else:
            tcol = header.index(str(when))
            raw = [r[tcol] for r in rows]
            ts = np.array([float(x) for x in raw]) if raw[0].replace(".", "").isdigit() else \
                np.array([_parse_time(x) for x in raw])
            step = float(np.median(np.diff(ts)))
        traces.append(Trace(name, rel, column, hourly(ts, values, how, step)))
    return traces


def fleet_series(traces: list[Trace], n: int, days: int, rng: np.random.Generator) -> np.ndarray:
    """n series of `days` days hourly: random windows of the real traces (normalised), random level,
    multiplicative noise and a random daily phase."""
    pool = [t.values / np.nanmean(t.values) for t in traces if len(t.values) >= days * 24 + 24]
    if not pool:  # no data: a synthetic daily shape
        x = np.arange(60 * 24)
        pool = [1 + 0.5 * np.sin(2 * np.pi * x / 24) + 0.2 * np.sin(2 * np.pi * x / 168)]
    T = days * 24
    Y = np.empty((n, T))
    which = rng.integers(len(pool), size=n)
    for i in range(n):
        src = pool[which[i]]
        start = rng.integers(0, len(src) - T + 1 - 24) + rng.integers(24)
        Y[i] = src[start:start + T]
    Y = np.where(np.isfinite(Y), Y, 1.0)
    Y *= rng.lognormal(3.0, 1.5, size=(n, 1)) * rng.lognormal(0.0, rng.uniform(0.02, 0.2, (n, 1)), (n, T))
    return Y


def run_fleet(traces: list[Trace], n: int, kind: str, seed: int = 0) -> dict[str, float | int | str]:
    """Fit+forecast n series of 14 days hourly with `kind`, timed against seasonal naive in the same run;
    accuracy on the 15th day."""
    rng = np.random.default_rng(seed)
    Y = fleet_series(traces, n, 15, rng)
    train, actual = Y[:, :-24], Y[:, -24:]
    t0, c0 = time.perf_counter(), time.process_time()
    out = fit_predict_many(train, 24, 24, (80,), kind=kind)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0  # cpu: robust to a busy machine
    t0 = time.perf_counter()
    naive = fit_predict_many(train, 24, 24, (80,), kind="seasonal_naive")
    naive_seconds = time.perf_counter() - t0
    lo, hi = out.intervals[80]
    scales = np.array([seasonal_scale(r, 24) for r in train])
    return {
        "kind": kind, "series": n, "obs_per_series": train.shape[1], "horizon": 24,
        "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3), "series_per_s": round(n / seconds, 1),
        "seasonal_naive_seconds": round(naive_seconds, 3),
        "mase": round(float(np.mean(np.abs(actual - out.mean).mean(axis=1) / scales)), 4),
        "relative_mae": round(mae(actual, out.mean) / mae(actual, naive.mean), 4),
        "coverage_80": round(coverage(actual, lo, hi), 4),
        "fallbacks": sum(r is not None for r in out.fallback_reasons),
    }


def _round(d: dict[str, object]) -> dict[str, object]:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}


@app.command()
def main(
    data: Path | None = typer.Option(None, help="folder holding traces/ and nab/ (default ../shared/data)"),
    json_out: bool = typer.Option(False, "--json", help="print one JSON object on stdout"),
    forecasters: str = typer.Option(",".join(FORECASTERS.kinds()), help="comma-separated kinds"),
    windows: int = typer.Option(14, help="rolling origins per trace, one day apart"),
    horizon: int = typer.Option(24, help="forecast horizon in hours"),
    fleet_series_n: int = typer.Option(10_000, "--fleet-series", help="series in the fleet speed run (0: skip)"),
    fleet_kind: str = typer.Option(FLEET_DEFAULT, help="forecaster kind for the fleet run"),
) -> None:
    """Backtest every forecaster on the real traces (hourly, 24 h horizon) and time the fleet default."""
    data = data or _default_data()
    kinds = [k.strip() for k in forecasters.split(",") if k.strip()]
    for k in kinds + [fleet_kind]:
        if k not in FORECASTERS:
            err.print(f"unknown forecaster {k!r}; known: {', '.join(FORECASTERS.kinds())}")
            raise typer.Exit(2)
    traces = load_traces(data) if data.exists() else []
    if not traces:
        err.print(f"[yellow]no traces under {data}[/]: only the fleet run (on a synthetic shape)")
    results: dict[str, dict[str, dict[str, object]]] = {k: {} for k in kinds}
    for trace in traces:
        for kind in kinds:
            err.print(f"backtest {kind:<20} on {trace.name} ({len(trace.values)} h)")
            r = backtest(trace.values, kind, (24, 168), horizon, windows=windows, step=24, min_train=72)
            results[kind][trace.name] = _round({
                "mase": r.mase, "relative_mae": r.relative_mae, "smape": r.smape, "coverage_80": r.coverage,
                "under_forecast_rate": r.under_forecast_rate, "windows": r.windows, "fallbacks": r.fallbacks,
                "series_per_s": r.windows / r.seconds if r.seconds > 0 else float("inf"),
            })
    fleet = None
    if fleet_series_n > 0:
        err.print(f"fleet: {fleet_series_n} series x 14 days hourly with {fleet_kind}")
        fleet = run_fleet(traces, fleet_series_n, fleet_kind)
    summary = {}
    for kind in kinds:
        rs = list(results[kind].values())
        if rs:
            summary[kind] = _round({
                "mean_mase": float(np.mean([r["mase"] for r in rs])),
                "mean_relative_mae": float(np.mean([r["relative_mae"] for r in rs])),
                "mean_coverage_80": float(np.mean([r["coverage_80"] for r in rs])),
                "traces_mase_below_1": sum(float(r["mase"]) < 1 for r in rs),  # type: ignore[arg-type]
                "traces_coverage_in_75_85": sum(0.75 <= float(r["coverage_80"]) <= 0.85  # type: ignore[arg-type]
                                                for r in rs),
            })
    report = {
        "benchmark": "forecast", "data": str(data), "horizon_h": horizon, "windows": windows,
        "traces": {t.name: {"path": t.path, "column": t.column, "hours": int(len(t.values))} for t in traces},
        "forecasters": results, "summary": summary, "fleet": fleet, "fleet_default": FLEET_DEFAULT,
    }
    if json_out:
        print(orjson.dumps(report, option=orjson.OPT_SERIALIZE_NUMPY).decode())
        return
    table = Table(title=f"forecast backtests: hourly, {horizon} h horizon, {windows} rolling origins")
    for col in ("forecaster", "trace", "mase", "rel. MAE", "smape %", "coverage 80", "under", "series/s"):
        table.add_column(col, justify="left" if col in ("forecaster", "trace") else "right")
    for kind in kinds:
        for name, row in results[kind].items():
            table.add_row(kind, name, f"{row['mase']:.3f}", f"{row['relative_mae']:.3f}", f"{row['smape']:.1f}",
                          f"{row['coverage_80']:.3f}", f"{row['under_forecast_rate']:.3f}",
                          f"{row['series_per_s']:.1f}")
    Console(width=130).print(table)
    if fleet:
        Console().print(f"fleet ({fleet['kind']}): {fleet['series']} series x {fleet['obs_per_series']} h in "
                        f"{fleet['seconds']} s, {fleet['cpu_seconds']} s CPU ({fleet['series_per_s']} series/s; "
                        f"seasonal naive "
                        f"{fleet['seasonal_naive_seconds']} s); day-after MASE {fleet['mase']}, relative MAE "
                        f"{fleet['relative_mae']}, coverage_80 {fleet['coverage_80']}")
