"""The adapter template: registry, declared capabilities, stream plans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from liqscope.domain.errors import InputError, VenueError
from liqscope.domain.intervals import interval_ms
from liqscope.venues.base import Channel, MalformedFrame, VenueAdapter
from liqscope.venues.registry import adapter, names


def test_registry_names_and_overrides() -> None:
    assert names() == ["binance", "binance_coinm", "bybit", "hyperliquid", "okx"]
    a = adapter("Bybit", ws_url="ws://127.0.0.1:9001/", rest_url="http://127.0.0.1:9002")
    assert a.ws_base_url == "ws://127.0.0.1:9001"
    assert a.rest_base_url == "http://127.0.0.1:9002"
    assert a.ws_url(["BTCUSDT"], [Channel.TRADES]) == "ws://127.0.0.1:9001/v5/public/linear"
    with pytest.raises(InputError, match="unknown venue"):
        adapter("ftx")


@pytest.mark.parametrize("name", names())
def test_every_adapter_declares_the_template(name: str) -> None:
    a = adapter(name)
    assert isinstance(a, VenueAdapter)
    assert a.name == name
    assert isinstance(a.liquidations_sampled, bool)
    assert isinstance(a.has_liquidation_feed, bool)
    assert a.ws_channels
    assert (a.ping.interval_s is not None) or a.ping.server_pings
    assert a.parse(b'{"unknown": "frame", "with": ["keys"]}') == []
    with pytest.raises(MalformedFrame):
        a.parse(b"\x00not json")
    assert issubclass(MalformedFrame, VenueError)


def test_sampling_is_declared_per_venue() -> None:
    sampled = {n: adapter(n).liquidations_sampled for n in names()}
    assert sampled["binance"] and sampled["okx"] and not sampled["bybit"]
    assert not adapter("hyperliquid").has_liquidation_feed


def test_binance_plan() -> None:
    plan = adapter("binance").stream_plan(["BTCUSDT", "ETHUSDT"], [Channel.LIQUIDATIONS])
    assert plan.url == "wss://fstream.binance.com/market/stream"
    (msg,) = plan.subscribe
    assert json.loads(msg) == {
        "method": "SUBSCRIBE",
        "params": ["btcusdt@forceOrder", "ethusdt@forceOrder"],
        "id": 1,
    }
    assert plan.max_lifetime_s == 24 * 3600
    assert plan.ping.server_pings and plan.ping.message is None
    everything = adapter("binance").stream_plan("*", [Channel.LIQUIDATIONS])
    assert json.loads(everything.subscribe[0])["params"] == ["!forceOrder@arr"]


def test_binance_subscribe_is_chunked() -> None:
    syms = [f"S{i}USDT" for i in range(250)]
    plan = adapter("binance").stream_plan(syms, [Channel.TRADES])
    params = [p for m in plan.subscribe for p in json.loads(m)["params"]]
    assert len(plan.subscribe) == 3 and len(params) == 250
    with pytest.raises(InputError, match="1024"):
        adapter("binance").stream_plan(
            [f"S{i}" for i in range(300)], adapter("binance").ws_channels
        )


def test_bybit_plan() -> None:
    plan = adapter("bybit").stream_plan(
        ["BTCUSDT"], [Channel.LIQUIDATIONS, Channel.MARK_PRICE, Channel.OPEN_INTEREST]
    )
    assert plan.url == "wss://stream.bybit.com/v5/public/linear"
    assert json.loads(plan.subscribe[0]) == {
        "op": "subscribe",
        "args": ["allLiquidation.BTCUSDT", "tickers.BTCUSDT"],
    }
    assert plan.ping.interval_s == 20 and json.loads(plan.ping.message or "") == {"op": "ping"}
    inv = adapter("bybit").stream_plan(["BTCUSD"], [Channel.TRADES])
    assert inv.url.endswith("/v5/public/inverse")
    with pytest.raises(InputError, match="separate connections"):
        adapter("bybit").stream_plan(["BTCUSD", "BTCUSDT"], [Channel.TRADES])


def test_okx_plan() -> None:
    plan = adapter("okx").stream_plan(["BTC-USDT-SWAP"], [Channel.LIQUIDATIONS, Channel.TRADES])
    assert plan.url == "wss://ws.okx.com:8443/ws/v5/public"
    assert json.loads(plan.subscribe[0])["args"] == [
        {"channel": "liquidation-orders", "instType": "SWAP"},
        {"channel": "trades", "instId": "BTC-USDT-SWAP"},
    ]
    assert plan.ping.message == "ping"
    with pytest.raises(InputError, match="candles"):
        adapter("okx").stream_plan(["BTC-USDT-SWAP"], [Channel.CANDLES])


def test_hyperliquid_plan() -> None:
    plan = adapter("hyperliquid").stream_plan(["BTC"], [Channel.TRADES, Channel.MARK_PRICE])
    assert plan.url == "wss://api.hyperliquid.xyz/ws"
    assert [json.loads(m) for m in plan.subscribe] == [
        {"method": "subscribe", "subscription": {"type": "trades", "coin": "BTC"}},
        {"method": "subscribe", "subscription": {"type": "activeAssetCtx", "coin": "BTC"}},
    ]
    with pytest.raises(InputError, match="liquidations"):
        adapter("hyperliquid").stream_plan(["BTC"], [Channel.LIQUIDATIONS])


def test_interval_ms() -> None:
    assert interval_ms("1m") == 60_000 and interval_ms("4h") == 14_400_000
    with pytest.raises(InputError):
        interval_ms("1M")


# Frames whose values parse but cannot be real: each venue's parser refuses them (BadValue, a
# MalformedFrame the collector counts as a bad value and never stores).
_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "frames"
_ABSURD = [
    ("binance", "binance/forceorder_2022.json", '"ap":"39021.00"', '"ap":"Infinity"', "price"),
    ("binance", "binance/forceorder_2022.json", '"ap":"39021.00"', '"ap":"1e400"', "price"),
    ("binance", "binance/forceorder_2022.json", '"z":"0.288"', '"z":"-1"', "quantity"),
    ("binance", "binance/forceorder_2022.json", '"T":1650898329196', '"T":-1', "ts"),
    ("binance", "binance/forceorder_2022.json", '"T":1650898329196', '"T":0', "ts"),
    (
        "binance",
        "binance/forceorder_2022.json",
        '"T":1650898329196',
        '"T":100000000000000000',
        "ts",
    ),
    ("binance", "binance/forceorder_2022.json", '"T":1650898329196', f'"T":{2**63 + 5}', "ts"),
    ("binance", "binance/markprice.json", None, None, "mark"),
    ("bybit", "bybit/allliquidation_roseusdt.json", '"p":"0.04499"', '"p":"Infinity"', "price"),
    ("bybit", "bybit/allliquidation_roseusdt.json", '"T":1739502302929', '"T":0', "ts"),
    ("okx", "okx/trades.json", None, None, "price"),
    ("hyperliquid", "hyperliquid/trades.json", '"px":"95000.0"', '"px":"inf"', "price"),
    ("hyperliquid", "hyperliquid/trades.json", '"sz":"0.015"', '"sz":"0"', "qty"),
]


@pytest.mark.parametrize(("venue", "name", "old", "new", "field"), _ABSURD)
def test_absurd_values_are_refused_naming_the_field(
    venue: str, name: str, old: str | None, new: str | None, field: str
) -> None:
    from liqscope.venues.base import BadValue

    text = (_FIXTURES / name).read_text()
    if old is None:  # replace the first price-like field of the fixture
        key = {"mark": '"p":"', "price": '"px":"'}[field]
        i = text.index(key) + len(key)
        text = text[:i] + "Infinity" + text[text.index('"', i) :]
    else:
        assert old in text
        text = text.replace(old, new or "")
    with pytest.raises(MalformedFrame, match=field) as err:
        adapter(venue).parse(text)
    assert isinstance(err.value, BadValue) or "non-positive" in str(err.value)


def _future_frames(ts: int) -> dict[str, str]:
    """One liquidation frame per venue with a liquidation feed, stamped ``ts``."""
    return {
        "binance": json.dumps({"e": "forceOrder", "E": ts, "o": {
            "s": "BTCUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "0.014", "p": "99100",
            "ap": "99100", "X": "FILLED", "l": "0.014", "z": "0.014", "T": ts}}),
        "bybit": json.dumps({"topic": "allLiquidation.BTCUSDT", "type": "snapshot", "ts": ts,
            "data": [{"T": ts, "s": "BTCUSDT", "S": "Sell", "v": "0.003", "p": "99100"}]}),
        "okx": json.dumps({"arg": {"channel": "liquidation-orders", "instType": "SWAP"},
            "data": [{"instId": "BTC-USDT-SWAP", "instType": "SWAP", "details": [{
                "bkPx": "99100", "posSide": "short", "side": "buy", "sz": "1",
                "ts": str(ts)}]}]}),
    }  # fmt: skip


@pytest.mark.parametrize("name", ["binance", "bybit", "okx"])
def test_frame_times_are_checked_against_the_adapters_clock(name: str) -> None:
    """A simulated clock days ahead of the machine (the demo at 10x) keeps its frames: the
    'more than a day ahead' bound is taken from the adapter's clock, not the system's."""
    from liqscope.domain.clock import SYSTEM_CLOCK, ManualClock
    from liqscope.venues.base import BadValue

    ahead = SYSTEM_CLOCK.now_ms() + 3 * interval_ms("1d")
    frame = _future_frames(ahead)[name]
    (event,) = adapter(name, clock=ManualClock(ahead)).parse(frame)
    assert event.ts == ahead
    with pytest.raises(BadValue):
        adapter(name).parse(frame)  # on the system clock it is three days ahead
