"""Realized-liquidation cascades in progress: a burst of realized liquidation notional of one
side against its own baseline, together with a price move in that side's direction
(longs liquidated and price falling, or shorts liquidated and price rising)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from liqscope.domain.records import Record

F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class CascadeRead(Record):
    """State of one side over the last ``window`` steps."""

    side: str
    usd: float
    """Realized notional of the side over the window."""
    baseline_usd: float
    """Expected notional over a window: mean per step over the baseline period × window."""
    ratio: float
    move_pct: float
    """Price change over the window, % (signed)."""
    active: bool


def cascade_read(
    realized_long: ArrayLike,
    realized_short: ArrayLike,
    close: ArrayLike,
    *,
    window: int = 5,
    baseline: int = 240,
    ratio: float = 5.0,
    min_usd: float = 0.0,
    move_pct: float = 0.5,
    floor_usd: float = 1.0,
) -> list[CascadeRead]:
    """Read the end of the arrays (the latest step is the last value).

    A side is *active* when its realized notional over the last ``window`` steps is at least
    ``ratio`` × its baseline (mean per step over the ``baseline`` steps before the window,
    times ``window``; at least ``floor_usd`` per step) and at least ``min_usd``, and price
    moved at least ``move_pct`` % in that side's direction over the window."""
    c = np.asarray(close, dtype=np.float64)
    out: list[CascadeRead] = []
    if c.shape[0] < 2:
        return out
    ref = c[max(0, c.shape[0] - window - 1)]
    move = (c[-1] / ref - 1.0) * 100.0
    for name, arr, sign in (("long", realized_long, -1.0), ("short", realized_short, 1.0)):
        a = np.nan_to_num(np.asarray(arr, dtype=np.float64))
        recent = float(a[-window:].sum())
        base = a[max(0, a.shape[0] - window - baseline) : max(0, a.shape[0] - window)]
        per_step = max(float(base.mean()) if base.size else 0.0, floor_usd)
        expect = per_step * window
        r = recent / expect
        active = r >= ratio and recent >= min_usd and sign * move >= move_pct
        out.append(CascadeRead(name, recent, expect, r, float(move), bool(active)))
    return out


@dataclass
class CascadeTracker:
    """Streaming :func:`cascade_read` (bounded history)."""

    window: int = 5
    baseline: int = 240

    def __post_init__(self) -> None:
        n = self.window + self.baseline + 1
        self._l: deque[float] = deque(maxlen=n)
        self._s: deque[float] = deque(maxlen=n)
        self._c: deque[float] = deque(maxlen=n)

    def push(self, liq_long: float, liq_short: float, close: float) -> None:
        self._l.append(liq_long if liq_long == liq_long else 0.0)
        self._s.append(liq_short if liq_short == liq_short else 0.0)
        self._c.append(close)

    def read(self, **params: Any) -> list[CascadeRead]:
        return cascade_read(
            np.fromiter(self._l, np.float64),
            np.fromiter(self._s, np.float64),
            np.fromiter(self._c, np.float64),
            window=self.window,
            baseline=self.baseline,
            **params,
        )
