"""The heatmap estimator: typed wrapper over :func:`kernels.run_estimator`, its result
objects (heatmap, profile, invariant) and multi-venue aggregation."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from liqscope.domain.errors import InputError
from liqscope.domain.intervals import DAY_MS as DAY
from liqscope.domain.intervals import HOUR_MS as HOUR
from liqscope.domain.intervals import MINUTE_MS as MINUTE
from liqscope.domain.types import Side
from liqscope.model import kernels
from liqscope.model.config import MODEL_VERSION, ModelConfig
from liqscope.model.grid import PriceGrid
from liqscope.model.state import EstimatorState
from liqscope.model.steps import Steps

F64 = NDArray[np.float64]
F32 = NDArray[np.float32]
I64 = NDArray[np.int64]

COLUMN_LADDER_MS: tuple[int, ...] = (
    MINUTE,
    2 * MINUTE,
    5 * MINUTE,
    10 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    4 * HOUR,
    6 * HOUR,
    8 * HOUR,
    12 * HOUR,
    DAY,
    2 * DAY,
    7 * DAY,
)
MAX_BUCKETS = 200_000
VOLUME_HALF_LIFE_MS = 7.0 * DAY
"""Half-life of the causal mean volume rate that turnover is relative to."""

SideSel = Side | str | Sequence[Side | str] | None


# ----------------------------------------------------------------------------- helpers


def column_width_ms(first_ts: int, last_ts: int, max_columns: int) -> int:
    """The smallest readable column width (ladder, then whole weeks) giving at most
    ``max_columns`` aligned columns between ``first_ts`` and ``last_ts``."""
    for w in COLUMN_LADDER_MS:
        if last_ts // w - first_ts // w + 1 <= max_columns:
            return w
    w = 7 * DAY
    while last_ts // w - first_ts // w + 1 > max_columns:
        w += 7 * DAY
    return w


def group_layout(config: ModelConfig) -> tuple[F64, I64]:
    """Weight and tier index of each level group ``g = tier * n_sizes + size``."""
    tw = np.asarray(config.tier_weights, dtype=np.float64)
    sw = np.asarray(config.size_weights, dtype=np.float64)
    weights = np.outer(tw / tw.sum(), sw / sw.sum()).ravel()
    tiers = np.repeat(np.arange(len(config.leverages), dtype=np.int64), len(sw))
    return weights, tiers


def covering_ratios(config: ModelConfig, ratios: F64) -> F64:
    """The rows of ``ratios [G, 2]`` the covering grid must span (``grid_leverages``)."""
    if config.grid_leverages is None:
        return ratios
    _, tiers = group_layout(config)
    keep = np.isin(np.asarray(config.leverages)[tiers], config.grid_leverages)
    out: F64 = ratios[keep]
    return out


def shortcut_ratios(config: ModelConfig, mmr: float = 0.004) -> F64:
    """Flat-MMR shortcut ratios ``1 -/+ 1/L +/- mmr`` per group (for tests and benchmarks;
    the estimator uses the venue's exact formula by default)."""
    rows = []
    for lev in config.leverages:
        for _ in config.size_classes_usd:
            rows.append((1.0 - 1.0 / lev + mmr, 1.0 + 1.0 / lev - mmr))
    return np.asarray(rows, dtype=np.float64)


def effective_leverages(config: ModelConfig, venue: str, symbol: str) -> F64:
    """Leverage each level group ``[G]`` is modelled at on the venue: the tier's own, or the
    venue's maximum for that size class when the tier is above it. Capped tiers keep their
    own layer and weight (``EstimateResult.meta["capped_tiers"]`` names them): the mass of
    traders who would take more than the venue allows sits at the venue's maximum (on the
    December 2025 Hyperliquid data, dropping capped tiers instead lowers the pooled Spearman
    of daily long liquidations from 0.91 to 0.80)."""
    from liqscope.domain import registry  # late: keeps model import light
    from liqscope.domain.tiers import TierBasis

    tiers = registry.default_tiers(venue, symbol)
    quote_basis = tiers.basis is TierBasis.QUOTE
    out = []
    for lev in config.leverages:
        for size in config.size_classes_usd:
            cap = tiers.max_leverage_for(size) if quote_basis else tiers.tiers[0].max_leverage
            out.append(min(float(lev), float(cap)))
    return np.asarray(out, dtype=np.float64)


def capped_tiers(config: ModelConfig, effective: F64) -> dict[str, float]:
    """``{"100": 40.0, ...}``: tiers modelled below their nominal leverage (any size class)."""
    n_s = len(config.size_classes_usd)
    out: dict[str, float] = {}
    for i, lev in enumerate(config.leverages):
        eff = float(effective[i * n_s : (i + 1) * n_s].min())
        if eff < lev:
            out[f"{lev:g}"] = eff
    return out


def level_ratios(
    config: ModelConfig, venue: str, symbol: str, reference_price: float | None = None
) -> F64:
    """Exact liquidation-price / entry ratios ``[G, 2]`` from the venue's built-in rules.

    Where the venue's tier table makes the ratio depend on entry (coin-denominated tiers),
    it is evaluated at ``reference_price`` (the estimator passes the median close).
    """
    from liqscope.domain import liqprice, registry  # late: keeps model import light

    inst = registry.instrument(venue, symbol)
    tiers = registry.default_tiers(venue, symbol)
    ref = None
    if not liqprice.ratio_is_entry_independent(inst, tiers, config.liq_method):
        ref = reference_price
    effective = effective_leverages(config, venue, symbol)
    sizes = np.tile(np.asarray(config.size_classes_usd, dtype=np.float64), len(config.leverages))
    rows = [
        [
            float(
                liqprice.level_ratio(
                    inst, tiers, side, float(eff), float(size), config.liq_method,
                    reference_price=ref,
                )
            )
            for side in (Side.LONG, Side.SHORT)
        ]
        for eff, size in zip(effective, sizes, strict=True)
    ]  # fmt: skip
    out = np.asarray(rows, dtype=np.float64)
    n_s = len(config.size_classes_usd)
    for g in range(out.shape[0]):
        lo, hi = out[g]
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < 1 < hi):
            lev = config.leverages[g // n_s]
            raise InputError(
                f"{venue} {symbol}: no usable liquidation price at {lev:g}x "
                f"(ratios {lo:.5f} / {hi:.5f}); the venue may not allow that leverage, "
                "choose a preset or leverages it supports"
            )
    return out


def _sides(sel: SideSel) -> list[int]:
    if sel is None:
        return [0, 1]
    items: Iterable[Side | str] = [sel] if isinstance(sel, (str, Side)) else sel
    out: set[int] = set()
    for it in items:
        if isinstance(it, str) and it.strip().lower() in ("both", "all"):
            out.update((0, 1))
            continue
        try:
            side = it if isinstance(it, Side) else Side.parse(it)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        out.add(0 if side is Side.LONG else 1)
    return sorted(out)


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True, eq=False)
class Profile:
    """One column as a liquidation map."""

    ts: int
    price: float
    bucket_prices: F64
    """Lower edge of each bucket."""
    leverages: tuple[float, ...]
    long: F64
    """``[n_selected_tiers, n_buckets]`` live long USD per tier (stack them)."""
    short: F64
    """``[n_selected_tiers, n_buckets]`` live short USD per tier."""
    cum_long: F64
    """Long USD liquidated if price falls to each bucket: sum of longs in buckets from
    there up to the price bucket (0 above the price)."""
    cum_short: F64
    """Short USD liquidated if price rises to each bucket (0 below the price)."""


