"""Binance REST client against httpx.MockTransport: paging, rate limits, errors."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from liqscope.domain.clock import ManualClock
from liqscope.domain.errors import VenueError
from liqscope.venues.binance.rest import BinanceCoinmRest, BinanceRest
from liqscope.venues.registry import adapter

FRAMES = Path(__file__).resolve().parents[1] / "fixtures" / "frames" / "binance"
MIN = 60_000
T0 = 1_771_999_980_000  # a minute boundary
Handler = Callable[[httpx.Request], httpx.Response]


def fixture(name: str) -> Any:
    return json.loads((FRAMES / name).read_bytes())


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def client(handler: Handler, now: int = T0 + 10_000 * MIN, **kw: Any) -> tuple[BinanceRest, Sleeps]:
    sleeps = Sleeps()
    rest = BinanceRest(
        "http://127.0.0.1:9",
        transport=httpx.MockTransport(handler),
        sleeper=sleeps,
        clock=ManualClock(now),
        **kw,
    )
    return rest, sleeps


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def kline_server(requests: list[httpx.Request], last_open: int) -> Handler:
    """Serves 1m klines like Binance: from startTime, at most `limit`, up to endTime."""

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        q = request.url.params
        start, end, limit = int(q["startTime"]), int(q["endTime"]), int(q["limit"])
        first = -(-start // MIN) * MIN
        rows = []
        for t in range(first, min(end, last_open) + 1, MIN):
            rows.append(
                [t, "1.0", "2.0", "0.5", "1.5", "10.0", t + MIN - 1, "15.0", 5, "4.0", "6.0", "0"]
            )
            if len(rows) == limit:
                break
        return httpx.Response(200, json=rows, headers={"X-MBX-USED-WEIGHT-1M": "10"})

    return handle


def test_klines_page_through_long_ranges() -> None:
    seen: list[httpx.Request] = []
    now = T0 + 4000 * MIN - 30_000  # the last candle is still open
    rest, sleeps = client(kline_server(seen, last_open=T0 + 3999 * MIN), now=now)
    candles = run(rest.klines("BTCUSDT", "1m", T0, T0 + 4000 * MIN))
    assert [c.ts for c in candles] == [T0 + i * MIN for i in range(4000)]
    assert len(seen) == 3
    assert all(r.url.params["limit"] == "1500" for r in seen)
    assert seen[0].url.path == "/fapi/v1/klines"
    assert [int(r.url.params["startTime"]) for r in seen] == [T0, T0 + 1500 * MIN, T0 + 3000 * MIN]
    assert candles[0].volume == 10.0 and candles[0].taker_buy_volume == 4.0
    assert all(c.closed for c in candles[:-1]) and not candles[-1].closed
    assert sleeps.calls == []
    assert rest.used_weight == 10


def test_klines_recorded_shape() -> None:
    rows = fixture("rest_klines.json")
    rest, _ = client(lambda r: httpx.Response(200, json=rows))
    candles = run(rest.klines("BTCUSDT", "1m", T0, T0 + 2 * MIN))
    assert [(c.open, c.close, c.volume) for c in candles] == [
        (95000.0, 95010.0, 12.5),
        (95010.0, 95025.0, 8.0),
    ]


def test_coinm_klines_use_base_volume() -> None:
    row = [T0, "1", "2", "0.5", "1.5", "1000", T0 + MIN - 1, "0.7", 5, "600", "0.4", "0"]
    rest = BinanceCoinmRest(
        "http://127.0.0.1:9",
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json=[row])),
        clock=ManualClock(T0 + 10 * MIN),
    )
    (c,) = run(rest.klines("BTCUSD_PERP", "1m", T0, T0 + MIN))
    assert (c.volume, c.taker_buy_volume) == (0.7, 0.4)


def test_429_retry_after_is_honoured() -> None:
    calls = {"n": 0}

    def handle(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(429, headers={"Retry-After": "7"}, json={"code": -1003})
        return httpx.Response(200, json=fixture("rest_open_interest.json"))

    rest, sleeps = client(handle)
    oi = run(rest.open_interest_now("BTCUSDT"))
    assert oi.oi_base == 10659.509 and oi.ts == 1589437530011
    assert sleeps.calls == [7.0]
    assert calls["n"] == 2


def test_429_retries_are_bounded() -> None:
    rest, sleeps = client(
        lambda r: httpx.Response(429, headers={"Retry-After": "1"}), max_retries=2
    )
    with pytest.raises(VenueError, match="429"):
        run(rest.open_interest_now("BTCUSDT"))
    assert sleeps.calls == [1.0, 1.0]


def test_418_means_banned() -> None:
    rest, sleeps = client(lambda r: httpx.Response(418, headers={"Retry-After": "120"}))
    with pytest.raises(VenueError, match="banned"):
        run(rest.open_interest_now("BTCUSDT"))
    assert sleeps.calls == []


def test_weight_near_limit_waits_for_next_minute() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        body = fixture("rest_open_interest.json")
        return httpx.Response(200, json=body, headers={"X-MBX-USED-WEIGHT-1M": "2300"})

    rest, sleeps = client(handle, now=T0 + 45_000)  # 45 s into the minute
    run(rest.open_interest_now("BTCUSDT"))
    assert rest.used_weight == 2300
    assert sleeps.calls == [pytest.approx(15.5)]


def test_http_error_body_is_reported() -> None:
    rest, _ = client(lambda r: httpx.Response(400, json=fixture("rest_error_bad_symbol.json")))
    with pytest.raises(VenueError, match="Invalid symbol"):
        run(rest.open_interest_now("NOPE"))


def test_unreachable_host() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    rest, _ = client(refuse)
    with pytest.raises(VenueError, match=r"cannot reach http://127\.0\.0\.1:9"):
        run(rest.open_interest_now("BTCUSDT"))


def test_unreachable_real_socket() -> None:
    rest = BinanceRest("http://127.0.0.1:1", timeout_s=2.0)
    with pytest.raises(VenueError, match="cannot reach"):
        run(rest.open_interest_now("BTCUSDT"))


def test_open_interest_history_windows_and_30_day_clip() -> None:
    seen: list[httpx.Request] = []
    step = 5 * MIN

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        q = request.url.params
        start, end = int(q["startTime"]), int(q["endTime"])
        first = -(-start // step) * step
        rows = [
            {
                "symbol": "BTCUSDT",
                "sumOpenInterest": str(1000 + (t - T0) // step),
                "sumOpenInterestValue": "1e8",
                "timestamp": str(t),
            }
            for t in range(first, end + 1, step)
        ]
        return httpx.Response(200, json=rows[: int(q["limit"])])

    now = T0 + 31 * 86_400_000
    rest, _ = client(handle, now=now)
    points = run(rest.open_interest_history("BTCUSDT", "5m", T0, T0 + 31 * 86_400_000))
    oldest = now - 30 * 86_400_000
    assert points[0].ts >= oldest and points[0].ts - oldest < step
    ts = [p.ts for p in points]
    assert ts == sorted(set(ts))
    assert all(b - a == step for a, b in itertools.pairwise(ts))
    assert all(r.url.path == "/futures/data/openInterestHist" for r in seen)
    assert all(r.url.params["limit"] == "500" for r in seen)


def test_open_interest_history_recorded_shape() -> None:
    rest, _ = client(lambda r: httpx.Response(200, json=fixture("rest_open_interest_hist.json")))
    a, b = run(rest.open_interest_history("BTCUSDT", "5m", T0, T0 + 10 * MIN))
    assert (a.ts, a.oi_base, a.oi_usd) == (1772000100000, 20403.637, 150570784.07)
    assert b.ts == 1772000400000  # numeric timestamps are accepted too


def test_adapter_fetch_uses_overrides() -> None:
    seen: list[httpx.Request] = []
    a = adapter(
        "binance",
        rest_url="http://127.0.0.1:8123",
        transport=httpx.MockTransport(kline_server(seen, last_open=T0 + 10 * MIN)),
        clock=ManualClock(T0 + 100 * MIN),
    )
    candles = run(a.fetch_klines("BTCUSDT", "1m", T0, T0 + 3 * MIN))
    assert len(candles) == 3
    assert str(seen[0].url).startswith("http://127.0.0.1:8123/fapi/v1/klines")
