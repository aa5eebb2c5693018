"""Bybit v5 REST: klines, open-interest history, risk-limit tiers (passthrough)."""

from __future__ import annotations

from typing import Any

from liqscope.domain.errors import VenueError
from liqscope.domain.events import Candle, OpenInterest
from liqscope.domain.intervals import interval_ms
from liqscope.domain.types import ContractType
from liqscope.venues.base import RestClient, kline_candle, windows
from liqscope.venues.bybit.rules import (
    KLINES_LIMIT,
    OI_LIMIT,
    category,
    contract_type,
    kline_interval,
    oi_interval,
)
from liqscope.venues.bybit.streams import REST_URL

__all__ = ["BybitRest"]

_MAX_PAGES = 10_000


class BybitRest(RestClient):
    """Bybit v5 market REST. Replies carry ``retCode``; non-zero is a :class:`VenueError`."""

    venue = "bybit"
    default_base_url = REST_URL

    def _check_body(self, body: Any) -> Any:
        if not isinstance(body, dict):
            raise VenueError("bybit: reply is not a JSON object")
        code = body.get("retCode")
        if code != 0:
            raise VenueError(f"bybit: error {code}: {body.get('retMsg', '')}")
        return body

    async def klines(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> list[Candle]:
        """``/v5/market/kline`` (rows come newest first; inverse volume = ``turnover``)."""
        venue_interval = kline_interval(interval)
        step = interval_ms(interval)
        vol_col = 6 if contract_type(symbol) is ContractType.INVERSE else 5
        now = self.clock.now_ms()
        out: list[Candle] = []
        for a, b in windows(start_ms, end_ms, step * KLINES_LIMIT):
            params = {
                "category": category(symbol),
                "symbol": symbol,
                "interval": venue_interval,
                "start": a,
                "end": b - 1,
                "limit": KLINES_LIMIT,
            }
            body = await self._request("GET", "/v5/market/kline", params=params)
            try:
                for r in body["result"]["list"]:
                    t = int(r[0])
                    if a <= t < b:
                        closed = t + step <= now
                        out.append(kline_candle("bybit", symbol, step, r, r[vol_col], None, closed))
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                raise VenueError(f"bybit: unreadable kline reply ({exc})") from None
        out.sort(key=lambda c: c.ts)
        return out

    async def _oi_pages(self, params: dict[str, Any], follow: bool) -> list[dict[str, Any]]:
        """Rows of ``/v5/market/open-interest``, following ``nextPageCursor`` when ``follow``."""
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        for _ in range(_MAX_PAGES):
            body = await self._request("GET", "/v5/market/open-interest", params=params)
            try:
                page = body["result"]["list"]
                cursor = body["result"].get("nextPageCursor") or ""
            except (KeyError, TypeError, AttributeError) as exc:
                raise VenueError(f"bybit: unreadable open-interest reply ({exc})") from None
            rows.extend(page)
            if not follow or not page or not cursor or cursor in seen:
                break
            seen.add(cursor)
            params = {**params, "cursor": cursor}
        return rows

    def _oi(self, symbol: str, row: dict[str, Any]) -> OpenInterest:
        single = row.get("singleOpenInterest")
        value = float(single if single not in (None, "") else row["openInterest"])
        return OpenInterest("bybit", symbol, int(row["timestamp"]), value, None)

    async def open_interest_history(
        self, symbol: str, period: str, start_ms: int, end_ms: int
    ) -> list[OpenInterest]:
        """``/v5/market/open-interest`` followed through ``nextPageCursor`` (linear only:
        inverse OI is in USD and needs prices to convert)."""
        if contract_type(symbol) is ContractType.INVERSE:
            raise VenueError("bybit: inverse open-interest history is in USD; not converted yet")
        params: dict[str, Any] = {
            "category": category(symbol),
            "symbol": symbol,
            "intervalTime": oi_interval(period),
            "startTime": start_ms,
            "endTime": end_ms - 1,
            "limit": OI_LIMIT,
        }
        rows = await self._oi_pages(params, follow=True)
        try:
            points = {p.ts: p for p in (self._oi(symbol, r) for r in rows)}
        except (KeyError, TypeError, ValueError) as exc:
            raise VenueError(f"bybit: unreadable open-interest row ({exc})") from None
        return [points[t] for t in sorted(points) if start_ms <= t < end_ms]

    async def open_interest_now(self, symbol: str) -> OpenInterest:
        if contract_type(symbol) is ContractType.INVERSE:
            raise VenueError("bybit: inverse open interest is in USD; not converted yet")
        params = {
            "category": category(symbol),
            "symbol": symbol,
            "intervalTime": "5min",
            "limit": 1,
        }
        rows = await self._oi_pages(params, follow=False)
        if not rows:
            raise VenueError(f"bybit: no open interest for {symbol}")
        try:
            return self._oi(symbol, rows[0])
        except (KeyError, TypeError, ValueError) as exc:
            raise VenueError(f"bybit: unreadable open-interest row ({exc})") from None

    async def tiers(self, symbol: str) -> Any:
        """``/v5/market/risk-limit`` reply, untouched."""
        params = {"category": category(symbol), "symbol": symbol}
        return await self._request("GET", "/v5/market/risk-limit", params=params)
