"""The estimator's carried state: what a run hands to the next one to continue exactly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from liqscope.domain.errors import InputError
from liqscope.model.grid import PriceGrid

F64 = NDArray[np.float64]

__all__ = ["EstimatorState"]


@dataclass(frozen=True, slots=True, eq=False)
class EstimatorState:
    """Everything the kernel carries from one step to the next, after a run's last step:
    pass it as ``estimate(..., initial=state)`` to continue exactly where that run stopped
    (docs/methodology.md, "State and resume"). It also fixes what a continuation must
    share: the grid, the level ratios and the column width."""

    raw: F64
    """``[2, G, 2, B]`` pool levels (recent, older) before their scale factors."""
    scale: F64
    """``[2, G, 2]`` scale factor of each pool, group and side."""
    rsum: F64
    """``[2, G, 2]`` sum of ``raw`` over buckets."""
    top_long: int
    """Upper bound of the non-empty long buckets (-1 = none)."""
    bot_short: int
    """Lower bound of the non-empty short buckets (B = none)."""
    ts: int
    """Time of the last step, epoch ms."""
    oi: float
    """OI (base units, holes filled) at the last step."""
    live: tuple[float, float]
    """Live long / short USD after the last step."""
    volume_mean: float
    """Causal mean volume rate the turnover is relative to (NaN until a rate is measured)."""
    pending_volume: float
    """A one-step fresh run's volume, whose rate needs the next step's time (else NaN)."""
    seeded: bool
    """Whether the run this state descends from seeded its first step from OI."""
    grid: PriceGrid
    ratios: F64
    """``[G, 2]`` level ratios the levels were placed with."""
    column_ms: int

    @property
    def levels(self) -> F64:
        """``[G, 2, B]`` live USD per group, side and bucket (both pools)."""
        out: F64 = (self.raw * self.scale[..., None]).sum(axis=0)
        return out

    def check(self, grid: PriceGrid, ratios: F64, column_ms: int, first_ts: int) -> None:
        """Raise :class:`InputError` unless a run on ``grid``/``ratios``/``column_ms``
        starting at ``first_ts`` can continue from this state."""
        if (grid.n, grid.origin, grid.step) != (self.grid.n, self.grid.origin, self.grid.step):
            raise InputError("the initial state was made on another price grid; use state.grid")
        if ratios.shape != self.ratios.shape or not np.array_equal(ratios, self.ratios):
            raise InputError("the initial state was made with other level ratios or tiers")
        if column_ms != self.column_ms:
            raise InputError(
                f"the initial state has {self.column_ms} ms columns, the run {column_ms} ms"
            )
        if first_ts <= self.ts:
            raise InputError(
                f"steps must start after the initial state's last step ({self.ts}), got {first_ts}"
            )
