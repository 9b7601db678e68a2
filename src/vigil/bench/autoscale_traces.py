"""Finding the demand in a trace file nobody described: which column is time, which is demand, what step.

Per file, in order:
- time: a column named like a time (`timestamp`, `time`, `period`, `date`, `datetime`, `ts`, or a name with
  one of those as a word) that parses as numbers (epoch seconds; milliseconds when the values are that
  large) or as dates; else the step from a `_<N>_seconds` part of the file name; else `--step`;
- demand: the first column, in the order of `DEMAND_NAMES`, named exactly so, then the first whose name has
  one of them as a word (`invocation_count`, `avg_cpu`); else the first numeric column that is not time.

A file that cannot be used is reported with the reason (`TraceError`), never a crash of the whole run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

TIME_NAMES = ("timestamp", "time", "period", "date", "datetime", "ts")
DEMAND_NAMES = ("count", "value", "requests", "request_count", "hits", "demand", "load", "cpu", "cpu_usage")
MIN_ROWS = 50


class TraceError(Exception):
    """This file cannot be replayed; the message says why and what to pass instead."""


@dataclass(slots=True)
class Trace:
    path: Path
    column: str
    time_source: str  # "column NAME", "file name (N s)", "--step N s"
    ts: np.ndarray  # seconds from the first row
    y: np.ndarray  # demand, >= 0
    rows: int

    def describe(self) -> dict[str, Any]:
        return {"trace": str(self.path), "column": self.column, "time": self.time_source, "rows": self.rows}


def _words(name: str) -> list[str]:
    return "".join(c if c.isalnum() else " " for c in name.lower()).split()


def find_traces(root: Path) -> list[Path]:
    """Every CSV under root (recursive), sorted."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name.lower().endswith((".csv", ".csv.gz")))


def step_from_name(path: Path) -> float | None:
    """`..._300_seconds...` -> 300 (word split, no regex over the name)."""
    parts = path.name.lower().replace(".", "_").split("_")
    for a, b in zip(parts, parts[1:]):
        if a.isdigit() and b in ("seconds", "second", "secs", "s") and int(a) > 0:
            return float(a)
    return None


def _parse_time(raw: Any) -> np.ndarray | None:
    """Seconds, or None when the column is not a usable time."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(raw):
        ts = raw.to_numpy(dtype=float)
        if not np.isfinite(ts).all():
            return None
        if np.nanmedian(np.abs(ts)) > 1e11:  # epoch milliseconds
            ts = ts / 1000.0
        return ts
    parsed = pd.to_datetime(raw, utc=True, errors="coerce", format="mixed")
    if parsed.isna().mean() > 0.01:
        return None
    out: np.ndarray = parsed.astype("int64").to_numpy() / 1e9
    return out


def _time_column(df: Any) -> tuple[str, np.ndarray] | None:
    names = [c for c in df.columns if str(c).lower() in TIME_NAMES]
    names += [c for c in df.columns if c not in names and set(_words(str(c))) & set(TIME_NAMES)]
    for c in names:
        ts = _parse_time(df[c])
        if ts is not None:
            return str(c), ts
    return None


def _demand_column(df: Any, exclude: str | None) -> str | None:
    import pandas as pd

    def numeric(c: Any) -> bool:
        v = pd.to_numeric(df[c], errors="coerce")
        return bool(v.notna().mean() >= 0.9)

    cols = [c for c in df.columns if str(c) != exclude]
    for want in DEMAND_NAMES:
        for c in cols:
            if str(c).lower() == want and numeric(c):
                return str(c)
    for want in DEMAND_NAMES:
        for c in cols:
            if want in _words(str(c)) and numeric(c):
                return str(c)
    return next((str(c) for c in cols if numeric(c)), None)


def regular_time(ts: np.ndarray) -> np.ndarray:
    """Repeated or unordered stamps: keep row order at the median positive step."""
    d = np.diff(ts)
    if len(d) and (d <= 0).any():
        good = d[d > 0]
        s = float(np.median(good)) if len(good) else 300.0
        ts = ts[0] + s * np.arange(len(ts))
    return ts


def read_trace(path: Path, column: str | None = None, time_column: str | None = None,
               step: float | None = None, min_rows: int = MIN_ROWS) -> Trace:
    """The trace in `path`, with the columns and step given or detected (module docstring)."""
    import pandas as pd

    try:
        df = pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is reported, not raised
        raise TraceError(f"{path}: not a readable CSV ({type(exc).__name__}: {exc})") from None
    if df.empty or len(df.columns) == 0:
        raise TraceError(f"{path}: no rows")
    cols = ", ".join(map(str, df.columns))
    if time_column is not None:
        if time_column not in df.columns:
            raise TraceError(f"{path}: no time column {time_column!r}; columns: {cols}")
        ts = _parse_time(df[time_column])
        if ts is None:
            raise TraceError(f"{path}: column {time_column!r} is neither epoch seconds nor dates")
        found: tuple[str, np.ndarray] | None = (time_column, ts)
    elif step is not None:
        found = None  # an explicit step wins over detection, as it always did
    else:
        found = _time_column(df)
    if found is not None:
        time_name: str | None = found[0]
        raw_ts = found[1]
        source = f"column {time_name}"
    else:
        time_name = None
        s = step if step is not None else step_from_name(path)
        if s is None:
            raise TraceError(f"{path}: no time column (one named like {', '.join(TIME_NAMES)}) and no "
                             f"_<N>_seconds in the file name: pass --step SECONDS")
        raw_ts = np.arange(len(df), dtype=float) * s
        source = f"--step {s:g} s" if step is not None else f"file name ({s:g} s)"
    if column is None:
        column = _demand_column(df, time_name)
        if column is None:
            raise TraceError(f"{path}: no numeric demand column; columns: {cols}: pass --column")
    elif column not in df.columns:
        raise TraceError(f"{path}: no column {column!r}; columns: {cols}")
    y = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float)
    ts = regular_time(raw_ts)
    ok = np.isfinite(y) & np.isfinite(ts)
    if ok.sum() < min_rows:
        raise TraceError(f"{path}: {int(ok.sum())} usable rows in {column!r}; at least {min_rows} needed")
    y = np.maximum(y[ok], 0.0)
    if not y.any():
        raise TraceError(f"{path}: demand {column!r} is zero everywhere")
    ts = ts[ok]
    return Trace(path, column, source, ts - ts[0], y, int(ok.sum()))
