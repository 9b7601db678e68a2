"""`vigil bench rca`: root-cause ranking (and, by default, detection) on recorded faults, through
vigil's own engine on simulated time. Reads any folder in the RCA data format (docs/rca.md).

- `--given-start`: ranks at each labelled fault's start (the RCAEval protocol: ranking quality alone);
- default: vigil opens incidents from its own detection and ranks where they start; it also reports
  detection recall within 5 minutes, the median detection delay and false incidents per recorded day.

The ranking uses the shipped settings; `cv` re-ranks the same evidence with every setting of a small
grid and reports leave-one-system-out figures (the figure of merit)."""

from __future__ import annotations

import asyncio
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from vigil.bench.rca_data import DataError, Fault, Recording, find_recordings
from vigil.bench.rca_replay import Replay, replay
from vigil.bench.rca_score import GRID, CaseLabel, figures, grouped, leave_one_system_out, position, tuned
from vigil.config.detect import CORROBORATION_EVIDENCE
from vigil.incidents.rootcause import RankSettings, ShiftRanker, series_shifts

app = typer.Typer(add_completion=False)

DETECT_WITHIN_S = 300.0
DAY = 86_400.0


def fault_window(f: Fault, last_ts: float) -> tuple[float, float]:
    """When an incident counts as this fault's: from its start to its end (the recording's end when
    unknown), and at least the 5 minutes detection is given."""
    end = last_ts if f.end is None else f.end
    return f.start, max(end, f.start + DETECT_WITHIN_S)


def fault_rows(r: Replay, given_start: bool) -> list[dict[str, Any]]:
    """One row per labelled fault: its ranking (original names) and, by default, how it was detected."""
    rows = []
    for f in r.recording.faults:
        row: dict[str, Any] = {"system": r.recording.system, "recording": r.recording.name, "start": f.start,
                               "fault": f.kind, "root_cause": f.root_cause}
        at: float | None = f.start
        if not given_start:
            lo, hi = fault_window(f, r.last_ts)
            starts = [o.start for o in r.opened if lo <= o.start <= hi]
            at = starts[0] if starts else None
            row["incident_start"] = at
            row["detected_after_s"] = None if at is None else round(at - f.start, 1)
        ranked = r.ranked.get(at) if at is not None else None
        row["ranking"] = [r.original(s.service) for s in ranked.suspects] if ranked else []
        row["position"] = position(row["ranking"], f.root_cause)
        row["why"] = ranked.suspects[0].why if ranked and ranked.suspects else None
        rows.append(row)
    return rows


def detection(replays: list[Replay], rows: list[dict[str, Any]]) -> dict[str, Any]:
    delays = [row["detected_after_s"] for row in rows if row["detected_after_s"] is not None]
    within = sum(1 for d in delays if d <= DETECT_WITHIN_S)
    false = 0
    for r in replays:
        windows = [fault_window(f, r.last_ts) for f in r.recording.faults]
        false += sum(1 for o in r.opened if not any(lo <= o.start <= hi for lo, hi in windows))
    days = sum(r.last_ts - r.first_ts for r in replays) / DAY
    series_days = sum((r.last_ts - r.first_ts) / DAY * r.series for r in replays)
    alerts = sum(len(r.alert_starts) for r in replays)
    alerted = sum(1 for r in replays for f in r.recording.faults
                  if any(f.start <= t <= f.start + DETECT_WITHIN_S for t in r.alert_starts))
    return {"faults": len(rows), "detected_within_5m": within,
            "recall_5m": round(within / len(rows), 4) if rows else 0.0,
            "median_delay_s": statistics.median(delays) if delays else None,
            "incidents": sum(len(r.opened) for r in replays), "false_incidents": false,
            "recorded_days": round(days, 3), "false_per_day": round(false / days, 3) if days else None,
            "firing_alerts": alerts,
            "faults_with_an_alert_within_5m": alerted,
            "alerts_per_series_day": round(alerts / series_days, 3) if series_days else None,
            "how": "the engine's own incident stage places the Anomaly alerts of its detectors (correlation "
                   "over depends_on); an incident starts when the stage opens it"}


def cross_validate(replays: list[Replay], rows: list[dict[str, Any]], base: RankSettings) -> dict[str, Any]:
    """Leave-one-system-out over the grid, re-ranking the evidence each replay read."""
    cases, evidence = [], []
    by_recording = {(r.recording.system, r.recording.name): r for r in replays}
    for row in rows:
        r = by_recording[(row["system"], row["recording"])]
        at = row["start"] if "incident_start" not in row else row["incident_start"]
        cases.append(CaseLabel(row["system"], row["root_cause"], row["fault"]))
        evidence.append((r, r.ranked.get(at) if at is not None else None))
    cache: dict[tuple[int, int], Any] = {}

    def rank_with(s: RankSettings, i: int) -> list[str] | None:
        r, ranked = evidence[i]
        if ranked is None:
            return None
        key = (i, s.history_samples)
        if key not in cache:
            cache[key] = series_shifts(ranked.evidence, s)
        suspects = ShiftRanker(s).rank_shifts(cache[key], ranked.evidence.depends_on, ranked.start)
        return [r.original(x.service) for x in suspects]

    return leave_one_system_out(cases, rank_with, base, GRID)


async def run_all(recordings: list[Recording], given_start: bool, settings: RankSettings,
                  report: Callable[[str, float], None], evidence: float | None = None) -> list[Replay]:
    out = []
    history = max(max(GRID["history_samples"]), settings.history_samples)
    for rec in recordings:
        label = f"{rec.system}/{rec.name}"

        def progress(done: float, label: str = label) -> None:
            report(label, done)

        out.append(await replay(rec, given_starts=given_start, settings=settings, history_samples=history,
                                progress=progress, evidence=evidence))
        report(label, 1.0)
    return out


