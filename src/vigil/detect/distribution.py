"""Latency distribution over time, from a histogram: vigil turns a scraped Prometheus histogram's
buckets into quantile series at every scrape (`name{quantile="0.5"}`, ...; sources/exposition.py),
and the buckets themselves are not stored. The distribution of each step is read back off those
quantiles as the latency SLI does (the empirical CDF through (0, 0) and each (latency, level)), and
binned on a log scale: each cell the share of requests in that latency bin during that step; what
lies above the highest quantile is its own row (`above`), its shape unknown."""

from __future__ import annotations

from typing import Any

import numpy as np

from vigil.model import SeriesKey

BINS = 24
NAME_HINTS = ("duration", "latency", "seconds", "_ms")
LOW_SPAN = 4.0  # the bins reach this far below the lowest quantile: half the requests lie under the median


def histograms(series: list[Any]) -> dict[str, list[tuple[float, SeriesKey]]]:
    """The histograms among a service's series: name -> its quantile series (level, key), sorted;
    one label set per histogram (the first found: a per-route histogram shows its first route)."""
    found: dict[str, dict[tuple[tuple[str, str], ...], list[tuple[float, SeriesKey]]]] = {}
    for info in series:
        labels = info.key.label_map
        q = labels.pop("quantile", None)
        if q is None:
            continue
        try:
            level = float(q)
        except ValueError:
            continue
        found.setdefault(info.key.name, {}).setdefault(tuple(sorted(labels.items())), []).append((level, info.key))
    return {name: sorted(next(iter(groups.values())), key=lambda x: x[0]) for name, groups in sorted(found.items())}


def pick(names: list[str]) -> str | None:
    """The histogram a person means by "latency": one whose name says so, else the first."""
    return next((n for n in names if any(h in n for h in NAME_HINTS)), names[0] if names else None)


def distribution(levels: list[float], reads: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """Per step: the share of requests in each latency bin. `reads` are the (ts, values) of each
    quantile series, in the order of `levels`, read at the same step."""
    ts = np.unique(np.concatenate([r[0] for r in reads])) if reads else np.empty(0)
    grid = np.full((len(reads), ts.size), np.nan)
    for row, (rts, rv) in enumerate(reads):
        grid[row, np.searchsorted(ts, rts)] = rv
    lv = np.asarray(levels, float)
    finite = grid[np.isfinite(grid) & (grid > 0)]
    if ts.size == 0 or finite.size == 0:
        return {"ts": [], "edges": [], "density": [], "above": [], "levels": levels, "quantiles": []}
    lo, hi = float(finite.min()), float(finite.max())
    if hi <= lo:
        lo, hi = lo / 2, hi * 2
    edges = np.geomspace(lo / LOW_SPAN, hi * 1.05, BINS + 1)
    density = np.full((ts.size, BINS), np.nan)
    above = np.full(ts.size, np.nan)
    for j in range(ts.size):
        col = grid[:, j]
        ok = np.isfinite(col)
        if not ok.any():
            continue
        vv = np.maximum.accumulate(col[ok])  # quantiles never fall with the level
        cdf = np.interp(edges, np.concatenate([[0.0], vv]), np.concatenate([[0.0], lv[ok]]))
        density[j] = np.diff(cdf)
        density[j, 0] += cdf[0]  # what lies below the first edge belongs to the first bin
        above[j] = 1.0 - lv[ok][-1]
    return {"ts": ts.tolist(), "edges": edges.tolist(), "levels": levels,
            "density": [[None if not np.isfinite(v) else round(float(v), 5) for v in row] for row in density],
            "above": [None if not np.isfinite(v) else round(float(v), 5) for v in above],
            "quantiles": [[None if not np.isfinite(v) else float(v) for v in row] for row in grid]}
