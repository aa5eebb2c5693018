"""The accuracy scorecard: did realized liquidations fall in the predicted hot zones?

Method (docs/scorecard.md): time is cut into evaluation windows. For window ``w`` the map
known at its start (the previous column's snapshot, never a later one) is read at the price
``p0`` of that moment; its *candidate cells* are the buckets within ``±range_pct`` of ``p0``
(grid edge buckets excluded), scored by the liquidatable USD on the natural side (longs
below ``p0``, shorts above). The *hot zones* are the top ``q`` of candidate cells by score
(zero cells never count). The figure is the share of realized liquidation notional of the
window (inside the candidate range) whose price bucket is hot.

Baseline (distance- and volatility-matched placebo): the hot cells of every *other*
window ``w'`` are carried to window ``w`` keeping their signed distance from price in
volatility units (``ln(cell/p0)/σ``), and the share they capture is averaged over ``w'``.
The baseline therefore puts bands at the distances and on the sides the model usually
picks, scaled to the current volatility, but not chosen for this window.

False positives: contiguous hot zones the price path reached in the window (window
``[low, high]`` overlaps the zone) with no realized liquidation inside. Confidence
intervals: block bootstrap over time blocks (a UTC day by default; shorter for short
simulations), pooled shares recomputed on each resample.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from liqscope.domain.errors import InputError
from liqscope.model.config import ModelConfig
from liqscope.model.estimator import EstimateResult, Heatmap, estimate
from liqscope.model.steps import Steps
from liqscope.signals.clusters import bands, rolling_sigma

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
DAY_MS = 86_400_000
HOUR_MS = 3_600_000


# ----------------------------------------------------------------------------- inputs


@dataclass(frozen=True, eq=False)
class Realized:
    """Realized liquidations: time, price, USD notional, side (+1 long, -1 short)."""

    ts: I64
    price: F64
    usd: F64
    side: I64

    def __len__(self) -> int:
        return int(self.ts.shape[0])


@dataclass(frozen=True, eq=False)
class WindowMaps:
    """One map per evaluation window ``[start, end)``, known at ``start``."""

    start: I64
    end: I64
    price0: F64
    sigma: F64
    """σ of log returns over the window's horizon (per-step σ × √steps), at its start."""
    high: F64
    low: F64
    origin: float
    step: float
    scores: F64
    """``[W, n]`` liquidatable USD per bucket (natural side of ``price0``)."""

    @property
    def n(self) -> int:
        return int(self.scores.shape[1])


def natural_side(long: F64, short: F64, origin: float, step: float, price: float) -> F64:
    """Longs below ``price``, shorts above (the levels price can still reach and liquidate)."""
    n = long.shape[-1]
    mids = origin + step * (np.arange(n) + 0.5)
    return np.where(mids < price, long, short)


