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
- week: deviation from the same hour of the week on past weeks (weekday/weekend shapes, a weekly batch
  job); once at least `week_min` past weeks know this hour, and on series whose residual from it is far
  below how much the hour of the week moves them, its verdict replaces novelty, the daily profile and the
  step.
  The profile also counts how often it is surprised (runs of points at its alarm level, on every point
  it judges, normal or not); while that happens more often than `season_miss` per point it does not
  speak (bursts at any time of day are the series' behaviour, not a broken daily rhythm).
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
WEEK_BINS = 168  # hour-of-week bins (hours counted from the epoch, so in UTC)
WEEKS = 4  # past weeks kept per hour-of-week bin
WEEK_AGREE = 3.0  # past weeks' values for an hour must agree within this many residual scales
WEEK_MISS = 0.002  # the weekly profile is trusted while it is surprised less often than this per point
NO_HOUR = -(2 ** 31)  # an empty weekly slot
WEEK_T_MAX = 3600.0 * (2 ** 31 - 1)  # hour numbers must fit the int32 slot labels

# params
(P_W_LEVEL, P_W_SEASON, P_W_SPIKE, P_W_CUSUM, P_WINDOW, P_MIN_POINTS, P_LEARN_GATE, P_RELEARN,
 P_CUSUM_K, P_CUSUM_H, P_Z_ALARM, P_SPIKE_ALARM, P_REL_FLOOR, P_QUIET, P_RECALL, P_SEASON_EXPLAIN,
 P_SEASON_CAP, P_SEASON_DAYS, P_DAILY_DAMP, P_SHIFT_RESETS_SEASON, P_QUIET_EXTEND,
 P_CUSUM_NOVELTY, P_NN_K, P_QUIET_DAMP, P_QUIET_DOUBLE, P_RECALL_K, P_DAILY_N, P_DAILY_TOL,
 P_DAILY_VTOL, P_W_LIK, P_LIK_WINDOW, P_LIK_SHORT, P_LIK_WARM, P_LIK_EVENT, P_W_WEEK,
 P_WEEK_MIN, P_SEASON_MISS) = range(37)
N_PARAMS = 37
LIK = 1024  # past scores of normal points (the likelihood's history)
LIK_SHORT = 32  # most recent scores, all points

# float state slots
(S_N, S_LAST_TS, S_INTERVAL, S_SKIPPED, S_OUT_OF_ORDER, S_POS, S_CNT, S_STEP_EW, S_STEP_N,
 S_PCNT, S_CUP, S_CDN, S_LAST_X, S_STREAK, S_BINS, S_NIVAL, S_EXPECTED, S_SCALE, S_Z, S_WHY,
 S_SHIFTS, S_QUIET, S_QSTR, S_RPOS, S_RES_EW, S_RES_N, S_LSUM, S_LSUM2, S_LCNT, S_LPOS, S_LSN,
 S_LQUIET, S_LIK, S_WHOUR, S_WSUM, S_WCNT, S_WRES_EW, S_WRES_N, S_WSPREAD, S_FLAT, S_WMISS,
 S_WMISSING, S_WORD_N, S_WORD_LO, S_WORD_OK, S_SMISS, S_SMISSING) = range(47)
N_STATE = 48

# S_WHY codes (for the human reason)
(WHY_NONE, WHY_SKIP, WHY_ORDER, WHY_LEARNING, WHY_LEVEL, WHY_SEASON, WHY_SPIKE, WHY_CUSUM, WHY_SHIFT,
 WHY_LIK, WHY_WEEK) = range(11)


def new_state() -> dict[str, np.ndarray]:
    fs = np.zeros(N_STATE)
    fs[S_LAST_TS] = -np.inf
    return {"fs": fs, "ring": np.zeros(RING), "sorted": np.zeros(RING), "pending": np.zeros(PENDING),
            "season": np.full(BINS * DAYS, np.nan), "ival": np.zeros(N_IVAL),
            "recalled": np.full(RECALL, np.nan), "recalled_ts": np.full(RECALL, np.nan),
            "lik": np.zeros(LIK), "lik_short": np.zeros(LIK_SHORT),
            "week": np.full(WEEK_BINS * WEEKS, np.nan),
            "week_hour": np.full(WEEK_BINS * WEEKS, NO_HOUR, dtype=np.int32),
            "week_order": np.zeros(WEEK_BINS * WEEKS, dtype=np.int16)}


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
def _week_slot(hour):
    return (hour % WEEK_BINS) * WEEKS + (hour // WEEK_BINS) % WEEKS


@nb.njit(cache=True)
def _week_before(week, a, b):
    """Slot a's mean sorts before slot b's: by value (NaN last, as np.sort puts it), then by slot, so every
    slot has one exact place in the order."""
    va = week[a]
    vb = week[b]
    if va < vb:
        return True
    if va > vb:
        return False
    na = np.isnan(va)
    if na != np.isnan(vb):
        return not na  # only b is NaN
    return a < b  # equal (or both NaN)


@nb.njit(cache=True)
def _week_place(week, order, n, j):
    """Where slot j is (or belongs) in order[:n], the slots sorted by `_week_before` (binary search)."""
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) >> 1
        if _week_before(week, order[mid], j):
            lo = mid + 1
        else:
            hi = mid
    return lo


@nb.njit(cache=True)
def _week_insert(fs, week, order, j):
    n = int(fs[S_WORD_N])
    q = _week_place(week, order, n, j)
    for i in range(n, q, -1):
        order[i] = order[i - 1]
    order[q] = j
    fs[S_WORD_N] = n + 1


@nb.njit(cache=True)
def _week_remove(fs, week, order, j):
    n = int(fs[S_WORD_N])
    q = _week_place(week, order, n, j)
    if q >= n or order[q] != j:  # not where its value says (cannot happen while the order is kept): look
        q = 0
        while q < n and order[q] != j:
            q += 1
        if q == n:
            return
    for i in range(q, n - 1):
        order[i] = order[i + 1]
    fs[S_WORD_N] = n - 1


@nb.njit(cache=True)
def _week_close(fs, week, week_hour, order, hour):
    """Store the finished hour's mean of normal points in the weekly profile; start accumulating `hour`.

    `order` holds the slots of the hours after S_WORD_LO (the last WEEK_BINS * WEEKS hours as of the last
    closed hour) sorted by their mean, updated by binary search as hours are stored and age out, so the
    spread is read off it instead of sorting up to 672 means at every hour's end."""
    if fs[S_WCNT] > 0:
        done = int(fs[S_WHOUR])
        lo = done - WEEK_BINS * WEEKS  # hours after lo count as recent
        if fs[S_WORD_OK] == 0:  # a new state, or one saved before the order was kept: build it
            fs[S_WORD_N] = 0
            for j in range(WEEK_BINS * WEEKS):
                if week_hour[j] > lo:
                    _week_insert(fs, week, order, j)
            fs[S_WORD_LO] = lo
            fs[S_WORD_OK] = 1
        prev = int(fs[S_WORD_LO])
        if lo - prev >= WEEK_BINS * WEEKS:  # a gap of 4 weeks or more: every kept hour aged out
            fs[S_WORD_N] = 0
        else:
            for h in range(max(prev + 1, 0), lo + 1):
                jh = _week_slot(h)
                if week_hour[jh] == h:
                    _week_remove(fs, week, order, jh)
        fs[S_WORD_LO] = lo
        j = _week_slot(done)  # its previous hour is <= lo: aged out above
        week[j] = fs[S_WSUM] / fs[S_WCNT]
        week_hour[j] = done
        _week_insert(fs, week, order, j)
        # How much the hour of the week moves the series (IQR of the recent hourly means; not the 5-95 %
        # range, which a few bursty hours inflate): the weekly profile only speaks on series whose
        # residual from it is far below this.
        n = int(fs[S_WORD_N])
        if n >= 24:
            fs[S_WSPREAD] = (week[order[(3 * n) // 4]] - week[order[n // 4]]) / 1.349
    fs[S_WHOUR] = hour
    fs[S_WSUM] = 0.0
    fs[S_WCNT] = 0.0


@nb.njit(cache=True)
def _week_lookup(week, week_hour, t, x, dists, vals):
    """For each past week that knows this hour: the distance from x to that week's value, widened to the
    value of the neighbouring hour on the side t is nearer (a ramp or a step moves within the hour).
    Returns how many weeks there were; `vals` gets their values for this hour."""
    hour = int(t // 3600.0)
    adj = hour + 1 if t % 3600.0 >= 1800.0 else hour - 1
    n = 0
    for k in range(1, WEEKS + 1):
        hm = hour - WEEK_BINS * k
        j = _week_slot(hm)
        if week_hour[j] != hm:
            continue
        lo = week[j]
        hi = lo
        ha = adj - WEEK_BINS * k
        ja = _week_slot(ha)
        if week_hour[ja] == ha:
            lo = min(lo, week[ja])
            hi = max(hi, week[ja])
        dists[n] = max(lo - x, x - hi, 0.0)
        vals[n] = week[j]
        n += 1
    return n


@nb.njit(cache=True)
def _sort_small(a, n):
    """Sort a[:n] in place (insertion sort, NaN last as np.sort puts it): for a few values, without the
    copy np.sort makes."""
    for i in range(1, n):
        v = a[i]
        k = i
        while k > 0 and (a[k - 1] > v or (np.isnan(a[k - 1]) and not np.isnan(v))):
            a[k] = a[k - 1]
            k -= 1
        a[k] = v


@nb.njit(cache=True)
def _median_small(a, n):
    """np.median(a[:n]) for a few values, without its copy; a[:n] is left sorted unless it holds NaN."""
    for i in range(n):
        if np.isnan(a[i]):
            return np.median(a[:n])  # (not reached: hourly means overflow to inf, never to NaN)
    _sort_small(a, n)
    h = n // 2
    if n % 2 == 1:
        return a[h]
    return (a[h - 1] + a[h]) / 2


@nb.njit(cache=True)
def _score(s):
    # 0.5 at the alarm strength (s == 1); saturates slowly so strong evidence still ranks.
    s2 = s * s
    return s2 / (1.0 + s2)


@nb.njit(cache=True)
def run(p, fs, ring, srt, pending, season, ival, recalled, recalled_ts, lik, lik_short, week, week_hour,
        week_order, ts, xs, out):
    window = min(int(p[P_WINDOW]), RING)
    nn_k = max(1, int(p[P_NN_K]))
    min_points = max(int(p[P_MIN_POINTS]), nn_k + 1)
    days = np.zeros(RECALL)  # scratch: distinct earlier days with the same anomaly at this time of day
    wdists = np.zeros(WEEKS)  # scratch: per past week, distance to its value for this hour
    wvals = np.zeros(WEEKS)
    wnear_d = np.empty(RECALL)  # scratch: distances to the anomalies recalled from the past week
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
        weekly = nbins > 0 and p[P_W_WEEK] > 0 and 0.0 <= t < WEEK_T_MAX
        if weekly and int(t // 3600.0) != fs[S_WHOUR]:
            _week_close(fs, week, week_hour, week_order, int(t // 3600.0))
        cnt = int(fs[S_CNT])
        if cnt < min_points:  # nothing to judge by yet: learn, say so
            _learn(fs, ring, srt, window, x)
            if not first:
                fs[S_STEP_EW] += (step - fs[S_STEP_EW]) / (fs[S_STEP_N] + 1.0)
                fs[S_STEP_N] += 1
            if b >= 0:
                season[b * DAYS + slot] = x
            if weekly:
                fs[S_WSUM] += x
                fs[S_WCNT] += 1
            fs[S_WHY] = WHY_LEARNING
            continue
        # --- robust units from the sorted history
        med = srt[cnt // 2]
        iqr = srt[(3 * cnt) // 4] - srt[cnt // 4]
        wide = (srt[cnt - 1 - cnt // 20] - srt[cnt // 20]) / 3.29
        scale = max(iqr / 1.349, wide, p[P_REL_FLOOR] * abs(med), 1e-9)
        # A flat history (90 % of it one value) has no spread to measure deviations in: the reason says so.
        flat = 0.0
        if iqr == 0.0 and wide == 0.0:
            flat = float(np.searchsorted(srt[:cnt], med, side="right") - np.searchsorted(srt[:cnt], med))
        # --- novelty: k-th nearest recent normal value
        z = _kth_distance(srt, cnt, x, nn_k) / scale
        # Seen this anomaly RECALL_K times lately? Then it is how this series behaves.
        # Distances are in units of the remembered anomalies' own spread, so spikes of varying height
        # on a flat series count as recurring too.
        near = np.sort(np.abs(recalled - x))[int(p[P_RECALL_K]) - 1]  # NaN slots sort last
        rspan = 0.0
        if np.isfinite(near):
            seen = recalled[np.isfinite(recalled)]
            rspan = 0.25 * (np.max(seen) - np.min(seen))
            z = min(z, p[P_RECALL] * near / max(scale, rspan))
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
                    # How often is the profile surprised (a run of points at its alarm level), counted on
                    # every point it judges, once per run, as the weekly profile's check: on bursty series
                    # the bursts come at any time of day, and a profile surprised that often does not
                    # explain the series.
                    if p[P_SEASON_MISS] > 0:
                        miss = s_se >= 1.0
                        start = 1.0 if miss and fs[S_SMISSING] == 0 else 0.0
                        fs[S_SMISS] += (start - fs[S_SMISS]) / min(fs[S_RES_N] + 1.0, 1024.0)
                        fs[S_SMISSING] = 1.0 if miss else 0.0
                        if fs[S_SMISS] >= p[P_SEASON_MISS]:
                            s_se = 0.0
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
        # --- week: the same hour of the week on past weeks. Where it explains the series (its typical
        # residual is far below how much the hour of the week moves the series, and the past weeks agree
        # on this hour), it knows better than recent history or the daily profile whether this value
        # belongs here: its verdict replaces theirs.
        wd = np.nan
        if weekly:
            n = _week_lookup(week, week_hour, t, x, wdists, wvals)
            if n >= max(1, p[P_WEEK_MIN]):
                _sort_small(wdists, n)
                wd = wdists[(n + 1) // 2 - 1]  # news only if unlike at least half the past weeks
                exp_w = _median_small(wvals, n)
                rw = max(1.2533 * fs[S_WRES_EW], p[P_REL_FLOOR] * abs(exp_w), 1e-9)
                # How often does the profile alone find a point far off? Counted on every point, judged
                # normal or not, once per run: on bursty series the bursts come at any hour, and the
                # profile, which never learns them, must not take each one for news.
                miss = fs[S_WRES_N] >= min_points and wd > p[P_SEASON_CAP] * rw
                if fs[S_WRES_N] >= min_points:
                    start = 1.0 if miss and fs[S_WMISSING] == 0 else 0.0
                    fs[S_WMISS] += (start - fs[S_WMISS]) / min(fs[S_WRES_N] + 1.0, 1024.0)
                fs[S_WMISSING] = 1.0 if miss else 0.0
                if fs[S_WRES_N] >= min_points and fs[S_WRES_EW] < p[P_SEASON_EXPLAIN] * fs[S_WSPREAD] and \
                        np.max(wvals[:n]) - np.min(wvals[:n]) <= WEEK_AGREE * rw and fs[S_WMISS] < WEEK_MISS:
                    zw = wd / rw
                    # Seen this anomaly RECALL_K times in the past week? Then it is this week's behaviour
                    # (a holiday, a moved job). Older anomalies do not count: the profile is about weeks.
                    m = 0
                    lo_seen = np.inf
                    hi_seen = -np.inf
                    for j in range(RECALL):
                        if t - recalled_ts[j] < 604800.0:  # False for empty slots (NaN)
                            wnear_d[m] = abs(recalled[j] - x)
                            lo_seen = min(lo_seen, recalled[j])
                            hi_seen = max(hi_seen, recalled[j])
                            m += 1
                    if m >= p[P_RECALL_K]:
                        _sort_small(wnear_d, m)
                        wnear = wnear_d[int(p[P_RECALL_K]) - 1]
                        zw = min(zw, p[P_RECALL] * wnear / max(rw, 0.25 * (hi_seen - lo_seen)))
                    strength = p[P_W_WEEK] * zw / p[P_SEASON_CAP]
                    why = WHY_WEEK
                    expected = exp_w
                    signed = zw if x >= exp_w else -zw
                    flat = float(n) if fs[S_WRES_EW] == 0.0 else 0.0
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
        fs[S_FLAT] = flat if why in (WHY_LEVEL, WHY_SPIKE, WHY_WEEK) else 0.0
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
            if weekly:
                fs[S_WSUM] += x
                fs[S_WCNT] += 1
                if np.isfinite(wd):
                    fs[S_WRES_EW] += (wd - fs[S_WRES_EW]) / min(fs[S_WRES_N] + 1.0, 1024.0)
                    fs[S_WRES_N] += 1
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
                    week[:] = np.nan
                    week_hour[:] = NO_HOUR
                    fs[S_WORD_N] = 0
                    fs[S_WRES_N] = 0
                    fs[S_WRES_EW] = 0.0
    return out
