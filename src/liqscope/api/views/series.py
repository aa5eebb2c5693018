"""``/api/series/price`` and ``/api/series/oi``: one venue's stored candles and open interest."""

from __future__ import annotations

from typing import Any

import numpy as np

from liqscope.api.context import Context, Window, fit_interval, parse_interval
from liqscope.api.encoding import dumps
from liqscope.api.params import OIParams, PriceParams, WindowSel

__all__ = ["MAX_POINTS", "oi_body", "price_body"]

MAX_POINTS = 20_000


def _one_venue(
    ctx: Context, symbol: str, venue: str | None, sel: WindowSel
) -> tuple[str, str, Window]:
    """Market, the one venue (default: the first that lists it) and the time window."""
    market, refs = ctx.resolve_market(symbol)
    v = refs[0].venue if venue is None else ctx.resolve_venues(venue, market, refs, "venue")[0][0]
    return market, v, ctx.resolve_window(sel, [v], market)


def price_body(ctx: Context, p: PriceParams) -> bytes:
    market, v, window = _one_venue(ctx, p.symbol, p.venue, p.window)
    step, coarser = fit_interval(window.span, parse_interval(p.interval), MAX_POINTS)
    key = ("price", market, v, (p.range_, p.start, p.end), step)

    def compute() -> bytes:
        st = ctx.source.steps(v, market, window.start, window.end, step)
        ok = np.isfinite(st.open) & np.isfinite(st.close) & np.isfinite(st.high)
        ok &= np.isfinite(st.low)
        return dumps(
            {
                "symbol": market,
                "venue": v,
                "start": window.start,
                "end": window.end,
                "interval_ms": step,
                "ts": st.ts[ok],
                "open": st.open[ok],
                "high": st.high[ok],
                "low": st.low[ok],
                "close": st.close[ok],
                "volume": st.volume[ok],
                "note": coarser if ok.any() else "no candles stored for this market and window",
            }
        )

    version = (ctx.source.version([v], market), window)
    raw: bytes = ctx.responses.get_versioned(key, version, compute)
    return raw


def oi_body(ctx: Context, p: OIParams) -> bytes:
    market, v, window = _one_venue(ctx, p.symbol, p.venue, p.window)
    key = ("oi", market, v, (p.range_, p.start, p.end), p.max_points)

    def compute() -> bytes:
        rows = ctx.source.open_interest(v, market, window.start, window.end)
        ts = np.array([r.ts for r in rows], np.int64)
        base = np.array([r.oi_base for r in rows], np.float64)
        usd = np.array([np.nan if r.oi_usd is None else r.oi_usd for r in rows], np.float64)
        if ts.size > p.max_points:  # the last point of each of max_points slices
            cut = np.linspace(0, ts.size, p.max_points + 1).astype(np.int64)[1:] - 1
            ts, base, usd = ts[cut], base[cut], usd[cut]
        body: dict[str, Any] = {
            "symbol": market,
            "venue": v,
            "start": window.start,
            "end": window.end,
            "ts": ts,
            "oi_base": base,
            "oi_usd": usd,
            "units": {"oi_base": "base units, one side", "oi_usd": "USD"},
            "note": None if ts.size else "no open interest stored for this market and window",
        }
        return dumps(body)

    version = (ctx.source.version([v], market), window)
    raw: bytes = ctx.responses.get_versioned(key, version, compute)
    return raw
