"""`vigil bench nab`: run a registered detector over a corpus in NAB's layout and score it as NAB does.

    data/<category>/<file>.csv   (timestamp,value)     labels/combined_windows.json
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import orjson
import typer
from rich.console import Console
from rich.table import Table

from vigil.detect import DETECTORS
from vigil.detect.nabscore import PROFILES, ProfileResult, ScoredFile, optimize, score_at, sweep_file

app = typer.Typer(add_completion=False)

# Published standard-profile scores on the development part (threshold optimised there).
PUBLISHED = {"Numenta HTM": 73.6, "CAD OSE": 71.7, "ARTime": 71.1, "KNN CAD": 61.0,
             "Random Cut Forest": 56.7, "Skyline": 55.6, "Relative Entropy": 46.3,
             "Twitter ADVec": 43.5, "Windowed Gaussian": 35.0, "random": 13.2, "null": 0.0}
PUBLISHED_CORPUS = (34, 50)  # files and windows of the development part those scores were measured on
# Baselines that are not detectors: they need no state and exist only to check the scorer.
BASELINES = ("null", "random")


@dataclass
class NabFile:
    name: str  # "<category>/<file>.csv"
    raw_ts: list[str]
    raw_values: list[str]
    ts: np.ndarray  # datetime64[s]
    values: np.ndarray
    windows: list[tuple[np.datetime64, np.datetime64]]

    @property
    def epoch(self) -> np.ndarray:
        return self.ts.astype("datetime64[s]").astype(np.int64).astype(np.float64)


def _dt(text: str) -> np.datetime64:
    return np.datetime64(text.strip().replace(" ", "T")).astype("datetime64[s]")


def load_corpus(root: Path) -> list[NabFile]:
    labels = json.loads((root / "labels" / "combined_windows.json").read_text())
    files = []
    for path in sorted((root / "data").glob("*/*.csv")):
        name = f"{path.parent.name}/{path.name}"
        with path.open(newline="") as fh:
            rows = list(csv.reader(fh))[1:]
        raw_ts = [r[0] for r in rows]
        raw_values = [r[1] for r in rows]
        ts = np.array([t.strip().replace(" ", "T") for t in raw_ts], dtype="datetime64[s]")
        values = np.array([float(v) if v.strip() else np.nan for v in raw_values])
        wins = [(_dt(a), _dt(b)) for a, b in labels.get(name, [])]
        files.append(NabFile(name, raw_ts, raw_values, ts, values, wins))
    if not files:
        raise typer.BadParameter(f"no data/<category>/<file>.csv under {root}")
    return files


def run_detector(kind: str, f: NabFile) -> np.ndarray:
    if kind == "null":
        return np.full(len(f.values), 0.5)
    if kind == "random":  # NAB's random baseline, seeded per file so runs repeat
        return np.random.default_rng(_seed(f.name)).random(len(f.values))
    detector = DETECTORS.create(kind)
    scores = np.asarray(detector.score_many(f.epoch, f.values), dtype=np.float64)
    return np.clip(np.nan_to_num(scores, nan=0.0), 0.0, 1.0)


def _seed(name: str) -> int:
    return int.from_bytes(name.encode()[:8].ljust(8, b"\0"), "little") % 2**32


def shipped_thresholds(kind: str) -> dict[str, float]:
    if kind in BASELINES:
        return {p: 0.5 for p in PROFILES}
    return dict(DETECTORS.load(kind).THRESHOLDS)


def write_results(out: Path, kind: str, f: NabFile, scores: np.ndarray) -> None:
    category, fname = f.name.split("/")
    folder = out / kind / category
    folder.mkdir(parents=True, exist_ok=True)
    label = np.zeros(len(f.values), dtype=int)
    for a, b in f.windows:
        label[(f.ts >= a) & (f.ts <= b)] = 1
    with (folder / f"{kind}_{fname}").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "value", "anomaly_score", "label"])
        for t, v, s, lab in zip(f.raw_ts, f.raw_values, scores, label):
            w.writerow([t, v, repr(float(s)), int(lab)])


def evaluate(files: list[NabFile], scores: dict[str, np.ndarray], thresholds: dict[str, float] | None
             ) -> dict[str, ProfileResult]:
    swept: list[ScoredFile] = []
    base = 0
    for f in files:
        sf = sweep_file(f.name, f.ts, scores[f.name], f.windows, window_base=base)
        base += len(f.windows)
        swept.append(sf)
    return {p: (optimize(swept, p) if thresholds is None else score_at(swept, p, thresholds[p]))
            for p in PROFILES}


def by_category(files: list[NabFile], scores: dict[str, np.ndarray], thresholds: dict[str, float]
                ) -> dict[str, dict]:
    """Per category: the score at the thresholds used, at thresholds re-optimised on that category
    alone, and leave-one-category-out (thresholds optimised on the *other* categories), all profiles."""
    cats = sorted({f.name.split("/")[0] for f in files})
    out: dict[str, dict] = {}
    for c in cats:
        mine = [f for f in files if f.name.split("/")[0] == c]
        rest = [f for f in files if f.name.split("/")[0] != c]
        at = evaluate(mine, scores, thresholds)
        row: dict = {"files": len(mine), "windows": sum(len(f.windows) for f in mine),
                     "false_positives": at["standard"].fp}
        if row["windows"] == 0:  # nothing to find: only false alarms count
            out[c] = row
            continue
        own = evaluate(mine, scores, None)
        loco_th = {p: r.threshold for p, r in evaluate(rest, scores, None).items()} if rest else thresholds
        loco = evaluate(mine, scores, loco_th)
        for p in PROFILES:
            row[p] = {"at_thresholds": round(at[p].normalized, 2), "optimized_here": round(own[p].normalized, 2),
                      "leave_one_out": round(loco[p].normalized, 2), "leave_one_out_threshold": loco_th[p]}
        out[c] = row
    return out


@app.command()
def nab(data: Path = typer.Option(..., "--data", help="folder with data/ and labels/ in NAB's layout"),
        detector: str = typer.Option("ensemble", "--detector", help="registered detector kind"),
        write_results_to: Optional[Path] = typer.Option(None, "--write-results",
                                                        help="write OUT/<detector>/<category>/..."),
        threshold: Optional[float] = typer.Option(None, "--threshold", help="one threshold for all profiles"),
        optimize_: bool = typer.Option(False, "--optimize", help="re-choose thresholds on this data"),
        categories: bool = typer.Option(False, "--by-category",
                                        help="also score each category (own and leave-one-out thresholds)"),
        as_json: bool = typer.Option(False, "--json", help="print one JSON object")) -> None:
    """Score a detector on a NAB-layout corpus with NAB's rules (all three profiles)."""
    if detector not in BASELINES and detector not in DETECTORS:
        raise typer.BadParameter(f"unknown detector {detector!r}; known: "
                                 f"{', '.join(DETECTORS.kinds() + list(BASELINES))}")
    files = load_corpus(data)
    t0 = time.perf_counter()
    scores = {f.name: run_detector(detector, f) for f in files}
    elapsed = time.perf_counter() - t0
    if write_results_to is not None:
        for f in files:
            write_results(write_results_to, detector, f, scores[f.name])
    if optimize_:
        chosen = None
    elif threshold is not None:
        chosen = {p: threshold for p in PROFILES}
    else:
        chosen = shipped_thresholds(detector)
    results = evaluate(files, scores, chosen)
    rows = sum(len(f.values) for f in files)
    out = {"detector": detector, **{p: round(r.normalized, 2) for p, r in results.items()},
           "thresholds": {p: r.threshold for p, r in results.items()},
           "raw": {p: round(r.raw, 4) for p, r in results.items()},
           "counts": {p: {"tp": r.tp, "fp": r.fp, "fn": r.fn} for p, r in results.items()},
           "threshold_mode": "optimized" if optimize_ else ("fixed" if threshold is not None else "shipped"),
           "files": len(files), "rows": rows, "windows": sum(len(f.windows) for f in files),
           "points_per_s": round(rows / elapsed) if elapsed > 0 else None}
    if categories:
        out["categories"] = by_category(files, scores, out["thresholds"])
    if as_json:
        print(orjson.dumps(out).decode())
        return
    console = Console()
    table = Table(title=f"NAB on {data}: {len(files)} files, {out['windows']} windows, "
                        f"thresholds {out['threshold_mode']}")
    for col in ("detector", "std", "lowFP", "lowFN", "thresholds"):
        table.add_column(col, no_wrap=True)
    th = out["thresholds"]
    table.add_row(f"[bold]{detector}[/]", *(f"{out[p]:.1f}" for p in PROFILES),
                  "/".join(f"{th[p]:.3g}" for p in PROFILES))
    full = (len(files), out["windows"]) == PUBLISHED_CORPUS
    for name, std in PUBLISHED.items() if full else ():  # a subset's score is not comparable to them
        table.add_row(f"{name} [dim](published)[/]", f"{std:.1f}", "", "", "")
    console.print(table)
    if not full:
        console.print(f"published scores are for the full development corpus ({PUBLISHED_CORPUS[0]} files, "
                      f"{PUBLISHED_CORPUS[1]} windows) and are not shown beside a run on {len(files)} files")
    if categories:
        cat = Table(title="per category, standard profile: at the thresholds above / optimised on the category "
                          "/ thresholds optimised on the other categories")
        for col in ("category", "files", "windows", "FP", "at", "own", "LOCO"):
            cat.add_column(col, no_wrap=True)
        for c, row in out["categories"].items():
            std = row.get("standard")
            cat.add_row(c, str(row["files"]), str(row["windows"]), str(row["false_positives"]),
                        *((f"{std['at_thresholds']:.1f}", f"{std['optimized_here']:.1f}", f"{std['leave_one_out']:.1f}")
                          if std else ("", "", "")))
        console.print(cat)
