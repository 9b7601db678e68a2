"""`vigil bench autoscale` output: the single-trace table as before, and one table (one JSON object with a
per-trace list) for many traces, with the frontier and the leave-one-trace-out figures when asked."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from vigil.bench import autoscale_suite as suite
from vigil.bench.autoscale_traces import Trace, TraceError, read_trace

err = Console(stderr=True)


def _say(show: bool, msg: str) -> None:
    """Progress lines: rich on a terminal, plain lines otherwise (stderr, so --json stays one object)."""
    if show:
        err.print(msg, highlight=False)
    else:
        print(msg, file=sys.stderr)


def single(res: dict[str, Any], json_out: bool) -> None:
    out = {k: v for k, v in res.items() if not k.startswith("_")}
    if json_out:
        print(json.dumps(out))
        return
    name = Path(out["trace"]).name
    table = Table(title=f"autoscale: {name}:{out['column']} ({out['time']}), D={out['delay_s']:g}s, "
                        f"{out['days']} days")
    for col in ("policy", "replica-hours", "x oracle", "violation min", "unserved", "actions"):
        table.add_column(col, justify="right")
    for pname, f in out["policies"].items():
        table.add_row(pname, f"{f['replica_hours']:.1f}", f"{f['replica_hours_vs_oracle']:.2f}",
                      f"{f['violation_minutes']:.1f}", f"{f['unserved_fraction']:.4%}", str(f["actions"]))
    Console().print(table)
    if "frontier" in out:
        fr = out["frontier"]
        Console().print(f"frontier: violation ratio at equal cost {fr['violation_ratio_at_equal_cost']} "
                        f"({fr['equal_cost_read']}), cost ratio at equal violations "
                        f"{fr['cost_ratio_at_equal_violations']} ({fr['equal_violations_read']}); "
                        f"goal {'met' if fr['met'] else 'missed'}")
    vs = out["vs_hpa"]
    Console().print(f"vigil against the HPA at 0.7: {_share(vs['violation_minutes_reduction'])} fewer violation "
                    f"minutes, {_share(vs['replica_hours_reduction'])} fewer replica-hours, actions x"
                    f"{vs['actions_ratio'] if vs['actions_ratio'] is not None else '-'}; "
                    f"{out['decision_speed']['services']} decisions in {out['decision_speed']['seconds']:.3f} s")


def _share(reduction: float | None) -> str:
    return "-" if reduction is None else f"{reduction:.1%}"


def read_all(files: list[Path], column: str | None, time_column: str | None, step: float | None,
             show: bool) -> tuple[list[Trace], list[dict[str, str]]]:
    ok: list[Trace] = []
    failed: list[dict[str, str]] = []
    for f in files:
        try:
            tr = read_trace(f, column, time_column, step)
        except TraceError as exc:
            failed.append({"trace": str(f), "error": str(exc)})
            _say(show, f"skipped {f}: {exc}")
            continue
        ok.append(tr)
        _say(show, f"{f}: demand {tr.column!r}, time from {tr.time_source}, {tr.rows} rows")
    return ok, failed


def many(files: list[Path], column: str | None, time_column: str | None, step: float | None, delay: float,
         vigil_kw: dict[str, Any], frontier: bool, cv: bool, workers: int, show_progress: bool,
         hpa_target: float = 0.7) -> dict[str, Any]:
    from vigil.bench import autoscale_cv

    traces, failed = read_all(files, column, time_column, step, show_progress)
    if cv and len(traces) < 2:
        import typer

        raise typer.BadParameter(f"--cv leaves one trace out: it needs at least 2 readable traces, "
                                 f"{len(traces)} given")
    prepared = [suite.Prepared.of(t) for t in traces]
    frontier = frontier or cv  # the cross-validated score is read against the frontier
    jobs = [j for i in range(len(prepared)) for j in suite.base_jobs(i, vigil_kw, hpa_target, frontier)]
    if cv:
        jobs += autoscale_cv.grid_jobs(len(prepared), vigil_kw)
    t0 = time.perf_counter()
    with Progress(console=err, transient=True, disable=not (show_progress and err.is_terminal)) as progress:
        task = progress.add_task("policy runs", total=len(jobs))

        def tick(job: suite.Job, secs: float) -> None:
            progress.advance(task)
            if not err.is_terminal:
                print(f"{prepared[job.trace].trace.path.name} {job.label}: {secs:.1f} s", file=sys.stderr)

        results = suite.run_jobs(prepared, delay, jobs, workers, tick)
    wall = time.perf_counter() - t0
    per = [suite.assemble(p, i, results, delay, hpa_target, frontier) for i, p in enumerate(prepared)]
    runs = len({(j.trace, j.kind, j.settings) for j in jobs})
    out: dict[str, Any] = {"delay_s": delay, "traces": per, "failed": failed,
                           "runs": runs, "wall_seconds": round(wall, 1), "workers": workers}
    if frontier:
        out["frontier_met"] = sum(bool(t["frontier"]["met"]) for t in per)
    if cv:
        out["cv"] = autoscale_cv.leave_one_out(prepared, results, hpa_target, vigil_kw)
    return out


def _r(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def print_many(out: dict[str, Any], json_out: bool) -> None:
    if json_out:
        print(json.dumps(out))
        return
    fr = any("frontier" in t for t in out["traces"])
    table = Table(title=f"autoscale, D={out['delay_s']:g}s: vigil against the HPA at 0.7"
                        + (" and its frontier" if fr else ""))
    cols = ["trace", "demand", "time", "days", "vigil rh / viol min / actions", "hpa rh / viol min / actions"]
    if fr:
        cols += ["viol ratio @ equal cost", "cost ratio @ equal viol", "goal"]
    for c in cols:
        table.add_column(c, justify="left" if c in ("trace", "demand", "time") else "right")
    for t in out["traces"]:
        v, h = t["policies"]["vigil"], t["policies"]["hpa"]
        row = [Path(t["trace"]).name, t["column"], t["time"], f"{t['days']:g}",
               f"{v['replica_hours']:.0f} / {v['violation_minutes']:g} / {v['actions']}",
               f"{h['replica_hours']:.0f} / {h['violation_minutes']:g} / {h['actions']}"]
        if fr:
            f = t["frontier"]
            row += [_r(f["violation_ratio_at_equal_cost"]), _r(f["cost_ratio_at_equal_violations"]),
                    "met" if f["met"] else "missed"]
        table.add_row(*row)
    con = Console()
    con.print(table)
    for f in out["failed"]:
        con.print(f"not replayed: {f['error']}", highlight=False)
    if "cv" in out:
        cv = out["cv"]
        con.print(f"leave-one-trace-out (figure of merit): goal met on {cv['met']} of {len(cv['folds'])} "
                  f"held-out traces; in-sample (setting chosen on all): {cv['in_sample_met']}")
        for fold in cv["folds"]:
            con.print(f"  {Path(fold['trace']).name}: chosen {fold['chosen']}, violation ratio "
                      f"{_r(fold['violation_ratio_at_equal_cost'])}, cost ratio "
                      f"{_r(fold['cost_ratio_at_equal_violations'])}, {'met' if fold['met'] else 'missed'}",
                      highlight=False)
    con.print(f"{out['runs']} policy runs in {out['wall_seconds']} s on {out['workers']} worker(s); "
              f"{out['decision_speed']['services']} decisions in {out['decision_speed']['seconds']:.3f} s")
