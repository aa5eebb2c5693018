"""Markets overview: realized liquidations of every stored market over the last 1h/4h/12h/24h.

``GET /api/overview`` answers, per coin (venues summed) and per venue (coins summed), the USD
of long and short positions liquidated, their count and the largest single liquidation, over
windows ending at each market's latest stored data (as ``range`` does elsewhere), so the
24h figures equal the sum of ``/api/liquidations/bars?range=24h&interval=1m``. The nearest
dense zones come from ``/api/map`` (the web page asks it per coin). Sampled feeds make a
figure a lower bound (``lower_bound``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response

from liqscope.api.context import Context
from liqscope.api.encoding import dumps
from liqscope.api.params import WindowSel
from liqscope.api.source import StoredLiquidation
from liqscope.domain.intervals import HOUR_MS
from liqscope.domain.types import Side
from liqscope.store.base import LiquidationQuery

router = APIRouter(tags=["realized"])

WINDOWS: dict[str, int] = {
    "1h": HOUR_MS,
    "4h": 4 * HOUR_MS,
    "12h": 12 * HOUR_MS,
    "24h": 24 * HOUR_MS,
}
LONGEST = max(WINDOWS.values())


class Liquidations:
    """Stored liquidations as columns (what the window sums read)."""

    def __init__(self, rows: Sequence[StoredLiquidation]) -> None:
        self.venue = [r.event.venue for r in rows]
        self.market = [r.market for r in rows]
        self.ts = np.array([r.event.ts for r in rows], np.int64)
        self.side = np.array([1 if r.event.side is Side.LONG else -1 for r in rows], np.int8)
        self.price = np.array([r.event.price for r in rows], np.float64)
        self.notional_usd = np.array([r.event.notional_usd for r in rows], np.float64)

    def __len__(self) -> int:
        return int(self.ts.size)


def _figures(liq: Liquidations, mask: np.ndarray[Any, np.dtype[np.bool_]]) -> dict[str, Any]:
    """Long/short USD, count and the largest single liquidation of the rows in ``mask``."""
    usd = liq.notional_usd[mask]
    side = liq.side[mask]
    long = float(usd[side > 0].sum())
    short = float(usd[side < 0].sum())
    largest = None
    if usd.size:
        j = int(np.nonzero(mask)[0][int(np.argmax(usd))])
        largest = {
            "venue": liq.venue[j],
            "symbol": liq.market[j],
            "side": "long" if liq.side[j] > 0 else "short",
            "price": float(liq.price[j]),
            "usd": float(liq.notional_usd[j]),
            "ts": int(liq.ts[j]),
        }
    return {
        "long": round(long, 2),
        "short": round(short, 2),
        "total": round(long + short, 2),
        "count": int(usd.size),
        "count_long": int((side > 0).sum()),
        "count_short": int((side < 0).sum()),
        "largest": largest,
    }


def _windows(
    liq: Liquidations, keep: np.ndarray[Any, np.dtype[np.bool_]], end: int
) -> dict[str, Any]:
    return {
        name: _figures(liq, keep & (liq.ts >= end - span) & (liq.ts < end))
        for name, span in WINDOWS.items()
    }


def _merge(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Windows of several markets summed; the largest is the largest of theirs."""
    out: dict[str, Any] = {}
    for name in WINDOWS:
        cells = [p[name] for p in parts]
        big = [c["largest"] for c in cells if c["largest"] is not None]
        out[name] = {
            k: round(sum(c[k] for c in cells), 2) if k in ("long", "short", "total") else
            sum(c[k] for c in cells)
            for k in ("long", "short", "total", "count", "count_long", "count_short")
        }  # fmt: skip
        out[name]["largest"] = max(big, key=lambda b: b["usd"]) if big else None
    return out


def overview(service: Context) -> dict[str, Any]:
    """The overview body: ``coins``, ``venues`` (each with ``windows``) and ``windows``."""
    by_market: dict[str, list[Any]] = {}
    for info in service.source.markets():
        by_market.setdefault(info.market, []).append(info)
    coins: list[dict[str, Any]] = []
    per_venue: dict[str, list[dict[str, Any]]] = {}
    sampled: dict[str, bool] = {}
    for market in sorted(by_market):
        infos = by_market[market]
        venues = sorted({m.venue for m in infos})
        window = service.resolve_window(WindowSel(range_="24h"), venues, market)
        end = window.end
        liq = Liquidations(
            service.source.liquidations(LiquidationQuery(venues, market, end - LONGEST, end))
        )
        names = np.asarray(liq.venue, dtype=object)
        everything = np.ones(len(liq), dtype=np.bool_)
        venue_rows = []
        for v in venues:
            w = _windows(liq, names == v, end)
            lower = any(m.sampled for m in infos if m.venue == v)
            sampled[v] = sampled.get(v, False) or lower
            per_venue.setdefault(v, []).append(w)
            venue_rows.append({"venue": v, "lower_bound": lower, "windows": w})
        coins.append(
            {
                "symbol": market,
                "venues": venues,
                "end": end,
                "lower_bound": any(m.sampled for m in infos),
                "windows": _windows(liq, everything, end),
                "by_venue": venue_rows,
            }
        )
    venue_list = [
        {"venue": v, "lower_bound": sampled[v], "windows": _merge(parts)}
        for v, parts in sorted(per_venue.items())
    ]
    return {
        "windows": list(WINDOWS),
        "coins": coins,
        "venues": venue_list,
        "lower_bound": any(sampled.values()),
        "generated_ms": service.clock.now_ms(),
        "note": None if coins else "no markets stored yet",
    }


@router.get("/api/overview")
def get_overview(request: Request) -> Response:
    """Realized liquidations over 1h/4h/12h/24h by coin and by venue (longs, shorts, largest)."""
    service: Context = request.app.state.context
    return Response(dumps(overview(service)), media_type="application/json")
