"""``/api/map``: one column of the model as a liquidation map.

Renders core objects only: the model's :class:`~liqscope.model.estimator.Profile` (levels
per tier, cumulative curves) and the clusters and max pain of
:mod:`liqscope.signals.clusters`, found on the model's own grid (the grid of ``liqscope
check`` and the alerts), before the bars are merged to ``buckets`` for the screen.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from liqscope.api.context import Context, column_width, tier_label
from liqscope.api.encoding import Body, dumps
from liqscope.api.params import MapParams, WindowSel
from liqscope.domain.errors import InputError
from liqscope.export.map import map_table
from liqscope.model import MarketEstimate
from liqscope.signals.clusters import Cluster, LevelMap, find_clusters, key_levels

__all__ = ["MAP_COLUMNS", "cluster_json", "map_body", "map_estimate"]

MAP_COLUMNS = 256  # model columns over the map's history (only the last one is drawn)
CLUSTERS_PER_SIDE = 5


def cluster_json(c: Cluster | None, price: float) -> dict[str, Any] | None:
    """A cluster as the map sends it; ``distance_pct`` is signed (+ above price)."""
    if c is None:
        return None
    sign = 1.0 if c.side == "short" else -1.0
    return {
        "price": c.peak_price,
        "price_lo": c.low,
        "price_hi": c.high,
        "usd": round(c.usd, 0),
        "distance_pct": round(sign * c.distance_pct, 4),
        "center": c.center,
        "side": c.side,
        "leverage_mix": {k: round(v, 0) for k, v in c.leverage_mix.items()},
    }


def map_estimate(
    ctx: Context, market: str, venues: list[str], start: int, end: int, step: int, preset: str
) -> MarketEstimate | None:
    """The model run a map reads: ``[start, end)`` in whole steps, no warm-up (the window
    is the history the map is built from, ending at ``end`` floored to a step, as in
    ``liqscope map --range`` and ``liqscope check --days``)."""
    t1 = end // step * step
    t0 = t1 - (end - start) // step * step
    col_ms = column_width(t0, t1, MAP_COLUMNS, step)
    run = ctx.model_run(venues, market, t0, t1, step, preset, col_ms)
    return None if run is None else run.estimate


def map_body(ctx: Context, p: MapParams) -> Body:
    market, refs = ctx.resolve_market(p.market.symbol)
    venues, aggregate = ctx.resolve_venues(p.market.venues, market, refs)
    window = ctx.resolve_window(
        WindowSel(range_=p.range_, end=p.at), venues, market, default_range="7d"
    )
    preset = ctx.resolve_preset(p.model.preset)
    levs = ctx.resolve_tiers(p.model.tiers, preset)
    step = ctx.resolve_step(p.model.interval or "1m", window)  # 1m: as the CLI reads
    version = ctx.source.version(venues, market)
    view = ("map", market, tuple(venues), (p.range_, p.at), step, preset, tuple(levs), p.buckets,
            p.window_pct, p.at is not None)  # fmt: skip
    body: dict[str, Any] = {
        "symbol": market,
        "venues": venues,
        "aggregate": aggregate,
        "preset": preset,
        "tiers": [tier_label(x) for x in levs],
        "ts": None,
        "price": None,
        "bucket_edges": [],
        "long": {},
        "short": {},
        "long_total": [],
        "short_total": [],
        "cum_long": [],
        "cum_short": [],
        "clusters": {"above": [], "below": []},
        "max_pain": {"above": None, "below": None},
        "units": "usd",
        "model_version": None,
        "data_version": list(version),
        "provenance": {},
        "note": None,
    }

    def compute() -> bytes:
        est = map_estimate(ctx, market, venues, window.start, window.end, step, preset)
        skipped = [] if est is None else [v for v in venues if v in est.skipped]
        body["provenance"] = ctx.provenance(venues, market, skipped)
        if est is None:
            body["note"] = "no stored data for this market"
            return dumps(body)
        _fill(body, est, levs, p, window.end - step if p.at is not None else None)
        return dumps(body)

    return ctx.latest.get(view, (version, window), lambda: Body.of(compute()))


def _fill(
    body: dict[str, Any], est: MarketEstimate, levs: list[float], p: MapParams, at: int | None
) -> None:
    hm = est.heatmap
    body["model_version"] = est.model_version
    ts = hm.columns_ts
    j = ts.size - 1 if at is None else int(np.searchsorted(ts, at, "right") - 1)
    j = max(0, min(j, ts.size - 1))
    if not math.isfinite(float(hm.column_close[j])):
        body["note"] = "no live levels (no price at the map's time)"
        return
    try:
        table = map_table(hm, at=j, tiers=levs, window_pct=p.window_pct, max_buckets=p.buckets)
    except InputError as exc:
        body.update(price=float(hm.column_close[j]), note=str(exc))
        return
    # clusters as ``liqscope map`` / ``check`` find them: on the model's own grid
    lm = LevelMap.from_heatmap(hm, j, levs)
    found = find_clusters(lm)
    keys = key_levels(found)
    price = table.price
    above = [c for c in found if c.side == "short"][:CLUSTERS_PER_SIDE]
    below = [c for c in found if c.side == "long"][:CLUSTERS_PER_SIDE]
    body.update({k: v for k, v in table.to_dict().items() if k in body})
    long_total, short_total = table.totals()
    body.update(
        long={t: np.round(v, 0) for t, v in body["long"].items()},
        short={t: np.round(v, 0) for t, v in body["short"].items()},
        long_total=np.round(long_total, 0),
        short_total=np.round(short_total, 0),
        cum_long=np.round(table.cum_long, 0),
        cum_short=np.round(table.cum_short, 0),
        clusters={
            "above": [cluster_json(c, price) for c in above],
            "below": [cluster_json(c, price) for c in below],
        },
        max_pain={
            "above": cluster_json(keys.max_pain_above, price),
            "below": cluster_json(keys.max_pain_below, price),
        },
    )
