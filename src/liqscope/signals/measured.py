"""The measured liquidation map: exchange-reported liquidation prices on the model's grid.

From the position snapshots in the store (``store.positions``), as known at ``at_ms``, each
position's USD notional (size × entry, the unit of the estimated map) is put in the bucket of
its ``liquidationPx`` (the canonical :class:`PriceGrid` bucketing), by margin mode, leverage
tier and side. Coverage says how much of the venue this is: the measured size ÷ the venue's
open interest per side, and the accounts known vs polled recently. :func:`score_measured`
compares an estimated map with it (EMD, top-20 % overlap, bucket rank correlation, by side);
:func:`fit_leverage_tiers` turns the measured leverage mix into a preset's tier weights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from liqscope.domain.errors import InputError
from liqscope.model.config import ModelConfig
from liqscope.model.grid import PriceGrid
from liqscope.model.market import estimate_market
from liqscope.model.steps import Steps
from liqscope.signals.realdata import pooled_spearman
from liqscope.signals.scorecard import emd_pct
from liqscope.store.positions import (
    AccountCounts,
    PositionSnapshot,
    account_counts,
    last_polls,
    positions_at,
)

__all__ = [
    "LEVERAGE_EDGES",
    "MODES",
    "Coverage",
    "LeverageFit",
    "MeasuredMap",
    "distance_to_liq",
    "fit_leverage_tiers",
    "measured_map",
    "nearest_liquidations",
    "position_row",
    "score_measured",
    "score_stored",
    "top_overlap",
]

F64 = NDArray[np.float64]
MODES: tuple[str, str] = ("isolated", "cross")
LEVERAGE_EDGES: tuple[float, ...] = (0.0, 5.0, 10.0, 20.0, 30.0, math.inf)
"""Leverage tiers of the measured map: ``[edge_i, edge_i+1)``."""
SIDES = ("long", "short")
VENUE = "hyperliquid"
RECENT_MS = 600_000
"""Polled "recently": within the last 10 minutes."""


@dataclass(frozen=True, slots=True)
class Coverage:
    """How much of the venue the measured map holds: measured size ÷ the venue's OI per side
    (long, short; None when the OI is unknown), and the accounts known / polled."""

    share: tuple[float | None, float | None]
    oi_base: float | None
    accounts: AccountCounts
    recent_ms: int

    def to_dict(self) -> dict[str, Any]:
        acc = self.accounts
        return {
            "measured_over_oi": {"long": self.share[0], "short": self.share[1]},
            "oi_base": self.oi_base,
            "accounts": {"known": acc.known, "polled": acc.polled,
                         "polled_recently": acc.polled_recently, "recent_ms": self.recent_ms},
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


def distance_to_liq(p: PositionSnapshot) -> float | None:
    """``|mark − liquidationPx| / mark`` at the poll (mark = positionValue / |size|)."""
    mark = abs(p.position_value / p.size) if p.size else math.nan
    if p.liquidation_px is None or not mark > 0:
        return None
    return abs(mark - p.liquidation_px) / mark


def nearest_liquidations(
    positions: Sequence[PositionSnapshot], within: float | None = None
) -> list[PositionSnapshot]:
    """Positions nearest liquidation first (then largest); ``within``: only those at most
    that fraction of mark away."""
    dist = {id(p): distance_to_liq(p) for p in positions}
    rows = [p for p in positions if within is None or (dist[id(p)] or math.inf) <= within]
    rows.sort(key=lambda p: (dist[id(p)] or math.inf, -p.notional_entry_usd))
    return rows


def position_row(p: PositionSnapshot) -> dict[str, Any]:
    """One measured position as the CLI and the API list it."""
    d = distance_to_liq(p)
    return {
        "address": p.address, "side": "long" if p.size > 0 else "short", "size": abs(p.size),
        "entry_px": p.entry_px, "leverage": p.leverage, "margin_mode": p.leverage_type,
        "liquidation_px": p.liquidation_px, "distance_pct": None if d is None else 100.0 * d,
        "notional_usd": p.notional_entry_usd, "margin_used": p.margin_used,
        "position_value": p.position_value, "polled_ms": p.ts,
    }  # fmt: skip


def _oi_at(store: object, venue: str, coin: str, at_ms: int) -> float | None:
    read = getattr(store, "open_interest", None)
    if not callable(read):
        return None
    rows = read(venue, coin, at_ms - 3_600_000, at_ms + 1)
    return float(rows[-1].oi_base) if rows else None


def measured_map(
    store: object, coin: str, at_ms: int, grid: PriceGrid, *, venue: str = VENUE
) -> MeasuredMap:
    """The measured map of ``coin`` as known at ``at_ms`` on ``grid``."""
    pos = positions_at(store, venue, coin, at_ms)
    leverage_edges = LEVERAGE_EDGES
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
    share = (long_sz / oi if oi else None, short_sz / oi if oi else None)
    cov = Coverage(share, oi, account_counts(store, venue, at_ms, RECENT_MS), RECENT_MS)
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
    store: object, steps: Steps, configs: dict[str, ModelConfig], coin: str
) -> dict[str, Any] | None:
    """Each config's estimated map (``estimate_market`` on ``steps``) vs the measured map at
    the newest poll, on the estimate's grid; None when nothing is measured or
    no estimated column ends by then."""
    polls = last_polls(store, VENUE)
    if not polls:
        return None
    t = max(polls.values())
    out: dict[str, Any] = {"at_ms": t, "models": {}}
    for name, cfg in configs.items():
        hm = estimate_market([steps], cfg).heatmap
        done = np.flatnonzero(hm.columns_ts + hm.column_ms <= t)
        if done.size == 0:
            continue
        col = int(done[-1])
        est = hm.snapshots[col].sum(axis=0).astype(np.float64)
        mm = measured_map(store, coin, t, hm.grid)
        out["models"][name] = {
            "column_ms": int(hm.columns_ts[col]),
            **score_measured(est, mm, float(hm.column_close[col])),
        }
    return out if out["models"] else None


@dataclass(frozen=True, slots=True)
class LeverageFit:
    """Tier weights fitted from measured positions: each position's USD at entry goes to the
    base preset's tier nearest its leverage (in log leverage)."""

    config: ModelConfig
    usd_by_tier: tuple[float, ...]
    positions: int
    at_ms: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": "measured positions", "at_ms": self.at_ms, "positions": self.positions,
            "leverages": list(self.config.leverages),
            "tier_weights": list(self.config.tier_weights),
            "usd_by_tier": list(self.usd_by_tier),
        }  # fmt: skip


def fit_leverage_tiers(
    positions: Sequence[PositionSnapshot], base: ModelConfig, at_ms: int
) -> LeverageFit:
    """``base`` with tier weights = the measured USD share per tier (its tiers kept)."""
    if not positions:
        raise InputError("no measured positions to fit leverage tiers from")
    logs = np.log(np.asarray(base.leverages, np.float64))
    lev = np.log(np.maximum([p.leverage for p in positions], 1.0))
    tier = np.abs(lev[:, None] - logs[None, :]).argmin(axis=1)
    usd = np.bincount(tier, [p.notional_entry_usd for p in positions], len(logs))
    weights = tuple(float(x) for x in usd / usd.sum())
    cfg = replace(base, name="measured", tier_weights=weights)
    return LeverageFit(cfg, tuple(float(x) for x in usd), len(positions), at_ms)