class Progress:
    """A rich progress bar per recording on a terminal; plain lines on stderr otherwise."""

    def __init__(self, total: int) -> None:
        self.console = Console(stderr=True)
        self.live = self.console.is_terminal
        self.bars: dict[str, Any] = {}
        self.done: set[str] = set()
        if self.live:
            from rich.progress import Progress as Bars

            self.progress = Bars(console=self.console, transient=False)
            self.progress.start()
        self.total = total

    def __call__(self, label: str, done: float) -> None:
        if self.live:
            if label not in self.bars:
                self.bars[label] = self.progress.add_task(f"replay {label}", total=1.0)
            self.progress.update(self.bars[label], completed=done)
        elif done >= 1.0 and label not in self.done:
            self.done.add(label)
            print(f"replayed {label} ({len(self.done)}/{self.total})", file=sys.stderr, flush=True)

    def stop(self) -> None:
        if self.live:
            self.progress.stop()


def build_report(replays: list[Replay], given_start: bool, settings: RankSettings,
                 evidence: float | None = None) -> dict[str, Any]:
    rows = [row for r in replays for row in fault_rows(r, given_start)]
    out: dict[str, Any] = {
        "mode": "given-start" if given_start else "detected",
        "faults": rows, "all": figures([row["position"] for row in rows]),
        "systems": grouped(rows, "system"), "faults_by_kind": grouped(rows, "fault"),
        "settings": tuned(settings, GRID),
        "reads": "each series: its last history_samples samples before the start, and max(5 min, 2 of its "
                 "own samples) after it, at most 10 min",
        "replay": [{"system": r.recording.system, "recording": r.recording.name, "samples": r.samples,
                    "seconds": round(r.seconds, 2), "graph_edges_dropped": r.edges_dropped} for r in replays]}
    if not given_start:
        out["detection"] = detection(replays, rows)
        out["detection"]["corroboration_evidence"] = CORROBORATION_EVIDENCE if evidence is None else evidence
    out["cv"] = cross_validate(replays, rows, settings)
    return out


def _fig(f: dict[str, Any] | None) -> list[str]:
    return ["-"] * 3 if not f else [f"{f['AC@1']:.2f}", f"{f['AC@3']:.2f}", f"{f['Avg@5']:.2f}"]


def print_tables(rep: dict[str, Any]) -> None:
    console = Console()
    cv = rep["cv"].get("systems", {})
    t = Table(title=f"vigil bench rca ({rep['mode']}): shipped settings (in-sample) and leave-one-system-out")
    for col in ("system", "faults", "AC@1", "AC@3", "Avg@5", "CV AC@1", "CV AC@3", "CV Avg@5"):
        t.add_column(col)
    for name, f in rep["systems"].items():
        t.add_row(name, str(f["faults"]), *_fig(f), *_fig(cv.get(name)))
    t.add_row("all", str(rep["all"]["faults"]), *_fig(rep["all"]), *_fig(rep["cv"].get("all")))
    console.print(t)
    k = Table(title="per fault kind (shipped settings)")
    for col in ("fault", "faults", "AC@1", "AC@3", "Avg@5"):
        k.add_column(col)
    for name, f in rep["faults_by_kind"].items():
        k.add_row(name, str(f["faults"]), *_fig(f))
    console.print(k)
    if "detection" in rep:
        d = rep["detection"]
        console.print(f"detection: {d['detected_within_5m']}/{d['faults']} faults within 5 min "
                      f"(recall {d['recall_5m']:.2f}), median delay {d['median_delay_s']} s, "
                      f"{d['false_incidents']} false incidents in {d['recorded_days']} recorded days "
                      f"({d['false_per_day']} per day); {d['faults_with_an_alert_within_5m']} faults had an "
                      f"alert within 5 min, {d['alerts_per_series_day']} alerts per series per day "
                      f"(corroboration evidence {d['corroboration_evidence']:g})")
    for fold in rep["cv"].get("folds", []):
        console.print(f"cv: held out {fold['held_out']}: chose {fold['chosen']}")
    if "skipped" in rep["cv"]:
        console.print(f"cv: {rep['cv']['skipped']}")


@app.command()
def rca(data: Path = typer.Option(..., "--data", help="a folder of <system>/<recording>/ (RCA data format)"),
        given_start: bool = typer.Option(False, "--given-start",
                                         help="rank at each labelled fault start, not vigil's own incidents"),
        evidence: float | None = typer.Option(
            None, "--evidence", min=0,
            help="default mode: the corroboration evidence of the anomaly alerts instead of the shipped "
                 f"{CORROBORATION_EVIDENCE:g} (0: every anomaly alert fires), to measure the trade-off"),
        as_json: bool = typer.Option(False, "--json")) -> None:
    """Root-cause ranking AC@1/AC@3/Avg@5 (and detection figures by default) on recorded faults."""
    try:
        recordings = find_recordings(data)
        settings = RankSettings()
        progress = Progress(len(recordings))
        try:
            replays = asyncio.run(run_all(recordings, given_start, settings, progress, evidence))
        finally:
            progress.stop()
    except DataError as exc:
        Console(stderr=True).print(f"[bold red]bad --data[/]: {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    rep = build_report(replays, given_start, settings, evidence)
    if as_json:
        print(orjson.dumps(rep).decode())
    else:
        print_tables(rep)
