"""How much one series moved at an incident's start, in units of its own history.

The score is a step: the median of the window after the start minus the median of the same length
of time just before it, divided by the series' robust spread over its history (1.4826 x MAD, or the
IQR / 1.349 when more than half the points are equal, floored at a thousandth of its level). Against
the moments just before (not the whole history) because a level that moved earlier (a previous
incident, a splice in a recording, a slow drift) is not news at this start; scaled by the long
history because that says what "a lot" means for this series.

A series' score then counts as evidence through `1 - exp(-|z| / saturation)`: at most 1 per series,
so one series that was flat and jumped (an idle service's client latency) is one piece of evidence,
not a thousand; a root cause is recognised by several of its series moving clearly.

Each step also carries its `rarity`: how seldom the series' own history reached the level after the
start (1: never; 0: every sample did). A series that keeps jumping between two levels (an idle
service's client latency flipping between its floor and a timeout) has a huge z whenever it jumps,
but its history has been there before; the ranker weighs that (rootcause.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vigil.incidents.evidence import Reads, SeriesWindow

REL_FLOOR = 1e-3  # the spread is at least this fraction of the series' level: no division by ~0
ABS_FLOOR = 1e-9
MIN_HISTORY = 5


@dataclass(frozen=True)
class Shift:
    """One series' step at the start: from `before` (median just before) to `after` (median after),
    `z` in units of its historical `spread`; `first_moved` is the first sample time after the start
    that was at least `saturation` spreads away from `before` (None if none was)."""

    series: str
    before: float
    after: float
    spread: float
    z: float
    history: int  # samples of history it was judged against
    first_moved: float | None
    rarity: float = 1.0  # how seldom its history reached `after` (see `rarity_of`)
    metric: str = ""  # the series' metric name (its key without labels)

    def weight(self, saturation: float) -> float:
        return float(1.0 - np.exp(-abs(self.z) / saturation))


def robust_spread(values: np.ndarray) -> tuple[float, float]:
    """(median, spread) of `values`: 1.4826 x MAD, else IQR / 1.349, floored relative to the level."""
    med = float(np.median(values))
    mad = 1.4826 * float(np.median(np.abs(values - med)))
    q75, q25 = np.percentile(values, [75, 25])
    return med, max(mad, float(q75 - q25) / 1.349, REL_FLOOR * abs(med), ABS_FLOOR)


def rarity_of(history: np.ndarray, before: float, after: float) -> float:
    """How seldom `history` reached the level `after`, on the step's side of `before`: with k of its n
    samples at least that far, `-log((k + 1) / (n + 1)) / log(n + 1)`, 1 when none did, 0 when all did
    (a rank, so it needs no scale)."""
    n = len(history)
    if not n:
        return 1.0
    k = int(np.sum(history >= after)) if after >= before else int(np.sum(history <= after))
    return float(-np.log((k + 1) / (n + 1)) / np.log(n + 1))


def shift_of(window: SeriesWindow, start: float, reads: Reads, saturation: float) -> Shift | None:
    """The step of one series at `start`, or None without enough history or no sample after it."""
    n = reads.history_samples
    hist_ts, hist = window.before_ts[-n:], window.before[-n:]
    span = reads.after(window.step)
    keep = window.after_ts <= start + span
    after_ts, after = window.after_ts[keep], window.after[keep]
    if len(hist) < MIN_HISTORY or not len(after):
        return None
    recent = hist[hist_ts >= start - span]
    if not len(recent):
        recent = hist[-1:]
    _, spread = robust_spread(hist)
    before_level, after_level = float(np.median(recent)), float(np.median(after))
    z = (after_level - before_level) / spread
    moved = np.nonzero(np.abs(after - before_level) >= saturation * spread)[0]
    return Shift(str(window.key), before_level, after_level, spread, float(z), len(hist),
                 float(after_ts[moved[0]]) if len(moved) else None,
                 rarity_of(hist, before_level, after_level), window.key.name)
