"""OKX v5 REST: history candles, open interest (current and rubik history), instruments,
position tiers."""

from __future__ import annotations

from typing import Any

import httpx

from liqscope.domain.errors import VenueError
from liqscope.domain.events import Candle, OpenInterest
from liqscope.domain.instruments import Instrument
from liqscope.domain.intervals import interval_ms
from liqscope.venues.base import RestClient, kline_candle
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
_RUBIK = "/api/v5/rubik/"
RUBIK_PAUSE_S = 0.4  # rubik endpoints allow 5 requests per 2 s per IP
OI_HISTORY_LIMIT = 100


class OkxRest(RestClient):
    """OKX v5 public REST. Replies carry ``code``; anything but ``"0"`` is a VenueError."""

    venue = VENUE
    default_base_url = REST_URL

    def _after_response(self, response: httpx.Response) -> float:
        return RUBIK_PAUSE_S if response.request.url.path.startswith(_RUBIK) else 0.0

    def _check_body(self, body: Any) -> Any:
        if not isinstance(body, dict):
            raise VenueError("okx: reply is not a JSON object")
        code = body.get("code")
        if code != "0":
            raise VenueError(f"okx: error {code}: {body.get('msg', '')}")
        return body

    async def _backwards(
        self, path: str, params: dict[str, Any], cursor_key: str, start_ms: int, end_ms: int
    ) -> dict[int, list[Any]]:
        """Rows (``[ts, ...]``, newest first) of ``path`` with ts in [start_ms, end_ms), paged
        backwards through the exclusive cursor ``cursor_key``; keyed by ts."""
        out: dict[int, list[Any]] = {}
        cursor = end_ms
        for _ in range(_MAX_PAGES):
            if cursor <= start_ms:
                break
            body = await self._request("GET", path, params={**params, cursor_key: cursor})
            try:
                rows = body["data"]
                stamped = [(int(r[0]), r) for r in rows]
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                raise VenueError(f"okx: unreadable reply from {path} ({exc})") from None
            out.update((t, r) for t, r in stamped if start_ms <= t < end_ms)
            oldest = min((t for t, _ in stamped), default=cursor)
            if not rows or oldest >= cursor:
                break
            cursor = oldest
        return dict(sorted(out.items()))

    async def klines(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> list[Candle]:
        """``/api/v5/market/history-candles`` paged backwards with ``after`` (rows newest
        first; volume = ``volCcy``, the base coin for derivatives)."""
        step = interval_ms(interval)
        params = {"instId": symbol, "bar": bar(interval), "limit": HISTORY_CANDLES_LIMIT}
        rows = await self._backwards(
            "/api/v5/market/history-candles", params, "after", start_ms, end_ms
        )
        try:
            return [
                kline_candle(VENUE, symbol, step, r, r[6], None, r[8] == "1") for r in rows.values()
            ]
        except (IndexError, TypeError, ValueError) as exc:
            raise VenueError(f"okx: unreadable candle reply ({exc})") from None

    async def open_interest_history(
        self, symbol: str, period: str, start_ms: int, end_ms: int
    ) -> list[OpenInterest]:
        """``/api/v5/rubik/stat/contracts/open-interest-history`` paged backwards with ``end``
        (rows ``[ts, oi, oiCcy, oiUsd]``, newest first; ``oiCcy`` is the base coin)."""
        params = {
            "instId": symbol,
            "period": bar(period),
            "begin": start_ms - 1,  # begin and end are exclusive
            "limit": OI_HISTORY_LIMIT,
        }
        path = f"{_RUBIK}stat/contracts/open-interest-history"
        rows = await self._backwards(path, params, "end", start_ms, end_ms)
        try:
            return [
                OpenInterest(
                    VENUE, symbol, t, float(r[2]), float(r[3]) if len(r) > 3 and r[3] else None
                )
                for t, r in rows.items()
            ]
        except (IndexError, TypeError, ValueError) as exc:
            raise VenueError(f"okx: unreadable open-interest history ({exc})") from None

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
