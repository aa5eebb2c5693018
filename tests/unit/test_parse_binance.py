"""Binance parsers: the real recorded forceOrder file, documented examples, quirks."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from liqscope.domain.events import Candle, Liquidation, MarkPrice, Trade
from liqscope.domain.types import PriceKind, Side
from liqscope.venues.base import MalformedFrame, SubscriptionRejected
from liqscope.venues.binance.parse import CoinmParser, parse_coinm_frame, parse_frame
from liqscope.venues.registry import adapter

FRAMES = Path(__file__).resolve().parents[1] / "fixtures" / "frames" / "binance"
REAL_FILE = "binance-forceorder-2025-01-26--02-06.jsonl"


def frame(name: str) -> bytes:
    return (FRAMES / name).read_bytes()


# -- the real file -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_lines(real_data: Path) -> list[bytes]:
    path = real_data / REAL_FILE
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path.read_bytes().splitlines()


def test_real_file_every_frame_parses_to_one_liquidation(real_lines: list[bytes]) -> None:
    assert len(real_lines) == 3510
    for line in real_lines:
        raw = json.loads(line)["data"]["o"]
        events = parse_frame(line)
        assert len(events) == 1
        ev = events[0]
        assert isinstance(ev, Liquidation)
        assert ev.venue == "binance"
        assert ev.symbol == raw["s"]
        assert ev.symbol.endswith(("USDT", "USDC"))
        assert ev.side is (Side.LONG if raw["S"] == "SELL" else Side.SHORT)
        assert ev.qty == float(raw["z"])
        assert ev.price == float(raw["ap"])
        assert ev.price_kind is PriceKind.AVERAGE_FILL
        assert math.isclose(ev.notional_usd, float(raw["z"]) * float(raw["ap"]), rel_tol=1e-12)
        assert ev.ts == raw["T"]
        assert ev.sampled is True


def test_real_file_side_counts_match_raw_count(real_lines: list[bytes]) -> None:
    # Independent count: straight from the JSON text, no liqscope code involved.
    raw_sell = sum(json.loads(line)["data"]["o"]["S"] == "SELL" for line in real_lines)
    raw_buy = sum(json.loads(line)["data"]["o"]["S"] == "BUY" for line in real_lines)
    a = adapter("binance")
    events = [ev for line in real_lines for ev in a.parse(line)]
    longs = sum(1 for ev in events if isinstance(ev, Liquidation) and ev.side is Side.LONG)
    shorts = sum(1 for ev in events if isinstance(ev, Liquidation) and ev.side is Side.SHORT)
    assert (longs, shorts) == (raw_sell, raw_buy)
    assert longs + shorts == len(real_lines)
    assert raw_sell > 0 and raw_buy > 0


def test_real_file_parses_as_str_too(real_lines: list[bytes]) -> None:
    line = real_lines[0]
    assert parse_frame(line.decode()) == parse_frame(line)


# -- documented example and quirks -----------------------------------------------------


def test_documented_2022_force_order() -> None:
    (ev,) = parse_frame(frame("forceorder_2022.json"))
    assert ev == Liquidation(
        venue="binance",
        symbol="BTCUSDT",
        ts=1650898329196,  # T, not E
        side=Side.LONG,  # S=SELL: the liquidation order sold, a long was closed
        qty=0.288,
        price=39021.00,  # ap (average fill), not p (the engine's limit)
        price_kind=PriceKind.AVERAGE_FILL,
        notional_usd=0.288 * 39021.00,
        sampled=True,
    )


def test_combined_frame_with_2026_extra_keys_is_read() -> None:
    (ev,) = parse_frame(frame("forceorder_combined_2026_extra_keys.json"))
    assert isinstance(ev, Liquidation)
    assert (ev.symbol, ev.side, ev.qty, ev.price) == ("ETHUSDT", Side.SHORT, 1.0, 2641.25)


def test_unfilled_force_order_gives_nothing() -> None:
    assert parse_frame(frame("forceorder_unfilled.json")) == []


def test_agg_trade_taker_side() -> None:
    (sold,) = parse_frame(frame("aggtrade.json"))
    assert sold == Trade("binance", "BTCUSDT", 1772000000999, 95000.10, 0.25, Side.SHORT, "5933014")
    (bought,) = parse_frame(frame("aggtrade_taker_buy.json"))
    assert isinstance(bought, Trade) and bought.taker_side is Side.LONG


def test_mark_price_uses_event_time_not_next_funding() -> None:
    (mp,) = parse_frame(frame("markprice.json"))
    assert mp == MarkPrice("binance", "BTCUSDT", 1562305380000, 11794.15, 11784.62, 0.00038167)


def test_mark_price_array_and_empty_funding() -> None:
    events = parse_frame(frame("markprice_arr.json"))
    assert [e.symbol for e in events] == ["BTCUSDT", "ETHUSDT"]
    assert isinstance(events[1], MarkPrice) and events[1].funding_rate is None


def test_kline_open_and_closed() -> None:
    (open_,) = parse_frame(frame("kline_open.json"))
    (closed,) = parse_frame(frame("kline_closed.json"))
    assert isinstance(open_, Candle) and isinstance(closed, Candle)
    assert open_.closed is False and closed.closed is True
    assert closed == Candle(
        "binance", "BTCUSDT", 1771999980000, 60_000, 95000.0, 95030.0, 94990.0, 95015.0,
        20.0, 11.0, True,
    )  # fmt: skip


@pytest.mark.parametrize("name", ["subscribe_reply.json", "unknown_event.json"])
def test_replies_and_unknown_events_give_nothing(name: str) -> None:
    assert parse_frame(frame(name)) == []


def test_subscribe_error_is_reported() -> None:
    with pytest.raises(SubscriptionRejected, match="Invalid request"):
        parse_frame(frame("subscribe_error.json"))


def test_malformed_frames_raise() -> None:
    lines = (FRAMES / "malformed.jsonl").read_bytes().splitlines()
    assert len(lines) >= 10
    for line in lines:
        with pytest.raises(MalformedFrame) as info:
            parse_frame(line)
        assert str(info.value)  # a short reason


def test_malformed_reasons_name_the_problem() -> None:
    with pytest.raises(MalformedFrame, match="not JSON"):
        parse_frame(b"{nope")
    with pytest.raises(MalformedFrame, match="missing field 'ap'"):
        parse_frame(b'{"e":"forceOrder","o":{"s":"X","S":"SELL","z":"1","T":1}}')


# -- COIN-M --------------------------------------------------------------------------------


def test_coinm_btcusd_contracts_are_100_usd() -> None:
    (ev,) = parse_coinm_frame(frame("coinm_forceorder_btcusd.json"))
    assert isinstance(ev, Liquidation)
    assert ev.symbol == "BTCUSD_PERP" and ev.side is Side.LONG
    assert ev.notional_usd == 160 * 100.0
    assert math.isclose(ev.qty, 160 * 100.0 / 50000.0)  # 0.32 BTC
    assert ev.price == 50000.0 and ev.sampled


def test_coinm_other_pairs_are_10_usd() -> None:
    (ev,) = adapter("binance_coinm").parse(frame("coinm_forceorder_ethusd.json"))
    assert isinstance(ev, Liquidation)
    assert ev.side is Side.SHORT
    assert ev.notional_usd == 250.0
    assert math.isclose(ev.qty, 0.1)


def test_coinm_contract_size_override() -> None:
    parser = CoinmParser({"ETHUSD": 20.0})
    (ev,) = parser(frame("coinm_forceorder_ethusd.json"))
    assert isinstance(ev, Liquidation) and ev.notional_usd == 500.0


def test_coinm_trade_and_kline_in_base() -> None:
    (tr,) = parse_coinm_frame(frame("coinm_aggtrade.json"))
    assert isinstance(tr, Trade)
    assert math.isclose(tr.qty, 5 * 100 / 50000.0) and tr.taker_side is Side.LONG
    (k,) = parse_coinm_frame(frame("coinm_kline.json"))
    assert isinstance(k, Candle)
    assert (k.volume, k.taker_buy_volume) == (2.0, 1.2)  # base columns q / Q, not contracts
