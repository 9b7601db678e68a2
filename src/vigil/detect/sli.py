"""Service level indicators read from the store: good and total events per minute for an SLO's source
(`good` + `total` selectors, a probe's `probe_success`, or a latency histogram's quantile series).
The rules stage judges burn rates on them; the API's error-budget view draws them (docs/rules.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from vigil.config.rules import SloRuleConfig
from vigil.model import SeriesKey


def selector_of(text: str, service: str) -> tuple[str, dict[str, str]]:
    key = SeriesKey.parse(text)
    return key.name, {**key.label_map, "service": service}


class SliReader:
    """Reads an SLO's good and total events over a window, as 1-minute means from the store."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def read(self, key: SeriesKey, start: float, end: float, step: float | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        r = self.store.query_range(key, start, end, step=step)
        return np.asarray(r.ts, float), np.asarray(r.values, float)

    def series(self, selector: str, service: str) -> list[Any]:
        name, matchers = selector_of(selector, service)
        return self.store.list_series(name=name, matchers=matchers)

    def summed(self, selector: str, service: str, start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
        """Every series matching the selector, read as 1-minute means and summed per minute."""
        parts = [self.read(i.key, start, end, 60.0) for i in self.series(selector, service)]
        return sum_by_ts(parts)

    def good_total(self, c: SloRuleConfig, service: str, start: float, end: float
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Aligned per-minute (ts, good, total) for the SLO's source of good events."""
        if c.good is not None and c.total is not None:
            gts, good = self.summed(c.good, service, start, end)
            tts, total = self.summed(c.total, service, start, end)
            both, gi, ti = np.intersect1d(gts, tts, return_indices=True)
            return both, good[gi], total[ti]
        if c.probe is not None:  # probe_success means per minute: the fraction of probes that passed
            key = SeriesKey.of("probe_success", {"service": service, "probe": c.probe})
            ts, ok = self.read(key, start, end, 60.0)
            return ts, ok, np.ones_like(ok)
        return self.latency_good_total(c, service, start, end)

    def latency_good_total(self, c: SloRuleConfig, service: str, start: float, end: float
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Requests under `under`, estimated per minute from the histogram's quantile series (see
        fraction_under), weighted by the request rate."""
        lat = c.latency
        assert lat is not None
        name, matchers = selector_of(lat.series, service)
        groups: dict[tuple[tuple[str, str], ...], list[tuple[float, Any]]] = {}
        for info in self.store.list_series(name=name, matchers=matchers):
            labels = info.key.label_map
            q = labels.pop("quantile", None)
            if q is not None:
                groups.setdefault(tuple(sorted(labels.items())), []).append((float(q), info.key))
        parts_good, parts_total = [], []
        for labels, quantiles in groups.items():
            quantiles.sort(key=lambda x: x[0])
            reads = [self.read(k, start, end, 60.0) for _, k in quantiles]
            ts = np.unique(np.concatenate([r[0] for r in reads])) if reads else np.empty(0)
            grid = np.full((len(reads), ts.size), np.nan)
            for row, (rts, rv) in enumerate(reads):
                grid[row, np.searchsorted(ts, rts)] = rv
            levels = np.array([q for q, _ in quantiles])
            frac = np.array([fraction_under(levels, grid[:, j], lat.under) for j in range(ts.size)])
            if lat.requests is not None:
                wts, w = self.summed(lat.requests, service, start, end)
            else:
                count = SeriesKey(f"{name}_count:rate", labels)
                wts, w = self.read(count, start, end, 60.0)
            if wts.size == 0:  # no request rate stored: every minute weighs the same
                wts, w = ts, np.ones_like(ts)
            both, fi, wi = np.intersect1d(ts, wts, return_indices=True)
            ok = np.isfinite(frac[fi])
            parts_good.append((both[ok], frac[fi][ok] * w[wi][ok]))
            parts_total.append((both[ok], w[wi][ok]))
        ts, good = sum_by_ts(parts_good)
        _, total = sum_by_ts(parts_total)
        return ts, good, total


def sum_by_ts(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    parts = [(t, v) for t, v in parts if t.size]
    if not parts:
        return np.empty(0), np.empty(0)
    ts = np.concatenate([t for t, _ in parts])
    values = np.concatenate([v for _, v in parts])
    ok = np.isfinite(values)
    uniq, inv = np.unique(ts[ok], return_inverse=True)
    return uniq, np.bincount(inv, weights=values[ok], minlength=uniq.size)


def fraction_under(levels: np.ndarray, values: np.ndarray, under: float) -> float:
    """Share of requests faster than `under`, from quantile levels (0.5, 0.9, 0.99...) and their
    latencies in one interval: the empirical CDF through (0, 0) and each (latency, level), read at
    `under`. At or above the highest quantile's latency it counts as 1: the precision of a latency SLO
    is the highest quantile scraped (scrape 0.999 for a 99.9 % objective)."""
    ok = np.isfinite(values)
    if not ok.any():
        return float("nan")
    lv, vv = levels[ok], np.maximum.accumulate(values[ok])  # quantiles never decrease with the level
    if under >= vv[-1]:
        return 1.0
    return float(np.interp(under, np.concatenate([[0.0], vv]), np.concatenate([[0.0], lv])))
