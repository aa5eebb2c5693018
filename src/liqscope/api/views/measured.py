"""``/api/measured/map`` and ``/api/measured/score``: the measured Hyperliquid positions.

Renders core objects only: :func:`liqscope.signals.measured.measured_map` on the grid of the
estimated map (the model run ``/api/map`` reads, :func:`~liqscope.api.views.map.map_estimate`),
summed into the same screen buckets as ``/api/map`` (``export.map.map_table``), the
positions nearest liquidation (``nearest_liquidations``) and the coverage; and
:func:`~liqscope.signals.measured.score_stored`, the figure ``liqscope score --json``
prints under ``measured``.
"""

# no ``from __future__ import annotations``: FastAPI reads these annotations at run time

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import Field

from liqscope.api import schemas
from liqscope.api.context import Context
from liqscope.api.encoding import dumps, json_response
from liqscope.api.params import PRESETS_PATTERN, MapParams, MarketSel, WindowSel
from liqscope.api.views.map import map_estimate
from liqscope.domain.errors import InputError
from liqscope.domain.intervals import DAY_MS, MINUTE_MS
from liqscope.export.map import map_table
from liqscope.model.presets import PRESETS
from liqscope.signals.measured import (
    measured_map,
    nearest_liquidations,
    position_row,
    score_stored,
)
from liqscope.store.positions import last_polls
from liqscope.store.readers import read_steps, stored_candle_span

__all__ = ["MeasuredMapParams", "MeasuredScoreParams", "measured_map_body", "router"]

VENUE = "hyperliquid"
router = APIRouter(tags=["measured"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.ErrorResponse} for code in (404, 422, 429)
}


class MeasuredMapParams(MapParams):
    near_pct: Annotated[
        float | None,
        Field(gt=0, le=100, allow_inf_nan=False, description="list positions within this % of liq"),
    ] = None
    limit: Annotated[int, Field(ge=1, le=1000, description="positions listed")] = 20


class MeasuredScoreParams(MarketSel):
    days: Annotated[int, Field(ge=1, le=90, description="stored history, whole days")] = 1
    presets: Annotated[str, Field(pattern=PRESETS_PATTERN, max_length=100)] = "all,high"


def _market(ctx: Context, symbol: str) -> tuple[str, str]:
    """The market of ``symbol`` and its Hyperliquid coin (404 when Hyperliquid has none)."""
    market, refs = ctx.resolve_market(symbol)
    ctx.resolve_venues(VENUE, market, refs, param="symbol")
    return market, ctx.source.native(VENUE, market)


def _label(cov: dict[str, Any]) -> str:
    acc, share = cov["accounts"], cov["measured_over_oi"]
    parts = [share[s] for s in ("long", "short") if share[s] is not None]
    pct = f"{100 * sum(parts) / len(parts):.3g} % of OI" if parts else "OI unknown"
    return (
        f"measured: {acc['polled']} accounts ({acc['polled_recently']} polled in the last "
        f"{acc['recent_ms'] // 60_000} min, {acc['known']} known), coverage {pct}"
    )