@dataclass(frozen=True, slots=True, eq=False)
class Heatmap:
    """Per-column snapshots of live levels on a price grid (one venue or an aggregate)."""

    columns_ts: I64
    """Start of each column, epoch ms (columns are aligned to multiples of column_ms)."""
    column_ms: int
    grid: PriceGrid
    leverages: tuple[float, ...]
    snapshots: F32
    """``[n_cols, n_tiers, 2, n_buckets]`` USD at the end of each column; side 0 = long."""
    column_close: F64
    """Close price at the end of each column."""
    venue: str | None = None
    symbol: str | None = None
    preset: str = "custom"
    display_leverages: tuple[float, ...] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def tier_indices(self, tiers: Iterable[float] | None) -> list[int]:
        """Indices of the given leverages (None = the preset's display tiers, else all)."""
        if tiers is None:
            tiers = self.display_leverages
        if tiers is None:
            return list(range(len(self.leverages)))
        out = []
        for lev in tiers:
            hits = [i for i, x in enumerate(self.leverages) if math.isclose(x, float(lev))]
            if not hits:
                have = ", ".join(f"{x:g}" for x in self.leverages)
                raise InputError(f"leverage tier {lev:g} is not modelled (tiers: {have})")
            out.append(hits[0])
        return sorted(set(out))

    def heatmap(
        self,
        tiers: Iterable[float] | None = None,
        sides: SideSel = None,
        relative: bool = False,
    ) -> tuple[I64, F64, F64]:
        """``(columns_ts, bucket lower edges, matrix[n_cols, n_buckets])`` in USD, summed
        over the selected leverage tiers and sides; ``relative`` scales to max 1."""
        ti = self.tier_indices(tiers)
        si = _sides(sides)
        # sum basic-slice views (no fancy-index copy of the snapshot array)
        mat = np.zeros((self.snapshots.shape[0], self.snapshots.shape[3]), dtype=np.float64)
        for k in ti:
            for s in si:
                mat += self.snapshots[:, k, s, :]
        if relative:
            top = float(mat.max()) if mat.size else 0.0
            mat = mat / top if top > 0 else mat
        return self.columns_ts, self.grid.lower_edges, mat

    def profile(
        self, at: int = -1, tiers: Iterable[float] | None = None, sides: SideSel = None
    ) -> Profile:
        """Column ``at`` as a liquidation map with cumulative long/short curves."""
        n_c = self.columns_ts.shape[0]
        if not -n_c <= at < n_c:
            raise InputError(f"column {at} out of range (0..{n_c - 1})")
        ti = self.tier_indices(tiers)
        si = _sides(sides)
        snap = self.snapshots[at].astype(np.float64)
        long = snap[ti, 0] if 0 in si else np.zeros((len(ti), self.grid.n))
        short = snap[ti, 1] if 1 in si else np.zeros((len(ti), self.grid.n))
        price = float(self.column_close[at])
        ip = self.grid.index_of(price)
        lt = long.sum(axis=0)
        st = short.sum(axis=0)
        # cumulative from the price bucket downward / upward
        upto = min(max(ip, -1), self.grid.n - 1)
        cl = np.zeros(self.grid.n)
        if upto >= 0:
            cl[: upto + 1] = np.cumsum(lt[: upto + 1][::-1])[::-1]
        frm = max(min(ip, self.grid.n), 0)
        cs = np.zeros(self.grid.n)
        if frm < self.grid.n:
            cs[frm:] = np.cumsum(st[frm:])
        return Profile(
            ts=int(self.columns_ts[at]),
            price=price,
            bucket_prices=self.grid.lower_edges,
            leverages=tuple(self.leverages[i] for i in ti),
            long=long,
            short=short,
            cum_long=cl,
            cum_short=cs,
        )


