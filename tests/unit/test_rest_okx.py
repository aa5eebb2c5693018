"""OKX REST client against httpx.MockTransport."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from liqscope.domain.clock import ManualClock
from liqscope.domain.errors import VenueError
from liqscope.domain.events import Liquidation
from liqscope.venues.okx import OkxAdapter
from liqscope.venues.okx.rest import OkxRest
from liqscope.venues.registry import adapter

FRAMES = Path(__file__).resolve().parents[1] / "fixtures" / "frames" / "okx"
MIN = 60_000
T0 = 1_771_999_980_000


def fixture(name: str) -> Any:
    return json.loads((FRAMES / name).read_bytes())


def rest_for(handler: Any) -> OkxRest:
    return OkxRest(
        "http://127.0.0.1:9", transport=httpx.MockTransport(handler), clock=ManualClock(T0)
    )


def test_history_candles_page_backwards_with_after() -> None:
    seen: list[httpx.Request] = []
    listed_from = T0 - 50 * MIN

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        after, limit = int(request.url.params["after"]), int(request.url.params["limit"])
        ts = [t for t in range(after - MIN, listed_from - 1, -MIN)][:limit]  # newest first
        rows = [[str(t), "1", "2", "0.5", "1.5", "100", "1.0", "1.5", "1"] for t in ts]
        return httpx.Response(200, json={"code": "0", "msg": "", "data": rows})

    candles = asyncio.run(rest_for(handle).klines("BTC-USDT-SWAP", "1m", T0, T0 + 250 * MIN))
    assert [c.ts for c in candles] == [T0 + i * MIN for i in range(250)]
    assert seen[0].url.params["after"] == str(T0 + 250 * MIN)
    assert seen[0].url.params["bar"] == "1m"
    assert len(seen) == 3
    assert candles[0].volume == 1.0  # volCcy (coin), not contracts


def test_history_candles_stop_when_history_ends() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=fixture("rest_history_candles.json"))

    candles = asyncio.run(
        rest_for(handle).klines("BTC-USDT-SWAP", "1m", T0 - 100 * MIN, T0 + 5 * MIN)
    )
    assert [(c.ts, c.closed, c.volume) for c in candles] == [
        (1772000000000, True, 12.5),
        (1772000060000, False, 8.0),
    ]


def test_open_interest_now() -> None:
    rest = rest_for(lambda r: httpx.Response(200, json=fixture("rest_open_interest.json")))
    oi = asyncio.run(rest.open_interest_now("BTC-USDT-SWAP"))
    assert (oi.oi_base, oi.oi_usd, oi.ts) == (25000.0, 2375000000.0, 1772000000050)
    with pytest.raises(VenueError, match="history"):
        asyncio.run(rest.open_interest_history("BTC-USDT-SWAP", "5m", T0, T0 + MIN))


def test_load_instruments_feeds_the_parser() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=fixture("rest_instruments_swap.json"))

    a = adapter("okx", rest_url="http://127.0.0.1:9", transport=httpx.MockTransport(handle))
    assert isinstance(a, OkxAdapter)
    assert asyncio.run(a.load_instruments()) == 3
    assert seen[0].url.path == "/api/v5/public/instruments"
    assert seen[0].url.params["instType"] == "SWAP"
    (ev,) = a.parse((FRAMES / "liquidation_orders_iost.json").read_bytes())
    assert isinstance(ev, Liquidation) and ev.qty == 13 * 1000.0


def test_position_tiers_passthrough() -> None:
    seen: list[httpx.Request] = []
    body = fixture("rest_position_tiers.json")

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=body)

    assert asyncio.run(rest_for(handle).tiers("BTC-USDT-SWAP")) == body
    q = seen[0].url.params
    assert (q["instType"], q["tdMode"], q["instFamily"]) == ("SWAP", "isolated", "BTC-USDT")


def test_error_code() -> None:
    rest = rest_for(lambda r: httpx.Response(200, json=fixture("rest_error.json")))
    with pytest.raises(VenueError, match="51001"):
        asyncio.run(rest.open_interest_now("NOPE-USDT-SWAP"))


def test_prepare_loads_swap_and_futures() -> None:
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params["instType"])
        return httpx.Response(200, json=fixture("rest_instruments_swap.json"))

    a = adapter("okx", transport=httpx.MockTransport(handle))
    asyncio.run(a.prepare())
    assert seen == ["SWAP", "FUTURES"]
    assert isinstance(a, OkxAdapter) and "IOST-USDT-SWAP" in a.instruments


def _instruments_transport(seen: list[str]) -> httpx.MockTransport:
    """SWAP and FUTURES instrument listings: one instrument each."""
    rows = {
        "SWAP": {"instId": "DOGE-USDT-SWAP", "ctVal": "1000", "ctType": "linear"},
        "FUTURES": {"instId": "BTC-USD-261225", "ctVal": "100", "ctType": "inverse"},
    }

    def handle(request: httpx.Request) -> httpx.Response:
        kind = request.url.params["instType"]
        seen.append(kind)
        return httpx.Response(200, json={"code": "0", "msg": "", "data": [rows[kind]]})

    return httpx.MockTransport(handle)


def test_collector_prepares_every_adapter_with_swap_and_futures() -> None:
    """The collector calls ``prepare()`` on every adapter, not only the first per venue, and
    OKX's prepare loads FUTURES contract values too."""
    from liqscope.ingest.collector import Collector, CollectorConfig, CollectorSpec

    seen: list[str] = []
    made: list[OkxAdapter] = []

    def factory(spec: CollectorSpec, clock: Any) -> OkxAdapter:
        a = OkxAdapter(rest_url="http://127.0.0.1:9", transport=_instruments_transport(seen))
        made.append(a)
        return a

    specs = [CollectorSpec("okx", ("BTC-USDT-SWAP",)), CollectorSpec("okx", ("BTC-USD-261225",))]
    no_store: Any = None  # preparing touches no store
    collector = Collector(specs, no_store, config=CollectorConfig(), adapter_factory=factory)
    asyncio.run(collector._prepare_adapters())
    assert len(made) == 2
    assert sorted(seen) == ["FUTURES", "FUTURES", "SWAP", "SWAP"]
    for a in made:
        assert a.instruments["BTC-USD-261225"].contract_size == 100.0
        assert a.instruments["DOGE-USDT-SWAP"].contract_size == 1000.0


