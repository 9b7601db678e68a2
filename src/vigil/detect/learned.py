"""A learned model of normal behaviour: scikit-learn's IsolationForest over windowed features.

Features of each point (they depend only on the raw stream, never on earlier judgements): the value, its
step from the previous value, and its deviation from the mean of the previous 8 values. The forest is
fitted (50 trees, 256 samples, `random_state=0`, so deterministic) on the last 512 points judged normal,
first after 32 points, then after 64, 128, 256, 512 and every 512 learned points. Between refits the fitted
trees are flattened into arrays and walked by a small numba function, so `update` (one point) and
`score_many` (replay) run the same code and give identical scores.

Evidence: the isolation score against the training points' own scores (1 at their 99th percentile,
alarm at 2 x that), or, because a forest cannot tell "just outside" from "far outside" its training
range, the distance of the value beyond the learned range in robust units (alarm at 5; the scale is the
larger of IQR/1.349 and the 5-95 % range/3.29, floored at 0.2 % of the median). Score = e^2 / (1 + e^2)
of the larger evidence e, 0.5 at the alarm level. Points scored >= 0.5 are not learned; 64 of them in a
row are accepted as the new normal (they join the window, and the forest is refitted). As in the
ensemble: an alarm near 3 of the last 32 anomalous values (within their own spread) is a recurring
pattern and is damped (x0.3 evidence); and one alarm per event: after a score of 0.3, scores are damped
(x0.25) for 100 points, extended while the event lasts, unless the evidence doubles.

The saved state is the training window itself (values and features), never the fitted model: on load the
forest is refitted from exactly the rows it was last fitted on, which gives the same trees.
"""

from __future__ import annotations

import io
import math
from typing import ClassVar

import numba as nb
import numpy as np

from vigil.model import Score

FIT_WINDOW = 512          # points the forest is fitted on
REFIT_EVERY = 512         # learned points between refits (after the first doublings from MIN_POINTS)
CAP = FIT_WINDOW + REFIT_EVERY  # ring capacity: the rows of the last fit are always still there
MIN_POINTS = 32
RECENT = 8                # raw values kept for the features
RELEARN = 64              # consecutive anomalous points accepted as the new normal
N_TREES = 50
MAX_SAMPLES = 256
IF_ALARM = 2.0            # isolation evidence (in units of the training 99th percentile) at score 0.5
RANGE_ALARM = 5.0         # robust deviations beyond the learned range at score 0.5
REL_FLOOR = 0.002         # scale floor, relative to the level
QUIET, QUIET_DAMP, QUIET_DOUBLE = 100, 0.25, 2.0  # one alarm per event
EVENT = 0.3               # score that starts an event (its quiet period)
RECALL, RECALL_K, RECALL_DAMP = 32, 3, 0.3  # remembered anomalies; near this many = behaviour

# scalar state slots
(F_SEEN, F_LEARNED, F_FIT_END, F_SKIPPED, F_ORDER, F_SHIFTS, F_LAST_TS, F_NRECENT, F_RUN, F_QUIET, F_EVENT,
 F_NRECALL, F_NSCALARS) = range(13)

WHY_SKIP, WHY_ORDER, WHY_LEARNING, WHY_SHIFT, WHY_NORMAL, WHY_IF, WHY_RANGE, WHY_RECALL = range(8)


def _c(n: float) -> float:
    """Average path length of an unsuccessful search in a binary search tree of n points (sklearn's)."""
    if n <= 1:
        return 0.0
    if n <= 2:
        return 1.0
    return 2.0 * (math.log(n - 1.0) + np.euler_gamma) - 2.0 * (n - 1.0) / n


def _c_many(n: np.ndarray) -> np.ndarray:
    out = np.where(n <= 2, np.where(n <= 1, 0.0, 1.0), 0.0)
    big = n > 2
    m = n[big]
    out[big] = 2.0 * (np.log(m - 1.0) + np.euler_gamma) - 2.0 * (m - 1.0) / m
    return out


