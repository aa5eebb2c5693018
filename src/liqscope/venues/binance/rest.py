"""Binance futures REST: klines and open-interest history, with weight pacing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

import httpx

from liqscope.domain.errors import InputError, VenueError
from liqscope.domain.events import Candle, OpenInterest
from liqscope.domain.intervals import MINUTE_MS, interval_ms
from liqscope.venues.base import RestClient, kline_candle, windows
from liqscope.venues.binance.rules import (
    KLINE_INTERVALS,
    KLINES_LIMIT,
    OI_HIST_LIMIT,
    OI_HIST_MAX_AGE_MS,
    OI_PERIODS,
    WEIGHT_LIMIT_1M,
    WEIGHT_SLOWDOWN_AT,
)
from liqscope.venues.binance.streams import COINM_REST_URL, USDM_REST_URL

__all__ = ["BinanceCoinmRest", "BinanceRest"]

WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"


class BinanceRest(RestClient):
    """USDⓈ-M REST (``/fapi``). Windows of ``limit`` rows page through long ranges; the
    ``X-MBX-USED-WEIGHT-1M`` header is tracked and, near the 2400/min limit, the client waits
    for the next minute before sending more."""

    venue = "binance"
    default_base_url = USDM_REST_URL
    klines_path: ClassVar[str] = "/fapi/v1/klines"
    volume_col: ClassVar[int] = 5  # base volume
    taker_buy_col: ClassVar[int] = 9  # taker-buy base volume
    weight_limit: ClassVar[int] = WEIGHT_LIMIT_1M

    used_weight: int | None = None

    def _after_response(self, response: httpx.Response) -> float:
        header = response.headers.get(WEIGHT_HEADER)
        if header is None:
            return 0.0
        try:
            self.used_weight = int(header)
        except ValueError:
            return 0.0
        if self.used_weight < WEIGHT_SLOWDOWN_AT * self.weight_limit:
            return 0.0
        # The weight window is the calendar minute: wait for the next one (+ a margin).
        return (MINUTE_MS - self.clock.now_ms() % MINUTE_MS) / 1000 + 0.5

    async def _paged(
        self,
        path: str,
        params: dict[str, Any],
        start_ms: int,
        end_ms: int,
        step_ms: int,
        limit: int,
    ) -> AsyncIterator[tuple[int, int, Any]]:
        """``(a, b, reply)`` of ``path`` for consecutive windows ``[a, b)`` of ``limit`` steps,
        requested one after the other (``startTime``/``endTime`` inclusive, ``limit``)."""
        for a, b in windows(start_ms, end_ms, step_ms * limit):
            page = {**params, "startTime": a, "endTime": b - 1, "limit": limit}
            yield a, b, await self._request("GET", path, params=page)

    def _check_interval(self, interval: str) -> int:
        if interval not in KLINE_INTERVALS:
            raise InputError(f"binance: unsupported kline interval {interval!r}")
        return interval_ms(interval)

    async def klines(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> list[Candle]:
        step = self._check_interval(interval)
        now = self.clock.now_ms()
        out: list[Candle] = []
        params = {"symbol": symbol, "interval": interval}
        pages = self._paged(self.klines_path, params, start_ms, end_ms, step, KLINES_LIMIT)
        async for a, b, rows in pages:
            out.extend(self._candles(symbol, step, rows, a, b, now))
        return out

    def _candles(self, symbol: str, step: int, rows: Any, a: int, b: int, now: int) -> list[Candle]:
        if not isinstance(rows, list):
            raise VenueError("binance: klines reply is not a list")
        out: list[Candle] = []
        try:
            for r in rows:
                t = int(r[0])
                if a <= t < b:
                    vol, taker_buy = r[self.volume_col], r[self.taker_buy_col]
                    closed = int(r[6]) < now  # the last row is the open candle
                    out.append(kline_candle("binance", symbol, step, r, vol, taker_buy, closed))
        except (IndexError, TypeError, ValueError) as exc:
            raise VenueError(f"binance: unreadable kline row ({exc})") from None
        out.sort(key=lambda c: c.ts)
        return out

    async def open_interest_history(
        self, symbol: str, period: str, start_ms: int, end_ms: int
    ) -> list[OpenInterest]:
        """``/futures/data/openInterestHist``; Binance keeps 30 days, older starts are clipped."""
        if period not in OI_PERIODS:
            raise InputError(f"binance: unsupported open-interest period {period!r}")
        step = interval_ms(period)
        oldest = self.clock.now_ms() - OI_HIST_MAX_AGE_MS
        start_ms = max(start_ms, -(-oldest // step) * step)
        out: list[OpenInterest] = []
        path, params = "/futures/data/openInterestHist", {"symbol": symbol, "period": period}
        async for a, b, rows in self._paged(path, params, start_ms, end_ms, step, OI_HIST_LIMIT):
            if not isinstance(rows, list):
                raise VenueError("binance: openInterestHist reply is not a list")
            try:
                for r in rows:
                    t = int(r["timestamp"])
                    if a <= t < b:
                        out.append(
                            OpenInterest(
                                "binance",
                                symbol,
                                t,
                                float(r["sumOpenInterest"]),
                                float(r["sumOpenInterestValue"]),
                            )
                        )
            except (KeyError, TypeError, ValueError) as exc:
                raise VenueError(f"binance: unreadable openInterestHist row ({exc})") from None
        out.sort(key=lambda o: o.ts)
        return out

    async def open_interest_now(self, symbol: str) -> OpenInterest:
        body = await self._request("GET", "/fapi/v1/openInterest", params={"symbol": symbol})
        try:
            return OpenInterest(
                "binance", symbol, int(body["time"]), float(body["openInterest"]), None
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise VenueError(f"binance: unreadable openInterest reply ({exc})") from None


class BinanceCoinmRest(BinanceRest):
    """COIN-M REST (``/dapi``): klines volumes are taken from the base-asset columns."""

    default_base_url = COINM_REST_URL
    klines_path = "/dapi/v1/klines"
    volume_col = 7  # base-asset volume (column 5 is contracts)
    taker_buy_col = 10  # taker-buy base-asset volume

    async def open_interest_history(
        self, symbol: str, period: str, start_ms: int, end_ms: int
    ) -> list[OpenInterest]:
        raise VenueError("binance COIN-M: open-interest history is not wired up yet")

    async def open_interest_now(self, symbol: str) -> OpenInterest:
        raise VenueError("binance COIN-M: current open interest is not wired up yet")
