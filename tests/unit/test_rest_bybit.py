"""Bybit REST client against httpx.MockTransport."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from liqscope.domain.clock import ManualClock
from liqscope.domain.errors import VenueError
from liqscope.venues.bybit.rest import BybitRest
from liqscope.venues.registry import adapter

FRAMES = Path(__file__).resolve().parents[1] / "fixtures" / "frames" / "bybit"
MIN = 60_000
T0 = 1_771_999_980_000
Handler = Callable[[httpx.Request], httpx.Response]


def fixture(name: str) -> Any:
    return json.loads((FRAMES / name).read_bytes())


def client(handler: Handler, now: int = T0 + 100_000 * MIN) -> tuple[BybitRest, list[float]]:
    sleeps: list[float] = []

    async def sleeper(s: float) -> None:
        sleeps.append(s)

    rest = BybitRest(
        "http://127.0.0.1:9",
        transport=httpx.MockTransport(handler),
        sleeper=sleeper,
        clock=ManualClock(now),
    )
    return rest, sleeps


def test_klines_paging_newest_first_rows() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        q = request.url.params
        start, end, limit = int(q["start"]), int(q["end"]), int(q["limit"])
        ts = list(range(start, end + 1, MIN))[-limit:]
        rows = [[str(t), "1", "2", "0.5", "1.5", "3", "4.5"] for t in reversed(ts)]
        return httpx.Response(200, json={"retCode": 0, "retMsg": "OK", "result": {"list": rows}})

    rest, _ = client(handle)
    candles = asyncio.run(rest.klines("BTCUSDT", "1m", T0, T0 + 2500 * MIN))
    assert [c.ts for c in candles] == [T0 + i * MIN for i in range(2500)]
    assert len(seen) == 3
    q = seen[0].url.params
    assert (q["category"], q["interval"], q["limit"]) == ("linear", "1", "1000")


def test_klines_recorded_shape_and_inverse_volume() -> None:
    rest, _ = client(lambda r: httpx.Response(200, json=fixture("rest_kline.json")))
    a, b = asyncio.run(rest.klines("BTCUSDT", "1m", T0, T0 + 5 * MIN))
    assert (a.ts, a.volume, b.ts, b.volume) == (1772000000000, 12.5, 1772000060000, 8.0)
    inv, _ = client(lambda r: httpx.Response(200, json=fixture("rest_kline.json")))
    c, _d = asyncio.run(inv.klines("BTCUSD", "1m", T0, T0 + 5 * MIN))
    assert c.volume == 1187600.0  # turnover column (coin) for inverse


def test_open_interest_follows_cursor_and_prefers_single() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        page = (
            "rest_open_interest_page2.json"
            if "cursor" in request.url.params
            else ("rest_open_interest_page1.json")
        )
        return httpx.Response(200, json=fixture(page))

    rest, _ = client(handle)
    points = asyncio.run(rest.open_interest_history("BTCUSDT", "5m", T0, T0 + 60 * MIN))
    assert [(p.ts, p.oi_base) for p in points] == [
        (1772000000000, 99990.0),  # no singleOpenInterest on this row
        (1772000300000, 50000.0),
        (1772000600000, 50010.0),
    ]
    assert seen[1].url.params["cursor"] == "lastid%3D2"
    assert seen[0].url.params["intervalTime"] == "5min"


def test_risk_limit_passthrough() -> None:
    body = fixture("rest_risk_limit.json")
    a = adapter("bybit", transport=httpx.MockTransport(lambda r: httpx.Response(200, json=body)))
    assert asyncio.run(a.fetch_tiers("BTCUSDT")) == body


def test_ret_code_error() -> None:
    rest, _ = client(lambda r: httpx.Response(200, json=fixture("rest_error.json")))
    with pytest.raises(VenueError, match="symbol invalid"):
        asyncio.run(rest.tiers("NOPE"))


def test_429_then_ok() -> None:
    n = {"calls": 0}

    def handle(request: httpx.Request) -> httpx.Response:
        n["calls"] += 1
        if n["calls"] < 3:
            return httpx.Response(429, headers={"Retry-After": "2"})
        return httpx.Response(200, json=fixture("rest_risk_limit.json"))

    rest, sleeps = client(handle)
    asyncio.run(rest.tiers("BTCUSDT"))
    assert sleeps == [2.0, 2.0]


def test_418_banned() -> None:
    rest, _ = client(lambda r: httpx.Response(418))
    with pytest.raises(VenueError, match="banned"):
        asyncio.run(rest.tiers("BTCUSDT"))
