"""Bybit v5 public WS frames -> normalised events (pure functions).

Topics: ``allLiquidation.{sym}``, ``publicTrade.{sym}``, ``tickers.{sym}``, ``kline.{i}.{sym}``.
``op`` replies (subscribe acks, pongs) give ``[]``; a failed subscribe raises
:class:`SubscriptionRejected`.

Conventions: allLiquidation ``S`` is the side of the *position* (``Buy`` = a LONG was
liquidated — the opposite of Binance), ``p`` the bankruptcy price, ``v`` the size (base for
linear, USD contracts for inverse); Bybit says the feed carries every liquidation (not sampled).
Ticker ``delta`` frames carry only changed fields: a MarkPrice is emitted when ``markPrice`` is
present, an OpenInterest when open interest is present (``singleOpenInterest`` preferred over
``openInterest``, which since 2026-06 counts both sides).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from liqscope.domain.events import Candle, Event, Liquidation, MarkPrice, OpenInterest, Trade
from liqscope.domain.intervals import interval_ms
from liqscope.domain.types import ContractType, PriceKind, Side
from liqscope.venues.base import (
    Frame,
    MalformedFrame,
    SubscriptionRejected,
    checked,
    load_object,
    read_fields,
    side_of,
)
from liqscope.venues.bybit.rules import KLINE_INTERVALS_BACK, contract_type

__all__ = ["VENUE", "parse_frame"]

VENUE = "bybit"
_INVERSE = ContractType.INVERSE
_BANKRUPTCY = PriceKind.BANKRUPTCY
_POSITION_SIDE = {"Buy": Side.LONG, "Sell": Side.SHORT}  # allLiquidation: position side
_TAKER_SIDE = {"Buy": Side.LONG, "Sell": Side.SHORT}  # publicTrade: taker side


def _amounts(symbol: str, size: float, price: float, what: str) -> tuple[float, float]:
    """(base units, USD) of a size ``v``: base for linear symbols, USD contracts for inverse."""
    if contract_type(symbol) is _INVERSE:
        if not price > 0.0:
            raise MalformedFrame(f"{what}: non-positive price")
        return size / price, size
    return size, size * price


def _liquidations(msg: dict[str, Any]) -> list[Event]:
    out: list[Event] = []
    for d in msg["data"]:
        size, price = float(d["v"]), float(d["p"])
        if not price > 0.0 or not size > 0.0:
            raise MalformedFrame("allLiquidation: non-positive price or size")
        side = side_of(_POSITION_SIDE, d["S"], "allLiquidation")
        qty, usd = _amounts(d["s"], size, price, "allLiquidation")
        out.append(
            Liquidation(VENUE, d["s"], int(d["T"]), side, qty, price, _BANKRUPTCY, usd, False)
        )
    return out


def _trades(msg: dict[str, Any]) -> list[Event]:
    out: list[Event] = []
    for d in msg["data"]:
        price = float(d["p"])
        qty, _ = _amounts(d["s"], float(d["v"]), price, "publicTrade")
        side = side_of(_TAKER_SIDE, d["S"], "publicTrade")
        out.append(Trade(VENUE, d["s"], int(d["T"]), price, qty, side, str(d["i"])))
    return out


def _opt(d: dict[str, Any], key: str) -> float | None:
    v = d.get(key)
    if v is None or v == "":
        return None
    return float(v)


def _tickers(msg: dict[str, Any]) -> list[Event]:
    d = msg["data"]
    if type(d) is not dict:
        raise MalformedFrame("tickers: data is not an object")
    symbol = d["symbol"]
    ts = int(msg["ts"])
    out: list[Event] = []
    mark = _opt(d, "markPrice")
    if mark is not None:
        out.append(
            MarkPrice(VENUE, symbol, ts, mark, _opt(d, "indexPrice"), _opt(d, "fundingRate"))
        )
    oi = _opt(d, "singleOpenInterest")
    if oi is None:
        oi = _opt(d, "openInterest")
    if oi is not None:
        if contract_type(symbol) is _INVERSE:
            # inverse OI is in USD contracts: base needs a price from the same frame
            if mark is not None and mark > 0.0:
                out.append(OpenInterest(VENUE, symbol, ts, oi / mark, oi))
        else:
            out.append(OpenInterest(VENUE, symbol, ts, oi, oi * mark if mark is not None else None))
    return out


def _klines(msg: dict[str, Any]) -> list[Event]:
    symbol = msg["topic"].rsplit(".", 1)[1]
    inverse = contract_type(symbol) is _INVERSE
    out: list[Event] = []
    for d in msg["data"]:
        canonical = KLINE_INTERVALS_BACK.get(str(d["interval"]))
        if canonical is None:
            raise MalformedFrame(f"kline: unknown interval {d['interval']!r}")
        confirm = d["confirm"]
        if type(confirm) is not bool:
            raise MalformedFrame("kline: confirm is not a boolean")
        # inverse: volume is USD contracts, turnover the base coin
        volume = float(d["turnover"] if inverse else d["volume"])
        out.append(
            Candle(
                VENUE,
                symbol,
                int(d["start"]),
                interval_ms(canonical),
                float(d["open"]),
                float(d["high"]),
                float(d["low"]),
                float(d["close"]),
                volume,
                None,
                confirm,
            )
        )
    return out


_HANDLERS: dict[str, Callable[[dict[str, Any]], list[Event]]] = {
    "allLiquidation": _liquidations,
    "publicTrade": _trades,
    "tickers": _tickers,
    "kline": _klines,
}


def parse_frame(frame: Frame, now_ms: int | None = None) -> list[Event]:
    """Events of one Bybit v5 public WS frame; times are checked against ``now_ms`` (default:
    the system clock)."""
    msg = load_object(frame)
    topic = msg.get("topic")
    if topic is None:
        if msg.get("op") == "subscribe" and msg.get("success") is False:
            raise SubscriptionRejected(f"bybit: subscribe rejected: {msg.get('ret_msg', '')}")
        return []  # op replies: subscribe ack, pong
    if type(topic) is not str:
        raise MalformedFrame("topic is not a string")
    name = topic.split(".", 1)[0]
    handler = _HANDLERS.get(name)
    if handler is None:
        return []
    return checked(read_fields(name, handler, msg), now_ms)
