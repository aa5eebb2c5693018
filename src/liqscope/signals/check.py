"""Position check: where a position's exact liquidation price sits on the current map.

:func:`check_position` is pure (a map in, a report out) so the API and the CLI share it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from liqscope.domain.errors import InputError
from liqscope.domain.liqprice import liquidation_price
from liqscope.domain.registry import default_tiers, instrument
from liqscope.domain.types import Side
from liqscope.signals.clusters import Cluster, LevelMap, find_clusters, key_levels

DEFAULT_NOTIONAL_USD = 10_000.0


@dataclass(frozen=True, slots=True)
class PositionCheck:
    venue: str
    symbol: str
    side: str
    entry: float
    leverage: float
    qty: float
    price: float
    """Current price (the map's)."""
    liq_price: float
    liq_tier: int
    distance_pct: float
    """From the current price to the liquidation price, % (positive = still away)."""
    mass_near_usd: float
    """Same-side estimated liquidation levels within ±band_pct of the liquidation price."""
    mass_near_all_usd: float
    """Both sides within ±band_pct of the liquidation price."""
    mass_between_usd: float
    """Same-side levels between the current price and the liquidation price (they go first)."""
    band_pct: float
    containing: Cluster | None
    nearest_above: Cluster | None
    nearest_below: Cluster | None
    largest_same_side: Cluster | None
    verdict: str
    """``liquidated``, ``inside_largest``, ``inside_cluster``, ``near_cluster`` or ``clear``."""
    message: str
    suggested_leverage: float | None
    suggested_stop: float | None

    def to_dict(self) -> dict[str, Any]:
        def d(c: Cluster | None) -> dict[str, Any] | None:
            return None if c is None else c.to_dict()

        return {
            "venue": self.venue,
            "symbol": self.symbol,
            "side": self.side,
            "entry": self.entry,
            "leverage": self.leverage,
            "qty": self.qty,
            "price": self.price,
            "liq_price": self.liq_price,
            "liq_tier": self.liq_tier,
            "distance_pct": self.distance_pct,
            "band_pct": self.band_pct,
            "mass_near_usd": self.mass_near_usd,
            "mass_near_all_usd": self.mass_near_all_usd,
            "mass_between_usd": self.mass_between_usd,
            "containing_cluster": d(self.containing),
            "nearest_cluster_above": d(self.nearest_above),
            "nearest_cluster_below": d(self.nearest_below),
            "largest_same_side_cluster": d(self.largest_same_side),
            "verdict": self.verdict,
            "message": self.message,
            "suggested_leverage": self.suggested_leverage,
            "suggested_stop": self.suggested_stop,
        }


def _range_sum(m: LevelMap, arr: np.ndarray[Any, Any], lo: float, hi: float) -> float:
    i0 = max(m.index_of(lo), 0)
    i1 = min(m.index_of(hi) + 1, m.n)
    return float(arr[:, i0:i1].sum()) if i1 > i0 else 0.0


def _where(clusters: list[Cluster], lp: float, band_pct: float) -> tuple[Cluster | None, bool]:
    """The cluster containing ``lp`` (or None) and whether one lies within ``band_pct``."""
    pad = lp * band_pct / 100.0
    inside = [c for c in clusters if c.low <= lp < c.high]
    if inside:
        return max(inside, key=lambda c: c.usd), True
    near = any(c.low - pad <= lp < c.high + pad for c in clusters)
    return None, near


def check_position(
    levels: LevelMap,
    *,
    venue: str,
    symbol: str,
    side: str | Side,
    entry: float,
    leverage: float,
    qty: float | None = None,
    band_pct: float = 0.5,
    min_cluster_usd: float = 0.0,
    threshold_usd: float | None = None,
    factor: float = 2.0,
    method: str = "exact",
) -> PositionCheck:
    """Check a position of ``qty`` (base units; contracts for inverse contracts; default a
    $10k notional) against the map ``levels`` read at its price. Clusters are as in
    :func:`find_clusters` (``threshold_usd``/``factor``), keeping those of ``min_cluster_usd``+.
    """
    try:
        sd = side if isinstance(side, Side) else Side.parse(side)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if not (math.isfinite(band_pct) and band_pct > 0):
        raise InputError("band must be a positive percentage")
    inst = instrument(venue, symbol)
    tiers = default_tiers(venue, symbol)
    if not (math.isfinite(entry) and entry > 0):
        raise InputError(f"entry must be a positive number, got {entry:g}")
    if qty is None:
        qty = (
            DEFAULT_NOTIONAL_USD / inst.contract_size
            if inst.inverse
            else DEFAULT_NOTIONAL_USD / entry
        )
    res = liquidation_price(inst, tiers, sd, entry, leverage, qty, method)
    lp = res.price
    price = levels.price
    span = abs(lp / price - 1.0) * 100.0 if lp > 0 else 100.0
    # the clusters every view reports (default threshold window), looked for far enough
    # to reach the liquidation price
    reach = min(max(20.0, span * 1.5 + band_pct), 95.0)
    clusters = find_clusters(
        levels, threshold_usd=threshold_usd, factor=factor, reach_pct=reach,
        min_usd=min_cluster_usd,
    )  # fmt: skip
    kl = key_levels(clusters)
    same = [c for c in clusters if c.side == sd.label]
    largest = max(same, key=lambda c: c.usd) if same else None
    arr = levels.long if sd is Side.LONG else levels.short
    pad = lp * band_pct / 100.0
    near_same = _range_sum(levels, arr, lp - pad, lp + pad)
    near_all = near_same + _range_sum(
        levels, levels.short if sd is Side.LONG else levels.long, lp - pad, lp + pad
    )
    lo, hi = (lp, price) if sd is Side.LONG else (price, lp)
    between = _range_sum(levels, arr, lo, hi) if hi > lo else 0.0
    dist = (price / lp - 1.0) * 100.0 if sd is Side.LONG and lp > 0 else (lp / price - 1.0) * 100.0
    if lp <= 0 or math.isinf(lp):
        dist = math.inf
    where = "below" if sd is Side.LONG else "above"
    containing, near = _where(same, lp, band_pct)
    if dist <= 0:
        verdict = "liquidated"
        msg = "price is already beyond your liquidation price"
    elif containing is not None and largest is not None and containing is largest:
        verdict = "inside_largest"
        msg = f"your liquidation price sits inside the largest {sd.label} cluster {where} price"
    elif containing is not None:
        verdict = "inside_cluster"
        msg = f"your liquidation price sits inside a dense {sd.label} cluster {where} price"
    elif near:
        verdict = "near_cluster"
        msg = f"your liquidation price is within {band_pct:g}% of a dense {sd.label} cluster"
    else:
        verdict = "clear"
        msg = "clear of dense zones"
    sug_lev = None
    sug_stop = None
    if verdict in ("inside_largest", "inside_cluster", "near_cluster"):
        for cand in np.round(np.arange(math.floor(leverage * 2) / 2 - 0.5, 0.99, -0.5), 2):
            if cand >= leverage or cand < 1:
                continue
            lp2 = liquidation_price(inst, tiers, sd, entry, float(cand), qty, method).price
            c2, n2 = _where(same, lp2, band_pct)
            dist2 = (price / lp2 - 1.0) if sd is Side.LONG and lp2 > 0 else (lp2 / price - 1.0)
            if c2 is None and not n2 and dist2 > 0:
                sug_lev = float(cand)
                break
        # a stop just in front of the dense zone the liquidation price falls in or near
        zone = containing or min(
            same, key=lambda c: abs((c.high if sd is Side.LONG else c.low) - lp), default=None
        )
        if zone is not None:
            if sd is Side.LONG:
                stop = zone.high * (1 + band_pct / 100.0)
                sug_stop = stop if lp < stop < price else None
            else:
                stop = zone.low * (1 - band_pct / 100.0)
                sug_stop = stop if price < stop < lp else None
        tips = []
        if sug_lev is not None:
            tips.append(f"at {sug_lev:g}x or less it moves out of dense zones")
        if sug_stop is not None:
            tips.append(f"a stop at {sug_stop:,.2f} exits before the zone")
        if tips:
            msg += "; " + "; ".join(tips)
    return PositionCheck(
        venue=venue,
        symbol=symbol,
        side=sd.label,
        entry=float(entry),
        leverage=float(leverage),
        qty=float(qty),
        price=float(price),
        liq_price=float(lp),
        liq_tier=res.tier,
        distance_pct=float(dist),
        mass_near_usd=near_same,
        mass_near_all_usd=near_all,
        mass_between_usd=between,
        band_pct=band_pct,
        containing=containing,
        nearest_above=kl.nearest_above,
        nearest_below=kl.nearest_below,
        largest_same_side=largest,
        verdict=verdict,
        message=msg,
        suggested_leverage=sug_lev,
        suggested_stop=sug_stop,
    )
