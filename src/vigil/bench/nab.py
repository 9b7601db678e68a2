"""`vigil bench nab`: run a registered detector over a corpus in NAB's layout and score it as NAB does.

    data/<category>/<file>.csv   (timestamp,value)     labels/combined_windows.json
"""

from __future__ import annotations

import csv
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from vigil.detect import DETECTORS
from vigil.detect import crossval as cv
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


def run_detector(kind: str, f: NabFile, settings: dict[str, float] | None = None) -> np.ndarray:
    if kind == "null":
        return np.full(len(f.values), 0.5)
    if kind == "random":  # NAB's random baseline, seeded per file so runs repeat
        return np.random.default_rng(_seed(f.name)).random(len(f.values))
    detector = DETECTORS.create(kind, **(settings or {}))
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


def swept(files: list[NabFile], scores: dict[str, np.ndarray]) -> list[ScoredFile]:
    """The files reduced to what scoring needs, window ids unique across the corpus."""
    out: list[ScoredFile] = []
    base = 0
    for f in files:
        out.append(sweep_file(f.name, f.ts, scores[f.name], f.windows, window_base=base))
        base += len(f.windows)
    return out


def evaluate(files: list[NabFile], scores: dict[str, np.ndarray], thresholds: dict[str, float] | None
             ) -> dict[str, ProfileResult]:
    swept_files = swept(files, scores)
    return {p: (optimize(swept_files, p) if thresholds is None else score_at(swept_files, p, thresholds[p]))
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


def parse_grid(items: list[str]) -> dict[str, list[float]]:
    """`--grid name=v1,v2,...` (repeatable) -> {name: [v1, v2, ...]}."""
    out: dict[str, list[float]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        try:
            parsed = [float(v) for v in values.split(",") if v.strip()]
        except ValueError:
            parsed = []
        if not sep or not name.strip() or not parsed:
            raise typer.BadParameter(f"--grid {item!r}: expected NAME=V1,V2,... with numbers, e.g. "
                                     "--grid z_alarm=3.5,4,4.5")
        out[name.strip()] = parsed
    return out


def tuned_settings(kind: str, items: list[str]) -> dict[str, list[float]]:
    """The settings chosen on the corpus besides the threshold: `--grid`, else the detector's TUNED."""
    if items:
        return parse_grid(items)
    if kind in BASELINES:
        return {}
    return {k: list(v) for k, v in getattr(DETECTORS.load(kind), "TUNED", {}).items()}


def _candidates(kind: str, files: list[NabFile], settings: list[dict[str, float]]) -> list[list[ScoredFile]]:
    """Every candidate's scores on every file, with progress (a bar on a terminal, else plain lines)."""
    out = []
    if sys.stderr.isatty():
        with Progress(console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task("scoring candidates", total=len(settings) * len(files))
            for s in settings:
                scores = {}
                for f in files:
                    scores[f.name] = run_detector(kind, f, s)
                    progress.advance(task)
                out.append(swept(files, scores))
        return out
    for j, s in enumerate(settings):
        out.append(swept(files, {f.name: run_detector(kind, f, s) for f in files}))
        label = ", ".join(f"{k}={v:g}" for k, v in s.items()) or "shipped settings"
        print(f"cv: candidate {j + 1}/{len(settings)} scored ({label})", file=sys.stderr, flush=True)
    return out


def cross_validated(kind: str, files: list[NabFile], tuned: dict[str, list[float]]) -> dict:
    """Leave-one-category-out (the figure of merit) and leave-one-file-out scores, and the same
    procedure run on every file (in-sample) for comparison."""
    for name in tuned:
        try:
            DETECTORS.create(kind, **{name: tuned[name][0]})
        except (TypeError, ValueError) as e:
            raise typer.BadParameter(f"--grid {name}: {kind} does not take this setting ({e})") from None
    settings = cv.grid(tuned)
    candidates = _candidates(kind, files, settings)
    names = [f.name for f in files]
    keys, folds = cv.folds_by(names, cv.category)
    by_file_keys, by_file = cv.folds_by(names, lambda n: n)
    k, thresholds = cv.choose(candidates, list(range(len(files))))
    here = {p: score_at(candidates[k], p, thresholds[p]) for p in PROFILES}
    return {"by": "category", **cv.summary(cv.cross_validate(candidates, folds), keys, settings, True),
            "leave_one_file_out": cv.summary(cv.cross_validate(candidates, by_file), by_file_keys, settings,
                                             False),
            "tuned": tuned, "candidates": len(settings),
            "in_sample": {**{cv.SHORT[p]: round(r.normalized, 2) for p, r in here.items()},
                          "settings": settings[k], "thresholds": {cv.SHORT[p]: thresholds[p] for p in PROFILES}}}


@app.command()
def nab(data: Path = typer.Option(..., "--data", help="folder with data/ and labels/ in NAB's layout"),
        detector: str = typer.Option("ensemble", "--detector", help="registered detector kind"),
        write_results_to: Path | None = typer.Option(None, "--write-results",
                                                        help="write OUT/<detector>/<category>/..."),
        threshold: float | None = typer.Option(None, "--threshold", help="one threshold for all profiles"),
        optimize_: bool = typer.Option(False, "--optimize", help="re-choose thresholds on this data"),
        categories: bool = typer.Option(False, "--by-category",
                                        help="also score each category (own and leave-one-out thresholds)"),
        cross: bool = typer.Option(False, "--cv", help="also score cross-validated: every tuned setting and "
                                   "threshold chosen without the category (and the file) scored"),
        grid_: list[str] = typer.Option([], "--grid", help="with --cv: NAME=V1,V2,... a setting to choose "
                                        "by cross-validation (repeatable; default: the detector's TUNED)"),
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
    out: dict[str, Any] = {"detector": detector, **{p: round(r.normalized, 2) for p, r in results.items()},
           "thresholds": {p: r.threshold for p, r in results.items()},
           "raw": {p: round(r.raw, 4) for p, r in results.items()},
           "counts": {p: {"tp": r.tp, "fp": r.fp, "fn": r.fn} for p, r in results.items()},
           "threshold_mode": "optimized" if optimize_ else ("fixed" if threshold is not None else "shipped"),
           "files": len(files), "rows": rows, "windows": sum(len(f.windows) for f in files),
           "points_per_s": round(rows / elapsed) if elapsed > 0 else None}
    if categories:
        out["categories"] = by_category(files, scores, out["thresholds"])
    if cross:
        out["cv"] = cross_validated(detector, files, tuned_settings(detector, grid_))
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
    if cross:
        _print_cv(console, out["cv"])
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


def _print_cv(console: Console, c: dict) -> None:
    table = Table(title=f"cross-validated ({c['candidates']} candidate settings; every setting and threshold "
                        "chosen without the part scored)")
    for col in ("held out", "std", "lowFP", "lowFN", "windows found", "FP", "settings chosen"):
        table.add_column(col)
    for label, row in (("each category (figure of merit)", c), ("each file", c["leave_one_file_out"])):
        table.add_row(label, *(f"{row[k]:.1f}" for k in ("standard", "low_fp", "low_fn")),
                      str(row["windows_found"]), str(row["false_positives"]),
                      "; ".join(f"{s} x{n}" for s, n in row["settings_chosen"].items()))
    ins = c["in_sample"]
    table.add_row("nothing (in-sample)", *(f"{ins[k]:.1f}" for k in ("standard", "low_fp", "low_fn")), "", "",
                  ", ".join(f"{k}={v:g}" for k, v in ins["settings"].items()) or "(shipped)")
    console.print(table)
    cat = Table(title="each category held out (settings and thresholds chosen on the others)")
    for col in ("category", "files", "windows", "found", "FP", "std", "lowFP", "lowFN"):
        cat.add_column(col)
    for name, row in c["categories"].items():
        cat.add_row(name, str(row["files"]), str(row["windows"]), str(row["windows_found"]),
                    str(row["false_positives"]),
                    *("" if row[k] is None else f"{row[k]:.1f}" for k in ("standard", "low_fp", "low_fn")))
    console.print(cat)
