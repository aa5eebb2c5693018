"""Market data every simulated venue derives the same way: lot-grid sizes, 24 h rolling
statistics, a deterministic order book around the last price, and the liquidations as sent.

The simulator's positions are not rounded to lots; the venues round every size they publish
to the instrument's lot grid (at least one lot), as a real matching engine's fills are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from liqscope.domain.intervals import DAY_MS
from liqscope.sim.exchange.history import MarketHistory, fmt_px

__all__ = [
    "DayStats",
    "Liq",
    "book",
    "day_stats",
    "fmt_lot",
    "liquidation",
    "lot_decimals",
    "on_lot",
    "top_of_book",
    "wire_levels",
]

Level = tuple[float, float]  # (price, size)


def lot_decimals(lot: float) -> int:
    """Decimals of a lot step (0.001 -> 3, 1 -> 0)."""
    return max(0, -math.floor(math.log10(lot) + 1e-9))


def on_lot(qty: float, lot: float) -> float:
    """``qty`` rounded to the lot grid, at least one lot."""
    return max(lot, round(round(qty / lot) * lot, lot_decimals(lot)))


def fmt_lot(qty: float, lot: float) -> str:
    """``qty`` on the lot grid, written with the lot's decimals."""
    return f"{on_lot(qty, lot):.{lot_decimals(lot)}f}"


@dataclass(frozen=True)
class DayStats:
    """Rolling statistics over ``[t - 24 h, t]`` (the venues' 24 h tickers)."""

    open: float
    high: float
    low: float
    last: float
    volume: float  # base
    quote_volume: float
    count: int
    first_index: int  # -1 when no trade
    last_index: int
    open_ms: int
    close_ms: int


def day_stats(h: MarketHistory, t: int, window_ms: int = DAY_MS) -> DayStats:
    """24 h (``window_ms``) statistics of the trades up to and including ``t``."""
    t0 = max(h.start_ms, t - window_ms)
    i0, i1 = h.span("trade", t0, t + 1)
    last = h.last_price_before(t + 1) or 0.0
    if i1 <= i0:
        return DayStats(last, last, last, last, 0.0, 0.0, 0, -1, -1, t0, t)
    px = h.col("trade_px")[i0:i1]
    qty = h.col("trade_qty")[i0:i1]
    return DayStats(
        float(px[0]), float(px.max()), float(px.min()), float(px[-1]), float(qty.sum()),
        float((px * qty).sum()), i1 - i0, i0, i1 - 1, t0, t,
    )  # fmt: skip


def book(
    h: MarketHistory, t: int, depth: int, tick: float, lot: float
) -> tuple[list[Level], list[Level]]:
    """A deterministic book at ``t``: ``depth`` bid and ask levels ``(price, size)`` one tick
    apart around the last price, sizes on the lot grid, changing every second."""
    mid = h.last_price_before(t + 1) or 0.0
    best_bid = math.floor(mid / tick + 1e-9) * tick  # a price on the grid is its own bid
    sec = t // 1000
    k = np.arange(depth, dtype=np.int64)
    noise = (sec * 2_654_435_761 + (k + 1) * 40_503) % 1_000
    sizes = [
        on_lot(lot * (1 + 3 * int(i) + int(n) // 4), lot) for i, n in zip(k, noise, strict=True)
    ]
    dp = lot_decimals(tick)
    bids = [(round(best_bid - i * tick, dp), sizes[i]) for i in range(depth)]
    asks = [(round(best_bid + (i + 1) * tick, dp), sizes[depth - 1 - i]) for i in range(depth)]
    return bids, asks


def top_of_book(h: MarketHistory, t: int, tick: float, lot: float) -> tuple[Level, Level]:
    """The best bid and the best ask of :func:`book` at ``t``."""
    bids, asks = book(h, t, 1, tick, lot)
    return bids[0], asks[0]


def wire_levels(levels: list[Level], lot: float, per: float = 1.0) -> list[list[str]]:
    """Book levels as the venues write them: ``[price, size]`` strings, sizes in units of
    ``per`` base units (contracts) on the ``lot`` grid."""
    return [[fmt_px(p), fmt_lot(q / per, lot)] for p, q in levels]


@dataclass(frozen=True)
class Liq:
    """One truth liquidation as a venue sends it: ``size`` on the lot grid in the venue's units
    (``contract`` base units each), ``qty`` those units in base."""

    index: int  # into the history's liq_* columns
    ts: int
    side: int  # +1 a long was liquidated
    size: float
    qty: float
    px: float  # fill
    bk: float  # bankruptcy


def liquidation(h: MarketHistory, j: int, lot: float, contract: float = 1.0) -> Liq:
    """The ``j``-th liquidation of ``h`` with its size on the venue's lot grid."""
    size = on_lot(float(h.col("liq_qty")[j]) / contract, lot)
    return Liq(
        j, int(h.col("liq_ts")[j]), int(h.col("liq_side")[j]), size, size * contract,
        float(h.col("liq_px")[j]), float(h.col("liq_bk_px")[j]),
    )  # fmt: skip