def window_maps(
    hm: Heatmap,
    steps: Steps,
    *,
    tiers: Sequence[float] | None = None,
    sigma_window: int = 1440,
) -> WindowMaps:
    """Windows = the heatmap's columns from the second one on; window ``c`` uses column
    ``c - 1`` (known at the start of ``c``) read at that column's close."""
    ti = hm.tier_indices(tiers)
    snaps = hm.snapshots[:, ti].sum(axis=1, dtype=np.float64)  # [C, 2, n]
    n_c = hm.columns_ts.shape[0]
    if n_c < 3:
        raise InputError("need at least 3 heatmap columns to score")
    col0 = int(hm.columns_ts[0]) // hm.column_ms
    cidx = steps.ts // hm.column_ms - col0
    per_step_sig = rolling_sigma(steps.close, sigma_window)
    steps_per_col = max(
        1.0, hm.column_ms / float(np.median(np.diff(steps.ts))) if len(steps) > 1 else 1.0
    )
    starts, ends, p0, sig, hi, lo, sc = [], [], [], [], [], [], []
    last = np.searchsorted(cidx, np.arange(n_c), side="right") - 1
    for c in range(1, n_c):
        sel = cidx == c
        if not sel.any() or last[c - 1] < 0:
            continue
        price = float(hm.column_close[c - 1])
        s = float(per_step_sig[last[c - 1]])
        starts.append(int(hm.columns_ts[c]))
        ends.append(int(hm.columns_ts[c]) + hm.column_ms)
        p0.append(price)
        sig.append(s * math.sqrt(steps_per_col) if np.isfinite(s) and s > 0 else np.nan)
        hi.append(float(steps.high[sel].max()))
        lo.append(float(steps.low[sel].min()))
        sc.append(natural_side(snaps[c - 1, 0], snaps[c - 1, 1], hm.grid.origin, hm.grid.step,
                               price))  # fmt: skip
    sigma = np.asarray(sig, dtype=np.float64)
    fill = float(np.nanmedian(sigma)) if np.isfinite(sigma).any() else 0.01
    sigma = np.where(np.isfinite(sigma) & (sigma > 0), sigma, fill)
    return WindowMaps(
        np.asarray(starts, np.int64), np.asarray(ends, np.int64), np.asarray(p0), sigma,
        np.asarray(hi), np.asarray(lo), float(hm.grid.origin), float(hm.grid.step),
        np.asarray(sc, dtype=np.float64).reshape(len(starts), hm.grid.n),
    )  # fmt: skip


# ----------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Interval:
    value: float
    lo: float
    hi: float

    def to_dict(self) -> dict[str, float]:
        return {"value": self.value, "ci_low": self.lo, "ci_high": self.hi}


@dataclass(frozen=True)
class Scorecard:
    """Pooled figures over the scored windows; shares are fractions of realized USD."""

    windows: int
    windows_with_liquidations: int
    realized_usd: float
    q: float
    range_pct: float
    hot_share: Interval
    baseline_share: Interval
    lift: Interval
    """hot_share − baseline_share."""
    hot_cell_fraction: float
    """Mean fraction of candidate cells that were hot (≤ q)."""
    zones_reached: int
    false_positives: int
    blocks: int
    block_ms: int
    per_window: dict[str, list[float]] = field(default_factory=dict)

    @property
    def false_positive_rate(self) -> float:
        return self.false_positives / self.zones_reached if self.zones_reached else float("nan")

    def to_dict(self, per_window: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "windows": self.windows,
            "windows_with_liquidations": self.windows_with_liquidations,
            "realized_usd": self.realized_usd,
            "q": self.q,
            "range_pct": self.range_pct,
            "hot_share": self.hot_share.to_dict(),
            "baseline_share": self.baseline_share.to_dict(),
            "lift": self.lift.to_dict(),
            "hot_cell_fraction": self.hot_cell_fraction,
            "zones_reached": self.zones_reached,
            "false_positives": self.false_positives,
            "false_positive_rate": self.false_positive_rate,
            "bootstrap_blocks": self.blocks,
            "block_ms": self.block_ms,
        }
        if per_window:
            d["per_window"] = self.per_window
        return d


def _hot_masks(wm: WindowMaps, q: float, range_pct: float) -> tuple[NDArray[np.bool_], F64]:
    """Hot mask ``[W, n]`` and the fraction of candidate cells that are hot per window."""
    W, n = wm.scores.shape
    mids = wm.origin + wm.step * (np.arange(n) + 0.5)
    hot = np.zeros((W, n), dtype=bool)
    frac = np.zeros(W)
    for w in range(W):
        cand = np.abs(mids / wm.price0[w] - 1.0) * 100.0 <= range_pct
        cand[0] = cand[-1] = False
        idx = np.flatnonzero(cand)
        if idx.size == 0:
            continue
        k = max(1, math.ceil(q * idx.size))
        sc = wm.scores[w, idx]
        order = np.argsort(-sc, kind="stable")[:k]
        chosen = idx[order][sc[order] > 0]
        hot[w, chosen] = True
        frac[w] = chosen.size / idx.size
    return hot, frac


