"""Heatmap columns updated incrementally: a market's run is kept at its last closed column
(estimator state, ``model.market``) and extended by the new steps only; the screen's
columns (tiers and sides summed, buckets merged to the screen's rows) are kept per view the
same way (:class:`ScreenColumns`), so a refresh reduces only the columns from the open one on.

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

import itertools
import threading
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np

from liqscope.api.encoding import F64, I64, reduce_buckets
from liqscope.domain.errors import InputError
from liqscope.model import MarketEstimate, estimate_market
from liqscope.model.config import ModelConfig
from liqscope.model.estimator import Heatmap
from liqscope.model.grid import PriceGrid
from liqscope.model.market import concat_estimates, market_plan
from liqscope.model.steps import Steps as ModelSteps

__all__ = ["ColumnRun", "ColumnRuns", "ScreenColumns"]

_PLANS = itertools.count(1)


@dataclass(frozen=True, slots=True, eq=False)
class _Held:
    grid: PriceGrid
    ratios: dict[str, F64]
    config: ModelConfig
    closed: MarketEstimate | None  # the run over the steps before ``cut``
    cut: int  # start of the column that was open
    inputs: dict[str, ModelSteps | None]  # the steps before ``cut`` the closed run used
    made: float  # monotonic time of the plan
    plan: int  # the plan's number: columns before ``cut`` are the same while it is


@dataclass(frozen=True, slots=True, eq=False)
class ColumnRun:
    """A market estimate with its plan's number and the start of its open column: while
    ``plan`` is the same, every column before ``cut`` stays as it is in later runs."""

    estimate: MarketEstimate
    plan: int
    cut: int


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

    def run(
        self,
        view: Hashable,
        steps: Mapping[str, ModelSteps],
        config: ModelConfig,
        skipped: Mapping[str, str],
    ) -> ColumnRun:
        """The market estimate of ``steps`` (per venue), from the kept state when usable,
        with its plan's number and open column's start. Raises :class:`InputError` when no
        venue can be estimated."""
        with self._lock:
            held = self._held.get(view)
        if held is not None and not self._usable(held, steps):
            held = None
        if held is None:
            grid, ratios, cfg = market_plan(list(steps.values()), config)
            held = _Held(grid, ratios, cfg, None, -(2**62), {}, time.monotonic(), next(_PLANS))
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
            held.plan,
        )
        with self._lock:
            self._held.pop(view, None)
            self._held[view] = kept
            while len(self._held) > self.max_items:
                self._held.pop(next(iter(self._held)))
        return ColumnRun(whole, held.plan, cut)

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


@dataclass(frozen=True, slots=True, eq=False)
class _Screen:
    plan: int
    ts: I64  # starts of the kept (closed) columns
    z: F64  # [column, row] USD of the selected tiers and sides
    z_long: F64 | None  # the same of the long side alone (split views)


def _screen_rows(
    hm: Heatmap, j0: int, tiers: Sequence[int], sides: Sequence[int], height: int
) -> F64:
    """``[column, row]`` from column ``j0`` on: the tiers and sides summed (in this order,
    element-wise), the buckets merged to at most ``height`` rows."""
    mat = np.zeros((hm.snapshots.shape[0] - j0, hm.snapshots.shape[3]), np.float64)
    for k in tiers:
        for s in sides:
            mat += hm.snapshots[j0:, k, s, :]
    return reduce_buckets(hm.grid.edges, mat, height)[1]


class ScreenColumns:
    """Per heatmap view (model view, tiers, sides, rows), the screen columns before the
    run's open column, reused while the run's plan is the same. ``reduced`` counts the
    columns reduced; ``enabled = False`` reduces every column every time (the benchmark's
    before)."""

    def __init__(self, max_items: int = 8) -> None:
        self.max_items = max_items
        self.enabled = True
        self.reduced = 0
        self._kept: dict[Hashable, _Screen] = {}
        self._lock = threading.Lock()

    def rows(
        self, view: Hashable, run: ColumnRun, tiers: Sequence[int], sides: Sequence[int],
        height: int, split: bool,
    ) -> tuple[I64, F64, F64 | None]:  # fmt: skip
        """Column starts and ``[column, row]`` USD of every column of ``run`` (and of the long
        side alone when ``split``); ``tiers`` and ``sides`` are indices of the heatmap's."""
        hm = run.estimate.heatmap
        with self._lock:
            kept = self._kept.get(view) if self.enabled else None
        n = int(kept.ts.size) if kept is not None else 0
        if (
            kept is None
            or kept.plan != run.plan
            or (split and kept.z_long is None)
            or not np.array_equal(hm.columns_ts[:n], kept.ts)
        ):
            kept, n = None, 0
        z = _screen_rows(hm, n, tiers, sides, height)
        z_long = _screen_rows(hm, n, tiers, [0], height) if split else None
        self.reduced += z.shape[0]
        if kept is not None:
            z = np.concatenate([kept.z, z])
            if z_long is not None and kept.z_long is not None:
                z_long = np.concatenate([kept.z_long, z_long])
        closed = int(np.searchsorted(hm.columns_ts, run.cut))
        held = _Screen(
            run.plan,
            hm.columns_ts[:closed].copy(),
            z[:closed],
            None if z_long is None else z_long[:closed],
        )
        with self._lock:
            self._kept.pop(view, None)
            self._kept[view] = held
            while len(self._kept) > self.max_items:
                self._kept.pop(next(iter(self._kept)))
        return hm.columns_ts, z, z_long
