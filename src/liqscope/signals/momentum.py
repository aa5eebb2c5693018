"""Momentum read: does a price move come with the liquidations it should cause?

Over the last ``window`` steps, a fall of at least ``move_pct`` % is *unforced* when realized
long liquidations stay below ``low_ratio`` × their baseline (longs are not being flushed; the
levels below are still there), *forced* otherwise; likewise a rise with short liquidations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from liqscope.domain.records import Record

LABELS = (
    "flat",
    "falling_without_long_liquidations",
    "falling_with_long_liquidations",
    "rising_without_short_liquidations",
    "rising_with_short_liquidations",
)


@dataclass(frozen=True, slots=True)
class MomentumRead(Record):
    label: str
    move_pct: float
    liq_usd: float
    """Realized notional of the side the move should liquidate, over the window."""
    baseline_usd: float
    ratio: float

    @property
    def unforced(self) -> bool:
        return self.label.endswith("without_long_liquidations") or self.label.endswith(
            "without_short_liquidations"
        )


def momentum_read(
    realized_long: ArrayLike,
    realized_short: ArrayLike,
    close: ArrayLike,
    *,
    window: int = 60,
    baseline: int = 1440,
    move_pct: float = 1.0,
    low_ratio: float = 0.5,
    floor_usd: float = 1.0,
) -> MomentumRead:
    """Read the end of the arrays. Baseline: the side's mean per step over the ``baseline``
    steps before the window (at least ``floor_usd``), times ``window``."""
    c = np.asarray(close, dtype=np.float64)
    if c.shape[0] < 2:
        return MomentumRead("flat", 0.0, 0.0, 0.0, float("nan"))
    move = (c[-1] / c[max(0, c.shape[0] - window - 1)] - 1.0) * 100.0
    falling = move <= -move_pct
    rising = move >= move_pct
    arr = realized_long if falling or not rising else realized_short
    a = np.nan_to_num(np.asarray(arr, dtype=np.float64))
    recent = float(a[-window:].sum())
    base = a[max(0, a.shape[0] - window - baseline) : max(0, a.shape[0] - window)]
    expect = max(float(base.mean()) if base.size else 0.0, floor_usd) * window
    ratio = recent / expect
    if not (falling or rising):
        label = "flat"
    elif falling:
        label = (
            "falling_without_long_liquidations"
            if ratio < low_ratio
            else "falling_with_long_liquidations"
        )
    else:
        label = (
            "rising_without_short_liquidations"
            if ratio < low_ratio
            else "rising_with_short_liquidations"
        )
    return MomentumRead(label, float(move), recent, expect, ratio)