def measured_map_body(ctx: Context, p: MeasuredMapParams) -> dict[str, Any]:
    market, coin = _market(ctx, p.market.symbol)
    store = ctx.source.store()
    polls = last_polls(store, VENUE)
    body: dict[str, Any] = {"symbol": market, "venue": VENUE, "coin": coin, "source": "measured",
                            "at_ms": None, "price": None, "bucket_edges": [], "long_usd": [],
                            "short_usd": [], "by_mode": {}, "map": None, "positions": [],
                            "matched": 0, "coverage": None, "label": "measured: no polls stored",
                            "note": None}  # fmt: skip
    if not polls:
        body["note"] = "no measured positions stored (run: liqscope positions poll)"
        return body
    window = ctx.resolve_window(
        WindowSel(range_=p.range_, end=p.at), [VENUE], market, default_range="7d"
    )
    preset = ctx.resolve_preset(p.model.preset)
    step = ctx.resolve_step(p.model.interval or "1m", window)
    wanted = window.end if p.at is not None else max(polls.values()) + 1
    done = [t for t in polls.values() if t < wanted]
    if not done:
        body["note"] = "no poll at or before this time"
        return body
    at = max(done)
    est = map_estimate(ctx, market, [VENUE], window.start, window.end, step, preset)
    if est is None:
        body["note"] = "no estimated Hyperliquid map to share a grid with (candles and OI needed)"
        return body
    hm = est.heatmap
    ts = hm.columns_ts  # the column /api/map draws, so both share its screen buckets
    j = ts.size - 1 if p.at is None else int(np.searchsorted(ts, window.end - step, "right") - 1)
    j = max(0, min(j, ts.size - 1))
    try:
        table = map_table(hm, at=j, window_pct=p.window_pct, max_buckets=p.buckets)
    except InputError as exc:
        body["note"] = str(exc)
        return body
    mm = measured_map(store, coin, at, hm.grid, venue=VENUE)
    edges = np.asarray(table.bucket_edges, np.float64)
    mids = hm.grid.lower_edges + hm.grid.step / 2
    screen = np.searchsorted(edges, mids, "right") - 1
    keep = (screen >= 0) & (screen < edges.size - 1)

    def reduced(usd: Any) -> list[float]:
        out: list[float] = np.bincount(screen[keep], usd[keep], edges.size - 1).round(0).tolist()
        return out

    sides = mm.by_side()
    cov = mm.coverage.to_dict()
    near = nearest_liquidations(mm.positions, None if p.near_pct is None else p.near_pct / 100)
    body.update(
        at_ms=at, price=table.price, bucket_edges=edges.tolist(),
        long_usd=reduced(sides[0]), short_usd=reduced(sides[1]),
        by_mode={m: {"long": reduced(mm.by_side(m)[0]), "short": reduced(mm.by_side(m)[1])}
                 for m in ("isolated", "cross")},
        map=mm.to_dict(), positions=[position_row(x) for x in near[: p.limit]],
        matched=len(near), coverage=cov, label=_label(cov),
    )  # fmt: skip
    return body


def measured_score_body(ctx: Context, p: MeasuredScoreParams) -> dict[str, Any]:
    """``liqscope score --venue hyperliquid --symbol COIN --days D --json`` → ``measured``
    (None, with a note, when there is nothing to score: not an error for a page)."""
    market, refs = ctx.resolve_market(p.symbol)
    body: dict[str, Any] = {"symbol": market, "coin": None, "venue": VENUE, "days": p.days,
                            "measured": None, "note": None}  # fmt: skip
    if VENUE not in {r.venue for r in refs}:
        body["note"] = f"Hyperliquid holds no data for {market}"
        return body
    coin = body["coin"] = ctx.source.native(VENUE, market)
    store = ctx.source.store()
    span = stored_candle_span(store, VENUE, coin)
    t1 = MINUTE_MS + (span[1] if span is not None else 0)
    steps = read_steps(store, VENUE, coin, t1 - p.days * DAY_MS, t1, MINUTE_MS) if span else None
    if steps is None:
        body["note"] = f"too little stored {VENUE} {coin} data (candles and OI) to estimate"
        return body
    names = list(dict.fromkeys(n.strip() for n in p.presets.split(",") if n.strip()))
    configs = {n: PRESETS[n] for n in names}
    body["measured"] = ctx.model_budget.run(
        lambda: score_stored(store, steps, configs, coin), "score"
    )
    if body["measured"] is None:
        body["note"] = "no measured positions (or no estimated column) to score yet"
    return body


@router.get("/api/measured/map", responses=ERRORS)
def get_measured_map(request: Request, p: Annotated[MeasuredMapParams, Query()]) -> Response:
    """Measured Hyperliquid liquidation prices on the estimated map's grid and screen buckets,
    the positions nearest liquidation and the coverage."""
    return json_response(dumps(measured_map_body(request.app.state.context, p)))


@router.get("/api/measured/score", responses=ERRORS)
def get_measured_score(request: Request, p: Annotated[MeasuredScoreParams, Query()]) -> Response:
    """The estimated Hyperliquid map vs the measured one (EMD, top-20 % overlap, rank
    correlation, by side) per preset, with coverage."""
    return json_response(dumps(measured_score_body(request.app.state.context, p)))
