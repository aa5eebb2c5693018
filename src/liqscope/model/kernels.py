"""Numeric kernels of the estimator: ``@njit(cache=True)`` functions over plain arrays.

Everything that loops over steps, levels or buckets lives here and nowhere else. The
kernels release the GIL (``nogil=True``), so several markets can be estimated in threads. The
typed Python API that calls these is in :mod:`liqscope.model.grid` and
:mod:`liqscope.model.estimator`; the semantics are documented in ``docs/methodology.md``
and mirrored, slowly and plainly, by :mod:`liqscope.model.reference`.

Side index convention: 0 = long, 1 = short.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Pools of the level state: RECENT holds levels opened in the current recency window
# (used only by the "recent" closing mode), OLDER holds everything else.
RECENT = 0
OLDER = 1
_RENORM_LO = 1e-100
_RENORM_HI = 1e100
_FULL = 1.0 - 1e-12


@njit(cache=True, nogil=True)
def bucket_index(price, origin, step):  # type: ignore[no-untyped-def]
    """THE canonical price -> bucket function: ``floor((price - origin) / step)``.

    Unclipped; callers decide what an index outside ``[0, n)`` means.
    """
    return np.int64(math.floor((price - origin) / step))


@njit(cache=True, nogil=True)
def bucket_index_array(prices, origin, step, out):  # type: ignore[no-untyped-def]
    """Apply :func:`bucket_index` to every element of ``prices`` into ``out`` (int64)."""
    for i in range(prices.shape[0]):
        out[i] = bucket_index(prices[i], origin, step)


@njit(cache=True, nogil=True)
def relative_rate(rate, dt, half_life_ms, mean0, out):  # type: ignore[no-untyped-def]
    """``out[i] = rate[i] / m_i`` with ``m`` the causal exponential mean of ``rate``
    (weight ``1 - 2^(-dt_i / half_life)`` for step ``i``; ``m`` starts at ``mean0``, or at
    ``rate_0`` when ``mean0`` is NaN); 1 where the mean is not positive (no volume
    information). Returns the mean after the last step (to continue from)."""
    mean = mean0
    for i in range(rate.shape[0]):
        if i == 0 and not math.isfinite(mean):
            mean = rate[0]
        else:
            mean += (1.0 - 2.0 ** (-dt[i] / half_life_ms)) * (rate[i] - mean)
        out[i] = rate[i] / mean if mean > 0.0 else 1.0
    return mean


@njit(cache=True, nogil=True)
def _clear_pool_side(raw, scale, rsum, p, s):  # type: ignore[no-untyped-def]
    for g in range(raw.shape[1]):
        raw[p, g, s, :] = 0.0
        scale[p, g, s] = 1.0
        rsum[p, g, s] = 0.0


@njit(cache=True, nogil=True)
def _pool_side_live(scale, rsum, p, s):  # type: ignore[no-untyped-def]
    tot = 0.0
    for g in range(scale.shape[1]):
        tot += rsum[p, g, s] * scale[p, g, s]
    return tot


@njit(cache=True, nogil=True)
def _scale_pool_side(raw, scale, rsum, p, s, keep):  # type: ignore[no-untyped-def]
    """Multiply pool p side s by ``keep`` (clearing it when nothing is kept)."""
    if keep <= 1.0 - _FULL:
        _clear_pool_side(raw, scale, rsum, p, s)
        return
    for g in range(scale.shape[1]):
        scale[p, g, s] *= keep


@njit(cache=True, nogil=True)
def _renormalise(raw, scale, rsum):  # type: ignore[no-untyped-def]
    for p in range(scale.shape[0]):
        for g in range(scale.shape[1]):
            for s in range(2):
                sc = scale[p, g, s]
                if sc < _RENORM_LO or sc > _RENORM_HI:
                    raw[p, g, s, :] *= sc
                    rsum[p, g, s] *= sc
                    scale[p, g, s] = 1.0


@njit(cache=True, nogil=True)
def _snapshot(raw, scale, group_tier, out):  # type: ignore[no-untyped-def]
    """Write the per-tier state (pools and size classes summed) into ``out[T, 2, B]``."""
    out[:] = 0.0
    n_b = raw.shape[3]
    for p in range(raw.shape[0]):
        for g in range(raw.shape[1]):
            k = group_tier[g]
            for s in range(2):
                sc = scale[p, g, s]
                for b in range(n_b):
                    v = raw[p, g, s, b]
                    if v != 0.0:
                        out[k, s, b] += v * sc


@njit(cache=True, nogil=True)
def _consume(raw, scale, rsum, group_tier, consumed, counters, t, s, lo, hi):  # type: ignore[no-untyped-def]
    """Liquidate every side-``s`` level in buckets ``lo..hi`` at step ``t`` (into
    ``consumed``); a side left with no level gets exact zero running totals."""
    n_b = raw.shape[3]
    for b in range(lo, hi + 1):
        for p in range(2):
            for g in range(raw.shape[1]):
                v = raw[p, g, s, b]
                if v != 0.0:
                    counters[1] += 1
                    consumed[t, group_tier[g], s] += v * scale[p, g, s]
                    rsum[p, g, s] -= v
                    raw[p, g, s, b] = 0.0
    if (s == 0 and lo <= 0) or (s == 1 and hi >= n_b - 1):
        for p in range(2):
            for g in range(raw.shape[1]):
                rsum[p, g, s] = 0.0


@njit(cache=True, nogil=True)
def run_estimator(  # type: ignore[no-untyped-def]
    ts,
    low,
    high,
    close,
    typical,
    oi,
    oi_px,
    turn,
    book_oi,
    long_share,
    liq_real,
    entry_profile,
    n_points,
    ratios,
    group_weight,
    group_tier,
    half_life_ms,
    origin,
    step,
    col_ms,
    col0,
    recent_mode,
    recent_ms,
    calibrate,
    seed_first,
    state,
    out,
):
    """Run the estimator over all steps, filling the preallocated output arrays.

    Inputs (n steps, G groups, T tiers, B buckets, K entry points):
    ``ts`` int64[n]; ``low, high, close, typical, oi, oi_px, long_share`` float64[n]
    (``oi_px`` converts base OI to USD); ``turn`` float64[n, 2] gross turnover per book
    (USD, used when ``book_oi``: the v2 book that tracks OI on each side);
    ``liq_real`` float64[n, 2] (NaN = unknown); ``entry_profile`` float64[n, K] weights
    over the K entry points, or shape [0, K] for the triangular kernel;
    ``ratios`` float64[G, 2] (liquidation price / entry); ``group_weight`` float64[G]
    (sums to 1); ``group_tier`` int64[G]; ``half_life_ms`` float64[T] (0 = no decay).
    ``state`` (read at the start, written at the end, so a later run continues exactly) is
    the tuple ``(raw, scale, rsum, carry_i, carry_f)``: ``raw`` float64[2, G, 2, B] and
    ``scale, rsum`` float64[2, G, 2] (pool levels = raw x scale); ``carry_i`` int64[4] =
    (has a previous step, its time, top non-empty long bucket, bottom non-empty short
    bucket); ``carry_f`` float64[3] = (previous OI, previous live long, previous live short).
    ``out`` is the tuple of outputs ``(snapshots, consumed, live, opened, closed, decayed,
    calibrated, final_state, counters)``: ``snapshots`` float32[C, T, 2, B], ``consumed``
    float64[n, T, 2], ``live, opened, closed, decayed, calibrated`` float64[n, 2],
    ``final_state`` float64[G, 2, B]; ``counters`` int64[3] counts work done: level
    writes by opening, level cells consumed, snapshot columns written.
    """
    raw, scale, rsum, carry_i, carry_f = state
    snapshots, consumed, live, opened, closed, decayed, calibrated, final_state, counters = out
    n = ts.shape[0]
    n_g = ratios.shape[0]
    n_t = half_life_ms.shape[0]
    n_b = final_state.shape[2]
    n_c = snapshots.shape[0]
    snap = np.zeros((n_t, 2, n_b))
    has_prev = carry_i[0] != 0
    p_ts = carry_i[1]
    top_long = carry_i[2]  # upper bound of the non-empty long buckets
    bot_short = carry_i[3]  # lower bound of the non-empty short buckets
    p_oi = carry_f[0]
    p_live0 = carry_f[1]
    p_live1 = carry_f[2]
    has_profile = entry_profile.shape[0] > 0
    pts = np.empty(n_points)
    wts = np.empty(n_points)
    open_pool = RECENT if recent_mode else OLDER

    for t in range(n):
        # (1) consumption, path-aware.
        il = bucket_index(low[t], origin, step)
        ih = bucket_index(high[t], origin, step)
        start = il if il > 0 else 0
        if top_long >= start:
            _consume(raw, scale, rsum, group_tier, consumed, counters, t, 0, start, top_long)
            top_long = start - 1
        stop = ih if ih < n_b - 1 else n_b - 1
        if bot_short <= stop:
            _consume(raw, scale, rsum, group_tier, consumed, counters, t, 1, bot_short, stop)
            bot_short = stop + 1

        d_oi = oi[t] - p_oi if has_prev else (oi[t] if seed_first else 0.0)
        target = oi[t] * oi_px[t] if (has_prev or seed_first) else 0.0

        # (2) closing: v1 on falling OI only; v2 the gross closing flow of each book.
        for s in range(2):
            acc = liq_real[t, s]
            if not math.isfinite(acc):
                acc = 0.0
                for k in range(n_t):
                    acc += consumed[t, k, s]
            l0 = _pool_side_live(scale, rsum, RECENT, s)
            l1 = _pool_side_live(scale, rsum, OLDER, s)
            tot = l0 + l1
            if book_oi:
                prev = (p_live0 if s == 0 else p_live1) if has_prev else 0.0
                rem = 0.5 * (turn[t, s] - (target - prev)) - acc
                floor = tot - target
                if rem < floor:
                    rem = floor
            elif d_oi < 0.0:
                rem = -d_oi * oi_px[t] - acc
            else:
                continue
            if rem <= 0.0 or tot <= 0.0:
                continue
            if rem > tot:
                rem = tot
            closed[t, s] = rem
            if recent_mode:
                r0 = rem if rem < l0 else l0
                if l0 > 0.0:
                    _scale_pool_side(raw, scale, rsum, RECENT, s, 1.0 - r0 / l0)
                r1 = rem - r0
                if r1 > 0.0 and l1 > 0.0:
                    _scale_pool_side(raw, scale, rsum, OLDER, s, 1.0 - r1 / l1)
            else:
                keep = 1.0 - rem / tot
                for p in range(2):
                    _scale_pool_side(raw, scale, rsum, p, s, keep)

        # (2b) recency window rollover, after the closing of the first step of a new window:
        # the recent pool (openings of the previous window) becomes older.
        if recent_mode and has_prev and ts[t] // recent_ms != p_ts // recent_ms:
            for g in range(n_g):
                for s in range(2):
                    f = scale[RECENT, g, s] / scale[OLDER, g, s]
                    for b in range(n_b):
                        v = raw[RECENT, g, s, b]
                        if v != 0.0:
                            raw[OLDER, g, s, b] += v * f
                    rsum[OLDER, g, s] += rsum[RECENT, g, s] * f
                    raw[RECENT, g, s, :] = 0.0
                    rsum[RECENT, g, s] = 0.0
                    scale[RECENT, g, s] = 1.0
            _renormalise(raw, scale, rsum)

        # (3) decay: per-tier half-life, multiplicative.
        if has_prev:
            dt = float(ts[t] - p_ts)
            for g in range(n_g):
                hl = half_life_ms[group_tier[g]]
                if hl > 0.0:
                    fac = 2.0 ** (-dt / hl)
                    for p in range(2):
                        for s in range(2):
                            before = rsum[p, g, s] * scale[p, g, s]
                            if before > 0.0:
                                scale[p, g, s] *= fac
                                decayed[t, s] += before * (1.0 - fac)

        # (4) opening: v1 on rising OI (split by the long share), v2 up to each book's target.
        if book_oi:
            amt0 = target - (
                _pool_side_live(scale, rsum, RECENT, 0) + _pool_side_live(scale, rsum, OLDER, 0)
            )
            amt1 = target - (
                _pool_side_live(scale, rsum, RECENT, 1) + _pool_side_live(scale, rsum, OLDER, 1)
            )
        elif d_oi > 0.0:
            nusd = d_oi * oi_px[t]
            amt0 = 2.0 * long_share[t] * nusd
            amt1 = 2.0 * (1.0 - long_share[t]) * nusd
        else:
            amt0 = 0.0
            amt1 = 0.0
        if amt0 > 0.0 or amt1 > 0.0:
            lo = low[t]
            hi = high[t]
            m = n_points
            if hi > lo:
                wsum = 0.0
                for k in range(n_points):
                    x = lo + (k + 0.5) * (hi - lo) / n_points
                    pts[k] = x
                    if has_profile:
                        w = entry_profile[t, k]
                    else:
                        pk = typical[t]
                        if x <= pk:
                            w = (x - lo) / (pk - lo) if pk > lo else 1.0
                        else:
                            w = (hi - x) / (hi - pk) if hi > pk else 1.0
                    if w < 0.0:
                        w = 0.0
                    wts[k] = w
                    wsum += w
                if wsum <= 0.0:
                    for k in range(n_points):
                        wts[k] = 1.0
                    wsum = float(n_points)
                for k in range(n_points):
                    wts[k] /= wsum
            else:
                m = 1
                pts[0] = close[t]
                wts[0] = 1.0
            for k in range(m):
                wk = wts[k]
                if wk <= 0.0:
                    continue
                for g in range(n_g):
                    for s in range(2):
                        x = (amt0 if s == 0 else amt1) * wk * group_weight[g]
                        if x <= 0.0:
                            continue
                        b = bucket_index(pts[k] * ratios[g, s], origin, step)
                        if b < 0:
                            b = 0
                        elif b > n_b - 1:
                            b = n_b - 1
                        r = x / scale[open_pool, g, s]
                        raw[open_pool, g, s, b] += r
                        rsum[open_pool, g, s] += r
                        opened[t, s] += x
                        counters[0] += 1
                        if s == 0:
                            if b > top_long:
                                top_long = b
                        elif b < bot_short:
                            bot_short = b

        # (5) optional calibration of each side's live total to OI in USD.
        if calibrate:
            target = oi[t] * oi_px[t]
            for s in range(2):
                cur = _pool_side_live(scale, rsum, RECENT, s) + _pool_side_live(
                    scale, rsum, OLDER, s
                )
                if cur > 0.0:
                    fac = target / cur
                    for p in range(2):
                        for g in range(n_g):
                            scale[p, g, s] *= fac
                    calibrated[t, s] = target - cur

        _renormalise(raw, scale, rsum)
        for s in range(2):
            v = _pool_side_live(scale, rsum, RECENT, s) + _pool_side_live(scale, rsum, OLDER, s)
            live[t, s] = v if v > 0.0 else 0.0
        has_prev = True
        p_ts = ts[t]
        p_oi = oi[t]
        p_live0 = live[t, 0]
        p_live1 = live[t, 1]

        # (6) snapshot at column boundaries (state at the end of each column).
        c = ts[t] // col_ms - col0
        c_next = n_c if t == n - 1 else ts[t + 1] // col_ms - col0
        if c_next != c:
            _snapshot(raw, scale, group_tier, snap)
            counters[2] += c_next - c
            for cc in range(c, c_next):
                for k in range(n_t):
                    for s in range(2):
                        for b in range(n_b):
                            snapshots[cc, k, s, b] = snap[k, s, b]

    carry_i[0] = 1 if has_prev else 0
    carry_i[1] = p_ts
    carry_i[2] = top_long
    carry_i[3] = bot_short
    carry_f[0] = p_oi
    carry_f[1] = p_live0
    carry_f[2] = p_live1
    for g in range(n_g):
        for s in range(2):
            for b in range(n_b):
                final_state[g, s, b] = (
                    raw[RECENT, g, s, b] * scale[RECENT, g, s]
                    + raw[OLDER, g, s, b] * scale[OLDER, g, s]
                )