@dataclass(frozen=True, slots=True, eq=False)
class EstimateResult(Heatmap):
    """A single venue's estimate: snapshots plus per-step accounting."""

    ts: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    """Step timestamps."""
    consumed: F64 = field(default_factory=lambda: np.zeros((0, 0, 2)))
    """``[n_steps, n_tiers, 2]`` estimated liquidations (USD) per step, tier and side."""
    live: F64 = field(default_factory=lambda: np.zeros((0, 2)))
    """``[n_steps, 2]`` live notional per side after each step."""
    opened: F64 = field(default_factory=lambda: np.zeros((0, 2)))
    closed: F64 = field(default_factory=lambda: np.zeros((0, 2)))
    decayed: F64 = field(default_factory=lambda: np.zeros((0, 2)))
    calibrated: F64 = field(default_factory=lambda: np.zeros((0, 2)))
    """``[n_steps, 2]`` change made by calibration (0 when off)."""
    oi_usd: F64 = field(default_factory=lambda: np.zeros(0))
    """OI in USD per step (one side): base OI x the step's typical price (v2) or close
    (``book="net"``, v1)."""
    final_state: F64 = field(default_factory=lambda: np.zeros((0, 2, 0)))
    """``[n_groups, 2, n_buckets]`` exact live state after the last step."""
    ratios: F64 = field(default_factory=lambda: np.zeros((0, 2)))
    """``[n_groups, 2]`` liquidation price / entry used for each level group."""
    work: dict[str, int] = field(default_factory=dict)
    """Work counters of the kernel (level writes, levels consumed, columns)."""
    config: ModelConfig = field(default_factory=ModelConfig)
    model_version: str = MODEL_VERSION
    oi_filled: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    """Steps whose OI was missing (NaN) and carried from the nearest known step."""
    turnover: F64 = field(default_factory=lambda: np.zeros((0, 2)))
    """``[n_steps, 2]`` gross turnover per book (USD) driving the v2 flows."""
    state: EstimatorState | None = None
    """The kernel's state after the last step (``estimate(..., initial=state)`` continues)."""

    def invariant(self) -> tuple[I64, F64]:
        """``(ts, live[n, 2] / OI_usd)``: how well each side's live total tracks OI."""
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = self.live / self.oi_usd[:, None]
        ratio[~np.isfinite(ratio)] = np.nan
        return self.ts, ratio


