"""The accuracy scorecard: did realized liquidations fall where the map was dense?

Method (docs/scorecard.md): time is cut into evaluation windows. For window ``w`` the map
known at its start (the previous column's snapshot, never a later one) is read at the price
``p0`` of that moment, on the natural side (longs below ``p0``, shorts above), and summed
into *zones* of ``ZONE_PCT`` (0.25 %) of ``p0`` within ``±range_pct`` (grid edge buckets
excluded): fills slip past their level by more than a fine bucket. Only the zones the
window's price path *reached* are candidates (long zones down to its low, short zones up to
its high): where price did not go nobody could be liquidated, and scoring there would
measure the price forecast, not the map. Per window:

- *hot share*: share of the realized USD (in reached zones) whose zone is among the map's
  top ``q`` reached zones (fractional top-q, so exactly a share ``q`` is hot; 0.2 = chance);
- *level percentile*: the USD-weighted mid-rank percentile of each realized liquidation's
  zone among the reached zones by map density (0.5 = no information);
- *baseline*: the same figures for the no-data distance prior (density growing with
  distance from price: its hot zones are the farthest reached ones).

False positives: contiguous hot zones with no realized liquidation inside. Confidence
intervals: block bootstrap over time blocks (a UTC day by default; shorter for short
simulations), the same draws for every method (paired). On the simulator the oracle (true
levels) must score highest and the shuffled map about 0.5 percentile; the per-interval
Spearman figures are in :mod:`liqscope.signals.interval_score`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from liqscope.domain.errors import InputError
from liqscope.domain.intervals import DAY_MS, HOUR_MS
from liqscope.model.config import ModelConfig
from liqscope.model.estimator import EstimateResult, Heatmap, estimate
from liqscope.model.steps import Steps
from liqscope.signals.clusters import bands, rolling_sigma
from liqscope.store.base import LiquidationQuery

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
ZONE_PCT = 0.25
"""Width of a scoring zone, % of price: realized fills slip past their level by more than
a fine grid bucket, so levels are compared with fills on zones, not buckets."""


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
    """Pooled figures over the scored windows; shares are fractions of the realized USD that
    fell in cells the window's price path reached (see the module docstring)."""

    windows: int
    windows_with_liquidations: int
    realized_usd: float
    """Realized USD in reached candidate cells (what the shares divide)."""
    q: float
    range_pct: float
    hot_share: Interval
    """Share of realized USD in the map's top-``q`` reached cells."""
    baseline_share: Interval
    """The same share for the no-data distance prior (top-``q`` = farthest reached cells)."""
    lift: Interval
    """hot_share − baseline_share (paired bootstrap)."""
    level_percentile: Interval
    """USD-weighted mean percentile of each realized liquidation's cell among the reached
    cells by map density (0.5 = no information)."""
    baseline_percentile: Interval
    """The same percentile for the distance prior."""
    hot_cell_fraction: float
    """Mean fraction of reached candidate cells that were hot (≤ q)."""
    zones_reached: int
    false_positives: int
    blocks: int
    block_ms: int
    coverage: float = float("nan")
    """Share of the realized USD within ±range_pct that sat in reached cells."""
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
            "level_percentile": self.level_percentile.to_dict(),
            "baseline_percentile": self.baseline_percentile.to_dict(),
            "hot_cell_fraction": self.hot_cell_fraction,
            "zones_reached": self.zones_reached,
            "false_positives": self.false_positives,
            "false_positive_rate": self.false_positive_rate,
            "coverage": self.coverage,
            "bootstrap_blocks": self.blocks,
            "block_ms": self.block_ms,
        }
        if per_window:
            d["per_window"] = self.per_window
        return d


