"""Bybit v5 parsers: documented ROSEUSDT example, position-side convention, units, replies."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from liqscope.domain.events import Candle, Liquidation, MarkPrice, OpenInterest, Trade
from liqscope.domain.types import PriceKind, Side
from liqscope.venues.base import MalformedFrame, SubscriptionRejected
from liqscope.venues.bybit.parse import parse_frame

FRAMES = Path(__file__).resolve().parents[1] / "fixtures" / "frames" / "bybit"


def frame(name: str) -> bytes:
    return (FRAMES / name).read_bytes()


def test_documented_roseusdt_example() -> None:
    (ev,) = parse_frame(frame("allliquidation_roseusdt.json"))
    assert ev == Liquidation(
        venue="bybit",
        symbol="ROSEUSDT",
        ts=1739502302929,  # T
        side=Side.SHORT,  # S is the POSITION side: Sell = a short was liquidated
        qty=20000.0,
        price=0.04499,
        price_kind=PriceKind.BANKRUPTCY,
        notional_usd=20000 * 0.04499,
        sampled=False,
    )


def test_side_agrees_with_price_against_mark() -> None:
    # §1: a liquidated long's bankruptcy price lies below mark, a short's above.
    (mark,) = [
        e for e in parse_frame(frame("tickers_snapshot_btcusdt.json")) if isinstance(e, MarkPrice)
    ]
    liqs = parse_frame(frame("allliquidation_multi_unknown_keys.json"))
    assert len(liqs) == 2
    for ev in liqs:
        assert isinstance(ev, Liquidation)
        assert ev.side is Side.LONG  # S=Buy
        assert ev.price < mark.mark
    assert sum(ev.qty for ev in liqs if isinstance(ev, Liquidation)) == 0.75


def test_inverse_size_is_usd() -> None:
    (ev,) = parse_frame(frame("allliquidation_inverse_btcusd.json"))
    assert isinstance(ev, Liquidation)
    assert ev.notional_usd == 50000.0
    assert math.isclose(ev.qty, 0.5)
    assert ev.side is Side.SHORT


def test_tickers_snapshot_prefers_single_open_interest() -> None:
    events = parse_frame(frame("tickers_snapshot_btcusdt.json"))
    mp = next(e for e in events if isinstance(e, MarkPrice))
    oi = next(e for e in events if isinstance(e, OpenInterest))
    assert mp == MarkPrice("bybit", "BTCUSDT", 1772000000000, 95005.5, 95000.0, 0.0001)
    assert oi.oi_base == 50000.0  # singleOpenInterest, not the two-sided 100000
    assert oi.oi_usd == pytest.approx(50000.0 * 95005.5)


def test_tickers_without_single_uses_open_interest() -> None:
    events = parse_frame(frame("tickers_snapshot_no_single.json"))
    oi = next(e for e in events if isinstance(e, OpenInterest))
    assert oi.oi_base == 2000.0


def test_tickers_delta_emits_only_what_it_carries() -> None:
    (oi,) = parse_frame(frame("tickers_delta_oi_only.json"))
    assert oi == OpenInterest("bybit", "BTCUSDT", 1772000000100, 50005.0, None)
    assert parse_frame(frame("tickers_delta_nothing.json")) == []


def test_tickers_inverse_open_interest_in_usd() -> None:
    events = parse_frame(frame("tickers_inverse.json"))
    oi = next(e for e in events if isinstance(e, OpenInterest))
    assert oi.oi_usd == 500_000_000.0
    assert oi.oi_base == pytest.approx(5000.0)


def test_public_trades() -> None:
    a, b = parse_frame(frame("publictrade.json"))
    assert isinstance(a, Trade) and isinstance(b, Trade)
    assert (a.taker_side, a.qty, a.price) == (Side.LONG, 0.001, 95000.5)
    assert b.taker_side is Side.SHORT and b.trade_id.endswith("b0")
    (inv,) = parse_frame(frame("publictrade_inverse.json"))
    assert isinstance(inv, Trade) and math.isclose(inv.qty, 0.01)


def test_klines() -> None:
    (k,) = parse_frame(frame("kline.json"))
    assert k == Candle(
        "bybit", "BTCUSDT", 1772000000000, 60_000, 95000.0, 95020.0, 94990.0, 95010.0,
        12.5, None, True,
    )  # fmt: skip
    (inv,) = parse_frame(frame("kline_inverse.json"))
    assert isinstance(inv, Candle) and inv.volume == 3.0 and inv.closed is False


@pytest.mark.parametrize("name", ["op_subscribe_ok.json", "op_pong.json"])
def test_op_replies_give_nothing(name: str) -> None:
    assert parse_frame(frame(name)) == []


def test_failed_subscribe_is_reported() -> None:
    with pytest.raises(SubscriptionRejected, match="NOPEUSDT"):
        parse_frame(frame("op_subscribe_failed.json"))


def test_malformed_frames_raise() -> None:
    lines = (FRAMES / "malformed.jsonl").read_bytes().splitlines()
    assert len(lines) >= 9
    for line in lines:
        with pytest.raises(MalformedFrame):
            parse_frame(line)