# ----------------------------------------------------------------------------- estimate


def _long_share(
    steps: Steps, config: ModelConfig, given: ArrayLike | None, *, first: bool = True
) -> F64:
    n = len(steps)
    if config.side_split == "equal":
        p = np.full(n, 0.5)
    elif config.side_split == "ratio":
        if given is None:
            raise InputError("side_split='ratio' needs a long share per step")
        p = np.asarray(given, dtype=np.float64).copy()
        if p.shape != (n,):
            raise InputError(f"long share must have {n} values, got shape {p.shape}")
        p[~np.isfinite(p)] = 0.5
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            p = steps.taker_buy_volume / steps.volume
        p[~np.isfinite(p)] = config.unknown_long_share
    out: F64 = np.clip(p, 0.0, 1.0)
    if config.seed_initial_oi and first:
        out[0] = 0.5
    return out


def fill_oi_holes(oi: F64, prev: float | None = None) -> tuple[F64, NDArray[np.bool_]]:
    """OI with every missing (NaN) value carried forward from the last known step (for a
    leading hole: ``prev``, the OI before these steps, else the first known value
    backward), and the mask of filled steps."""
    missing = ~np.isfinite(oi)
    if not missing.any():
        return oi, missing
    if prev is not None:
        filled, _ = fill_oi_holes(np.r_[prev, oi])
        return filled[1:], missing
    if missing.all():
        raise InputError("column open_interest has no value at any row")
    idx = np.where(~missing, np.arange(oi.shape[0]), 0)
    np.maximum.accumulate(idx, out=idx)
    first = int(np.flatnonzero(~missing)[0])
    idx[:first] = first
    return oi[idx], missing


def oi_price(steps: Steps, config: ModelConfig) -> F64:
    """The price converting base OI to USD: the step's typical price ``(h + l + c) / 3``
    (a venue's USD OI tracks its mid price over the step); v1 (``book="net"``) used close."""
    if config.book == "net":
        return steps.close
    out: F64 = (steps.high + steps.low + steps.close) / 3.0
    return out


