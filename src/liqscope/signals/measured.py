"""The measured liquidation map: exchange-reported liquidation prices on the model's grid.

From the position snapshots in the store (``store.positions``), as known at ``at_ms``, each
position's USD notional (size × entry, the unit of the estimated map) is put in the bucket of
its ``liquidationPx`` (the canonical :class:`PriceGrid` bucketing), by margin mode, leverage
tier and side. Coverage says how much of the venue this is: the measured size ÷ the venue's
open interest per side, and the accounts known vs polled recently. :func:`score_measured`
compares an estimated map with it (EMD, top-20 % overlap, bucket rank correlation, by side).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from liqscope.model.config import ModelConfig
from liqscope.model.grid import PriceGrid
from liqscope.model.market import estimate_market
from liqscope.model.steps import Steps
from liqscope.signals.realdata import pooled_spearman
from liqscope.signals.scorecard import emd_pct
from liqscope.store.positions import PositionSnapshot, account_counts, last_polls, positions_at

__all__ = [
    "LEVERAGE_EDGES",
    "MODES",
    "Coverage",
    "MeasuredMap",
    "measured_map",
    "score_measured",
    "score_stored",
    "top_overlap",
]

F64 = NDArray[np.float64]
MODES: tuple[str, str] = ("isolated", "cross")
LEVERAGE_EDGES: tuple[float, ...] = (0.0, 5.0, 10.0, 20.0, 30.0, math.inf)
"""Leverage tiers of the measured map: ``[edge_i, edge_i+1)``."""
SIDES = ("long", "short")


@dataclass(frozen=True, slots=True)
class Coverage:
    """How much of the venue the measured map holds."""

    long_share: float | None  # measured long size / venue OI (None: OI unknown)
    short_share: float | None
    oi_base: float | None
    accounts_known: int
    accounts_polled: int
    accounts_recent: int
    recent_ms: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "measured_over_oi": {"long": self.long_share, "short": self.short_share},
            "oi_base": self.oi_base,
            "accounts": {"known": self.accounts_known, "polled": self.accounts_polled,
                         "polled_recently": self.accounts_recent, "recent_ms": self.recent_ms},
        }  # fmt: skip


@dataclass(frozen=True, slots=True, eq=False)
class MeasuredMap:
    """``levels[mode, tier, side, bucket]`` USD (mode 0 isolated / 1 cross, side 0 long)."""

    venue: str
    coin: str
    at_ms: int
    grid: PriceGrid
    leverage_edges: tuple[float, ...]
    levels: F64
    outside_usd: F64  # [side]: positions off the grid or without a liquidation price
    positions: tuple[PositionSnapshot, ...]
    coverage: Coverage

    def by_side(self, mode: str | None = None) -> F64:
        """``[2, n]`` USD per side, all modes (or one)."""
        lv = self.levels if mode is None else self.levels[MODES.index(mode)][None]
        out: F64 = lv.sum(axis=(0, 1))
        return out

    def to_dict(self) -> dict[str, Any]:
        g = self.grid
        return {
            "venue": self.venue, "symbol": self.coin, "at_ms": self.at_ms, "source": "measured",
            "grid": {"origin": g.origin, "step": g.step, "n": g.n},
            "leverage_edges": [e if math.isfinite(e) else None for e in self.leverage_edges],
            "long_usd": self.by_side()[0].tolist(), "short_usd": self.by_side()[1].tolist(),
            "by_mode": {m: {s: self.by_side(m)[k].tolist() for k, s in enumerate(SIDES)}
                        for m in MODES},
            "outside_usd": {"long": float(self.outside_usd[0]),
                            "short": float(self.outside_usd[1])},
            "positions": len(self.positions), "coverage": self.coverage.to_dict(),
        }  # fmt: skip


def _oi_at(store: object, venue: str, coin: str, at_ms: int) -> float | None:
    read = getattr(store, "open_interest", None)
    if not callable(read):
        return None
    rows = read(venue, coin, at_ms - 3_600_000, at_ms + 1)
    return float(rows[-1].oi_base) if rows else None


def measured_map(
    store: object,
    coin: str,
    at_ms: int,
    grid: PriceGrid,
    *,
    venue: str = "hyperliquid",
    max_age_ms: int | None = None,
    recent_ms: int = 600_000,
    leverage_edges: tuple[float, ...] = LEVERAGE_EDGES,
) -> MeasuredMap:
    """The measured map of ``coin`` as known at ``at_ms`` on ``grid``."""
    pos = positions_at(store, venue, coin, at_ms, max_age_ms=max_age_ms)
    n_tiers = len(leverage_edges) - 1
    levels = np.zeros((len(MODES), n_tiers, 2, grid.n))
    outside = np.zeros(2)
    if pos:
        liq = np.array([p.liquidation_px if p.liquidation_px else np.nan for p in pos])
        usd = np.array([p.notional_entry_usd for p in pos])
        side = np.array([0 if p.size > 0 else 1 for p in pos])
        mode = np.array([1 if p.leverage_type == "cross" else 0 for p in pos])
        tier = np.searchsorted(np.asarray(leverage_edges), [p.leverage for p in pos], "right") - 1
        ok = np.isfinite(liq)
        bucket = np.full(len(pos), -1, np.int64)
        bucket[ok] = grid.index(liq[ok])
        inside = ok & (bucket >= 0) & (bucket < grid.n) & (tier >= 0) & (tier < n_tiers)
        np.add.at(levels, (mode[inside], tier[inside], side[inside], bucket[inside]), usd[inside])
        np.add.at(outside, side[~inside], usd[~inside])
    oi = _oi_at(store, venue, coin, at_ms)
    long_sz = sum(p.size for p in pos if p.size > 0)
    short_sz = -sum(p.size for p in pos if p.size < 0)
    counts = account_counts(store, venue, at_ms, recent_ms)
    cov = Coverage(
        long_sz / oi if oi else None,
        short_sz / oi if oi else None,
        oi,
        counts.known,
        counts.polled,
        counts.polled_recently,
        recent_ms,
    )
    return MeasuredMap(venue, coin, at_ms, grid, leverage_edges, levels, outside, tuple(pos), cov)


def top_overlap(a: F64, b: F64, q: float = 0.2) -> float:
    """Share of ``b``'s top-``q`` buckets (among buckets where either has mass) that are also
    in ``a``'s top ``q``; NaN when both are empty."""
    cells = np.flatnonzero((a > 0) | (b > 0))
    if cells.size == 0:
        return float("nan")
    k = max(1, math.ceil(q * cells.size))
    top_a = set(cells[np.argsort(-a[cells], kind="stable")[:k]].tolist())
    top_b = set(cells[np.argsort(-b[cells], kind="stable")[:k]].tolist())
    return len(top_a & top_b) / k


