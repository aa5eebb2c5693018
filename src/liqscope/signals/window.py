"""The last ``window`` steps of realized liquidations against their own baseline, with the
price move over the same steps: the reading the cascade and momentum detectors judge."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True, slots=True)
class SideWindow:
    """One side's realized notional over the window and what its baseline expects."""

    usd: float
    baseline_usd: float
    """Mean per step over the baseline steps (at least the floor), times the window."""

    @property
    def ratio(self) -> float:
        return self.usd / self.baseline_usd


@dataclass(frozen=True, slots=True)
class RealizedWindow:
    """Both sides and the signed price change over the window, %."""

    move_pct: float
    long: SideWindow
    short: SideWindow
    full: bool
    """Whether ``window + 1`` closes were there (the move spans the whole window)."""


def _side(values: ArrayLike, window: int, baseline: int, floor_usd: float) -> SideWindow:
    a = np.nan_to_num(np.asarray(values, dtype=np.float64))
    end = max(0, a.shape[0] - window)
    base = a[max(0, end - baseline) : end]
    per_step = max(float(base.mean()) if base.size else 0.0, floor_usd)
    return SideWindow(float(a[-window:].sum()), per_step * window)


def realized_window(
    realized_long: ArrayLike,
    realized_short: ArrayLike,
    close: ArrayLike,
    *,
    window: int,
    baseline: int,
    floor_usd: float = 1.0,
) -> RealizedWindow | None:
    """Read the end of the arrays (the latest step is the last value): per side, the sum
    over the last ``window`` steps and the mean per step over the ``baseline`` steps before
    them (at least ``floor_usd``) times ``window``; the move from the close ``window`` steps
    back (or the first) to the last. None with fewer than two closes."""
    c = np.asarray(close, dtype=np.float64)
    if c.shape[0] < 2:
        return None
    move = (c[-1] / c[max(0, c.shape[0] - window - 1)] - 1.0) * 100.0
    return RealizedWindow(
        float(move),
        _side(realized_long, window, baseline, floor_usd),
        _side(realized_short, window, baseline, floor_usd),
        c.shape[0] > window,
    )
