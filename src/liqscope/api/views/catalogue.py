"""``/api/instruments`` and ``/api/status``: what is stored, and how healthy the feeds are."""

from __future__ import annotations

import time
from typing import Any

from liqscope.api.context import RANGES, Context, tier_label
from liqscope.api.encoding import dumps
from liqscope.domain.intervals import INTERVALS
from liqscope.model.presets import PRESETS

__all__ = ["instruments_body", "status_body"]


def instruments_body(ctx: Context) -> bytes:
    by_market: dict[str, list[dict[str, Any]]] = {}
    for m in ctx.source.markets():
        by_market.setdefault(m.market, []).append(
            {
                "venue": m.venue,
                "native_symbol": m.native_symbol,
                "sampled": m.sampled,
                "contract_type": "linear",
            }
        )
    return dumps(
        {
            "markets": [{"symbol": k, "venues": v} for k, v in sorted(by_market.items())],
            "venues": ctx.known_venues(),
            "presets": list(PRESETS),
            "tiers": [tier_label(x) for x in PRESETS["all"].leverages],
            "ranges": list(RANGES),
            "intervals": list(INTERVALS),
            "units": ["usd", "relative"],
        }
    )


def status_body(ctx: Context, ws_clients: int) -> bytes:
    now = ctx.clock.now_ms()
    rows = [
        {
            "venue": s.ref.venue,
            "symbol": s.ref.market,
            "native_symbol": s.ref.native_symbol,
            "feed": "sampled" if s.ref.sampled else "complete",
            "lower_bound": s.ref.sampled,
            "liquidations": s.liquidations,
            "candles": s.candles,
            "oi_points": s.oi_points,
            "first_ts": s.first_ts,
            "last_ts": s.last_ts,
            "last_message_age_s": None
            if s.last_message_ms is None
            else max(0, now - s.last_message_ms) / 1000,
            "gaps": [list(g) for g in s.gaps],
        }
        for s in ctx.source.status()
    ]
    return dumps(
        {
            "ok": True,
            "now": now,
            "uptime_s": (now - ctx.started_ms) / 1000,
            "markets": rows,
            "ws_clients": ws_clients,
            "cache": {
                "items": len(ctx.responses),
                "hits": ctx.responses.hits,
                "misses": ctx.responses.misses,
            },
            "server_time": time.time(),
        }
    )