def book_turnover(
    ts: I64,
    volume: F64,
    oi_usd: F64,
    share: F64,
    config: ModelConfig,
    initial: EstimatorState | None = None,
) -> tuple[F64, tuple[float, float]]:
    """Gross turnover ``[n, 2]`` (USD) of each book per step for the v2 flows, and
    ``(mean volume rate after the last step, volume whose duration is not known yet)``:
    ``turnover_per_day x OI_usd x dt / 1 day x relative volume``, tilted by the taker
    long share (long 2p, short 2(1 - p)).

    Relative volume is the step's volume rate over its causal exponential mean (half-life
    ``VOLUME_HALF_LIFE_MS``), so the level of a foreign venue's volume does not matter;
    without volume information the rate is the average one (relative volume 1). The mean
    starts at the first step's rate (its duration taken as the first gap); a fresh run's
    first step has no book to turn over (reported 0). Everything is local in time, so a run
    cut in pieces (``initial``) gives the same turnover."""
    n = ts.shape[0]
    dt = np.full(n, math.nan)
    dt[1:] = np.diff(ts).astype(np.float64)
    pending = math.nan
    if initial is not None:
        dt[0] = float(int(ts[0]) - initial.ts)
        mean0 = initial.volume_mean
        if not math.isfinite(mean0):  # the first step's rate, now that its duration is known
            mean0 = initial.pending_volume / dt[0]
    else:
        mean0 = math.nan
        if n > 1:
            dt[0] = dt[1]
    rate = np.where(np.isfinite(volume), volume, 0.0) / dt
    rel = np.ones(n)
    if math.isfinite(dt[0]):
        mean = float(kernels.relative_rate(rate, dt, float(VOLUME_HALF_LIFE_MS), mean0, rel))
    else:  # a fresh run of one step: its rate waits for the next step
        mean, pending = math.nan, float(volume[0])
    base = config.turnover_per_day * oi_usd * np.nan_to_num(dt) / DAY * rel
    if initial is None:
        base[0] = 0.0
    out: F64 = np.stack([base * 2.0 * share, base * 2.0 * (1.0 - share)], axis=1)
    return np.ascontiguousarray(out), (mean, pending)


def _typical(steps: Steps) -> F64:
    with np.errstate(divide="ignore", invalid="ignore"):
        vwap = steps.quote_volume / steps.volume
    tp = (steps.high + steps.low + steps.close) / 3.0
    ok = np.isfinite(vwap) & (vwap >= steps.low) & (vwap <= steps.high)
    return np.where(ok, vwap, tp)


def _venue_meta(cfg: ModelConfig, steps: Steps, oi_filled: NDArray[np.bool_]) -> dict[str, Any]:
    """What a view should say about the run: capped tiers and filled OI holes."""
    meta: dict[str, Any] = {}
    if steps.venue and steps.symbol:
        try:
            capped = capped_tiers(cfg, effective_leverages(cfg, steps.venue, steps.symbol))
        except InputError:  # no built-in rules (caller-given ratios): nothing to report
            capped = {}
        if capped:
            meta["capped_tiers"] = capped
    if oi_filled.any():
        meta["oi_holes"] = int(oi_filled.sum())
    return meta


