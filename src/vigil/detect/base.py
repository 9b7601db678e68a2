"""The detector plug point: learn and score one series, replay many points at once, save and restore."""

from __future__ import annotations

import io
import time
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from vigil.detect import kernel as K
from vigil.model import Score


@runtime_checkable
class Detector(Protocol):
    """One instance watches one series. Scores are in [0, 1]; 0.5 means "at the alarm level"."""

    THRESHOLDS: ClassVar[dict[str, float]]  # shipped NAB-profile thresholds (standard, low FP, low FN)

    def update(self, ts: float, value: float) -> Score: ...
    def score_many(self, ts: np.ndarray, values: np.ndarray) -> np.ndarray: ...
    def state(self) -> bytes: ...


def _hour_of_week(ts: float) -> str:
    """'for this hour on Mondays (09:00-10:00 UTC)': the weekly profile's bin, named."""
    day = time.strftime("%A", time.gmtime(ts))
    hour = int(ts // 3600) % 24
    return f"for this hour on {day}s ({hour:02d}:00-{(hour + 1) % 24:02d}:00 UTC)"


class KernelDetector:
    """A detector whose whole state is a handful of fixed-size arrays run through `kernel.run`.

    `update` = `learn_one` after `score_one`, on one point; `score_many` is the same loop over arrays,
    so both paths give identical scores. State is bounded (see `kernel`) and saved as an .npz blob."""

    KIND: ClassVar[str] = "kernel"
    PARAMS: ClassVar[dict[str, float]] = {}
    THRESHOLDS: ClassVar[dict[str, float]] = {"standard": 0.5, "reward_low_FP": 0.5, "reward_low_FN": 0.5}
    DEFAULTS: ClassVar[dict[int, float]] = {
        K.P_W_LEVEL: 0.0, K.P_W_SEASON: 0.0, K.P_W_SPIKE: 0.0, K.P_W_CUSUM: 0.0, K.P_WINDOW: 1024,
        K.P_MIN_POINTS: 32, K.P_LEARN_GATE: 1.0, K.P_RELEARN: 64, K.P_CUSUM_K: 1.0, K.P_CUSUM_H: 12.0,
        K.P_Z_ALARM: 5.0, K.P_SPIKE_ALARM: 8.0, K.P_REL_FLOOR: 0.002, K.P_QUIET: 0, K.P_RECALL: 2.0,
        K.P_SEASON_EXPLAIN: 0.0, K.P_SEASON_CAP: 2.0, K.P_SEASON_DAYS: 3, K.P_DAILY_DAMP: 1.0,
        K.P_SHIFT_RESETS_SEASON: 0.0, K.P_QUIET_EXTEND: 0.0, K.P_CUSUM_NOVELTY: 0.0, K.P_NN_K: 4,
        K.P_QUIET_DAMP: 0.25, K.P_QUIET_DOUBLE: 2.0, K.P_RECALL_K: 3, K.P_DAILY_N: 1,
        K.P_DAILY_TOL: 600.0, K.P_DAILY_VTOL: 0.5, K.P_W_LIK: 0.0, K.P_LIK_WINDOW: K.LIK,
        K.P_LIK_SHORT: 20, K.P_LIK_WARM: 100, K.P_LIK_EVENT: 0.4, K.P_W_WEEK: 0.0, K.P_WEEK_MIN: 2,
        K.P_SEASON_MISS: 0.0,
    }
    NAMES: ClassVar[dict[str, int]] = {
        "w_level": K.P_W_LEVEL, "w_season": K.P_W_SEASON, "w_spike": K.P_W_SPIKE, "w_cusum": K.P_W_CUSUM,
        "window": K.P_WINDOW, "min_points": K.P_MIN_POINTS, "learn_gate": K.P_LEARN_GATE,
        "relearn": K.P_RELEARN, "cusum_k": K.P_CUSUM_K, "cusum_h": K.P_CUSUM_H, "z_alarm": K.P_Z_ALARM,
        "spike_alarm": K.P_SPIKE_ALARM, "rel_floor": K.P_REL_FLOOR, "quiet": K.P_QUIET,
        "recall": K.P_RECALL, "season_explain": K.P_SEASON_EXPLAIN, "season_cap": K.P_SEASON_CAP,
        "season_days": K.P_SEASON_DAYS, "daily_damp": K.P_DAILY_DAMP,
        "shift_resets_season": K.P_SHIFT_RESETS_SEASON, "quiet_extend": K.P_QUIET_EXTEND,
        "cusum_novelty": K.P_CUSUM_NOVELTY, "neighbours": K.P_NN_K,
        "quiet_damp": K.P_QUIET_DAMP, "quiet_double": K.P_QUIET_DOUBLE, "recall_k": K.P_RECALL_K,
        "daily_n": K.P_DAILY_N, "daily_tol": K.P_DAILY_TOL, "daily_vtol": K.P_DAILY_VTOL,
        "w_likelihood": K.P_W_LIK, "likelihood_window": K.P_LIK_WINDOW, "likelihood_short": K.P_LIK_SHORT,
        "likelihood_warm": K.P_LIK_WARM, "likelihood_event": K.P_LIK_EVENT, "w_week": K.P_W_WEEK,
        "week_min": K.P_WEEK_MIN, "season_miss": K.P_SEASON_MISS,
    }

    def __init__(self, **overrides: float) -> None:
        p = np.zeros(K.N_PARAMS)
        for slot, v in self.DEFAULTS.items():
            p[slot] = v
        for name, v in {**self.PARAMS, **overrides}.items():
            if name not in self.NAMES:
                raise ValueError(f"{self.KIND}: unknown parameter {name!r}; known: {', '.join(self.NAMES)}")
            p[self.NAMES[name]] = float(v)
        self._p = p
        self._s = K.new_state()
        self._one_t = np.zeros(1)
        self._one_x = np.zeros(1)
        self._one_out = np.zeros(1)

    # -- scoring
    def _run(self, state: dict[str, np.ndarray], ts: np.ndarray, xs: np.ndarray, out: np.ndarray) -> None:
        K.run(self._p, state["fs"], state["ring"], state["sorted"], state["pending"], state["season"],
              state["ival"], state["recalled"], state["recalled_ts"], state["lik"], state["lik_short"],
              state["week"], state["week_hour"], state["week_order"], ts, xs, out)

    def update(self, ts: float, value: float) -> Score:
        """Score one point, then learn from it unless it was judged anomalous."""
        self._one_t[0] = ts
        self._one_x[0] = value
        self._run(self._s, self._one_t, self._one_x, self._one_out)
        v = float(self._one_out[0])
        return Score(v, self.reason(value, self._s["fs"]))

    def learn_one(self, ts: float, value: float) -> None:
        self.update(ts, value)

    def score_one(self, ts: float, value: float) -> Score:
        """Score without learning (a look-ahead on a copy of the state)."""
        copy = {k: v.copy() for k, v in self._s.items()}
        out = np.zeros(1)
        self._run(copy, np.array([ts], dtype=np.float64), np.array([value], dtype=np.float64), out)
        return Score(float(out[0]), self.reason(value, copy["fs"]))

    def score_many(self, ts: np.ndarray, values: np.ndarray) -> np.ndarray:
        ts = np.ascontiguousarray(ts, dtype=np.float64)
        xs = np.ascontiguousarray(values, dtype=np.float64)
        if ts.shape != xs.shape:
            raise ValueError(f"ts and values differ in shape: {ts.shape} vs {xs.shape}")
        out = np.zeros(xs.shape[0])
        self._run(self._s, ts, xs, out)
        return out

    def expected(self) -> float | None:
        """The value the last score compared against (None while learning or after a skipped point)."""
        fs = self._s["fs"]
        if int(fs[K.S_WHY]) in (K.WHY_NONE, K.WHY_SKIP, K.WHY_ORDER, K.WHY_LEARNING, K.WHY_SHIFT):
            return None
        return float(fs[K.S_EXPECTED])

    # -- explanation
    def reason(self, value: float, fs: np.ndarray) -> str:
        why = int(fs[K.S_WHY])
        if why == K.WHY_SKIP:
            return f"skipped: value {value!r} is not a finite number ({int(fs[K.S_SKIPPED])} skipped so far)"
        if why == K.WHY_ORDER:
            return f"skipped: timestamp is older than the last one ({int(fs[K.S_OUT_OF_ORDER])} so far)"
        if why == K.WHY_LEARNING:
            return f"learning: {int(fs[K.S_CNT])} of {int(self._p[K.P_MIN_POINTS])} points needed"
        if why == K.WHY_SHIFT:
            return (f"level shift accepted: value {value:.4g} has deviated for "
                    f"{int(self._p[K.P_RELEARN])} points; relearning from here")
        z, exp = fs[K.S_Z], fs[K.S_EXPECTED]
        side = "above" if z >= 0 else "below"
        flat = int(fs[K.S_FLAT])  # no spread to count deviations in: say what the baseline was instead
        if why == K.WHY_WEEK:
            where = _hour_of_week(fs[K.S_LAST_TS])
            if flat:
                return f"value {value:.4g} where {where} has been exactly {exp:.4g} on each of the past {flat} weeks"
            return f"value {value:.4g} is {abs(z):.1f} robust deviations {side} the expected {exp:.4g} {where}"
        if flat and why in (K.WHY_LEVEL, K.WHY_SPIKE):
            return (f"value {value:.4g} departs from a flat {exp:.4g}: {flat} of the last {int(fs[K.S_CNT])} "
                    f"normal points were exactly {exp:.4g}")
        if why == K.WHY_SPIKE:
            return f"value {value:.4g} jumped {abs(z):.1f} typical steps {side} the previous value"
        if why == K.WHY_CUSUM:
            return (f"value {value:.4g}: sustained drift {side} the recent median {exp:.4g} "
                    f"(CUSUM {max(fs[K.S_CUP], fs[K.S_CDN]):.1f})")
        if why == K.WHY_LIK:
            short = int(self._p[K.P_LIK_SHORT])
            return (f"value {value:.4g}: the last {short} points have been unusually novel for this series "
                    f"(a stretch this unusual has a chance of about 1 in {10 ** (10 * fs[K.S_LIK]):.0e})")
        where = "for this time of day" if why == K.WHY_SEASON else "from recent history"
        return f"value {value:.4g} is {abs(z):.1f} robust deviations {side} the expected {exp:.4g} {where}"

    # -- bookkeeping
    @property
    def counters(self) -> dict[str, int]:
        fs = self._s["fs"]
        return {"seen": int(fs[K.S_N]), "skipped_non_finite": int(fs[K.S_SKIPPED]),
                "skipped_out_of_order": int(fs[K.S_OUT_OF_ORDER]), "level_shifts": int(fs[K.S_SHIFTS])}

    def state(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, params=self._p, **self._s)  # type: ignore[arg-type]  # as in learned.py
        return buf.getvalue()

    @classmethod
    def from_state(cls, blob: bytes) -> "KernelDetector":
        det = cls()
        with np.load(io.BytesIO(blob)) as z:
            saved = z["params"]
            # A blob from an older version has fewer parameters: the new ones keep their defaults.
            det._p[:saved.shape[0]] = saved[:det._p.shape[0]]
            for k, fresh in det._s.items():  # arrays an older version did not save keep their start value
                if k in z.files:
                    old = z[k]
                    fresh[:min(old.shape[0], fresh.shape[0])] = old[:fresh.shape[0]]
        return det
