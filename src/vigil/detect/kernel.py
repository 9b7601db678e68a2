"""The scoring kernel shared by vigil's statistical detectors.

One compiled loop serves both paths: live scoring calls it with one point, replay with a whole array,
so batch and streaming give the same numbers by construction. All state lives in fixed-size arrays
(bounded memory, trivially saved). Components, each switched on by a weight in `params`:

- novelty (level): distance from the value to its k-th nearest recent *normal* value, in robust units
  (IQR of the same history). A value that recurs (daily peaks, multi-modal or quantised metrics) is
  not novel even when it is far from the median; a new level or a spike is.
- season: deviation from the median of the same time-of-day bin on past days, in the same units;
  only counts when the value is also unusual for recent history (a daily profile explains peaks).
- spike: size of the step from the previous value against the typical step.
- cusum: two-sided CUSUM of the robust deviation from the median: slow level or variance shifts.
- daily rhythm: an anomaly like one seen at about this time of day on `daily_n` earlier days is damped.
- likelihood: the mean of the last few scores against the series' own history of scores (Gaussian tail,
  in log units), a second score with its own one-alarm-per-event quiet; the larger of the two counts.

Points judged anomalous are not learned. A deviation that persists for `relearn` points is accepted
as a level shift (a deploy, a unit change): the recent history restarts from those points.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

RING = 1024  # recent normal points kept, in arrival order and sorted
PENDING = 256  # anomalous points kept to restart from after an accepted level shift
BINS = 288  # time-of-day bins at most (5-minute bins)
DAYS = 7  # past days per bin
RECALL = 32  # recent anomalous values remembered: an anomaly that keeps recurring is behaviour
N_IVAL = 16  # first positive time steps used to infer the sampling interval

# params
(P_W_LEVEL, P_W_SEASON, P_W_SPIKE, P_W_CUSUM, P_WINDOW, P_MIN_POINTS, P_LEARN_GATE, P_RELEARN,
 P_CUSUM_K, P_CUSUM_H, P_Z_ALARM, P_SPIKE_ALARM, P_REL_FLOOR, P_QUIET, P_RECALL, P_SEASON_EXPLAIN,
 P_SEASON_CAP, P_SEASON_DAYS, P_DAILY_DAMP, P_SHIFT_RESETS_SEASON, P_QUIET_EXTEND,
 P_CUSUM_NOVELTY, P_NN_K, P_QUIET_DAMP, P_QUIET_DOUBLE, P_RECALL_K, P_DAILY_N, P_DAILY_TOL,
 P_DAILY_VTOL, P_W_LIK, P_LIK_WINDOW, P_LIK_SHORT, P_LIK_WARM, P_LIK_EVENT) = range(34)
N_PARAMS = 34
LIK = 1024  # past scores of normal points (the likelihood's history)
LIK_SHORT = 32  # most recent scores, all points

# float state slots
(S_N, S_LAST_TS, S_INTERVAL, S_SKIPPED, S_OUT_OF_ORDER, S_POS, S_CNT, S_STEP_EW, S_STEP_N,
 S_PCNT, S_CUP, S_CDN, S_LAST_X, S_STREAK, S_BINS, S_NIVAL, S_EXPECTED, S_SCALE, S_Z, S_WHY,
 S_SHIFTS, S_QUIET, S_QSTR, S_RPOS, S_RES_EW, S_RES_N, S_LSUM, S_LSUM2, S_LCNT, S_LPOS, S_LSN,
 S_LQUIET, S_LIK) = range(33)
N_STATE = 40

# S_WHY codes (for the human reason)
(WHY_NONE, WHY_SKIP, WHY_ORDER, WHY_LEARNING, WHY_LEVEL, WHY_SEASON, WHY_SPIKE, WHY_CUSUM, WHY_SHIFT,
 WHY_LIK) = range(10)


def new_state() -> dict[str, np.ndarray]:
    fs = np.zeros(N_STATE)
    fs[S_LAST_TS] = -np.inf
    return {"fs": fs, "ring": np.zeros(RING), "sorted": np.zeros(RING), "pending": np.zeros(PENDING),
            "season": np.full(BINS * DAYS, np.nan), "ival": np.zeros(N_IVAL),
            "recalled": np.full(RECALL, np.nan), "recalled_ts": np.full(RECALL, np.nan),
            "lik": np.zeros(LIK), "lik_short": np.zeros(LIK_SHORT)}


@nb.njit(cache=True)
def _learn(fs, ring, srt, window, x):
    """Append x to the FIFO history, keeping the sorted copy in step (O(window) memmove)."""
    cnt = int(fs[S_CNT])
    pos = int(fs[S_POS])
    if cnt == window:
        old = ring[pos]
        j = np.searchsorted(srt[:cnt], old)
        srt[j:cnt - 1] = srt[j + 1:cnt].copy()
        cnt -= 1
    j = np.searchsorted(srt[:cnt], x)
    srt[j + 1:cnt + 1] = srt[j:cnt].copy()
    srt[j] = x
    ring[pos] = x
    fs[S_POS] = (pos + 1) % window
    fs[S_CNT] = cnt + 1


@nb.njit(cache=True)
def _kth_distance(srt, cnt, x, k):
    """Distance from x to its k-th nearest value in the sorted history (merge outwards)."""
    hi = np.searchsorted(srt[:cnt], x)
    lo = hi - 1
    d = 0.0
    for _ in range(k):
        if lo >= 0 and (hi >= cnt or x - srt[lo] <= srt[hi] - x):
            d = x - srt[lo]
            lo -= 1
        elif hi < cnt:
            d = srt[hi] - x
            hi += 1
    return d


@nb.njit(cache=True)
def _score(s):
    # 0.5 at the alarm strength (s == 1); saturates slowly so strong evidence still ranks.
    s2 = s * s
    return s2 / (1.0 + s2)


@nb.njit(cache=True)
def run(p, fs, ring, srt, pending, season, ival, recalled, recalled_ts, lik, lik_short, ts, xs, out):
    window = min(int(p[P_WINDOW]), RING)
    nn_k = max(1, int(p[P_NN_K]))
    min_points = max(int(p[P_MIN_POINTS]), nn_k + 1)
    days = np.zeros(RECALL)  # scratch: distinct earlier days with the same anomaly at this time of day
    for i in range(xs.shape[0]):
        x = xs[i]
        t = ts[i]
        out[i] = 0.0
        if not np.isfinite(x) or not np.isfinite(t):
            fs[S_SKIPPED] += 1
            fs[S_WHY] = WHY_SKIP
            continue
        if t < fs[S_LAST_TS]:
            fs[S_OUT_OF_ORDER] += 1
            fs[S_WHY] = WHY_ORDER
            continue
        # Sampling interval (seasonality needs it): median of the first positive steps.
        if fs[S_N] > 0 and t > fs[S_LAST_TS] and fs[S_NIVAL] < N_IVAL:
            ival[int(fs[S_NIVAL])] = t - fs[S_LAST_TS]
            fs[S_NIVAL] += 1
            if fs[S_NIVAL] == N_IVAL:
                iv = np.median(ival)
                fs[S_INTERVAL] = iv
                if 0 < iv <= 3600.0:
                    fs[S_BINS] = min(BINS, int(86400.0 / iv + 0.5))
        first = fs[S_N] == 0
        fs[S_LAST_TS] = t
        fs[S_N] += 1
        prev_x = x if first else fs[S_LAST_X]
        step = abs(x - prev_x)
        fs[S_LAST_X] = x
        nbins = int(fs[S_BINS])
        b = -1
        slot = 0
        if nbins > 0:
            b = int((t % 86400.0) / (86400.0 / nbins)) % nbins
            slot = int(t // 86400.0) % DAYS
        cnt = int(fs[S_CNT])
        if cnt < min_points:  # nothing to judge by yet: learn, say so
            _learn(fs, ring, srt, window, x)
            if not first:
                fs[S_STEP_EW] += (step - fs[S_STEP_EW]) / (fs[S_STEP_N] + 1.0)
                fs[S_STEP_N] += 1
            if b >= 0:
                season[b * DAYS + slot] = x
            fs[S_WHY] = WHY_LEARNING
            continue
        # --- robust units from the sorted history
        med = srt[cnt // 2]
        iqr = srt[(3 * cnt) // 4] - srt[cnt // 4]
        wide = (srt[cnt - 1 - cnt // 20] - srt[cnt // 20]) / 3.29
        scale = max(iqr / 1.349, wide, p[P_REL_FLOOR] * abs(med), 1e-9)
        # --- novelty: k-th nearest recent normal value
        z = _kth_distance(srt, cnt, x, nn_k) / scale
        # Seen this anomaly RECALL_K times lately? Then it is how this series behaves.
        # Distances are in units of the remembered anomalies' own spread, so spikes of varying height
        # on a flat series count as recurring too.
        near = np.sort(np.abs(recalled - x))[int(p[P_RECALL_K]) - 1]  # NaN slots sort last
        if np.isfinite(near):
            seen = recalled[np.isfinite(recalled)]
            rscale = max(scale, 0.25 * (np.max(seen) - np.min(seen)))
            z = min(z, p[P_RECALL] * near / rscale)
        # The same kind of anomaly at about the same time of day on `daily_n` earlier days (a nightly
        # job, a daily report) is the daily rhythm, not news. Days are counted once each.
        if nbins > 0 and p[P_DAILY_DAMP] < 1.0:
            tol = max(2.0 * fs[S_INTERVAL], p[P_DAILY_TOL])
            hits = 0
            for j in range(RECALL):
                age = t - recalled_ts[j]
                if np.isfinite(age) and age > 43200.0:
                    off = age % 86400.0
                    if min(off, 86400.0 - off) <= tol and \
                            abs(recalled[j] - x) <= p[P_DAILY_VTOL] * abs(x - med) + scale:
                        day = np.floor((age + tol) / 86400.0)
                        fresh = True
                        for q in range(hits):
                            if days[q] == day:
                                fresh = False
                                break
                        if fresh:
                            days[hits] = day
                            hits += 1
            if hits >= p[P_DAILY_N]:
                z = z * p[P_DAILY_DAMP]
        strength = p[P_W_LEVEL] * z / p[P_Z_ALARM]
        why = WHY_LEVEL
        expected = med
        signed = z if x >= med else -z
        # --- season: same time-of-day bin on past days. Judged in units of the typical residual
        # from that profile, and only on series the profile explains far better than the level does.
        res = np.nan
        if b >= 0 and p[P_W_SEASON] > 0:
            hist = season[b * DAYS:(b + 1) * DAYS]
            good = np.sort(hist[np.isfinite(hist)])
            if good.shape[0] >= p[P_SEASON_DAYS]:
                exp_s = good[good.shape[0] // 2]
                res = abs(x - exp_s)
                if fs[S_RES_N] >= min_points and fs[S_RES_EW] < p[P_SEASON_EXPLAIN] * scale:
                    rs = max(1.2533 * fs[S_RES_EW], p[P_REL_FLOOR] * abs(med), 1e-9)
                    zs = min(np.abs(good - x)[np.argsort(np.abs(good - x))[1]], res) / rs
                    s_se = p[P_W_SEASON] * zs / p[P_SEASON_CAP]
                    if s_se > strength:
                        strength = s_se
                        why = WHY_SEASON
                        expected = exp_s
                        signed = zs if x >= exp_s else -zs
        # --- spike: the step against the typical step
        if p[P_W_SPIKE] > 0 and fs[S_STEP_N] >= min_points:
            zsp = step / max(1.2533 * fs[S_STEP_EW], p[P_REL_FLOOR] * abs(med), 1e-9)
            s_sp = p[P_W_SPIKE] * min(zsp, 4.0 * z + 1.0) / p[P_SPIKE_ALARM]
            if s_sp > strength:
                strength = s_sp
                why = WHY_SPIKE
                signed = zsp if x >= prev_x else -zsp
        # --- cusum of clipped deviation from the median: accumulates small persistent shifts
        if p[P_CUSUM_NOVELTY] > 0:  # runs of moderately novel values (no sign: novelty is a distance)
            fs[S_CUP] = max(0.0, fs[S_CUP] + min(z, 4.0) - p[P_CUSUM_K])
        else:
            zc = min(max((x - med) / scale, -4.0), 4.0)
            fs[S_CUP] = max(0.0, fs[S_CUP] + zc - p[P_CUSUM_K])
            fs[S_CDN] = max(0.0, fs[S_CDN] - zc - p[P_CUSUM_K])
        if p[P_W_CUSUM] > 0:
            s_cu = p[P_W_CUSUM] * max(fs[S_CUP], fs[S_CDN]) / p[P_CUSUM_H]
            if s_cu > strength:
                strength = s_cu
                why = WHY_CUSUM
        score = _score(strength)
        # After an alarm stay quiet for a while unless the evidence doubles: one event, one alarm.
        if fs[S_QUIET] > 0:
            fs[S_QUIET] -= 1
            if score >= 0.5 and p[P_QUIET_EXTEND] > 0:
                fs[S_QUIET] = p[P_QUIET]  # the event is still going on: still the same event
            if strength < p[P_QUIET_DOUBLE] * fs[S_QSTR]:
                score = p[P_QUIET_DAMP] * score
        elif score >= 0.5 and p[P_QUIET] > 0:
            fs[S_QUIET] = p[P_QUIET]
            fs[S_QSTR] = strength
        # --- anomaly likelihood (as NAB's best detectors post-process raw scores): is the mean of the
        # last few scores unusually high for this series' own score history? Noisy series have noisy
        # scores and need more; on a quiet series a run of modest scores is news.
        lk = 0.0
        if p[P_W_LIK] > 0:
            lw = min(int(p[P_LIK_WINDOW]), LIK)
            sh = min(max(int(p[P_LIK_SHORT]), 1), LIK_SHORT)
            lik_short[int(fs[S_LSN]) % LIK_SHORT] = score
            fs[S_LSN] += 1
            m = min(int(fs[S_LSN]), sh)
            ma = 0.0
            for j in range(m):
                ma += lik_short[(int(fs[S_LSN]) - 1 - j) % LIK_SHORT]
            ma /= m
            lc = fs[S_LCNT]
            if lc >= p[P_LIK_WARM] and ma * lc > fs[S_LSUM]:  # only above-usual scores are evidence
                mu = fs[S_LSUM] / lc
                var = max(fs[S_LSUM2] / lc - mu * mu, 1e-6)
                tail = 0.5 * math.erfc((ma - mu) / math.sqrt(2.0 * var))
                lk = math.log(tail + 1e-10) / math.log(1e-10)
            fs[S_LIK] = lk
            lk = p[P_W_LIK] * lk
            if fs[S_LQUIET] > 0:  # one event, one alarm (as above)
                fs[S_LQUIET] -= 1
                lk = p[P_QUIET_DAMP] * lk
            elif lk >= p[P_LIK_EVENT] and p[P_QUIET] > 0:
                fs[S_LQUIET] = p[P_QUIET]
            if strength < p[P_LEARN_GATE]:  # the history holds scores of points judged normal only
                lp = int(fs[S_LPOS])
                if lc >= lw:
                    old = lik[lp]
                    fs[S_LSUM] -= old
                    fs[S_LSUM2] -= old * old
                    fs[S_LCNT] -= 1
                lik[lp] = score
                fs[S_LSUM] += score
                fs[S_LSUM2] += score * score
                fs[S_LCNT] += 1
                fs[S_LPOS] = (lp + 1) % lw
            if lk > score:
                score = lk
                why = WHY_LIK
        out[i] = score
        fs[S_EXPECTED] = expected
        fs[S_SCALE] = scale
        fs[S_Z] = signed
        fs[S_WHY] = why
        # --- learn only from points judged normal; accept a persistent shift as the new normal
        if strength < p[P_LEARN_GATE]:
            fs[S_STREAK] = 0
            fs[S_PCNT] = 0
            _learn(fs, ring, srt, window, x)
            fs[S_STEP_EW] += (step - fs[S_STEP_EW]) / min(fs[S_STEP_N] + 1.0, 256.0)
            fs[S_STEP_N] += 1
            if b >= 0:
                season[b * DAYS + slot] = x
            if np.isfinite(res):
                fs[S_RES_EW] += (res - fs[S_RES_EW]) / min(fs[S_RES_N] + 1.0, 1024.0)
                fs[S_RES_N] += 1
        else:
            recalled[int(fs[S_RPOS])] = x
            recalled_ts[int(fs[S_RPOS])] = t
            fs[S_RPOS] = (fs[S_RPOS] + 1) % RECALL
            fs[S_STREAK] += 1
            k = int(fs[S_PCNT])
            if k < PENDING:
                pending[k] = x
                fs[S_PCNT] = k + 1
            if fs[S_STREAK] >= p[P_RELEARN]:
                # Accept the shifted points as normal (older history ages out by itself).
                k = int(fs[S_PCNT])
                for j in range(k):
                    _learn(fs, ring, srt, window, pending[j])
                fs[S_CUP] = 0.0
                fs[S_CDN] = 0.0
                fs[S_STREAK] = 0
                fs[S_PCNT] = 0
                fs[S_SHIFTS] += 1
                fs[S_WHY] = WHY_SHIFT
                if p[P_SHIFT_RESETS_SEASON] > 0:
                    # The old daily profile describes the old level: relearn it.
                    season[:] = np.nan
                    fs[S_RES_N] = 0
                    fs[S_RES_EW] = 0.0
    return out