def estimate(
    steps: Steps,
    config: ModelConfig | None = None,
    *,
    ratios: ArrayLike | None = None,
    grid: PriceGrid | None = None,
    long_share: ArrayLike | None = None,
    volume_profile: ArrayLike | None = None,
    initial: EstimatorState | None = None,
) -> EstimateResult:
    """Run the estimation model over ``steps``.

    ``ratios`` ``[G, 2]`` overrides the venue's liquidation ratios (G = tiers x size classes,
    tier-major); ``grid`` overrides the covering grid (of the ``grid_leverages`` tiers'
    levels; levels outside it are clipped to its edge buckets); ``long_share`` is the
    per-step long share for ``side_split="ratio"``;
    ``volume_profile`` ``[n_steps, entry_points]`` replaces the triangular entry kernel with
    weights over ``entry_points`` equal sub-ranges of [low, high].
    ``initial`` continues from another run's ``state`` (steps after its last one): the run
    then takes that state's grid, ratios and column width unless given the same ones, and
    a range cut at any steps gives the same levels, accounting and columns as one run.
    """
    cfg = config or ModelConfig(name="all")
    n = len(steps)
    gw, gt = group_layout(cfg)
    n_g = gw.shape[0]
    if ratios is None and initial is not None:
        ratios = initial.ratios
    if grid is None and initial is not None:
        grid = initial.grid
    if ratios is None:
        if not steps.venue or not steps.symbol:
            raise InputError("venue and symbol are needed to compute liquidation prices")
        rat = level_ratios(cfg, steps.venue, steps.symbol, float(np.median(steps.close)))
    else:
        rat = np.ascontiguousarray(np.asarray(ratios, dtype=np.float64))
        if rat.shape != (n_g, 2):
            raise InputError(f"ratios must have shape ({n_g}, 2), got {rat.shape}")
        if not np.all(np.isfinite(rat)) or np.any(rat <= 0):
            raise InputError("ratios must be finite and positive")
    if grid is None:
        grid = PriceGrid.covering(
            float(steps.low.min()),
            float(steps.high.max()),
            covering_ratios(cfg, rat),
            n=cfg.n_buckets,
            step=cfg.bucket_usd,
        )
    if grid.n > MAX_BUCKETS:
        raise InputError(
            f"the grid would have {grid.n} buckets (max {MAX_BUCKETS}); use a larger bucket"
        )
    k = cfg.entry_points
    if volume_profile is None:
        prof = np.zeros((0, k))
    else:
        prof = np.ascontiguousarray(np.asarray(volume_profile, dtype=np.float64))
        if prof.shape != (n, k) or not np.all(np.isfinite(prof)) or np.any(prof < 0):
            raise InputError(f"volume_profile must be finite, >= 0, with shape ({n}, {k})")
    n_t = len(cfg.leverages)
    hl = np.zeros(n_t) if cfg.half_lives_ms is None else np.asarray(cfg.half_lives_ms, float)
    hl = np.where(np.isfinite(hl), hl, 0.0)
    t0, t1 = int(steps.ts[0]), int(steps.ts[-1])
    if initial is not None and cfg.column_ms is None:
        cfg = replace(cfg, column_ms=initial.column_ms)
    col_ms = cfg.column_ms or column_width_ms(t0, t1, cfg.max_columns)
    if initial is not None:
        initial.check(grid, rat, col_ms, t0)
    col0 = t0 // col_ms
    n_c = t1 // col_ms - col0 + 1
    if n_c * n_t * 2 * grid.n > 2_000_000_000:
        raise InputError("the heatmap would be too large; use fewer columns or buckets")
    liq = np.stack([steps.liq_long_usd, steps.liq_short_usd], axis=1)
    if not cfg.use_realized_liquidations:
        liq = np.full((n, 2), np.nan)
    liq = np.ascontiguousarray(liq)

    snapshots = np.zeros((n_c, n_t, 2, grid.n), dtype=np.float32)
    consumed = np.zeros((n, n_t, 2))
    live = np.zeros((n, 2))
    opened = np.zeros((n, 2))
    closed = np.zeros((n, 2))
    decayed = np.zeros((n, 2))
    calibrated = np.zeros((n, 2))
    final_state = np.zeros((n_g, 2, grid.n))
    counters = np.zeros(3, dtype=np.int64)
    if initial is None:
        raw, scale, rsum = (
            np.zeros((2, n_g, 2, grid.n)),
            np.ones((2, n_g, 2)),
            np.zeros((2, n_g, 2)),
        )
        carry_i = np.array([0, 0, -1, grid.n], dtype=np.int64)
        carry_f = np.zeros(3)
    else:
        raw, scale, rsum = initial.raw.copy(), initial.scale.copy(), initial.rsum.copy()
        carry_i = np.array([1, initial.ts, initial.top_long, initial.bot_short], dtype=np.int64)
        carry_f = np.array([initial.oi, *initial.live], dtype=np.float64)
    share = _long_share(steps, cfg, long_share, first=initial is None)
    oi_base, oi_filled = fill_oi_holes(steps.oi_base, None if initial is None else initial.oi)
    oi_px = oi_price(steps, cfg)
    turn, vol_mean = book_turnover(steps.ts, steps.volume, oi_base * oi_px, share, cfg, initial)
    kernels.run_estimator(
        steps.ts,
        steps.low,
        steps.high,
        steps.close,
        _typical(steps),
        oi_base,
        oi_px,
        turn,
        cfg.book == "oi",
        share,
        liq,
        prof,
        k,
        rat,
        gw,
        gt,
        hl,
        float(grid.origin),
        float(grid.step),
        np.int64(col_ms),
        np.int64(col0),
        cfg.closing == "recent",
        np.int64(cfg.recent_window_ms),
        bool(cfg.calibrate_to_oi),
        bool(cfg.seed_initial_oi),
        (raw, scale, rsum, carry_i, carry_f),
        (snapshots, consumed, live, opened, closed, decayed, calibrated, final_state, counters),
    )
    columns_ts = (col0 + np.arange(n_c, dtype=np.int64)) * col_ms
    cidx = steps.ts // col_ms - col0
    last = np.searchsorted(cidx, np.arange(n_c), side="right") - 1
    return EstimateResult(
        columns_ts=columns_ts,
        column_ms=int(col_ms),
        grid=grid,
        leverages=tuple(float(x) for x in cfg.leverages),
        snapshots=snapshots,
        column_close=steps.close[last].copy(),
        venue=steps.venue,
        symbol=steps.symbol,
        preset=cfg.name,
        display_leverages=cfg.display_leverages,
        ts=steps.ts.copy(),
        consumed=consumed,
        live=live,
        opened=opened,
        closed=closed,
        decayed=decayed,
        calibrated=calibrated,
        oi_usd=oi_base * oi_px,
        final_state=final_state,
        ratios=rat,
        config=cfg,
        meta=_venue_meta(cfg, steps, oi_filled),
        oi_filled=oi_filled,
        turnover=turn,
        state=EstimatorState(
            raw=raw,
            scale=scale,
            rsum=rsum,
            top_long=int(carry_i[2]),
            bot_short=int(carry_i[3]),
            ts=int(carry_i[1]),
            oi=float(carry_f[0]),
            live=(float(carry_f[1]), float(carry_f[2])),
            volume_mean=vol_mean[0],
            pending_volume=vol_mean[1],
            seeded=bool(cfg.seed_initial_oi) if initial is None else initial.seeded,
            grid=grid,
            ratios=rat,
            column_ms=int(col_ms),
        ),
        work={
            "level_writes": int(counters[0]),
            "levels_consumed": int(counters[1]),
            "columns": int(counters[2]),
        },
    )


