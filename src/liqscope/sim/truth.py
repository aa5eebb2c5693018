"""Ground truth from a simulated market, and the public 1-minute steps the estimator consumes.

- :func:`positions_at`: the exact open positions at any past time, from ``Market.position_log()``.
- :func:`liquidation_profile`: USD notional of those positions per liquidation-price bucket,
  per side and leverage tier, on a grid given as ``(origin, step, n)``.
- :func:`recompute_liquidation_prices`: each position's liquidation price recomputed with
  ``liquidation_price`` from its recorded data (the check that the simulator is exact).
- :func:`minute_steps`: OHLC (from trades), volume, taker-buy volume and OI per step, from the
  chunk's public data only, plus mark-based high/low/close.

Realized liquidations are the chunk's ``liq_*`` arrays: every one, unsampled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from liqscope.domain.instruments import Instrument
from liqscope.domain.liqprice import liquidation_price
from liqscope.domain.tiers import TierTable
from liqscope.domain.types import Side
from liqscope.model.grid import PriceGrid
from liqscope.model.steps import F64, Bars
from liqscope.model.steps import Steps as ModelSteps
from liqscope.sim.market import Positions
from liqscope.sim.trace import TraceChunk

#: Leverage tiers [edge_k, edge_k+1) used when none are given.
DEFAULT_LEVERAGE_EDGES: tuple[float, ...] = (1.0, 5.0, 10.0, 25.0, 50.0, 100.0, np.inf)


def positions_at(log: Positions, ts_ms: int) -> Positions:
    """Positions open at ``ts_ms``, just before the events stamped ``ts_ms`` (the same instant
    as a TraceChunk's per-second row at ``ts_ms``)."""
    open_now = (log.entry_ts < ts_ms) & ((log.exit_reason == 0) | (log.exit_ts >= ts_ms))
    return log.select(open_now)


def open_interest_at(log: Positions, ts_ms: int) -> float:
    """Open interest (base units) at ``ts_ms``: the larger side, the market maker's net
    inventory filling the other (see docs/simulator.md)."""
    pos = positions_at(log, ts_ms)
    longs = float(pos.qty[pos.side > 0].sum())
    shorts = float(pos.qty[pos.side < 0].sum())
    return max(longs, shorts)


@dataclass(frozen=True)
class LiqProfile:
    """True liquidation levels: ``long_usd[t, i]`` is the USD notional of open longs of leverage
    tier ``t`` whose liquidation price lies in bucket ``i`` = [origin + i·step, origin +
    (i+1)·step). Positions outside the grid are counted in ``long_outside`` / ``short_outside``."""

    origin: float
    step: float
    n: int
    leverage_edges: F64
    long_usd: F64
    short_usd: F64
    long_outside: float
    short_outside: float

    @property
    def edges(self) -> F64:
        return self.origin + self.step * np.arange(self.n + 1, dtype=np.float64)

    @property
    def long_total(self) -> F64:
        """Long notional per bucket, all tiers."""
        return np.asarray(self.long_usd.sum(axis=0), dtype=np.float64)

    @property
    def short_total(self) -> F64:
        return np.asarray(self.short_usd.sum(axis=0), dtype=np.float64)


def liquidation_profile(
    positions: Positions,
    origin: float,
    step: float,
    n: int,
    leverage_edges: tuple[float, ...] | F64 = DEFAULT_LEVERAGE_EDGES,
    value: Literal["entry", "liquidation"] = "entry",
) -> LiqProfile:
    """Bucket ``positions`` by liquidation price (canonical ``PriceGrid`` bucketing).

    ``value="entry"`` counts qty × entry price (what OI × price measures), ``"liquidation"``
    qty × liquidation price. Invalid grids raise InputError."""
    lev_edges = np.asarray(leverage_edges, float)
    n_tiers = lev_edges.shape[0] - 1
    px = positions.entry_px if value == "entry" else positions.liq_px
    usd = positions.qty * px
    finite = np.isfinite(positions.liq_px)
    bucket = np.full(len(positions), -1, np.int64)
    bucket[finite] = PriceGrid(origin, step, n).index(positions.liq_px[finite])
    tier = np.searchsorted(lev_edges, positions.leverage, side="right") - 1
    inside = finite & (bucket >= 0) & (bucket < n) & (tier >= 0) & (tier < n_tiers)
    out: dict[int, F64] = {}
    outside: dict[int, float] = {}
    for sd in (1, -1):
        m = positions.side == sd
        grid = np.zeros((n_tiers, n))
        sel = m & inside
        np.add.at(grid, (tier[sel], bucket[sel]), usd[sel])
        out[sd] = grid
        outside[sd] = float(usd[m & ~inside].sum())
    return LiqProfile(origin, step, n, lev_edges, out[1], out[-1], outside[1], outside[-1])


def recompute_liquidation_prices(
    instrument: Instrument, tiers: TierTable, positions: Positions
) -> F64:
    """Each position's liquidation price from ``liquidation_price`` and its recorded entry,
    side, leverage and quantity (converted to contracts for inverse instruments)."""
    out = np.empty(len(positions))
    for i in range(len(positions)):
        entry = float(positions.entry_px[i])
        qty = float(positions.qty[i])
        if instrument.inverse:
            qty = qty * entry / instrument.contract_size
        side = Side(int(positions.side[i]))
        lev = float(positions.leverage[i])
        out[i] = liquidation_price(instrument, tiers, side, entry, lev, qty).price
    return out


@dataclass(frozen=True)
class MinuteSteps(Bars):
    """Fixed-length steps built from public data. OHLC comes from trades (last price); a step
    without trades repeats the previous close with zero volume. ``oi_base`` is the OI row of the
    step's last second. ``mark_*`` come from the per-second mark rows."""

    taker_buy_volume: F64
    oi_base: F64
    mark_high: F64
    mark_low: F64
    mark_close: F64

    def to_model(
        self,
        venue: str,
        symbol: str,
        liq_long_usd: F64 | None = None,
        liq_short_usd: F64 | None = None,
    ) -> ModelSteps:
        """The estimator's input: these steps, with realized liquidations per step if given."""
        n = len(self)
        zeros = np.zeros(n)
        return ModelSteps(
            ts=self.ts,
            open=self.open,
            high=np.maximum(self.high, np.maximum(self.open, self.close)),
            low=np.minimum(self.low, np.minimum(self.open, self.close)),
            close=self.close,
            volume=self.volume,
            taker_buy_volume=self.taker_buy_volume,
            oi_base=self.oi_base,
            liq_long_usd=zeros if liq_long_usd is None else liq_long_usd,
            liq_short_usd=zeros if liq_short_usd is None else liq_short_usd,
            venue=venue,
            symbol=symbol,
        )


def minute_steps(chunk: TraceChunk, step_ms: int = 60_000) -> MinuteSteps:
    """Steps of ``step_ms`` covering the chunk, aligned to multiples of ``step_ms``; the first
    and last may be partial when the chunk does not start or end on a boundary."""
    first = chunk.start_ms - chunk.start_ms % step_ms
    n = max(0, -(-(chunk.end_ms - first) // step_ms))
    ts = first + step_ms * np.arange(n, dtype=np.int64)
    bounds = np.append(ts, first + n * step_ms)
    t_lo = np.searchsorted(chunk.trade_ts, bounds[:-1], side="left")
    t_hi = np.searchsorted(chunk.trade_ts, bounds[1:], side="left")
    has = t_hi > t_lo
    px = chunk.trade_px
    qty = chunk.trade_qty
    idx = (chunk.trade_ts - first) // step_ms
    volume = np.bincount(idx, weights=qty, minlength=n)[:n].astype(np.float64)
    buy_qty = np.where(chunk.trade_taker > 0, qty, 0.0)
    buys = np.bincount(idx, weights=buy_qty, minlength=n)[:n].astype(np.float64)
    high = np.full(n, -np.inf)
    low = np.full(n, np.inf)
    np.maximum.at(high, idx, px)
    np.minimum.at(low, idx, px)
    first_px = float(chunk.mark_px[0]) if chunk.mark_px.size else np.nan
    open_ = px[np.minimum(t_lo, px.shape[0] - 1)] if px.size else np.full(n, np.nan)
    close = px[np.maximum(t_hi - 1, 0)] if px.size else np.full(n, np.nan)
    # steps without trades: flat at the previous close (or the first mark before any trade)
    last_traded = np.maximum.accumulate(np.where(has, np.arange(n), -1)) if n else has
    prev = np.where(last_traded >= 0, close[np.maximum(last_traded, 0)], first_px)
    open_ = np.where(has, open_, prev)
    close = np.where(has, close, prev)
    high = np.where(has, high, prev)
    low = np.where(has, low, prev)
    s_lo = np.searchsorted(chunk.sec_ts, bounds[:-1], side="left")
    s_hi = np.searchsorted(chunk.sec_ts, bounds[1:], side="left")
    last_row = np.maximum(s_hi - 1, 0)
    has_rows = s_hi > s_lo
    oi = np.full(n, np.nan)
    if chunk.oi_base.size:
        oi = np.where(has_rows, chunk.oi_base[last_row], np.nan)
    m_hi = np.full(n, np.nan)
    m_lo = np.full(n, np.nan)
    m_cl = np.full(n, np.nan)
    if chunk.mark_px.size:
        starts = np.minimum(s_lo, chunk.mark_px.shape[0] - 1)
        m_hi = np.where(has_rows, np.maximum.reduceat(chunk.mark_px, starts), np.nan)
        m_lo = np.where(has_rows, np.minimum.reduceat(chunk.mark_px, starts), np.nan)
        m_cl = np.where(has_rows, chunk.mark_px[last_row], np.nan)
    return MinuteSteps(ts, open_, high, low, close, volume, buys, oi, m_hi, m_lo, m_cl)