def window_zones(
    wm: WindowMaps, w: int, range_pct: float, zone_pct: float
) -> tuple[F64, NDArray[np.bool_], float, int]:
    """Window ``w``'s map on zones of ``zone_pct`` % of ``p0`` (zone ``z`` covers relative
    distance ``[z, z + 1) · zone_pct`` %, so ``p0`` is a zone edge: longs below, shorts
    above), within ±``range_pct``. Returns ``(zone scores, reached mask, zone width in %,
    index of zone 0)``; reached = the natural side's zones the window's path entered (long
    zones down to its low, short zones up to its high). Grid edge buckets are ignored."""
    zp = max(zone_pct, 100.0 * wm.step / float(wm.price0[w]))
    k = math.floor(range_pct / zp)
    n_z = 2 * k
    mids = wm.origin + wm.step * (np.arange(wm.n) + 0.5)
    rel = (mids / wm.price0[w] - 1.0) * 100.0
    z = np.floor(rel / zp).astype(np.int64) + k
    ok = (z >= 0) & (z < n_z)
    ok[0] = ok[-1] = False
    sc = np.bincount(z[ok], weights=wm.scores[w][ok], minlength=n_z)[:n_z]
    zi = np.arange(n_z) - k
    lo = (wm.low[w] / wm.price0[w] - 1.0) * 100.0
    hi = (wm.high[w] / wm.price0[w] - 1.0) * 100.0
    reached = ((zi < 0) & ((zi + 1) * zp > lo)) | ((zi >= 0) & (zi * zp <= hi))
    return sc.astype(np.float64), reached, zp, k


def _top(scores: F64, idx: NDArray[np.int64], q: float) -> F64:
    """Hot weight of every zone: the top ``q·|idx|`` zones of ``idx`` by score get 1, the
    next one the fractional remainder (so exactly a share ``q`` of the reached zones is
    hot however few they are); zero-score zones never count."""
    out = np.zeros(scores.shape[0])
    order = idx[np.argsort(-scores[idx], kind="stable")]
    whole = math.floor(q * idx.size)
    out[order[:whole]] = 1.0
    if whole < idx.size:
        out[order[whole]] = q * idx.size - whole
    out[scores <= 0] = 0.0
    return out


def _percentiles(scores: F64, idx: NDArray[np.int64], cells: NDArray[np.int64]) -> F64:
    """Mid-rank percentile of each of ``cells`` among the reached cells ``idx``."""
    ref = np.sort(scores[idx])
    v = scores[cells]
    below = np.searchsorted(ref, v, side="left")
    upto = np.searchsorted(ref, v, side="right")
    out: F64 = (below + 0.5 * (upto - below)) / ref.size
    return out


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


