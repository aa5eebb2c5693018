"""Hyperliquid parsers: WS trades, asset contexts, candles, /info replies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from liqscope.domain.clock import ManualClock
from liqscope.domain.events import Candle, MarkPrice, OpenInterest, Trade
from liqscope.domain.types import Side
from liqscope.venues.base import MalformedFrame, SubscriptionRejected
from liqscope.venues.hyperliquid.parse import (
    parse_clearinghouse_state,
    parse_frame,
    parse_meta_and_asset_ctxs,
)
from liqscope.venues.registry import adapter

FRAMES = Path(__file__).resolve().parents[1] / "fixtures" / "frames" / "hyperliquid"
NOW = 1772000005000


def frame(name: str) -> bytes:
    return (FRAMES / name).read_bytes()


def test_trades() -> None:
    a, b = parse_frame(frame("trades.json"), NOW)
    assert a == Trade("hyperliquid", "BTC", 1772000000100, 95000.0, 0.015, Side.LONG, "91234567")
    assert isinstance(b, Trade) and b.taker_side is Side.SHORT


def test_active_asset_ctx_stamped_with_clock() -> None:
    a = adapter("hyperliquid", clock=ManualClock(NOW))
    mp, oi = a.parse(frame("active_asset_ctx.json"))
    assert mp == MarkPrice("hyperliquid", "ETH", NOW, 2650.0, 2649.5, 0.0000125)
    assert oi == OpenInterest("hyperliquid", "ETH", NOW, 1000.5, 1000.5 * 2650.0)


def test_candle_closed_by_time() -> None:
    (c,) = parse_frame(frame("candle.json"), NOW)
    assert isinstance(c, Candle) and c.closed is False and c.interval_ms == 60_000
    (c2,) = parse_frame(frame("candle.json"), 1772000060000)
    assert isinstance(c2, Candle) and c2.closed is True


@pytest.mark.parametrize("name", ["subscription_response.json", "pong.json"])
def test_replies_give_nothing(name: str) -> None:
    assert parse_frame(frame(name), NOW) == []


def test_error_channel() -> None:
    with pytest.raises(SubscriptionRejected, match="NOPE"):
        parse_frame(frame("error.json"), NOW)


def test_meta_and_asset_ctxs() -> None:
    body = json.loads(frame("rest_meta_and_asset_ctxs.json"))
    events = parse_meta_and_asset_ctxs(body, NOW)
    ois = {e.symbol: e for e in events if isinstance(e, OpenInterest)}
    assert set(ois) == {"BTC", "ETH"}  # the delisted coin without a mark is skipped
    assert ois["BTC"].oi_base == 20000.5
    assert ois["BTC"].oi_usd == pytest.approx(20000.5 * 95000.0)
    with pytest.raises(MalformedFrame):
        parse_meta_and_asset_ctxs([body[0], body[1][:2]], NOW)


def test_clearinghouse_state_positions() -> None:
    body = json.loads(frame("rest_clearinghouse_state.json"))
    eth, btc = parse_clearinghouse_state(body, "0xabc")
    assert (eth.coin, eth.side, eth.size, eth.liquidation_px) == ("ETH", Side.SHORT, 0.5, 2940.5)
    assert (eth.leverage, eth.leverage_type) == (10.0, "isolated")
    assert btc.side is Side.LONG and btc.liquidation_px is None


@pytest.mark.parametrize(
    "raw",
    [
        b"garbage",
        b"[]",
        b'{"channel":"trades","data":[{"coin":"BTC","side":"X","px":"1","sz":"1","time":1,"tid":1}]}',
        b'{"channel":"trades","data":[{"coin":"BTC","side":"B","px":"1","time":1,"tid":1}]}',
        b'{"channel":"activeAssetCtx","data":{"coin":"BTC","ctx":{"markPx":"x"}}}',
        b'{"channel":"candle","data":{"t":1,"T":2,"s":"BTC","i":"9q","o":"1","c":"1","h":"1","l":"1","v":"1"}}',
    ],
)
def test_malformed_frames_raise(raw: bytes) -> None:
    with pytest.raises(MalformedFrame):
        parse_frame(raw, NOW)
