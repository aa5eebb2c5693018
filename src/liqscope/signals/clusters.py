"""Clusters on one liquidation map: dense contiguous price bands, nearest and max-pain levels.

A *map* (:class:`LevelMap`) is one column of the heatmap: live long and short USD per
leverage tier and price bucket, and the price at that time. Long levels that can still be
liquidated sit below price, short levels above; clusters are looked for on that natural side
only. Definitions and parameters: docs/signals.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from liqscope.domain.errors import InputError
from liqscope.domain.records import Record
from liqscope.model.estimator import Heatmap

F64 = NDArray[np.float64]
SideName = Literal["long", "short"]


@dataclass(frozen=True, slots=True, eq=False)
class LevelMap:
    """One liquidation map: ``long``/``short`` are ``[n_tiers, n_buckets]`` USD on the grid
    ``[origin + i*step, origin + (i+1)*step)``; ``price`` is the price the map is read at."""

    price: float
    origin: float
    step: float
    long: F64
    short: F64
    leverages: tuple[float, ...]
    ts: int = 0

    def __post_init__(self) -> None:
        if self.long.shape != self.short.shape or self.long.ndim != 2:
            raise InputError("long and short levels must both be [n_tiers, n_buckets]")
        if self.long.shape[0] != len(self.leverages):
            raise InputError("one leverage per tier row is needed")
        if not (math.isfinite(self.price) and self.price > 0):
            raise InputError(f"map price must be positive, got {self.price}")
        if not (math.isfinite(self.step) and self.step > 0):
            raise InputError(f"bucket size must be positive, got {self.step}")

    @property
    def n(self) -> int:
        return int(self.long.shape[1])

    def index_of(self, price: float) -> int:
        """Bucket of ``price`` (unclipped), same rule as :class:`PriceGrid`."""
        return math.floor((price - self.origin) / self.step)

    def with_price(self, price: float, ts: int | None = None) -> LevelMap:
        """The same levels read at another price."""
        return LevelMap(
            price, self.origin, self.step, self.long, self.short, self.leverages,
            self.ts if ts is None else ts,
        )  # fmt: skip

    @classmethod
    def from_heatmap(
        cls, hm: Heatmap, at: int = -1, tiers: Iterable[float] | None = None
    ) -> LevelMap:
        """Column ``at`` of a heatmap: the map known at the column's end. ``tiers``: the
        leverages to keep; None = the preset's display tiers (all when it names none), as
        :meth:`Heatmap.profile` shows them, so every view reads the same map."""
        n_c = hm.columns_ts.shape[0]
        if not -n_c <= at < n_c:
            raise InputError(f"column {at} out of range (0..{n_c - 1})")
        ti = hm.tier_indices(tiers)
        snap = hm.snapshots[at][ti].astype(np.float64)
        return cls(
            price=float(hm.column_close[at]),
            origin=float(hm.grid.origin),
            step=float(hm.grid.step),
            long=snap[:, 0],
            short=snap[:, 1],
            leverages=tuple(hm.leverages[i] for i in ti),
            ts=int(hm.columns_ts[at]) + int(hm.column_ms),
        )

    @classmethod
    def from_profile(
        cls,
        origin: float,
        step: float,
        long: ArrayLike,
        short: ArrayLike,
        price: float,
        leverages: tuple[float, ...] | None = None,
        ts: int = 0,
    ) -> LevelMap:
        """From 1-D (one tier) or 2-D (``[tier, bucket]``) arrays."""
        lo = np.atleast_2d(np.asarray(long, dtype=np.float64))
        sh = np.atleast_2d(np.asarray(short, dtype=np.float64))
        levs = leverages if leverages is not None else tuple(float(i) for i in range(lo.shape[0]))
        return cls(float(price), float(origin), float(step), lo, sh, levs, ts)


@dataclass(frozen=True, slots=True)
class Cluster(Record):
    """A dense band ``[low, high)`` of one side's liquidation levels."""

    side: SideName
    low: float
    high: float
    usd: float
    peak_price: float
    """Middle of the densest bucket."""
    center: float
    """USD-weighted mean price of the band."""
    distance_pct: float
    """From price to the band's near edge, in % of price (0 when price is inside)."""
    distance_sigma: float | None
    """The same distance as |log ratio| / (sigma * sqrt(horizon)); None without sigma."""
    leverage_mix: dict[str, float] = field(default_factory=dict)
    """USD per leverage tier (keys like ``"25x"``)."""


