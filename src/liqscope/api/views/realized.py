"""Realized liquidations: ``/api/liquidations/bars``, ``/levels`` and ``/feed``.

Bars come from the store's realized query (:func:`liqscope.store.queries.realized`, the one
the CLI ``chart`` uses); price levels from the model's canonical price grid. The JSON of one
liquidation (feed items and ``/ws`` messages) is built by :func:`liquidation_json` alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from liqscope.api.context import Context, fit_interval, parse_interval, view_head
from liqscope.api.encoding import F64, dumps
from liqscope.api.params import BarsParams, FeedParams, LevelsParams
from liqscope.api.source import StoredLiquidation
from liqscope.domain.types import Side
from liqscope.model.grid import PriceGrid, nice_step
from liqscope.store.base import LiquidationQuery
from liqscope.store.queries import bucket_floor, realized

__all__ = ["MAX_BARS", "bars_body", "feed_body", "levels_body", "liquidation_json"]

MAX_BARS = 20_000
TALLY_ROWS = 5_000  # rows stored since a view's bars were counted, above which they are recounted


def liquidation_json(row: StoredLiquidation) -> dict[str, Any]:
    """One stored liquidation as the feed and the live push send it."""
    e = row.event
    return {
        "id": row.id,
        "venue": e.venue,
        "symbol": row.market,
        "native_symbol": e.symbol,
        "ts": e.ts,
        "side": "long" if e.side is Side.LONG else "short",
        "price": e.price,
        "qty": e.qty,
        "notional_usd": e.notional_usd,
        "sampled": e.sampled,
    }


def _columns(rows: list[StoredLiquidation]) -> tuple[Any, Any, Any, Any]:
    """ts, side (+1 long / -1 short), USD, sampled arrays of ``rows``."""
    return (
        np.array([r.event.ts for r in rows], np.int64),
        np.array([1 if r.event.side is Side.LONG else -1 for r in rows], np.int64),
        np.array([r.event.notional_usd for r in rows], np.float64),
        np.array([r.event.sampled for r in rows], np.bool_),
    )


@dataclass(frozen=True, slots=True)
class _Tally:
    """Realized USD per bar and venue of one bars view, counting the stored liquidations up
    to insertion sequence ``seq`` while the oldest stored times were ``first``."""

    seq: int
    first: tuple[int, ...]
    long: dict[str, F64]
    short: dict[str, F64]
    count: int


def _tally(
    ctx: Context,
    venues: list[str],
    market: str,
    span: tuple[int, int, int],
    min_usd: float,
    held: _Tally | None,
) -> _Tally:
    """The bars of ``span`` (t0, t1, step): ``held`` plus the rows stored since it (feed
    order), or all rows of the window when nothing usable is held (or retention has
    deleted rows since: the oldest stored times moved)."""
    t0, t1 = span[0], span[1]
    seq = ctx.source.last_liquidation_id()  # rows stored after it are counted next time
    first = ctx.source.first_stored(venues, market)
    if held is not None and held.seq <= seq and held.first == first:
        rows = ctx.source.liquidations_after(held.seq, TALLY_ROWS + 1)
        if len(rows) <= TALLY_ROWS:
            rows = [
                r
                for r in rows
                if r.market == market
                and r.event.venue in venues
                and r.event.notional_usd >= min_usd
                and t0 <= r.event.ts < t1
            ]
            base = (held.long, held.short, held.count)
            return _add((seq, first), rows, venues, span, base)
    rows = ctx.source.liquidations(LiquidationQuery(venues, market, t0, t1, min_usd))
    return _add((seq, first), rows, venues, span, None)


def _add(
    at: tuple[int, tuple[int, ...]],
    rows: list[StoredLiquidation],
    venues: list[str],
    span: tuple[int, int, int],
    base: tuple[dict[str, F64], dict[str, F64], int] | None,
) -> _Tally:
    """A tally of ``base`` (or nothing) plus ``rows`` up to ``at`` (seq, oldest times)."""
    seq = at[0]
    t0, t1, step = span
    rows = [r for r in rows if r.id <= seq]
    long: dict[str, F64] = {}
    short: dict[str, F64] = {}
    for v in venues:
        bars = realized(*_columns([r for r in rows if r.event.venue == v]), t0, t1, step)
        long[v], short[v] = bars.long_usd, bars.short_usd
        if base is not None:
            long[v] = long[v] + base[0][v]
            short[v] = short[v] + base[1][v]
    return _Tally(seq, at[1], long, short, len(rows) + (0 if base is None else base[2]))


def bars_body(ctx: Context, p: BarsParams) -> bytes:
    """Realized bars; a new liquidation adds to the held bars of the view (no re-read)."""
    market, refs = ctx.resolve_market(p.market.symbol)
    venues, aggregate = ctx.resolve_venues(p.market.venues, market, refs)
    window = ctx.resolve_window(p.window, venues, market)
    # whole buckets add at most one at each edge: fit the span in MAX_BARS - 2
    step, coarser = fit_interval(window.span, parse_interval(p.interval), MAX_BARS - 2)
    t0 = bucket_floor(window.start, step)
    t1 = bucket_floor(window.end - 1, step) + step
    version = ctx.source.version(venues, market)
    key = ("bars", market, tuple(venues), (p.range_, p.start, p.end), step, p.min_usd)

    def compute() -> bytes:
        tally_key = (key, t0, t1)
        held = ctx.tallies.peek(tally_key)
        tally = _tally(ctx, venues, market, (t0, t1, step), p.min_usd, held)
        ctx.tallies.put(tally_key, tally)
        sampled = {m.venue: m.sampled for m in refs}
        per = {
            v: {
                "long": np.round(tally.long[v], 2),
                "short": np.round(tally.short[v], 2),
                "sampled": sampled.get(v, False),
                "lower_bound": sampled.get(v, False),
            }
            for v in venues
        }
        empty = None if tally.count else "no liquidations stored in the window"
        return dumps(
            {
                **view_head(market, venues, aggregate, t0, t1),
                "interval_ms": step,
                "ts": np.arange(t0, t1, step, dtype=np.int64),
                "long": np.round(sum(tally.long.values(), np.zeros((t1 - t0) // step)), 2),
                "short": np.round(sum(tally.short.values(), np.zeros((t1 - t0) // step)), 2),
                "by_venue": per,
                "count": tally.count,
                "units": "usd",
                "lower_bound": any(sampled.get(v, False) for v in venues),
                "provenance": ctx.provenance(venues, market),
                "note": "; ".join(x for x in (coarser, empty) if x) or None,
            }
        )

    raw: bytes = ctx.responses.get_versioned(key, (version, t0, t1), compute)
    return raw


def levels_body(ctx: Context, p: LevelsParams) -> bytes:
    market, refs = ctx.resolve_market(p.market.symbol)
    venues, aggregate = ctx.resolve_venues(p.market.venues, market, refs)
    window = ctx.resolve_window(p.window, venues, market, default_range="7d")
    version = ctx.source.version(venues, market)
    key = ("levels", market, tuple(venues), (p.range_, p.start, p.end), p.buckets, p.min_usd)

    def compute() -> bytes:
        rows = ctx.source.liquidations(
            LiquidationQuery(venues, market, window.start, window.end, p.min_usd)
        )
        body: dict[str, Any] = {
            **view_head(market, venues, aggregate, window.start, window.end),
            "bucket_edges": [],
            "long": [],
            "short": [],
            "count_long": [],
            "count_short": [],
            "units": "usd",
            "lower_bound": any(m.sampled for m in refs if m.venue in venues),
            "provenance": ctx.provenance(venues, market),
            "note": None,
        }
        px = np.array([r.event.price for r in rows], np.float64)
        ok = np.isfinite(px) & (px > 0)
        if not ok.any():
            body["note"] = "no liquidations stored for this market and window"
            return dumps(body)
        _, side, usd, _ = _columns(rows)
        px, side, usd = px[ok], side[ok], usd[ok]
        lo, hi = float(px.min()), float(px.max())
        grid_step = nice_step(max(hi - lo, hi * 1e-6, 1e-9) / max(1, p.buckets - 1))
        span = PriceGrid.spanning(lo, hi, grid_step)
        grid = PriceGrid(span.origin, span.step, min(p.buckets, span.n))
        idx = grid.index(px)
        inside = (idx >= 0) & (idx < grid.n)
        lm, sm = inside & (side > 0), inside & (side < 0)
        nb = grid.n
        body.update(
            bucket_edges=grid.edges,
            long=np.round(np.bincount(idx[lm], usd[lm], nb), 2),
            short=np.round(np.bincount(idx[sm], usd[sm], nb), 2),
            count_long=np.bincount(idx[lm], minlength=nb),
            count_short=np.bincount(idx[sm], minlength=nb),
        )
        return dumps(body)

    raw: bytes = ctx.responses.get_versioned(key, (version, window), compute)
    return raw


def feed_body(ctx: Context, p: FeedParams) -> bytes:
    market: str | None = None
    if p.symbol is not None:
        market, refs = ctx.resolve_market(p.symbol)
        venues, _ = ctx.resolve_venues(p.venues, market, refs)
    else:
        stored = sorted({m.venue for m in ctx.source.markets()})
        text = (p.venues or "all").strip().lower()
        venues = stored if text == "all" else [v for v in text.split(",") if v]
    last_id = ctx.source.last_liquidation_id()
    key = ("feed", market, tuple(venues), p.limit, p.min_usd)

    def compute() -> bytes:
        rows = ctx.source.liquidations(
            LiquidationQuery(
                venues, market, min_notional_usd=p.min_usd, limit=p.limit, newest_first=True
            )
        )
        items = [liquidation_json(r) for r in rows]
        return dumps(
            {
                "symbol": market,
                "venues": venues,
                "items": items,
                "min_usd": p.min_usd,
                "last_id": last_id,
                "lower_bound": any(m.sampled for m in ctx.source.markets() if m.venue in venues),
                "note": None if items else "no liquidations stored",
            }
        )

    raw: bytes = ctx.responses.get_versioned(key, last_id, compute)
    return raw