def test_open_interest_history_pages_backwards_over_rubik() -> None:
    seen: list[httpx.Request] = []
    pauses: list[float] = []
    step = 5 * MIN
    listed_from = T0 - 300 * step

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        p = request.url.params
        end, begin, limit = int(p["end"]), int(p["begin"]), int(p["limit"])
        ts = [t for t in range(end - step, max(begin, listed_from - 1), -step)][:limit]
        rows = [[str(t), "1000", f"{10 + i}", "5000000"] for i, t in enumerate(ts)]
        return httpx.Response(200, json={"code": "0", "msg": "", "data": rows})

    async def sleeper(s: float) -> None:
        pauses.append(s)

    client = OkxRest(
        "http://127.0.0.1:9",
        transport=httpx.MockTransport(handle),
        sleeper=sleeper,
        clock=ManualClock(T0),
    )
    start, end = T0 - 250 * step, T0
    rows = asyncio.run(client.open_interest_history("BTC-USDT-SWAP", "5m", start, end))
    assert [r.ts for r in rows] == list(range(start, end, step))
    assert seen[0].url.path == "/api/v5/rubik/stat/contracts/open-interest-history"
    assert seen[0].url.params["period"] == "5m" and seen[0].url.params["instId"] == "BTC-USDT-SWAP"
    assert len(seen) == 3  # 100 + 100 + 50
    assert rows[-1].oi_base == 10.0 and rows[-1].oi_usd == 5_000_000.0  # oiCcy: coins
    assert pauses and all(p > 0 for p in pauses)  # paced under the rubik rate limit


def test_429_is_logged_and_honoured_and_418_is_a_logged_ban(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """429 paused without a log line before; 418 was a plain VenueError."""
    from liqscope.venues.base import VenueBanned

    replies = [
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(200, json={"code": "0", "msg": "", "data": []}),
        httpx.Response(418, headers={"Retry-After": "120"}),
    ]
    waits: list[float] = []

    async def sleeper(s: float) -> None:
        waits.append(s)

    client = OkxRest(
        "http://127.0.0.1:9",
        transport=httpx.MockTransport(lambda request: replies.pop(0)),
        sleeper=sleeper,
    )
    caplog.set_level("WARNING", logger="liqscope.venues")
    assert asyncio.run(client.instruments("SWAP")) == []
    assert waits == [7.0]
    assert "HTTP 429 on /api/v5/public/instruments; retrying in 7.0 s" in caplog.text
    with pytest.raises(VenueBanned, match="418") as ban:
        asyncio.run(client.instruments("SWAP"))
    assert ban.value.retry_after_s == 120.0
    assert "HTTP 418 on /api/v5/public/instruments" in caplog.text