@nb.njit(cache=True, nogil=True)
def _isolation(x0: float, x1: float, x2: float, roots: np.ndarray, left: np.ndarray, right: np.ndarray,
               feat: np.ndarray, thr: np.ndarray, leaf: np.ndarray, norm: float) -> float:
    """sklearn's IsolationForest.score_samples (negated): 2 ** (-mean path length / c(max_samples))."""
    x = np.empty(3)
    x[0] = np.float32(x0)
    x[1] = np.float32(x1)
    x[2] = np.float32(x2)
    total = 0.0
    for t in range(roots.shape[0]):
        node = roots[t]
        depth = 0.0
        while left[node] >= 0:
            if x[feat[node]] <= thr[node]:
                node = left[node]
            else:
                node = right[node]
            depth += 1.0
        total += depth + leaf[node]
    return 2.0 ** (-total / norm)


class LearnedForest:
    """Isolation forest over (value, step, deviation from the recent mean) of the points judged normal."""

    KIND: ClassVar[str] = "learned"
    # Chosen with `vigil bench nab --detector learned --optimize` on the NAB development part, then frozen.
    THRESHOLDS: ClassVar[dict[str, float]] = {"standard": 0.30895059973135436,
                                              "reward_low_FP": 0.3703727172602901,
                                              "reward_low_FN": 0.30895059973135436}

    def __init__(self) -> None:
        self._s: dict[str, np.ndarray] = {
            "fs": np.zeros(F_NSCALARS),
            "ring": np.zeros(CAP),            # values of the points judged normal (training window)
            "feat": np.zeros((CAP, 2)),       # their step and deviation from the recent mean
            "recent": np.zeros(RECENT),       # last raw values (anomalous ones too: they are the context)
            "pending": np.zeros((RELEARN, 3)),  # the current run of anomalous points
            "recalled": np.zeros(RECALL),     # values of the last points judged anomalous
        }
        self._s["fs"][F_LAST_TS] = -np.inf
        self._forest: tuple | None = None
        self._ref = (0.0, 1.0, 0.0, 0.0, 1.0)  # median and spread of training isolation; lo, hi, scale
        self._why, self._ev, self._iso, self._exp = WHY_LEARNING, 0.0, 0.0, 0.0

    # -- the model
    def _training_rows(self) -> np.ndarray:
        fs = self._s["fs"]
        end = int(fs[F_FIT_END])
        idx = np.arange(max(0, end - FIT_WINDOW), end) % CAP
        return np.column_stack([self._s["ring"][idx], self._s["feat"][idx]])

    def _fit(self) -> None:
        from sklearn.ensemble import IsolationForest

        X = self._training_rows()
        model = IsolationForest(n_estimators=N_TREES, max_samples=min(MAX_SAMPLES, X.shape[0]),
                                random_state=0).fit(X)
        roots, left, right, feat, thr, leaf = [], [], [], [], [], []
        off = 0
        for est, cols in zip(model.estimators_, model.estimators_features_):
            tr = est.tree_
            n = tr.node_count
            lc, rc = tr.children_left.astype(np.int64), tr.children_right.astype(np.int64)
            roots.append(off)
            left.append(np.where(lc >= 0, lc + off, -1))
            right.append(np.where(rc >= 0, rc + off, -1))
            feat.append(np.asarray(cols, dtype=np.int64)[np.maximum(tr.feature, 0)])
            thr.append(tr.threshold.astype(np.float64))
            leaf.append(_c_many(tr.n_node_samples.astype(np.float64)))
            off += n
        norm = len(model.estimators_) * _c(float(model.max_samples_))
        self._forest = (np.array(roots, dtype=np.int64), np.concatenate(left), np.concatenate(right),
                        np.concatenate(feat), np.concatenate(thr), np.concatenate(leaf), float(norm))
        iso = np.array([self._isolate(r[0], r[1], r[2]) for r in X])
        med = float(np.median(iso))
        spread = max(float(np.quantile(iso, 0.99)) - med, 0.01)
        xs = X[:, 0]
        q05, q25, q50, q75, q95 = np.quantile(xs, [0.05, 0.25, 0.5, 0.75, 0.95])
        scale = max((q75 - q25) / 1.349, (q95 - q05) / 3.29, REL_FLOOR * abs(q50), 1e-9)
        self._ref = (med, spread, float(xs.min()), float(xs.max()), float(scale))

    def _isolate(self, x0: float, x1: float, x2: float) -> float:
        assert self._forest is not None
        return _isolation(x0, x1, x2, *self._forest)

    # -- one point
    def _features(self, x: float) -> tuple[float, float]:
        fs, rec = self._s["fs"], self._s["recent"]
        n = int(min(fs[F_NRECENT], RECENT))
        if n == 0:
            return 0.0, 0.0
        last = rec[(int(fs[F_NRECENT]) - 1) % RECENT]
        mean = float(rec[:n].mean()) if n < RECENT else float(rec.mean())
        return x - last, x - mean

    def _judge(self, x: float, f1: float, f2: float) -> float:
        """Score against the current model; sets why/evidence for the reason. No state change."""
        med, spread, lo, hi, scale = self._ref
        iso = self._isolate(x, f1, f2)
        e_if = max(0.0, (iso - med) / spread) / IF_ALARM
        out = (lo - x if x < lo else x - hi if x > hi else 0.0) / scale
        e_range = out / RANGE_ALARM
        self._iso = iso
        if e_range > e_if:
            self._why, self._ev, self._exp = WHY_RANGE, out, (lo if x < lo else hi)
        else:
            self._why, self._ev = (WHY_IF if e_if > 0 else WHY_NORMAL), e_if * IF_ALARM
        e = max(e_if, e_range)
        if e >= 1.0 and self._recalled(x, scale):
            self._why, e = WHY_RECALL, e * RECALL_DAMP
        return e * e / (1.0 + e * e)

    def _recalled(self, x: float, scale: float) -> bool:
        """Near RECALL_K of the remembered anomalies: a recurring pattern (a batch job), not news."""
        fs, rec = self._s["fs"], self._s["recalled"]
        n = int(min(fs[F_NRECALL], RECALL))
        if n < RECALL_K:
            return False
        q25, q75 = np.quantile(rec[:n], [0.25, 0.75])
        near = np.abs(rec[:n] - x) <= max(scale, 0.5 * (q75 - q25))  # in units of their own spread
        return int(near.sum()) >= RECALL_K

    def _step(self, ts: float, x: float) -> float:
        fs = self._s["fs"]
        if not (math.isfinite(ts) and math.isfinite(x)):
            fs[F_SKIPPED] += 1
            self._why = WHY_SKIP
            return 0.0
        if ts < fs[F_LAST_TS]:
            fs[F_ORDER] += 1
            self._why = WHY_ORDER
            return 0.0
        fs[F_SEEN] += 1
        fs[F_LAST_TS] = ts
        f1, f2 = self._features(x)
        rec = self._s["recent"]
        rec[int(fs[F_NRECENT]) % RECENT] = x
        fs[F_NRECENT] += 1
        if self._forest is None:
            self._why = WHY_LEARNING
            score = 0.0
        else:
            score = self._judge(x, f1, f2)
        shown = self._quiet(score)
        if score < 0.5:
            fs[F_RUN] = 0
            self._learn(x, f1, f2)
            return shown
        self._s["recalled"][int(fs[F_NRECALL]) % RECALL] = x
        fs[F_NRECALL] += 1
        run = int(fs[F_RUN])
        self._s["pending"][run] = (x, f1, f2)
        fs[F_RUN] = run + 1
        if run + 1 >= RELEARN:  # a persistent deviation: the new normal
            self._restart()
            self._why = WHY_SHIFT
        return shown

    def _quiet(self, score: float) -> float:
        """One alarm per event: damp repeats of an event in progress unless the evidence doubles."""
        fs = self._s["fs"]
        e = math.sqrt(score / (1.0 - score)) if score < 1.0 - 1e-12 else 1e6  # finite: inf >= 2 * inf
        if fs[F_QUIET] > 0:
            fs[F_QUIET] -= 1
            if e >= QUIET_DOUBLE * fs[F_EVENT]:
                fs[F_EVENT], fs[F_QUIET] = e, QUIET
                return score
            if score >= EVENT:
                fs[F_QUIET] = QUIET
            return score * QUIET_DAMP
        if score >= EVENT:
            fs[F_EVENT], fs[F_QUIET] = e, QUIET
        return score

    def _learn(self, x: float, f1: float, f2: float) -> None:
        fs = self._s["fs"]
        i = int(fs[F_LEARNED])
        self._s["ring"][i % CAP] = x
        self._s["feat"][i % CAP] = (f1, f2)
        fs[F_LEARNED] = i + 1
        end = int(fs[F_FIT_END])
        due = MIN_POINTS if end == 0 else end + min(REFIT_EVERY, end)
        if i + 1 >= due:
            fs[F_FIT_END] = i + 1
            self._fit()

    def _restart(self) -> None:
        """Accept the run of anomalous points as normal: they join the window and the forest is refitted."""
        fs, s = self._s["fs"], self._s
        i = int(fs[F_LEARNED])
        idx = np.arange(i, i + RELEARN) % CAP
        s["ring"][idx] = s["pending"][:, 0]
        s["feat"][idx] = s["pending"][:, 1:]
        s["pending"][:] = 0.0
        fs[F_LEARNED] = i + RELEARN
        fs[F_FIT_END] = i + RELEARN
        fs[F_RUN] = 0
        fs[F_SHIFTS] += 1
        self._fit()

    # -- the Detector interface
    def reason(self, value: float) -> str:
        fs = self._s["fs"]
        why = self._why
        if why == WHY_SKIP:
            return f"skipped: value {value!r} is not a finite number ({int(fs[F_SKIPPED])} skipped so far)"
        if why == WHY_ORDER:
            return f"skipped: timestamp is older than the last one ({int(fs[F_ORDER])} so far)"
        if why == WHY_LEARNING:
            return f"learning: {int(fs[F_LEARNED])} of {MIN_POINTS} points needed"
        if why == WHY_SHIFT:
            return (f"level shift accepted: value {value:.4g} has deviated for {RELEARN} points; "
                    "relearning from here")
        if why == WHY_RANGE:
            side = "above" if value > self._exp else "below"
            return (f"value {value:.4g} is {self._ev:.1f} robust deviations {side} the learned normal "
                    f"range (edge {self._exp:.4g})")
        med = self._ref[0]
        if why == WHY_RECALL:
            return (f"value {value:.4g} is outside the learned normal behaviour but like {RECALL_K} or more "
                    "recent anomalies: a recurring pattern, damped")
        if why == WHY_IF:
            return (f"value {value:.4g}: the learned model isolates it quickly (isolation score "
                    f"{self._iso:.3f} against a typical {med:.3f} for normal points; value, step and "
                    "deviation from the recent mean)")
        return f"value {value:.4g} fits the learned normal behaviour (isolation score {self._iso:.3f})"

    def update(self, ts: float, value: float) -> Score:
        """Score one point, then learn from it unless it was judged anomalous."""
        v = self._step(float(ts), float(value))
        return Score(v, self.reason(float(value)))

    def learn_one(self, ts: float, value: float) -> None:
        self.update(ts, value)

    def score_one(self, ts: float, value: float) -> Score:
        """Score without learning."""
        ts, value = float(ts), float(value)
        fs = self._s["fs"]
        if not (math.isfinite(ts) and math.isfinite(value)):
            return Score(0.0, f"skipped: value {value!r} is not a finite number")
        if ts < fs[F_LAST_TS]:
            return Score(0.0, "skipped: timestamp is older than the last one")
        if self._forest is None:
            return Score(0.0, f"learning: {int(fs[F_LEARNED])} of {MIN_POINTS} points needed")
        saved = (self._why, self._ev, self._iso, self._exp)
        v = self._judge(value, *self._features(value))
        s = Score(v, self.reason(value))
        self._why, self._ev, self._iso, self._exp = saved
        return s

    def score_many(self, ts: np.ndarray, values: np.ndarray) -> np.ndarray:
        ts = np.asarray(ts, dtype=np.float64)
        xs = np.asarray(values, dtype=np.float64)
        if ts.shape != xs.shape:
            raise ValueError(f"ts and values differ in shape: {ts.shape} vs {xs.shape}")
        step = self._step
        return np.array([step(t, x) for t, x in zip(ts.tolist(), xs.tolist())], dtype=np.float64)

    @property
    def counters(self) -> dict[str, int]:
        fs = self._s["fs"]
        return {"seen": int(fs[F_SEEN]), "skipped_non_finite": int(fs[F_SKIPPED]),
                "skipped_out_of_order": int(fs[F_ORDER]), "level_shifts": int(fs[F_SHIFTS])}

    def state(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, **self._s)  # type: ignore[arg-type]  # numpy's stubs take allow_pickle for a kwarg
        return buf.getvalue()

    @classmethod
    def from_state(cls, blob: bytes) -> LearnedForest:
        det = cls()
        with np.load(io.BytesIO(blob)) as z:
            for k, fresh in det._s.items():
                if k in z.files and z[k].shape == fresh.shape:
                    fresh[...] = z[k]
        if det._s["fs"][F_FIT_END] > 0:
            det._fit()  # refit on exactly the rows of the last fit: same trees (random_state fixed)
        return det