def aggregate(results: Sequence[Heatmap]) -> Heatmap:
    """Sum several venues' heatmaps in USD on one common grid.

    Grids must share the bucket size with edges on the same lattice (the union grid is
    used); columns must share their width and are aligned by timestamp (a venue
    contributes nothing to columns outside its own range). The price line is the mean of
    the venues' closes where they have data.
    """
    if not results:
        raise InputError("nothing to aggregate")
    first = results[0]
    for r in results[1:]:
        if r.column_ms != first.column_ms:
            raise InputError("results have different column widths; use the same --columns")
        if len(r.leverages) != len(first.leverages) or not all(
            math.isclose(a, b) for a, b in zip(r.leverages, first.leverages, strict=True)
        ):
            raise InputError("results model different leverage tiers")
    grid = first.grid
    for r in results[1:]:
        grid = grid.union(r.grid)
    w = first.column_ms
    c0 = min(int(r.columns_ts[0]) for r in results) // w
    c1 = max(int(r.columns_ts[-1]) for r in results) // w
    n_c = c1 - c0 + 1
    snaps = np.zeros((n_c, len(first.leverages), 2, grid.n), dtype=np.float32)
    close_sum = np.zeros(n_c)
    close_n = np.zeros(n_c)
    for r in results:
        a = int(r.columns_ts[0]) // w - c0
        off = grid.offset_of(r.grid)
        snaps[a : a + r.columns_ts.shape[0], :, :, off : off + r.grid.n] += r.snapshots
        close_sum[a : a + r.columns_ts.shape[0]] += r.column_close
        close_n[a : a + r.columns_ts.shape[0]] += 1
    with np.errstate(invalid="ignore"):
        close = close_sum / close_n
    venues = sorted({r.venue or "?" for r in results})
    symbols = sorted({r.symbol or "?" for r in results})
    return Heatmap(
        columns_ts=(c0 + np.arange(n_c, dtype=np.int64)) * w,
        column_ms=w,
        grid=grid,
        leverages=first.leverages,
        snapshots=snaps,
        column_close=close,
        venue="+".join(venues),
        symbol="+".join(symbols),
        preset=first.preset,
        display_leverages=first.display_leverages,
        meta={"aggregate_of": len(results)},
    )
