"""Predicted liquidations: the level mass the price path consumed, binned per interval."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from liqscope.domain.errors import InputError
from liqscope.model.estimator import EstimateResult

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

__all__ = ["PredictedLiquidations", "bin_by_interval", "combined", "predicted_liquidations"]


@dataclass(frozen=True, slots=True, eq=False)
class PredictedLiquidations:
    """Estimated liquidated notional (USD) per interval, one row per interval that holds
    at least one step; ``ts`` is the interval start (epoch ms UTC, aligned to multiples
    of ``interval_ms``)."""

    ts: I64
    long_usd: F64
    short_usd: F64
    interval_ms: int
    origin: int = 0
    """Intervals start at ``origin + k * interval_ms`` (e.g. a Monday for weeks)."""

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @property
    def total_usd(self) -> F64:
        out: F64 = self.long_usd + self.short_usd
        return out

    def rows(self) -> list[dict[str, Any]]:
        """Plain rows ``{"ts", "long_usd", "short_usd"}`` for exports and the API."""
        return [
            {"ts": int(t), "long_usd": float(a), "short_usd": float(b)}
            for t, a, b in zip(self.ts, self.long_usd, self.short_usd, strict=True)
        ]


def bin_by_interval(ts: I64, values: F64, interval_ms: int, origin: int = 0) -> tuple[I64, F64]:
    """``(interval starts, sums)`` of ``values`` (``[n]`` or ``[n, k]``) over the aligned
    intervals ``(ts - origin) // interval_ms`` that hold at least one timestamp."""
    if interval_ms <= 0:
        raise InputError("the interval must be positive")
    key = (ts - origin) // interval_ms
    uniq, inv = np.unique(key, return_inverse=True)
    vals = values.reshape(values.shape[0], -1)
    sums = np.stack(
        [
            np.bincount(inv, weights=vals[:, j], minlength=uniq.shape[0])
            for j in range(vals.shape[1])
        ],
        axis=1,
    )
    out: F64 = sums.reshape((uniq.shape[0], *values.shape[1:]))
    return (uniq * interval_ms + origin).astype(np.int64), out


def predicted_liquidations(
    result: EstimateResult,
    interval_ms: int,
    tiers: tuple[float, ...] | None = None,
    origin: int = 0,
) -> PredictedLiquidations:
    """Per-interval estimated long/short liquidations of a venue's run (every tier, or the
    given leverage tiers), intervals from ``origin`` (epoch by default; the API passes the
    realized bars' origin so weeks start on the same day); the core of ``liqscope predict``
    and the API."""
    if result.consumed.shape[0] == 0:
        raise InputError("the estimate has no steps")
    ti = result.tier_indices(tiers) if tiers is not None else list(range(len(result.leverages)))
    per_step = result.consumed[:, ti].sum(axis=1)
    starts, sums = bin_by_interval(result.ts, per_step, interval_ms, origin)
    return PredictedLiquidations(
        ts=starts,
        long_usd=np.ascontiguousarray(sums[:, 0]),
        short_usd=np.ascontiguousarray(sums[:, 1]),
        interval_ms=int(interval_ms),
        origin=int(origin),
    )


def combined(parts: list[PredictedLiquidations]) -> PredictedLiquidations:
    """The sum of several venues' predictions (same interval) on the union of intervals."""
    if not parts:
        raise InputError("nothing to combine")
    width, origin = parts[0].interval_ms, parts[0].origin
    if any(p.interval_ms != width or (p.origin - origin) % width for p in parts):
        raise InputError("predictions have different intervals")
    if len(parts) == 1:
        return parts[0]
    ts = np.concatenate([p.ts for p in parts])
    vals = np.concatenate([np.stack([p.long_usd, p.short_usd], axis=1) for p in parts])
    starts, sums = bin_by_interval(ts, vals, width, origin)
    return PredictedLiquidations(starts, np.ascontiguousarray(sums[:, 0]),
                                 np.ascontiguousarray(sums[:, 1]), width, origin)  # fmt: skip
