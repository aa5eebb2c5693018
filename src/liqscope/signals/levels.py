"""Support and resistance from realized liquidations: price levels where realized liquidation
notional concentrated. Below the current price a level is *support*, above it *resistance*."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from liqscope.domain.errors import InputError
from liqscope.domain.records import Record
from liqscope.model.grid import PriceGrid
from liqscope.signals.clusters import bands

F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SRLevel(Record):
    """A band ``[low, high)`` where realized liquidations concentrated."""

    kind: str
    """``support`` (below price) or ``resistance`` (above)."""
    low: float
    high: float
    price: float
    """USD-weighted mean liquidation price of the band."""
    usd: float
    long_usd: float
    short_usd: float
    count: int
    last_ts: int


def realized_levels(
    ts: ArrayLike,
    price: ArrayLike,
    usd: ArrayLike,
    side: ArrayLike,
    current_price: float,
    *,
    bucket_pct: float = 0.25,
    factor: float = 3.0,
    min_usd: float = 0.0,
    half_life_ms: float | None = None,
    now_ms: int | None = None,
    top: int = 10,
) -> list[SRLevel]:
    """Bands of the realized-liquidation histogram by price.

    Liquidations (``side`` +1 long, -1 short) are binned into buckets of ``bucket_pct`` % of
    ``current_price``, optionally weighted by ``0.5 ** (age / half_life_ms)``. Buckets with at
    least ``factor`` × the mean non-zero bucket are dense; adjacent dense buckets (gaps of one
    allowed) form a level. The ``top`` levels by USD of at least ``min_usd`` are returned,
    nearest to price first."""
    t = np.asarray(ts, dtype=np.int64)
    p = np.asarray(price, dtype=np.float64)
    u = np.asarray(usd, dtype=np.float64)
    s = np.asarray(side, dtype=np.int64)
    if not (t.shape == p.shape == u.shape == s.shape):
        raise InputError("ts, price, usd and side must have the same length")
    if not (math.isfinite(current_price) and current_price > 0) or bucket_pct <= 0:
        raise InputError("current price and bucket_pct must be positive")
    ok = np.isfinite(p) & (p > 0) & np.isfinite(u) & (u > 0)
    t, p, u, s = t[ok], p[ok], u[ok], s[ok]
    if p.size == 0:
        return []
    w = u.copy()
    if half_life_ms:
        ref = int(t.max()) if now_ms is None else now_ms
        w = w * 0.5 ** (np.maximum(ref - t, 0) / half_life_ms)
    step = current_price * bucket_pct / 100.0
    grid = PriceGrid.spanning(float(p.min()), float(p.max()), step)
    origin, idx, n = grid.origin, grid.index(p), grid.n
    hist = np.bincount(idx, weights=w, minlength=n)
    thr = factor * float(hist[hist > 0].mean())
    out = []
    for a, b in bands(hist >= thr, merge_gap=1):
        sel = (idx >= a) & (idx < b)
        tot = float(w[sel].sum())
        if tot <= 0 or tot < min_usd:
            continue
        mean_px = float((p[sel] * w[sel]).sum() / tot)
        low, high = origin + a * step, origin + b * step
        out.append(
            SRLevel(
                kind="support" if mean_px < current_price else "resistance",
                low=float(low),
                high=float(high),
                price=mean_px,
                usd=tot,
                long_usd=float(w[sel & (s > 0)].sum()),
                short_usd=float(w[sel & (s < 0)].sum()),
                count=int(sel.sum()),
                last_ts=int(t[sel].max()),
            )
        )
    out.sort(key=lambda lv: -lv.usd)
    out = out[:top]
    out.sort(key=lambda lv: abs(lv.price - current_price))
    return out


def crossed(levels: list[SRLevel], prev_price: float, price: float) -> list[SRLevel]:
    """Levels whose band price moved through from ``prev_price`` to ``price`` (a break):
    a support broken downward (ends below ``low``) or a resistance upward (ends at/above
    ``high``), having started on the level's own side."""
    out = []
    for lv in levels:
        down = lv.kind == "support" and prev_price >= lv.low > price
        up = lv.kind == "resistance" and prev_price < lv.high <= price
        if down or up:
            out.append(lv)
    return out