def _window_liqs(wm: WindowMaps, liq: Realized, range_pct: float) -> list[NDArray[np.int64]]:
    out = []
    for w in range(wm.start.shape[0]):
        a, b = np.searchsorted(liq.ts, [wm.start[w], wm.end[w]], side="left")
        idx = np.arange(a, b)
        inr = np.abs(liq.price[idx] / wm.price0[w] - 1.0) * 100.0 <= range_pct
        out.append(idx[inr])
    return out


def _interval(vals: F64, point: float) -> Interval:
    v = vals[np.isfinite(vals)]
    if v.size == 0:
        return Interval(point, float("nan"), float("nan"))
    return Interval(point, float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5)))


def score_windows(
    wm: WindowMaps,
    liq: Realized,
    *,
    q: float = 0.2,
    range_pct: float = 10.0,
    block_ms: int = DAY_MS,
    n_boot: int = 1000,
    seed: int = 0,
    min_fp_usd: float = 0.0,
) -> Scorecard:
    """Score one model's window maps against realized liquidations (see module docstring)."""
    if not 0 < q < 1:
        raise InputError("q must be in (0, 1)")
    if range_pct <= 0 or block_ms <= 0:
        raise InputError("range_pct and block_ms must be positive")
    order = np.argsort(liq.ts, kind="stable")
    liq = Realized(liq.ts[order], liq.price[order], liq.usd[order], liq.side[order])
    W, n = wm.scores.shape
    hot, frac = _hot_masks(wm, q, range_pct)
    per = _window_liqs(wm, liq, range_pct)
    total = np.zeros(W)
    hit = np.zeros(W)
    base = np.zeros(W)
    reached = np.zeros(W, dtype=np.int64)
    fps = np.zeros(W, dtype=np.int64)
    has_hot = hot.any(axis=1)
    donors = np.flatnonzero(has_hot)
    for w in range(W):
        idx = per[w]
        px, usd = liq.price[idx], liq.usd[idx]
        b = np.floor((px - wm.origin) / wm.step).astype(np.int64)
        ok = (b >= 0) & (b < n)
        total[w] = usd.sum()
        hit[w] = usd[ok][hot[w, b[ok]]].sum()
        # false positives: reached hot zones without realized liquidations inside
        for a, e in bands(hot[w]):
            z_lo, z_hi = wm.origin + a * wm.step, wm.origin + e * wm.step
            if wm.high[w] >= z_lo and wm.low[w] < z_hi:
                reached[w] += 1
                inside = usd[(px >= z_lo) & (px < z_hi)].sum()
                if inside <= min_fp_usd:
                    fps[w] += 1
        # placebo baseline: other windows' hot cells at the same sigma-distances
        others = donors[donors != w]
        if idx.size and others.size:
            z = np.log(px / wm.price0[w]) / wm.sigma[w]
            xp = wm.price0[others, None] * np.exp(z[None, :] * wm.sigma[others, None])
            bb = np.floor((xp - wm.origin) / wm.step).astype(np.int64)
            okb = (bb >= 0) & (bb < n)
            got = np.zeros(bb.shape, dtype=bool)
            rows = np.broadcast_to(others[:, None], bb.shape)
            got[okb] = hot[rows[okb], bb[okb]]
            base[w] = float((got * usd[None, :]).sum(axis=1).mean())
    blocks = wm.start // block_ms
    ub, inv = np.unique(blocks, return_inverse=True)
    nb = ub.shape[0]
    bt = np.bincount(inv, weights=total, minlength=nb)
    bh = np.bincount(inv, weights=hit, minlength=nb)
    bb_ = np.bincount(inv, weights=base, minlength=nb)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, nb, size=(n_boot, nb))
    st = bt[draws].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        sh = bh[draws].sum(axis=1) / st
        sb = bb_[draws].sum(axis=1) / st
    T = float(total.sum())
    p_hot = float(hit.sum() / T) if T > 0 else float("nan")
    p_base = float(base.sum() / T) if T > 0 else float("nan")
    return Scorecard(
        windows=W,
        windows_with_liquidations=int((total > 0).sum()),
        realized_usd=T,
        q=q,
        range_pct=range_pct,
        hot_share=_interval(sh, p_hot),
        baseline_share=_interval(sb, p_base),
        lift=_interval(sh - sb, p_hot - p_base),
        hot_cell_fraction=float(frac.mean()) if W else float("nan"),
        zones_reached=int(reached.sum()),
        false_positives=int(fps.sum()),
        blocks=int(nb),
        block_ms=int(block_ms),
        per_window={
            "start": wm.start.astype(float).tolist(),
            "realized_usd": total.tolist(),
            "hot_usd": hit.tolist(),
            "baseline_usd": base.tolist(),
        },
    )


