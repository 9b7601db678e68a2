"""NAB's scoring, re-implemented and vectorised (numenta/NAB `sweeper.py`, `optimizer.py`, `runner.py`).

Rules, as NAB applies them:
- the first min(floor(0.15 * rows), 750) rows of a file are a probation period and are not scored;
- a row inside a window weighs A_tp * S(y) / S(-1), y = -(right - i + 1) / width, and only the
  best (earliest) detection of a window counts; an undetected window costs A_fn;
- a row outside a window weighs A_fp * S(d), d = |i - previous right| / (previous width - 1), or -A_fp
  before the first window; S(y) = 2 / (1 + exp(5y)) - 1, and -1 from y >= 3;
- a detection is a score >= a threshold shared by the whole corpus; the optimiser sweeps every
  distinct score and keeps the best total (ties go to the higher threshold, as NAB's `max` does);
- normalised = 100 * (raw - null) / (perfect - null), null = -A_fn * scored windows, perfect =
  A_tp * labelled windows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

PROFILES: dict[str, tuple[float, float, float]] = {  # name -> (A_tp, A_fp, A_fn)
    "standard": (1.0, 0.11, 1.0),
    "reward_low_FP": (1.0, 0.22, 1.0),
    "reward_low_FN": (1.0, 0.11, 2.0),
}
NO_DETECTION = 1.1  # NAB's starting threshold: above every score, so nothing is detected


def scaled_sigmoid(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    out = 2.0 / (1.0 + np.exp(np.clip(5.0 * y, -50, 50))) - 1.0
    return np.where(y >= 3.0, -1.0, out)


MAX_TP = float(scaled_sigmoid(np.array(-1.0)))


def probation_rows(n: int, percent: float = 0.15) -> int:
    return int(min(math.floor(percent * n), percent * 5000))


@dataclass
class ScoredFile:
    """A file reduced to what scoring needs: per scorable row its score, its window (or -1) and its
    unweighted TP value (inside a window) or FP value (outside)."""

    name: str
    scores: np.ndarray
    window: np.ndarray  # int, -1 outside any window
    tp_value: np.ndarray  # S(y)/S(-1) inside windows, else 0
    fp_value: np.ndarray  # S(d) (negative) outside windows, else 0
    n_windows: int  # windows with at least one scorable row (NAB's FN count)
    n_labelled: int  # windows in the label file (NAB's perfect count)


def window_indices(ts: np.ndarray, windows: list[tuple[np.datetime64, np.datetime64]]) -> list[tuple[int, int]]:
    """Row index of each window's edges. NAB matches timestamps exactly (first occurrence); a label not
    on a row falls back to the first row at/after its start and the last at/before its end."""
    out = []
    for start, end in windows:
        hit = np.flatnonzero(ts == start)
        left = int(hit[0]) if hit.size else int(np.searchsorted(ts, start, side="left"))
        hit = np.flatnonzero(ts == end)
        right = int(hit[0]) if hit.size else int(np.searchsorted(ts, end, side="right")) - 1
        if right >= left and left < len(ts):
            out.append((left, min(right, len(ts) - 1)))
    return out


def sweep_file(name: str, ts: np.ndarray, scores: np.ndarray,
               windows: list[tuple[np.datetime64, np.datetime64]], window_base: int = 0) -> ScoredFile:
    n = len(scores)
    idx = np.arange(n)
    window = np.full(n, -1, dtype=np.int64)
    tp_value = np.zeros(n)
    fp_value = np.full(n, -1.0)  # before the first window: full FP cost
    spans = window_indices(ts, windows)
    for k, (left, right) in enumerate(spans):
        width = float(right - left + 1)
        sl = slice(left, right + 1)
        window[sl] = window_base + k
        tp_value[sl] = scaled_sigmoid(-(right - idx[sl] + 1) / width) / MAX_TP
        fp_value[sl] = 0.0
        nxt = spans[k + 1][0] if k + 1 < len(spans) else n
        after = slice(right + 1, nxt)
        denom = width - 1.0
        d = np.abs(idx[after] - right) / denom if denom > 0 else np.full(nxt - right - 1, 3.0)
        fp_value[after] = scaled_sigmoid(d)
    keep = idx >= probation_rows(n)
    win = window[keep]
    return ScoredFile(name, np.asarray(scores, dtype=np.float64)[keep], win, tp_value[keep],
                      fp_value[keep], int(np.unique(win[win >= 0]).size), len(windows))


@dataclass
class ProfileResult:
    profile: str
    threshold: float
    raw: float
    null: float
    perfect: float
    tp: int = 0
    fp: int = 0
    fn: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def normalized(self) -> float:
        return 100.0 * (self.raw - self.null) / (self.perfect - self.null)


def _concat(files: list[ScoredFile]) -> tuple[np.ndarray, ...]:
    return (np.concatenate([f.scores for f in files]), np.concatenate([f.window for f in files]),
            np.concatenate([f.tp_value for f in files]), np.concatenate([f.fp_value for f in files]))


def score_at(files: list[ScoredFile], profile: str, threshold: float) -> ProfileResult:
    a_tp, a_fp, a_fn = PROFILES[profile]
    s, win, tpv, fpv = _concat(files)
    hit = s >= threshold
    n_windows = sum(f.n_windows for f in files)
    fp_rows = hit & (win < 0)
    best: dict[int, float] = {}
    for w, v in zip(win[hit & (win >= 0)], tpv[hit & (win >= 0)]):
        best[w] = max(best.get(w, -1.0), v)
    raw = a_fp * fpv[fp_rows].sum() + a_tp * sum(best.values()) - a_fn * (n_windows - len(best))
    return ProfileResult(profile, threshold, float(raw), -a_fn * n_windows,
                         a_tp * sum(f.n_labelled for f in files),
                         tp=len(best), fp=int(fp_rows.sum()), fn=n_windows - len(best))


def sweep(files: list[ScoredFile], profile: str) -> tuple[np.ndarray, np.ndarray]:
    """Every candidate threshold (NO_DETECTION first, then each distinct score, highest first) and the raw
    total at it, as NAB's optimiser sweeps them."""
    a_tp, a_fp, a_fn = PROFILES[profile]
    s, win, tpv, fpv = _concat(files)
    n_windows = sum(f.n_windows for f in files)
    order = np.argsort(-s, kind="stable")
    s, win, tpv, fpv = s[order], win[order], tpv[order], fpv[order]
    delta = np.where(win < 0, a_fp * fpv, 0.0)
    inw = np.flatnonzero(win >= 0)
    if inw.size:
        # Running best TP value per window in sweep order: offset groups so one accumulate serves all.
        g = win[inw]
        by = np.lexsort((inw, g))
        gi, vi = g[by], tpv[inw][by]
        run = np.maximum.accumulate(vi + 4.0 * gi) - 4.0 * gi
        first = np.r_[True, gi[1:] != gi[:-1]]
        prev = np.where(first, 0.0, np.r_[0.0, run[:-1]])
        d = a_tp * (run - prev) + np.where(first, a_fn, 0.0)
        delta[inw[by]] = d
    total = -a_fn * n_windows + np.cumsum(delta)
    ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True]) if s.size else np.array([], dtype=np.int64)
    return np.r_[NO_DETECTION, s[ends]], np.r_[-a_fn * n_windows, total[ends]]


def optimize(files: list[ScoredFile], profile: str) -> ProfileResult:
    """Sweep every distinct score, highest first, as NAB's optimiser does; return the best."""
    thresholds, totals = sweep(files, profile)
    k = int(np.argmax(totals))  # first max = highest threshold among ties
    return score_at(files, profile, float(thresholds[k]))
