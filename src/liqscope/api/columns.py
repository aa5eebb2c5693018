"""Heatmap columns updated incrementally: a market's run is kept at its last closed column
(estimator state, ``model.market``) and extended by the new steps only.

Per view (venues, market, step, preset, column width) the plan of the first run —
grid, liquidation ratios and column width (:func:`liqscope.model.market.market_plan`) — is
kept with the estimate up to the start of the then open column. A later run with more steps
continues from that state: the columns closed since are estimated once and kept; the open
(last) column is recomputed from the state at its start. Joined
(:func:`~liqscope.model.market.concat_estimates`) this equals one run over all the steps on
the same plan. The plan is made again (a full run) when the steps before the kept cut
changed (late rows for old steps, a back-fill, or the run's start moved), the venues
changed, or it is older than ``replan_s`` (new prices then get their grid and ratios).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np

from liqscope.api.encoding import F64
from liqscope.domain.errors import InputError
from liqscope.model import MarketEstimate, estimate_market
from liqscope.model.config import ModelConfig
from liqscope.model.grid import PriceGrid
from liqscope.model.market import concat_estimates, market_plan
from liqscope.model.steps import Steps as ModelSteps

__all__ = ["ColumnRuns"]


@dataclass(frozen=True, slots=True, eq=False)
class _Held:
    grid: PriceGrid
    ratios: dict[str, F64]
    config: ModelConfig
    closed: MarketEstimate | None  # the run over the steps before ``cut``
    cut: int  # start of the column that was open
    inputs: dict[str, ModelSteps | None]  # the steps before ``cut`` the closed run used
    made: float  # monotonic time of the plan


def _span(s: ModelSteps, t0: int, t1: int) -> ModelSteps | None:
    """The steps in ``[t0, t1)``; None when there are none (a venue that starts later)."""
    i, j = (int(x) for x in np.searchsorted(s.ts, (t0, t1)))
    return s.slice(i, j) if j > i else None


def _same(a: ModelSteps | None, b: ModelSteps | None) -> bool:
    if a is None or b is None:
        return a is b
    for f in fields(ModelSteps):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray) and isinstance(y, np.ndarray):
            if not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
                return False
        elif x != y:
            return False
    return True


class ColumnRuns:
    """The kept runs (at most ``max_items`` views); ``full_runs`` / ``extended`` /
    ``plain_runs`` count."""

    def __init__(self, max_items: int = 8, replan_s: float = 600.0) -> None:
        self.max_items = max_items
        self.replan_s = replan_s
        self._held: dict[Hashable, _Held] = {}
        self._lock = threading.Lock()
        self.full_runs = 0
        self.extended = 0

    def estimate(
        self,
        view: Hashable,
        steps: Mapping[str, ModelSteps],
        config: ModelConfig,
        skipped: Mapping[str, str],
    ) -> MarketEstimate:
        """The market estimate of ``steps`` (per venue), from the kept state when usable.
        Raises :class:`InputError` when no venue can be estimated."""
        with self._lock:
            held = self._held.get(view)
        if held is not None and not self._usable(held, steps):
            held = None
        if held is None:
            grid, ratios, cfg = market_plan(list(steps.values()), config)
            held = _Held(grid, ratios, cfg, None, -(2**62), {}, time.monotonic())
            self.full_runs += 1
        else:
            self.extended += 1
        col = held.config.column_ms or 1
        last = max(int(s.ts[-1]) for s in steps.values())
        cut = last // col * col  # the open column starts here
        closed = self._run(held, held.closed, steps, held.cut, cut, skipped)
        whole = self._run(held, closed, steps, cut, 2**62, skipped)
        if whole is None:
            raise InputError("nothing to estimate")
        kept = _Held(
            held.grid,
            held.ratios,
            held.config,
            closed,
            cut,
            {v: _span(s, -(2**62), cut) for v, s in steps.items()},
            held.made,
        )
        with self._lock:
            self._held.pop(view, None)
            self._held[view] = kept
            while len(self._held) > self.max_items:
                self._held.pop(next(iter(self._held)))
        return whole

    def _usable(self, held: _Held, steps: Mapping[str, ModelSteps]) -> bool:
        if time.monotonic() - held.made > self.replan_s or set(steps) != set(held.inputs):
            return False
        if max(int(s.ts[-1]) for s in steps.values()) < held.cut:
            return False  # nothing from the kept cut on: the steps ended earlier than before
        return all(_same(_span(s, -(2**62), held.cut), held.inputs[v]) for v, s in steps.items())

    @staticmethod
    def _run(
        held: _Held,
        before: MarketEstimate | None,
        steps: Mapping[str, ModelSteps],
        t0: int,
        t1: int,
        skipped: Mapping[str, str],
    ) -> MarketEstimate | None:
        """``before`` continued by the steps in ``[t0, t1)`` (joined), or ``before``."""
        part: Sequence[ModelSteps] = [
            p for p in (_span(s, t0, t1) for s in steps.values()) if p is not None
        ]
        if not part:
            return before
        more = estimate_market(
            part,
            held.config,
            held.grid,
            ratios=held.ratios,
            skipped=skipped,
            initial=None if before is None else before.state,
        )
        return more if before is None else concat_estimates([before, more])
