"""OKX v5 parsers: documented IOST example, contracts × ctVal, posSide check, replies."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from liqscope.domain.events import Liquidation, MarkPrice, OpenInterest, Trade
from liqscope.domain.types import PriceKind, Side
from liqscope.venues.base import MalformedFrame, SubscriptionRejected, UnknownInstrument
from liqscope.venues.okx.parse import OkxParser, parse_frame
from liqscope.venues.okx.rules import instrument_from_row
from liqscope.venues.registry import adapter

FRAMES = Path(__file__).resolve().parents[1] / "fixtures" / "frames" / "okx"


def frame(name: str) -> bytes:
    return (FRAMES / name).read_bytes()


@pytest.fixture(scope="module")
def parser() -> OkxParser:
    rows = json.loads(frame("rest_instruments_swap.json"))["data"]
    return OkxParser({r["instId"]: instrument_from_row(r) for r in rows})


def test_documented_iost_example(parser: OkxParser) -> None:
    ct_val = parser.instruments["IOST-USDT-SWAP"].contract_size
    (ev,) = parser(frame("liquidation_orders_iost.json"))
    assert isinstance(ev, Liquidation)
    assert ev.symbol == "IOST-USDT-SWAP"
    assert ev.side is Side.SHORT  # side=buy (order), posSide=short
    assert ev.qty == 13 * ct_val  # contracts × ctVal, in IOST
    assert ev.price == 0.007831 and ev.price_kind is PriceKind.BANKRUPTCY
    assert math.isclose(ev.notional_usd, 13 * ct_val * 0.007831)
    assert ev.ts == 1692266434010 and ev.sampled is True


def test_unknown_instrument_without_map_parses_once_loaded(parser: OkxParser) -> None:
    fresh = OkxParser()
    with pytest.raises(UnknownInstrument, match="IOST-USDT-SWAP"):
        fresh(frame("liquidation_orders_iost.json"))
    fresh.update([parser.instruments["IOST-USDT-SWAP"]])  # what adapter.prepare() loads
    (ev,) = fresh(frame("liquidation_orders_iost.json"))
    assert isinstance(ev, Liquidation)
    assert ev.qty == 13 * parser.instruments["IOST-USDT-SWAP"].contract_size


def test_snapshot_with_several_instruments_and_details() -> None:
    events = adapter("okx").parse(frame("liquidation_orders_snapshot_multi.json"))
    assert len(events) == 3
    a, b, c = events
    assert isinstance(a, Liquidation) and isinstance(b, Liquidation) and isinstance(c, Liquidation)
    # BTC-USDT-SWAP: ctVal 0.01 BTC; side sell -> long liquidated
    assert (a.side, a.qty, a.price) == (Side.LONG, 30 * 0.01, 94000.5)
    assert b.side is Side.LONG and math.isclose(b.qty, 0.05)  # empty posSide: side decides
    # BTC-USD-SWAP (inverse): 20 contracts × 100 USD
    assert c.side is Side.SHORT and c.notional_usd == 2000.0
    assert math.isclose(c.qty, 2000.0 / 100500.0)


def test_pos_side_contradicting_side_is_malformed() -> None:
    with pytest.raises(MalformedFrame, match="contradicts"):
        parse_frame(frame("liquidation_orders_inconsistent.json"))


def test_unknown_instrument_is_reported() -> None:
    with pytest.raises(UnknownInstrument, match="NOPE-USDT-SWAP"):
        parse_frame(frame("liquidation_orders_unknown_instrument.json"))


def test_trades_in_base_units() -> None:
    a, b = parse_frame(frame("trades.json"))
    assert a == Trade("okx", "BTC-USDT-SWAP", 1772000000010, 95000.5, 0.12, Side.LONG, "130639474")
    assert isinstance(b, Trade) and b.taker_side is Side.SHORT and math.isclose(b.qty, 0.03)
    (inv,) = parse_frame(frame("trades_inverse.json"))
    assert isinstance(inv, Trade) and math.isclose(inv.qty, 10 * 100 / 100000)


def test_mark_price_and_open_interest() -> None:
    (mp,) = parse_frame(frame("mark_price.json"))
    assert mp == MarkPrice("okx", "BTC-USDT-SWAP", 1772000000040, 95004.2, None, None)
    (oi,) = parse_frame(frame("open_interest.json"))
    assert oi == OpenInterest("okx", "BTC-USDT-SWAP", 1772000000050, 25000.0, 2375000000.0)


@pytest.mark.parametrize("raw", [b"pong", "pong"])
def test_pong_gives_nothing(raw: bytes | str) -> None:
    assert parse_frame(raw) == []


def test_event_replies() -> None:
    assert parse_frame(frame("event_subscribe.json")) == []
    with pytest.raises(SubscriptionRejected, match="60018"):
        parse_frame(frame("event_error.json"))


def test_instrument_rows() -> None:
    rows = json.loads(frame("rest_instruments_swap.json"))["data"]
    eth = instrument_from_row(rows[2])
    assert eth.inverse and eth.contract_size == 10.0 and eth.base == "ETH"


def test_malformed_frames_raise() -> None:
    lines = (FRAMES / "malformed.jsonl").read_bytes().splitlines()
    assert len(lines) >= 7
    for line in lines:
        with pytest.raises(MalformedFrame):
            parse_frame(line)


def test_mixed_frame_keeps_known_instruments() -> None:
    parser = OkxParser()
    raw = json.loads(frame("liquidation_orders_snapshot_multi.json"))
    unknown = json.loads(frame("liquidation_orders_unknown_instrument.json"))["data"][0]
    raw["data"].append(unknown)
    events = parser(json.dumps(raw))
    assert len(events) == 3
    assert parser.unknown["NOPE-USDT-SWAP"] == 1
