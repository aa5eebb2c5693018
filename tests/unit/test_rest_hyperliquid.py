"""Hyperliquid /info client against httpx.MockTransport."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from liqscope.domain.clock import ManualClock
from liqscope.domain.errors import VenueError
from liqscope.domain.events import MarkPrice
from liqscope.domain.types import Side
from liqscope.venues.hyperliquid.rest import HyperliquidRest

FRAMES = Path(__file__).resolve().parents[1] / "fixtures" / "frames" / "hyperliquid"
NOW = 1772000100000


def fixture(name: str) -> Any:
    return json.loads((FRAMES / name).read_bytes())


def server(seen: list[Any]) -> httpx.MockTransport:
    replies = {
        "candleSnapshot": fixture("rest_candle_snapshot.json"),
        "metaAndAssetCtxs": fixture("rest_meta_and_asset_ctxs.json"),
        "clearinghouseState": fixture("rest_clearinghouse_state.json"),
    }

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and request.url.path == "/info"
        body = json.loads(request.content)
        seen.append(body)
        return httpx.Response(200, json=replies[body["type"]])

    return httpx.MockTransport(handle)


def rest(seen: list[Any]) -> HyperliquidRest:
    return HyperliquidRest("http://127.0.0.1:9", transport=server(seen), clock=ManualClock(NOW))


def test_candles() -> None:
    seen: list[Any] = []
    a, b = asyncio.run(rest(seen).klines("BTC", "1m", 1772000000000, 1772000120000))
    assert seen == [
        {
            "type": "candleSnapshot",
            "req": {
                "coin": "BTC",
                "interval": "1m",
                "startTime": 1772000000000,
                "endTime": 1772000119999,
            },
        }
    ]
    assert (a.close, a.closed, b.closed) == (95010.0, True, False)


def test_asset_contexts_and_current_oi() -> None:
    seen: list[Any] = []
    events = asyncio.run(rest(seen).asset_contexts())
    marks = [e for e in events if isinstance(e, MarkPrice)]
    assert [m.symbol for m in marks] == ["BTC", "ETH"] and marks[0].ts == NOW
    oi = asyncio.run(rest(seen).open_interest_now("ETH"))
    assert oi.oi_base == 400000.0 and oi.oi_usd == pytest.approx(400000.0 * 2650.0)
    with pytest.raises(VenueError, match="unknown coin"):
        asyncio.run(rest(seen).open_interest_now("NOPE"))


def test_clearinghouse_state() -> None:
    seen: list[Any] = []
    positions = asyncio.run(rest(seen).clearinghouse_state("0xabc"))
    assert seen[0] == {"type": "clearinghouseState", "user": "0xabc"}
    assert [(p.coin, p.side) for p in positions] == [("ETH", Side.SHORT), ("BTC", Side.LONG)]


def test_no_open_interest_history() -> None:
    with pytest.raises(VenueError, match="not offered"):
        asyncio.run(rest([]).open_interest_history("BTC", "5m", 0, 1))
