"""``/api/predict``: the model's predicted liquidations per interval beside the realized ones.

Renders core objects only: the market estimate of the heatmap view's model run
(:meth:`Context.model_run` over :func:`~liqscope.api.views.heatmap.model_window`, so both
views read the same run), binned by :func:`liqscope.model.predict.predicted_liquidations`
(what ``liqscope predict`` writes), and the store's realized bars on the same intervals
(:func:`liqscope.store.queries.realized`, what ``/api/liquidations/bars`` draws).
"""

# no ``from __future__ import annotations``: FastAPI reads these annotations at run time

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import Field

from liqscope.api import schemas
from liqscope.api.context import (
    Context,
    column_width,
    fit_interval,
    parse_interval,
    tier_label,
    view_head,
)
from liqscope.api.encoding import dumps, json_response
from liqscope.api.params import PRESET_PATTERN, TIERS_PATTERN, IntervalName, MarketSel, WindowSel
from liqscope.api.views.heatmap import model_window
from liqscope.api.views.realized import MAX_BARS, _columns
from liqscope.model.predict import combined, predicted_liquidations
from liqscope.store.base import LiquidationQuery
from liqscope.store.queries import bucket_floor, realized

__all__ = ["PredictParams", "predict_body", "predict_view", "router"]

router = APIRouter(tags=["model"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.ErrorResponse} for code in (404, 422, 429)
}
HEATMAP_WIDTH = 1200
"""Columns of the heatmap view's default run, so this view reuses that run."""


class PredictParams(MarketSel, WindowSel):
    interval: Annotated[IntervalName, Field(description="row width (as the realized bars)")] = "1h"
    preset: Annotated[
        str | None, Field(pattern=PRESET_PATTERN, description="model preset (default: all)")
    ] = None
    tiers: Annotated[
        str | None,
        Field(
            pattern=TIERS_PATTERN,
            max_length=200,
            description="'all' (every modelled tier) or a comma list: 10x,25x",
        ),
    ] = None
    min_usd: Annotated[
        float,
        Field(ge=0, le=1e15, allow_inf_nan=False, description="realized: ignore smaller ones"),
    ] = 0.0


def predict_body(ctx: Context, p: PredictParams) -> bytes:
    """The encoded body, computed once per view and data version."""
    market, refs = ctx.resolve_market(p.market.symbol)
    venues, _ = ctx.resolve_venues(p.market.venues, market, refs)
    window = ctx.resolve_window(p.window, venues, market)
    key = ("predict", market, tuple(venues), (p.range_, p.start, p.end), p.interval, p.preset,
           p.tiers, p.min_usd)  # fmt: skip
    version = (ctx.source.version(venues, market), window)
    raw: bytes = ctx.responses.get_versioned(key, version, lambda: dumps(predict_view(ctx, p)))
    return raw


def predict_view(ctx: Context, p: PredictParams) -> dict[str, Any]:
    """Per interval of the window: predicted long/short USD (sum of the venues' runs, and
    each venue's) and the realized USD stored for the same venues."""
    market, refs = ctx.resolve_market(p.market.symbol)
    venues, aggregate = ctx.resolve_venues(p.market.venues, market, refs)
    window = ctx.resolve_window(p.window, venues, market)
    preset = ctx.resolve_preset(p.preset)
    levs = (
        None if (p.tiers or "all").strip().lower() == "all" else ctx.resolve_tiers(p.tiers, preset)
    )
    step = ctx.resolve_step(None, window)
    row, coarser = fit_interval(window.span, parse_interval(p.interval), MAX_BARS - 2)
    notes = [coarser] if coarser else []
    if row % step:
        row = -(-row // step) * step
        notes.append(f"rows widened to {row // 60_000} min: the model step is {step // 60_000} min")
    t0 = bucket_floor(window.start, row)
    t1 = bucket_floor(window.end - 1, row) + row
    body: dict[str, Any] = {
        **view_head(market, venues, aggregate, t0, t1),
        "interval_ms": row,
        "model_step_ms": step,
        "preset": preset,
        "tiers": "all" if levs is None else [tier_label(x) for x in levs],
        "units": "usd",
        "ts": [], "long": [], "short": [], "by_venue": {},
        "realized_long": [], "realized_short": [],
        "model_version": None, "note": None,
    }  # fmt: skip
    m0, m1 = model_window(ctx, venues, market, window, step)
    body["model_window"] = [m0, m1]
    run = ctx.model_run(venues, market, m0, m1, step, preset,
                        column_width(window.start, window.end, HEATMAP_WIDTH, step))  # fmt: skip
    if run is None:
        body["note"] = "; ".join([*notes, "no stored candles and open interest in the window"])
        return body
    est = run.estimate
    tiers = None if levs is None else tuple(levs)
    origin = bucket_floor(0, row)  # the realized bars' bucket origin (weeks on Monday)
    per = {v: predicted_liquidations(r, row, tiers, origin) for v, r in est.venues.items()}
    pred = combined(list(per.values()))
    keep = (pred.ts >= t0) & (pred.ts < t1)
    ts = pred.ts[keep]
    rows = ctx.source.liquidations(LiquidationQuery(list(est.used), market, t0, t1, p.min_usd))
    bars = realized(*_columns(rows), t0, t1, row)
    at = (ts - t0) // row
    by_venue = {}
    for v, pv in per.items():
        idx = np.searchsorted(pv.ts, ts)
        hit = (idx < pv.ts.size) & (pv.ts[np.minimum(idx, pv.ts.size - 1)] == ts)
        pick = np.minimum(idx, pv.ts.size - 1)
        by_venue[v] = {
            "long": np.round(np.where(hit, pv.long_usd[pick], 0.0), 2),
            "short": np.round(np.where(hit, pv.short_usd[pick], 0.0), 2),
        }
    skipped = [v for v in venues if v in est.skipped]
    if skipped:
        notes.append(
            f"no model data for {', '.join(skipped)}: predicted from {', '.join(est.used)}"
        )
    if ts.size == 0:
        notes.append("no model steps in the window")
    body.update(
        ts=ts,
        long=np.round(pred.long_usd[keep], 2),
        short=np.round(pred.short_usd[keep], 2),
        by_venue=by_venue,
        realized_long=np.round(bars.long_usd[at], 2),
        realized_short=np.round(bars.short_usd[at], 2),
        model_version=est.model_version,
        note="; ".join(notes) or None,
    )
    return body


@router.get("/api/predict", responses=ERRORS)
def get_predict(request: Request, p: Annotated[PredictParams, Query()]) -> Response:
    """Predicted liquidations per interval (the level mass the price path consumed, USD by
    side; ``liqscope predict``) with the realized liquidations stored on the same
    intervals and venues. One venue's prediction is in its own OI's USD (docs/methodology.md
    on magnitudes); compare shapes and ranks, not levels."""
    return json_response(predict_body(request.app.state.context, p))
