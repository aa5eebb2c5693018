"""One way to estimate a market: the steps of one or more venues, one config, one grid.

Every view (API heatmap and map, CLI ``heatmap``/``map``/``check``/``score``, the live
alert evaluator, snapshots) calls :func:`estimate_market`, so they all agree on the same
data: the same price grid (bucket edges), the same per-venue runs, the same aggregate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from liqscope.domain.errors import InputError
from liqscope.model.config import MODEL_VERSION, ModelConfig
from liqscope.model.estimator import (
    EstimateResult,
    Heatmap,
    aggregate,
    covering_ratios,
    estimate,
    level_ratios,
)
from liqscope.model.grid import PriceGrid
from liqscope.model.steps import Steps

F64 = NDArray[np.float64]

__all__ = ["GridPolicy", "MarketEstimate", "estimate_market"]


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

    @property
    def used(self) -> tuple[str, ...]:
        """The venues in the estimate, in input order."""
        return tuple(self.venues)

    @property
    def grid(self) -> PriceGrid:
        return self.heatmap.grid


def estimate_market(
    steps: Sequence[Steps],
    config: ModelConfig,
    grid: GridPolicy | PriceGrid | None = None,
    *,
    ratios: Mapping[str, F64] | None = None,
    skipped: Mapping[str, str] | None = None,
) -> MarketEstimate:
    """Estimate one market from the steps of each of its venues.

    Each ``Steps`` names its venue and symbol (the venue's own liquidation rules are used
    unless ``ratios`` gives them per venue). Venues whose rules cannot price every tier
    are skipped with the reason; ``skipped`` carries reasons found earlier (e.g. no data
    stored). ``grid`` is a :class:`GridPolicy` (default: the config's) or a fixed grid.
    Raises :class:`InputError` when no venue can be estimated.
    """
    left_out: dict[str, str] = dict(skipped or {})
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
    if isinstance(grid, PriceGrid):
        common = grid
    else:
        common = (grid or GridPolicy()).grid_for([s for s, _ in runs], [r for _, r in runs], config)
    results = {(s.venue or "?"): estimate(s, config, ratios=r, grid=common) for s, r in runs}
    first = next(iter(results.values()))
    heatmap: Heatmap = first if len(results) == 1 else aggregate(list(results.values()))
    return MarketEstimate(
        heatmap=heatmap,
        venues=results,
        skipped=left_out,
        config=config,
        model_version=first.model_version,
    )
