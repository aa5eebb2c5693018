"""OKX v5 REST: history candles, current open interest, instruments, position tiers."""

from __future__ import annotations

from typing import Any

from liqscope.domain.errors import VenueError
from liqscope.domain.events import Candle, OpenInterest
from liqscope.domain.instruments import Instrument
from liqscope.venues.base import RestClient, interval_ms
from liqscope.venues.okx.rules import (
    HISTORY_CANDLES_LIMIT,
    VENUE,
    bar,
    inst_family,
    inst_type,
    instrument_from_row,
)
from liqscope.venues.okx.streams import REST_URL

__all__ = ["OkxRest"]

_MAX_PAGES = 100_000


class OkxRest(RestClient):
    """OKX v5 public REST. Replies carry ``code``; anything but ``"0"`` is a VenueError."""

    venue = VENUE
    default_base_url = REST_URL

    def _check_body(self, body: Any) -> Any:
        if not isinstance(body, dict):
            raise VenueError("okx: reply is not a JSON object")
        code = body.get("code")
        if code != "0":
            raise VenueError(f"okx: error {code}: {body.get('msg', '')}")
        return body

    async def klines(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> list[Candle]:
        """``/api/v5/market/history-candles`` paged backwards with ``after`` (rows newest
        first; volume = ``volCcy``, the base coin for derivatives)."""
        okx_bar = bar(interval)
        step = interval_ms(interval)
        out: dict[int, Candle] = {}
        cursor = end_ms
        for _ in range(_MAX_PAGES):
            if cursor <= start_ms:
                break
            params = {
                "instId": symbol,
                "bar": okx_bar,
                "after": cursor,
                "limit": HISTORY_CANDLES_LIMIT,
            }
            body = await self._request("GET", "/api/v5/market/history-candles", params=params)
            try:
                rows = body["data"]
                oldest = cursor
                for r in rows:
                    t = int(r[0])
                    oldest = min(oldest, t)
                    if start_ms <= t < end_ms:
                        out[t] = Candle(
                            VENUE,
                            symbol,
                            t,
                            step,
                            float(r[1]),
                            float(r[2]),
                            float(r[3]),
                            float(r[4]),
                            float(r[6]),
                            None,
                            r[8] == "1",
                        )
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                raise VenueError(f"okx: unreadable candle reply ({exc})") from None
            if not rows or oldest >= cursor:
                break
            cursor = oldest
        return [out[t] for t in sorted(out)]

    async def open_interest_now(self, symbol: str) -> OpenInterest:
        params = {"instType": inst_type(symbol), "instId": symbol}
        body = await self._request("GET", "/api/v5/public/open-interest", params=params)
        try:
            row = body["data"][0]
            usd = row.get("oiUsd")
            return OpenInterest(
                VENUE,
                symbol,
                int(row["ts"]),
                float(row["oiCcy"]),
                float(usd) if usd not in (None, "") else None,
            )
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise VenueError(f"okx: unreadable open-interest reply ({exc})") from None

    async def instruments(self, inst_type: str = "SWAP") -> list[Instrument]:
        """``/api/v5/public/instruments`` as Instruments (contract size = ctVal × ctMult)."""
        body = await self._request(
            "GET", "/api/v5/public/instruments", params={"instType": inst_type}
        )
        try:
            return [instrument_from_row(r) for r in body["data"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise VenueError(f"okx: unreadable instruments reply ({exc})") from None

    async def tiers(self, symbol: str, td_mode: str = "isolated") -> Any:
        """``/api/v5/public/position-tiers`` reply for the symbol's family, untouched."""
        params = {
            "instType": inst_type(symbol),
            "tdMode": td_mode,
            "instFamily": inst_family(symbol),
        }
        return await self._request("GET", "/api/v5/public/position-tiers", params=params)