def score_measured(estimated: F64, measured: MeasuredMap, price: float) -> dict[str, Any]:
    """Estimated ``[2, n]`` USD (side 0 long) on the measured map's grid vs the measured map:
    EMD (% of price), top-20 % overlap and bucket rank correlation, per side and in total."""
    meas = measured.by_side()
    if estimated.shape != meas.shape:
        raise ValueError(f"estimated map {estimated.shape} is not on the measured grid")
    mids = measured.grid.lower_edges + measured.grid.step / 2
    out: dict[str, Any] = {}
    for k, name in enumerate((*SIDES, "total")):
        e = estimated[k] if k < 2 else estimated.sum(axis=0)
        m = meas[k] if k < 2 else meas.sum(axis=0)
        cells = (e > 0) | (m > 0)
        out[name] = {
            "emd_pct": emd_pct(e, m, mids, price),
            "top20_overlap": top_overlap(e, m, 0.2),
            "rank_corr": pooled_spearman([e[cells]], [m[cells]]) if cells.any() else math.nan,
            "measured_usd": float(m.sum()),
            "estimated_usd": float(e.sum()),
        }
    out["coverage"] = measured.coverage.to_dict()
    return out


def score_stored(
    store: object,
    steps: Steps,
    configs: dict[str, ModelConfig],
    coin: str,
    *,
    venue: str = "hyperliquid",
    at_ms: int | None = None,
) -> dict[str, Any] | None:
    """Each config's estimated map (``estimate_market`` on ``steps``) vs the measured map at
    the newest poll (or ``at_ms``), on the estimate's grid; None when nothing is measured or
    no estimated column ends by then."""
    polls = last_polls(store, venue)
    if not polls:
        return None
    t = at_ms if at_ms is not None else max(polls.values())
    out: dict[str, Any] = {"at_ms": t, "models": {}}
    for name, cfg in configs.items():
        hm = estimate_market([steps], cfg).heatmap
        done = np.flatnonzero(hm.columns_ts + hm.column_ms <= t)
        if done.size == 0:
            continue
        col = int(done[-1])
        est = hm.snapshots[col].sum(axis=0).astype(np.float64)
        mm = measured_map(store, coin, t, hm.grid, venue=venue)
        out["models"][name] = {
            "column_ms": int(hm.columns_ts[col]),
            **score_measured(est, mm, float(hm.column_close[col])),
        }
    return out if out["models"] else None
