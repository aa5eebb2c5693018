"""One way to estimate a market: the steps of one or more venues, one config, one grid.

Every view (API heatmap and map, CLI ``heatmap``/``map``/``check``/``score``, the live
alert evaluator, snapshots) calls :func:`estimate_market`, so they all agree on the same
data: the same price grid (bucket edges), the same per-venue runs, the same aggregate.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from liqscope.domain.errors import InputError
from liqscope.model.config import MODEL_VERSION, ModelConfig
from liqscope.model.estimator import (
    EstimateResult,
    Heatmap,
    aggregate,
    column_width_ms,
    covering_ratios,
    estimate,
    level_ratios,
)
from liqscope.model.grid import PriceGrid
from liqscope.model.state import EstimatorState
from liqscope.model.steps import Steps

F64 = NDArray[np.float64]

__all__ = [
    "GridPolicy",
    "MarketEstimate",
    "concat_estimates",
    "concat_results",
    "estimate_market",
    "market_plan",
]


@dataclass(frozen=True, slots=True)
class GridPolicy:
    """How the common price grid of a market is chosen.

    ``bucket_usd`` fixes the bucket size; otherwise the grid has ``n_buckets`` buckets of a
    readable size (1/2/2.5/5 x 10^k) covering every level of every venue, origin aligned to
    the bucket size. ``None`` fields fall back to the model config's ``n_buckets`` /
    ``bucket_usd``, so one config gives one grid everywhere.
    """

    n_buckets: int | None = None
    bucket_usd: float | None = None

    def resolve(self, config: ModelConfig) -> tuple[int, float | None]:
        """``(n_buckets, bucket_usd)`` in force for ``config``."""
        bucket = self.bucket_usd if self.bucket_usd is not None else config.bucket_usd
        n = self.n_buckets if self.n_buckets is not None else config.n_buckets
        if n < 2:
            raise InputError(f"a grid needs at least 2 buckets, got {n}")
        return n, bucket

    def grid_for(
        self, steps: Sequence[Steps], ratios: Sequence[F64], config: ModelConfig
    ) -> PriceGrid:
        """The grid covering every liquidation level of ``steps`` with ``ratios`` (of the
        config's ``grid_leverages`` tiers)."""
        n, bucket = self.resolve(config)
        lo = min(float(np.nanmin(s.low)) for s in steps)
        hi = max(float(np.nanmax(s.high)) for s in steps)
        rows = np.vstack([covering_ratios(config, np.asarray(r)) for r in ratios])
        return PriceGrid.covering(lo, hi, rows, n=n, step=bucket)


@dataclass(frozen=True, slots=True, eq=False)
class MarketEstimate:
    """The result every view renders: the market's heatmap (the sum of its venues on one
    grid, or the single venue's run), each venue's own run, and what was left out."""

    heatmap: Heatmap
    venues: Mapping[str, EstimateResult]
    """Each estimated venue's run, on the common grid, keyed by venue."""
    skipped: Mapping[str, str] = field(default_factory=dict)
    """Venues that could not be estimated, with the reason."""
    config: ModelConfig = field(default_factory=ModelConfig)
    model_version: str = MODEL_VERSION
    state: Mapping[str, EstimatorState] = field(default_factory=dict)
    """Each venue's estimator state after its last step (pass as ``initial=`` to continue);
    a venue absent from this run keeps the state it was given."""

    @property
    def used(self) -> tuple[str, ...]:
        """The venues in the estimate, in input order."""
        return tuple(self.venues)

    @property
    def grid(self) -> PriceGrid:
        return self.heatmap.grid


def _priced(
    steps: Sequence[Steps],
    config: ModelConfig,
    ratios: Mapping[str, F64] | None,
    left_out: dict[str, str],
) -> list[tuple[Steps, F64]]:
    """Each venue's steps with its level ratios (given, else from the venue's rules at the
    median close); venues that cannot be priced go to ``left_out``."""
    runs: list[tuple[Steps, F64]] = []
    for s in steps:
        venue = s.venue or "?"
        if venue in (r.venue for r, _ in runs):
            raise InputError(f"venue {venue} given twice for one market")
        if ratios is not None and venue in ratios:
            runs.append((s, np.asarray(ratios[venue], dtype=np.float64)))
            continue
        if not s.venue or not s.symbol:
            raise InputError("venue and symbol are needed to compute liquidation prices")
        try:
            runs.append((s, level_ratios(config, s.venue, s.symbol, float(np.median(s.close)))))
        except InputError as exc:
            left_out[venue] = str(exc)
    if not runs:
        why = "; ".join(f"{v}: {r}" for v, r in left_out.items()) or "no steps given"
        raise InputError(f"nothing to estimate ({why})")
    return runs


def _with_columns(config: ModelConfig, steps: Sequence[Steps]) -> ModelConfig:
    """``config`` with its column width fixed (the one readable width for the whole range)."""
    if config.column_ms is not None:
        return config
    t0 = min(int(s.ts[0]) for s in steps)
    t1 = max(int(s.ts[-1]) for s in steps)
    return replace(config, column_ms=column_width_ms(t0, t1, config.max_columns))


def market_plan(
    steps: Sequence[Steps],
    config: ModelConfig,
    grid: GridPolicy | None = None,
    *,
    ratios: Mapping[str, F64] | None = None,
) -> tuple[PriceGrid, dict[str, F64], ModelConfig]:
    """What must stay fixed to estimate ``steps``' range in pieces: ``(grid, ratios per
    venue, config with column_ms set)``, exactly as one :func:`estimate_market` call over
    the whole range would choose them. Pass all three to each piece's call."""
    runs = _priced(steps, config, ratios, {})
    rows = [r for _, r in runs]
    common = (grid or GridPolicy()).grid_for([s for s, _ in runs], rows, config)
    return common, {(s.venue or "?"): r for s, r in runs}, _with_columns(config, steps)


def estimate_market(
    steps: Sequence[Steps],
    config: ModelConfig,
    grid: GridPolicy | PriceGrid | None = None,
    *,
    ratios: Mapping[str, F64] | None = None,
    skipped: Mapping[str, str] | None = None,
    initial: Mapping[str, EstimatorState] | None = None,
) -> MarketEstimate:
    """Estimate one market from the steps of each of its venues.

    Each ``Steps`` names its venue and symbol (the venue's own liquidation rules are used
    unless ``ratios`` gives them per venue). Venues whose rules cannot price every tier
    are skipped with the reason; ``skipped`` carries reasons found earlier (e.g. no data
    stored). ``grid`` is a :class:`GridPolicy` (default: the config's) or a fixed grid.
    ``initial`` continues each venue from an earlier run's ``state`` (its grid, ratios and
    column width are then kept; see :func:`market_plan` and :func:`concat_estimates`).
    Raises :class:`InputError` when no venue can be estimated.
    """
    left_out: dict[str, str] = dict(skipped or {})
    start = dict(initial or {})
    given = {v: st.ratios for v, st in start.items()}
    runs = _priced(steps, config, {**given, **(ratios or {})}, left_out)
    if start:  # a continuation keeps the grid and the column width of its states
        if not isinstance(grid, PriceGrid):
            grid = next(iter(start.values())).grid
        if config.column_ms is None:
            config = replace(config, column_ms=_state_column_ms(start))
    if isinstance(grid, PriceGrid):
        common = grid
    else:
        common = (grid or GridPolicy()).grid_for([s for s, _ in runs], [r for _, r in runs], config)
    cfg = _with_columns(config, [s for s, _ in runs])
    results = {
        (s.venue or "?"): estimate(s, cfg, ratios=r, grid=common, initial=start.get(s.venue or "?"))
        for s, r in runs
    }
    first = next(iter(results.values()))
    heatmap: Heatmap = first if len(results) == 1 else aggregate(list(results.values()))
    state = {**start, **{v: r.state for v, r in results.items() if r.state is not None}}
    return MarketEstimate(
        heatmap=heatmap,
        venues=results,
        skipped={v: why for v, why in left_out.items() if v not in results},
        config=cfg,
        model_version=first.model_version,
        state=state,
    )


def _state_column_ms(states: Mapping[str, EstimatorState]) -> int:
    """The one column width of ``states`` (they must agree)."""
    widths = {st.column_ms for st in states.values()}
    if len(widths) != 1:
        raise InputError("the initial states have different column widths")
    return widths.pop()


def concat_results(parts: Sequence[EstimateResult]) -> EstimateResult:
    """One venue's consecutive runs (each continuing the previous one's state) as one run:
    columns in order (a column two parts share is the later part's, columns between two
    parts hold the earlier part's last state), per-step arrays joined."""
    if not parts:
        raise InputError("nothing to concatenate")
    first, last = parts[0], parts[-1]
    w = first.column_ms
    for q, p in itertools.pairwise(parts):
        if p.column_ms != w or p.grid != first.grid or not np.array_equal(p.ratios, first.ratios):
            raise InputError("the parts were estimated on different columns, grids or ratios")
        if p.ts[0] <= q.ts[-1]:
            raise InputError("the parts overlap in time; each must start after the previous")
    c0 = int(first.columns_ts[0]) // w
    n_c = int(last.columns_ts[-1]) // w - c0 + 1
    snaps = np.zeros((n_c, *first.snapshots.shape[1:]), dtype=np.float32)
    close = np.zeros(n_c)
    done = 0
    for p in parts:
        a = int(p.columns_ts[0]) // w - c0
        if a > done:  # columns without steps keep the state of the previous step
            snaps[done:a] = snaps[done - 1]
            close[done:a] = close[done - 1]
        k = p.columns_ts.shape[0]
        snaps[a : a + k] = p.snapshots
        close[a : a + k] = p.column_close
        done = a + k

    def cat(name: str) -> F64:
        out: F64 = np.concatenate([getattr(p, name) for p in parts])
        return out

    meta = {**first.meta}
    holes = sum(int(p.meta.get("oi_holes", 0)) for p in parts)
    meta.pop("oi_holes", None)
    if holes:
        meta["oi_holes"] = holes
    return replace(
        last,
        columns_ts=(c0 + np.arange(n_c, dtype=np.int64)) * w,
        snapshots=snaps,
        column_close=close,
        meta=meta,
        ts=np.concatenate([p.ts for p in parts]),
        consumed=cat("consumed"),
        live=cat("live"),
        opened=cat("opened"),
        closed=cat("closed"),
        decayed=cat("decayed"),
        calibrated=cat("calibrated"),
        oi_usd=cat("oi_usd"),
        oi_filled=np.concatenate([p.oi_filled for p in parts]),
        turnover=cat("turnover"),
        work={k: sum(p.work.get(k, 0) for p in parts) for k in first.work},
    )


def concat_estimates(parts: Sequence[MarketEstimate]) -> MarketEstimate:
    """Consecutive :func:`estimate_market` runs of one market (each given the previous
    one's ``state``) as one estimate, equal to a single run over the whole range."""
    if not parts:
        raise InputError("nothing to concatenate")
    order: dict[str, list[EstimateResult]] = {}
    for p in parts:
        for v, r in p.venues.items():
            order.setdefault(v, []).append(r)
    venues = {v: concat_results(rs) for v, rs in order.items()}
    heatmap: Heatmap = (
        next(iter(venues.values())) if len(venues) == 1 else aggregate(list(venues.values()))
    )
    skipped: dict[str, str] = {}
    for p in parts:
        skipped.update(p.skipped)
    last = parts[-1]
    return MarketEstimate(
        heatmap=heatmap,
        venues=venues,
        skipped={v: why for v, why in skipped.items() if v not in venues},
        config=last.config,
        model_version=last.model_version,
        state=last.state,
    )