@dataclass(frozen=True, slots=True)
class KeyLevels(Record):
    """Nearest and largest ("max pain") clusters above (shorts) and below (longs) price."""

    nearest_above: Cluster | None
    nearest_below: Cluster | None
    max_pain_above: Cluster | None
    max_pain_below: Cluster | None


def log_return_sigma(close: ArrayLike, window: int = 240) -> float:
    """Standard deviation of the last ``window`` one-step log returns (0 if too few)."""
    c = np.asarray(close, dtype=np.float64)[-(window + 1) :]
    if c.shape[0] < 3:
        return 0.0
    r = np.diff(np.log(c))
    return float(r.std(ddof=1))


def rolling_sigma(close: ArrayLike, window: int = 240) -> F64:
    """Causal rolling :func:`log_return_sigma` per step (NaN until 2 returns exist)."""
    c = np.asarray(close, dtype=np.float64)
    r = np.r_[np.nan, np.diff(np.log(c))]
    out = np.full(c.shape[0], np.nan)
    r0 = np.nan_to_num(r)
    cs = np.cumsum(r0)
    cs2 = np.cumsum(r0 * r0)
    cnt = np.cumsum(np.isfinite(r))
    for_lo = np.arange(c.shape[0]) - window
    lo = np.maximum(for_lo, 0)

    def back(a: F64) -> F64:
        return np.where(for_lo >= 0, a[lo], 0.0)

    k = cnt - back(cnt.astype(np.float64))
    s = cs - back(cs)
    s2 = cs2 - back(cs2)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (s2 - s * s / k) / (k - 1)
    ok = k >= 2
    out[ok] = np.sqrt(np.maximum(var[ok], 0.0))
    return out


def bands(mask: NDArray[np.bool_], merge_gap: int = 0) -> list[tuple[int, int]]:
    """Contiguous ``True`` runs as ``[i0, i1)`` pairs; runs separated by at most
    ``merge_gap`` ``False`` buckets are joined."""
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return []
    d = np.diff(np.r_[0, m.astype(np.int8), 0])
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    out: list[tuple[int, int]] = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if out and s - out[-1][1] <= merge_gap:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _tier_label(lev: float) -> str:
    return f"{lev:g}x"


def side_window(m: LevelMap, side: SideName, window_pct: float) -> tuple[int, int]:
    """Bucket range ``[i0, i1)`` of the natural side of price within ``window_pct``."""
    ip = m.index_of(m.price)
    if side == "long":
        lo_i = m.index_of(m.price * (1 - window_pct / 100.0))
        return max(lo_i, 0), min(max(ip + 1, 0), m.n)
    hi_i = m.index_of(m.price * (1 + window_pct / 100.0)) + 1
    return max(min(ip, m.n), 0), min(max(hi_i, 0), m.n)