def shuffled(wm: WindowMaps, seed: int = 0) -> WindowMaps:
    """A deliberately broken model: each window gets the map of a random other window,
    shifted so it sits at the same bucket offset from price (levels from the wrong time)."""
    rng = np.random.default_rng(seed)
    W = wm.scores.shape[0]
    perm = rng.permutation(W)
    out = np.zeros_like(wm.scores)
    ip = np.floor((wm.price0 - wm.origin) / wm.step).astype(np.int64)
    for w in range(W):
        src = perm[w]
        shift = int(ip[w] - ip[src])
        out[w] = np.roll(wm.scores[src], shift)
        if shift > 0:
            out[w, :shift] = 0
        elif shift < 0:
            out[w, shift:] = 0
    return replace(wm, scores=out)


# ----------------------------------------------------------------------------- simulator


@dataclass(frozen=True, eq=False)
class SimData:
    """A simulated run: model input from public data, and the truth."""

    steps: Steps
    realized: Realized
    """Every liquidation (fill price, USD at fill)."""
    market: Any
    start_ms: int
    end_ms: int


def simulate(
    scenario_name: str,
    seed: int,
    hours: float,
    *,
    venue: str = "binance",
    symbol: str = "BTCUSDT",
    step_ms: int = 60_000,
    **overrides: Any,
) -> SimData:
    """Run a simulator scenario and build 1-minute steps (with realized liquidations)."""
    from liqscope.sim.market import Market
    from liqscope.sim.scenarios import scenario
    from liqscope.sim.truth import minute_steps

    try:
        cfg = scenario(scenario_name, venue, symbol, **overrides)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if not (0 < hours <= 24 * 14):
        raise InputError("simulated hours must be in (0, 336]")
    m = Market(cfg, seed)
    ch = m.advance(m.now_ms + int(hours * HOUR_MS))
    ms = minute_steps(ch, step_ms)
    usd = ch.liq_qty * ch.liq_px
    idx = (ch.liq_ts - ms.ts[0]) // step_ms
    side = ch.liq_side.astype(np.int64)
    n = len(ms)
    ll = np.bincount(idx[side > 0], weights=usd[side > 0], minlength=n)[:n]
    ls = np.bincount(idx[side < 0], weights=usd[side < 0], minlength=n)[:n]
    steps = ms.to_model(venue, symbol, ll, ls)
    real = Realized(ch.liq_ts.astype(np.int64), ch.liq_px.astype(np.float64), usd, side)
    return SimData(steps, real, m, ch.start_ms, ch.end_ms)


def truth_maps(sim: SimData, like: WindowMaps, min_leverage: float = 0.0) -> WindowMaps:
    """The true level profile (open positions' exact liquidation prices, USD at entry) at
    the start of each window, on ``like``'s grid (the oracle)."""
    from liqscope.sim.truth import liquidation_profile, positions_at

    log = sim.market.position_log()
    out = np.zeros_like(like.scores)
    edges = (min_leverage if min_leverage > 0 else 0.0, np.inf)
    for w in range(like.start.shape[0]):
        pos = positions_at(log, int(like.start[w]))
        prof = liquidation_profile(pos, like.origin, like.step, like.n, edges)
        out[w] = natural_side(
            prof.long_total, prof.short_total, like.origin, like.step, float(like.price0[w])
        )
    return replace(like, scores=out)


