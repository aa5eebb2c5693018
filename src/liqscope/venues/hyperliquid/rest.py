"""Hyperliquid ``POST /info``: candles, asset contexts (mark, funding, OI), user positions."""

from __future__ import annotations

from typing import Any

from liqscope.domain.errors import VenueError
from liqscope.domain.events import Candle, Event, OpenInterest
from liqscope.domain.intervals import interval_ms
from liqscope.venues.base import MalformedFrame, RestClient, windows
from liqscope.venues.hyperliquid.parse import (
    VENUE,
    HyperliquidPosition,
    parse_candles,
    parse_clearinghouse_state,
    parse_meta_and_asset_ctxs,
)
from liqscope.venues.hyperliquid.rules import CANDLE_SNAPSHOT_LIMIT, check_interval
from liqscope.venues.hyperliquid.streams import REST_URL

__all__ = ["HyperliquidRest"]


class HyperliquidRest(RestClient):
    """Hyperliquid info API (every request is a JSON POST to ``/info``)."""

    venue = VENUE
    default_base_url = REST_URL

    async def info(self, request: dict[str, Any]) -> Any:
        return await self._request("POST", "/info", json_body=request)

    async def klines(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> list[Candle]:
        """``candleSnapshot`` in windows of 5000 candles."""
        step = interval_ms(check_interval(interval))
        now = self.clock.now_ms()
        out: dict[int, Candle] = {}
        for a, b in windows(start_ms, end_ms, step * CANDLE_SNAPSHOT_LIMIT):
            req = {"coin": symbol, "interval": interval, "startTime": a, "endTime": b - 1}
            body = await self.info({"type": "candleSnapshot", "req": req})
            try:
                for c in parse_candles(body, now):
                    if a <= c.ts < b:
                        out[c.ts] = c
            except MalformedFrame as exc:
                raise VenueError(f"hyperliquid: {exc}") from None
        return [out[t] for t in sorted(out)]

    async def asset_contexts(self) -> list[Event]:
        """MarkPrice + OpenInterest of every listed coin, stamped with the client's clock."""
        body = await self.info({"type": "metaAndAssetCtxs"})
        try:
            return parse_meta_and_asset_ctxs(body, self.clock.now_ms())
        except MalformedFrame as exc:
            raise VenueError(f"hyperliquid: {exc}") from None

    async def open_interest_now(self, symbol: str) -> OpenInterest:
        for ev in await self.asset_contexts():
            if isinstance(ev, OpenInterest) and ev.symbol == symbol:
                return ev
        raise VenueError(f"hyperliquid: unknown coin {symbol!r}")

    async def clearinghouse_state(self, user: str) -> list[HyperliquidPosition]:
        """Open positions of ``user`` (0x address), with their ``liquidationPx``."""
        body = await self.info({"type": "clearinghouseState", "user": user})
        try:
            return parse_clearinghouse_state(body, user)
        except MalformedFrame as exc:
            raise VenueError(f"hyperliquid: {exc}") from None
