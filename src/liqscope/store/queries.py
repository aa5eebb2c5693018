"""Pure aggregations over stored rows (plain arrays in, arrays out; no I/O).

Used by the SQL backends to build estimator steps and by the realized-liquidation chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from liqscope.domain.errors import InputError
from liqscope.domain.intervals import (
    DAY_MS,
    WEEK_MS,
)
from liqscope.domain.records import Columns
from liqscope.store.base import FloatArray, IntArray, OhlcvColumns, Steps

BoolArray = npt.NDArray[np.bool_]

WEEK_ORIGIN_MS = 4 * DAY_MS  # 1970-01-05 was a Monday: weeks start Monday 00:00 UTC


def _origin(step_ms: int) -> int:
    return WEEK_ORIGIN_MS if step_ms % WEEK_MS == 0 else 0


def bucket_floor(ts: int, step_ms: int) -> int:
    """Start of the bucket of ``step_ms`` containing ``ts`` (weeks start on Monday)."""
    origin = _origin(step_ms)
    return (ts - origin) // step_ms * step_ms + origin


def grid(t0: int, t1: int, step_ms: int) -> IntArray:
    """Bucket start times covering ``[t0, t1)``: from the bucket holding ``t0``."""
    if step_ms <= 0:
        raise InputError("interval must be positive")
    if t1 <= t0:
        return np.empty(0, dtype=np.int64)
    start = bucket_floor(t0, step_ms)
    return np.arange(start, t1, step_ms, dtype=np.int64)


def bucket_index(ts: IntArray, grid_ts: IntArray, step_ms: int) -> IntArray:
    """Index into ``grid_ts`` of each time, -1 when outside the grid."""
    if grid_ts.size == 0:
        return np.full(ts.shape, -1, dtype=np.int64)
    idx = (ts - grid_ts[0]) // step_ms
    idx[(idx < 0) | (idx >= grid_ts.size)] = -1
    return np.asarray(idx, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class RealizedBars(Columns):
    """Realized liquidations per bucket; ``long_usd`` is the notional of liquidated longs.

    ``sampled`` is True for a bucket holding any event from a sampled feed: its totals
    are lower bounds.
    """

    interval_ms: int
    ts: IntArray
    long_usd: FloatArray
    short_usd: FloatArray
    count_long: IntArray
    count_short: IntArray
    sampled: BoolArray


def realized(
    ts: IntArray,
    side: IntArray,
    notional_usd: FloatArray,
    sampled: BoolArray,
    t0: int,
    t1: int,
    step_ms: int,
) -> RealizedBars:
    """Sum liquidations per bucket of ``step_ms`` over ``[t0, t1)``; ``side`` +1 long, -1 short."""
    g = grid(t0, t1, step_ms)
    n = g.size
    idx = bucket_index(np.asarray(ts, dtype=np.int64), g, step_ms)
    keep = (idx >= 0) & (np.asarray(ts) < t1) & (np.asarray(ts) >= t0)
    idx = idx[keep]
    side_k = np.asarray(side)[keep]
    usd = np.asarray(notional_usd, dtype=np.float64)[keep]
    samp = np.asarray(sampled, dtype=bool)[keep]
    is_long = side_k > 0
    is_short = ~is_long
    long_usd = np.bincount(idx[is_long], weights=usd[is_long], minlength=n).astype(np.float64)
    short_usd = np.bincount(idx[is_short], weights=usd[is_short], minlength=n).astype(np.float64)
    count_long = np.bincount(idx[is_long], minlength=n).astype(np.int64)
    count_short = np.bincount(idx[is_short], minlength=n).astype(np.int64)
    sampled_any = np.bincount(idx[samp], minlength=n) > 0
    return RealizedBars(step_ms, g, long_usd, short_usd, count_long, count_short, sampled_any)


@dataclass(frozen=True, slots=True)
class Ohlcv(OhlcvColumns):
    """OHLCV per grid step; NaN prices and zero volume where there was no data
    (``present`` False)."""

    present: BoolArray


def empty_ohlcv(n: int) -> Ohlcv:
    nan = np.full(n, np.nan)
    return Ohlcv(
        nan.copy(), nan.copy(), nan.copy(), nan.copy(), np.zeros(n), nan.copy(), np.zeros(n, bool)
    )


def _reduce_groups(idx: IntArray, cols: Sequence[FloatArray], n: int) -> Ohlcv:
    """Combine rows (sorted by time, ``idx`` = step of each row; ``cols`` = open, high, low,
    close, volume, taker-buy volume) into per-step OHLCV."""
    o, h, lo, c, v, tb = cols
    out = empty_ohlcv(n)
    if idx.size == 0:
        return out
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    ends = np.r_[starts[1:], idx.size] - 1
    steps = idx[starts]
    out.open[steps] = o[starts]
    out.close[steps] = c[ends]
    out.high[steps] = np.maximum.reduceat(h, starts)
    out.low[steps] = np.minimum.reduceat(lo, starts)
    out.volume[steps] = np.add.reduceat(v, starts)
    # NaN (unknown) in any part makes the step's taker volume unknown.
    out.taker_buy_volume[steps] = np.add.reduceat(tb, starts)
    out.present[steps] = True
    return out


def _on_grid(ts: IntArray, grid_ts: IntArray, step_ms: int) -> tuple[IntArray, IntArray]:
    """``(step index, row index)`` of the rows falling on the grid, in time order."""
    order = np.argsort(ts, kind="stable")
    idx = bucket_index(ts[order], grid_ts, step_ms)
    keep = idx >= 0
    return idx[keep], order[keep]


def ohlcv_from_candles(
    ts: IntArray, cols: Sequence[FloatArray], grid_ts: IntArray, step_ms: int
) -> Ohlcv:
    """Aggregate candles (of an interval dividing ``step_ms``; ``cols`` = open, high, low,
    close, volume, taker-buy volume) onto the grid."""
    idx, sel = _on_grid(ts, grid_ts, step_ms)
    return _reduce_groups(idx, [col[sel] for col in cols], int(grid_ts.size))


def ohlcv_from_trades(
    ts: IntArray,
    price: FloatArray,
    qty: FloatArray,
    taker_side: IntArray,
    grid_ts: IntArray,
    step_ms: int,
) -> Ohlcv:
    """Build OHLCV and taker-buy volume per step from trades."""
    idx, sel = _on_grid(ts, grid_ts, step_ms)
    p = price[sel]
    q = qty[sel]
    tb = np.where(taker_side[sel] > 0, q, 0.0)
    return _reduce_groups(idx, (p, p, p, p, q, tb), int(grid_ts.size))


def merge_ohlcv(primary: Ohlcv, fallback: Ohlcv) -> Ohlcv:
    """Take ``primary`` where present, else ``fallback``; taker volume fills from fallback."""
    use_fb = ~primary.present & fallback.present

    def pick(a: FloatArray, b: FloatArray) -> FloatArray:
        return np.where(use_fb, b, a)

    tb = pick(primary.taker_buy_volume, fallback.taker_buy_volume)
    fill_tb = np.isnan(tb) & fallback.present
    tb = np.where(fill_tb, fallback.taker_buy_volume, tb)
    return Ohlcv(
        pick(primary.open, fallback.open),
        pick(primary.high, fallback.high),
        pick(primary.low, fallback.low),
        pick(primary.close, fallback.close),
        pick(primary.volume, fallback.volume),
        tb,
        primary.present | fallback.present,
    )


def asof(obs_ts: IntArray, obs_val: FloatArray, at: IntArray) -> FloatArray:
    """Value of the last observation with time <= each ``at`` (NaN before the first)."""
    order = np.argsort(obs_ts, kind="stable")
    t = obs_ts[order]
    v = obs_val[order]
    pos = np.searchsorted(t, at, side="right") - 1
    out = np.full(at.shape, np.nan)
    ok = pos >= 0
    out[ok] = v[pos[ok]]
    return out


def assemble_steps(
    interval_ms: int, grid_ts: IntArray, ohlcv: Ohlcv, oi_base: FloatArray, bars: RealizedBars
) -> Steps:
    """The :class:`~liqscope.store.base.Steps` of a grid from its parts: prices and volumes,
    open interest as of each step's close, realized liquidations (every backend and the lake
    read their rows their own way, then meet here)."""
    prices = {f.name: getattr(ohlcv, f.name) for f in fields(OhlcvColumns)}
    return Steps(
        **prices,
        interval_ms=interval_ms,
        ts=grid_ts,
        oi_base=oi_base,
        liq_long_usd=bars.long_usd,
        liq_short_usd=bars.short_usd,
        sampled=bool(bars.sampled.any()),
    )