def emd_pct(a: F64, b: F64, mids: F64, price: float) -> float:
    """Earth mover's distance between two non-negative profiles normalised to unit mass,
    in % of ``price`` (NaN if either is empty)."""
    sa, sb = float(a.sum()), float(b.sum())
    if sa <= 0 or sb <= 0:
        return float("nan")
    ca = np.cumsum(a / sa)
    cb = np.cumsum(b / sb)
    step = float(mids[1] - mids[0]) if mids.shape[0] > 1 else 1.0
    return float(np.abs(ca - cb).sum() * step / price * 100.0)


def estimate_sim(sim: SimData, config: ModelConfig, column_ms: int = HOUR_MS) -> EstimateResult:
    """The estimator on the simulated public data with columns of ``column_ms``."""
    cfg = replace(config, column_ms=column_ms, max_columns=1_000_000)
    return estimate(sim.steps, cfg)


def sim_scorecards(
    sim: SimData,
    configs: dict[str, ModelConfig],
    *,
    column_ms: int = HOUR_MS,
    q: float = 0.2,
    range_pct: float = 10.0,
    block_ms: int = 2 * HOUR_MS,
    n_boot: int = 1000,
    seed: int = 0,
    score_from_ms: int | None = None,
) -> dict[str, Any]:
    """Scorecards of each config, the shuffled (broken) first config and the oracle (true
    profile) on a simulated run; plus EMD of estimated vs true profiles. Windows starting
    before ``score_from_ms`` are not scored (held-out evaluation)."""
    out: dict[str, Any] = {"models": {}}
    first: WindowMaps | None = None
    for name, cfg in configs.items():
        res = estimate_sim(sim, cfg, column_ms)
        wm = window_maps(res, sim.steps, tiers=cfg.display_leverages)
        if score_from_ms is not None:
            wm = _after(wm, score_from_ms)
        sc = score_windows(wm, sim.realized, q=q, range_pct=range_pct, block_ms=block_ms,
                           n_boot=n_boot, seed=seed)  # fmt: skip
        tw = truth_maps(sim, wm, min(cfg.display_leverages) if cfg.display_leverages else 0.0)
        mids = wm.origin + wm.step * (np.arange(wm.n) + 0.5)
        emds = [emd_pct(wm.scores[w], tw.scores[w], mids, float(wm.price0[w]))
                for w in range(wm.start.shape[0])]  # fmt: skip
        out["models"][name] = {**sc.to_dict(), "emd_pct": float(np.nanmean(emds))}
        if first is None:
            first = wm
            oracle = score_windows(tw, sim.realized, q=q, range_pct=range_pct,
                                   block_ms=block_ms, n_boot=n_boot, seed=seed)  # fmt: skip
            out["oracle_true_profile"] = oracle.to_dict()
            broken = score_windows(shuffled(wm, seed), sim.realized, q=q, range_pct=range_pct,
                                   block_ms=block_ms, n_boot=n_boot, seed=seed)  # fmt: skip
            out["broken_shuffled"] = broken.to_dict()
    return out


def _after(wm: WindowMaps, t0: int) -> WindowMaps:
    sel = wm.start >= t0
    if sel.sum() < 2:
        raise InputError("fewer than 2 windows in the scored period")
    return WindowMaps(
        wm.start[sel], wm.end[sel], wm.price0[sel], wm.sigma[sel], wm.high[sel], wm.low[sel],
        wm.origin, wm.step, wm.scores[sel],
    )  # fmt: skip


def realized_from_store(store: Any, venue: str, symbol: str, t0: int, t1: int) -> Realized:
    """Realized liquidations of one market from the store."""
    rows = store.liquidations([venue], symbol, t0, t1)
    return Realized(
        np.array([r.ts for r in rows], dtype=np.int64),
        np.array([r.price for r in rows], dtype=np.float64),
        np.array([r.notional_usd for r in rows], dtype=np.float64),
        np.array([int(r.side) for r in rows], dtype=np.int64),
    )