def block_draws(start: I64, block_ms: int, n_boot: int, seed: int) -> tuple[I64, I64]:
    """``(block index of each window, draws[n_boot, n_blocks])``: the resampled blocks;
    the same arguments give the same draws, so separate scorecards are paired."""
    _, inv = np.unique(start // block_ms, return_inverse=True)
    nb = int(inv.max()) + 1 if inv.size else 0
    draws = np.random.default_rng(seed).integers(0, max(nb, 1), size=(n_boot, nb))
    return inv.astype(np.int64), draws.astype(np.int64)


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
    zone_pct: float = ZONE_PCT,
) -> Scorecard:
    """Score one model's window maps against realized liquidations (see module docstring)."""
    if not 0 < q < 1:
        raise InputError("q must be in (0, 1)")
    if range_pct <= 0 or block_ms <= 0:
        raise InputError("range_pct and block_ms must be positive")
    order = np.argsort(liq.ts, kind="stable")
    liq = Realized(liq.ts[order], liq.price[order], liq.usd[order], liq.side[order])
    W = wm.scores.shape[0]
    per = _window_liqs(wm, liq, range_pct)
    # per window: in-range USD, reached USD, hot USD, prior-hot USD, sum usd*pct (model, prior)
    acc = np.zeros((6, W))
    frac = np.zeros(W)
    reached = np.zeros(W, dtype=np.int64)
    fps = np.zeros(W, dtype=np.int64)
    has = np.zeros(W, dtype=bool)
    for w in range(W):
        idx = per[w]
        px, usd = liq.price[idx], liq.usd[idx]
        acc[0, w] = usd.sum()
        zs, rmask, zp, k = window_zones(wm, w, range_pct, zone_pct)
        cells = np.flatnonzero(rmask)
        if cells.size == 0:
            continue
        has[w] = True
        b = np.floor((px / wm.price0[w] - 1.0) * 100.0 / zp).astype(np.int64) + k
        inr = (b >= 0) & (b < zs.shape[0])
        inr[inr] = rmask[b[inr]]
        bu, uu = b[inr], usd[inr]
        acc[1, w] = uu.sum()
        prior = np.abs(np.arange(zs.shape[0]) - k + 0.5)
        hot = _top(zs, cells, q)
        phot = _top(prior, cells, q)
        frac[w] = hot.sum() / cells.size
        acc[2, w] = (uu * hot[bu]).sum()
        acc[3, w] = (uu * phot[bu]).sum()
        if bu.size:
            acc[4, w] = (uu * _percentiles(zs, cells, bu)).sum()
            acc[5, w] = (uu * _percentiles(prior, cells, bu)).sum()
        # false positives: hot zones (all reached) without realized liquidations inside
        for a, e in bands(hot > 0):
            reached[w] += 1
            if uu[(bu >= a) & (bu < e)].sum() <= min_fp_usd:
                fps[w] += 1
    inv, draws = block_draws(wm.start, block_ms, n_boot, seed)
    nb = draws.shape[1]
    bsum = np.stack([np.bincount(inv, weights=acc[k], minlength=nb) for k in range(6)])
    tot = bsum[1][draws].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = [bsum[k][draws].sum(axis=1) / tot for k in range(2, 6)]
    T = float(acc[1].sum())
    pt = [float(acc[k].sum() / T) if T > 0 else float("nan") for k in range(2, 6)]
    return Scorecard(
        windows=W,
        windows_with_liquidations=int((acc[1] > 0).sum()),
        realized_usd=T,
        q=q,
        range_pct=range_pct,
        hot_share=_interval(boot[0], pt[0]),
        baseline_share=_interval(boot[1], pt[1]),
        lift=_interval(boot[0] - boot[1], pt[0] - pt[1]),
        level_percentile=_interval(boot[2], pt[2]),
        baseline_percentile=_interval(boot[3], pt[3]),
        hot_cell_fraction=float(frac[has].mean()) if has.any() else float("nan"),
        zones_reached=int(reached.sum()),
        false_positives=int(fps.sum()),
        blocks=int(nb),
        block_ms=int(block_ms),
        coverage=float(T / acc[0].sum()) if acc[0].sum() > 0 else float("nan"),
        per_window={
            "start": wm.start.astype(float).tolist(),
            "realized_usd": acc[1].tolist(),
            "hot_usd": acc[2].tolist(),
            "baseline_usd": acc[3].tolist(),
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
    steps = ms.to_model(venue, symbol, ll.astype(np.float64), ls.astype(np.float64))
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
        mids = (wm.origin + wm.step * (np.arange(wm.n) + 0.5)).astype(np.float64)
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
            out["intervals"] = sim_intervals(sim, res, wm, tw, column_ms, block_ms, n_boot, seed)
    return out


def realized_per_window(wm: WindowMaps, liq: Realized) -> F64:
    """``[W, 2]`` realized long/short USD inside each window."""
    out = np.zeros((wm.start.shape[0], 2))
    order = np.argsort(liq.ts, kind="stable")
    ts, usd, side = liq.ts[order], liq.usd[order], liq.side[order]
    for w in range(wm.start.shape[0]):
        a, b = np.searchsorted(ts, [wm.start[w], wm.end[w]], side="left")
        out[w] = usd[a:b][side[a:b] > 0].sum(), usd[a:b][side[a:b] < 0].sum()
    return out


def sim_intervals(
    sim: SimData, res: EstimateResult, wm: WindowMaps, truth: WindowMaps, column_ms: int,
    block_ms: int, n_boot: int, seed: int,
) -> dict[str, Any]:  # fmt: skip
    """Per-interval Spearman of the model (mass consumed along each window's path, the
    ``predict`` output), the four baselines, and two start-of-window maps read the same
    way: the model's (``model_map``) and the oracle's (the true levels' mass each window's
    path swept) on a simulated run."""
    from liqscope.signals.interval_score import interval_predictions, interval_scores, swept_mass

    preds = interval_predictions(sim.steps, res, wm.start, column_ms)
    swept = {"model_map": wm, "oracle": truth}
    for name, maps in swept.items():
        preds[name] = swept_mass(wm.start, wm.price0, wm.low, wm.high, wm.origin, wm.step,
                                 maps.scores)  # fmt: skip
    real = realized_per_window(wm, sim.realized)
    return interval_scores(wm.start, real, preds, block_ms=block_ms, n_boot=min(n_boot, 300),
                           seed=seed)  # fmt: skip


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
    rows = store.liquidations(LiquidationQuery([venue], symbol, t0, t1))
    return Realized(
        np.array([r.ts for r in rows], dtype=np.int64),
        np.array([r.price for r in rows], dtype=np.float64),
        np.array([r.notional_usd for r in rows], dtype=np.float64),
        np.array([int(r.side) for r in rows], dtype=np.int64),
    )