def find_clusters(
    m: LevelMap,
    *,
    side: SideName | Literal["both"] = "both",
    threshold_usd: float | None = None,
    factor: float = 2.0,
    window_pct: float = 20.0,
    merge_gap: int = 1,
    min_usd: float = 0.0,
    sigma: float | None = None,
    horizon_steps: float = 60.0,
    reach_pct: float | None = None,
) -> list[Cluster]:
    """Dense bands of ``m``: buckets whose density (USD per bucket) is at least
    ``threshold_usd`` (default ``factor`` × the side's mean bucket density over the
    buckets within ``window_pct`` of price), joined over gaps of ``merge_gap`` buckets;
    bands holding less than ``min_usd`` are dropped. Bands are looked for within
    ``reach_pct`` of price (default ``window_pct``; a wider reach finds farther bands with
    the same threshold). Sorted by distance from price."""
    if window_pct <= 0 or factor <= 0:
        raise InputError("window_pct and factor must be positive")
    reach = window_pct if reach_pct is None else max(reach_pct, window_pct)
    sides: tuple[SideName, ...] = ("long", "short") if side == "both" else (side,)
    scale = None if not sigma or sigma <= 0 else sigma * math.sqrt(max(horizon_steps, 1e-12))
    out: list[Cluster] = []
    for sd in sides:
        tiers = m.long if sd == "long" else m.short
        i0, i1 = side_window(m, sd, reach)
        if i1 <= i0:
            continue
        by_tier = tiers[:, i0:i1]
        dens = by_tier.sum(axis=0)
        if threshold_usd is None:
            b0, b1 = side_window(m, sd, window_pct)
            base = tiers[:, b0:b1].sum(axis=0) if b1 > b0 else dens[:0]
            if not (base > 0).any():
                continue
            thr = factor * float(base.mean())
        else:
            thr = float(threshold_usd)
        runs = bands(dens >= thr if thr > 0 else dens > 0, merge_gap)
        if not runs:
            continue
        # upper bounds of each run's USD (a run to the next run's start): cheap pre-filter
        upper = np.add.reduceat(dens, [a for a, _ in runs])
        for (a, b), bound in zip(runs, upper, strict=True):
            if bound < min_usd:
                continue
            seg = dens[a:b]
            usd = float(seg.sum())
            if usd <= 0 or usd < min_usd:
                continue
            low = m.origin + (i0 + a) * m.step
            high = m.origin + (i0 + b) * m.step
            mids = low + m.step * (np.arange(b - a) + 0.5)
            center = float((mids * seg).sum() / usd)
            peak = float(mids[int(np.argmax(seg))])
            near = high if sd == "long" else low
            if low <= m.price < high:
                dist_pct = 0.0
                dist_log = 0.0
            else:
                dist_pct = abs(near / m.price - 1.0) * 100.0
                dist_log = abs(math.log(max(near, 1e-12) / m.price))
            mix = {
                _tier_label(lev): float(by_tier[t, a:b].sum()) for t, lev in enumerate(m.leverages)
            }
            out.append(
                Cluster(
                    side=sd,
                    low=float(low),
                    high=float(high),
                    usd=usd,
                    peak_price=peak,
                    center=center,
                    distance_pct=float(dist_pct),
                    distance_sigma=None if scale is None else dist_log / scale,
                    leverage_mix=mix,
                )
            )
    out.sort(key=lambda c: c.distance_pct)
    return out


def key_levels(clusters: Iterable[Cluster]) -> KeyLevels:
    """Nearest and largest cluster on each side of price."""
    cl = list(clusters)
    above = [c for c in cl if c.side == "short"]
    below = [c for c in cl if c.side == "long"]

    def nearest(xs: list[Cluster]) -> Cluster | None:
        return min(xs, key=lambda c: c.distance_pct) if xs else None

    def largest(xs: list[Cluster]) -> Cluster | None:
        return max(xs, key=lambda c: c.usd) if xs else None

    return KeyLevels(nearest(above), nearest(below), largest(above), largest(below))


def mass_near(m: LevelMap, band_pct: float, sides: SideName | Literal["both"] = "both") -> float:
    """USD of live levels in the buckets overlapping ``±band_pct`` % around price."""
    lo = m.index_of(m.price * (1 - band_pct / 100.0))
    hi = m.index_of(m.price * (1 + band_pct / 100.0)) + 1
    lo, hi = max(lo, 0), min(hi, m.n)
    if hi <= lo:
        return 0.0
    total = 0.0
    if sides in ("both", "long"):
        total += float(m.long[:, lo:hi].sum())
    if sides in ("both", "short"):
        total += float(m.short[:, lo:hi].sum())
    return total
