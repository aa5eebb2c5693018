"""Binance futures WS frames -> normalised events (pure functions).

Handles raw (``/ws/<stream>``) and combined (``{"stream": …, "data": …}``) frames, array
payloads (``!markPrice@arr``), and the events ``forceOrder``, ``aggTrade``, ``markPriceUpdate``
and ``kline``. Subscription replies and unknown events give ``[]``.

Conventions (see docs/venues.md): forceOrder ``S`` is the side of the liquidation *order*, so
``SELL`` = a LONG position was liquidated; size ``z`` (filled qty), price ``ap`` (average fill),
time ``T``; the feed is sampled (≤ 1 per symbol per second). COIN-M sizes are contracts worth
``contract_usd`` USD each: base = contracts × contract_usd / price.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from liqscope.domain.errors import InputError
from liqscope.domain.events import Event, Liquidation, MarkPrice, Trade
from liqscope.domain.intervals import interval_ms
from liqscope.domain.types import PriceKind, Side
from liqscope.venues.base import (
    Frame,
    MalformedFrame,
    SubscriptionRejected,
    checked,
    kline_candle,
    load_json,
    read_fields,
    side_of,
)
from liqscope.venues.binance.rules import coinm_contract_usd

__all__ = ["VENUE", "CoinmParser", "parse_coinm_frame", "parse_frame"]

VENUE = "binance"
_LONG = Side.LONG
_SHORT = Side.SHORT
_FILL = PriceKind.AVERAGE_FILL
_ORDER_SIDE_TO_POSITION = {"SELL": Side.LONG, "BUY": Side.SHORT}
_INTERVALS: dict[str, int] = {}


def _interval(text: str) -> int:
    ms = _INTERVALS.get(text)
    if ms is None:
        try:
            ms = interval_ms(text)
        except InputError:
            raise MalformedFrame(f"kline: unknown interval {text!r}") from None
        _INTERVALS[text] = ms
    return ms


def _payload(msg: Any) -> Any:
    """The event payload of a raw or combined frame; None for replies."""
    if type(msg) is not dict:
        if type(msg) is list:
            return msg
        raise MalformedFrame("frame is not a JSON object")
    data = msg.get("data")
    if data is not None:
        return data
    if "e" in msg:
        return msg
    if "id" in msg and "result" in msg:
        return None  # {"result": null, "id": 1}: subscription acknowledged
    err = msg.get("error")
    if err is not None:
        raise SubscriptionRejected(f"binance: request rejected: {err}")
    return None


# -- USDⓈ-M -------------------------------------------------------------------------------


def _filled(o: dict[str, Any]) -> tuple[float, float, Side] | None:
    """A forceOrder's filled size ``z`` (base; contracts on COIN-M), average price ``ap`` and
    the liquidated position's side; None while nothing is filled."""
    size = float(o["z"])
    if size == 0.0:
        return None
    price = float(o["ap"])
    if not price > 0.0 or not size > 0.0:
        raise MalformedFrame("forceOrder: non-positive price or quantity")
    return size, price, side_of(_ORDER_SIDE_TO_POSITION, o["S"], "forceOrder")


def _taker_side(d: dict[str, Any]) -> Side:
    """The aggTrade's taker side: ``m`` says the buyer was the maker, so the taker sold."""
    m = d["m"]
    if type(m) is not bool:
        raise MalformedFrame("aggTrade: m is not a boolean")
    return _SHORT if m else _LONG


def _force_order(d: dict[str, Any]) -> list[Event]:
    o = d["o"]
    fill = _filled(o)
    if fill is None:
        return []
    qty, price, side = fill
    return [Liquidation(VENUE, o["s"], int(o["T"]), side, qty, price, _FILL, qty * price, True)]


def _agg_trade(d: dict[str, Any]) -> list[Event]:
    side = _taker_side(d)
    return [Trade(VENUE, d["s"], int(d["T"]), float(d["p"]), float(d["q"]), side, str(d["a"]))]


def _opt_float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return float(value)


def _mark_price(d: dict[str, Any]) -> list[Event]:
    # T is the next funding time, not the event time: use E.
    return [
        MarkPrice(
            VENUE,
            d["s"],
            int(d["E"]),
            float(d["p"]),
            _opt_float(d.get("i")),
            _opt_float(d.get("r")),
        )
    ]


def _kline(d: dict[str, Any], volume: str = "v", taker_buy: str = "V") -> list[Event]:
    """A kline; ``volume``/``taker_buy`` name the fields holding base-asset volumes."""
    k = d["k"]
    closed = k["x"]
    if type(closed) is not bool:
        raise MalformedFrame("kline: x is not a boolean")
    row = [k[f] for f in "tohlc"]  # open time, open, high, low, close
    symbol, taker = k.get("s") or d["s"], _opt_float(k.get(taker_buy))
    return [kline_candle(VENUE, symbol, _interval(k["i"]), row, k[volume], taker, closed)]


_USDM: dict[str, Callable[[dict[str, Any]], list[Event]]] = {
    "forceOrder": _force_order,
    "aggTrade": _agg_trade,
    "markPriceUpdate": _mark_price,
    "kline": _kline,
}


def _dispatch(
    payload: Any, handlers: Mapping[str, Callable[[dict[str, Any]], list[Event]]]
) -> list[Event]:
    if type(payload) is list:
        out: list[Event] = []
        for item in payload:
            out.extend(_dispatch(item, handlers))
        return out
    if type(payload) is not dict:
        raise MalformedFrame("payload is not a JSON object")
    event = payload.get("e")
    handler = handlers.get(event) if type(event) is str else None
    if handler is None:
        return []  # an event we do not read
    return read_fields(str(event), handler, payload)


def parse_frame(frame: Frame, now_ms: int | None = None) -> list[Event]:
    """Events of one Binance USDⓈ-M WS frame (raw or combined); times are checked against
    ``now_ms`` (default: the system clock)."""
    payload = _payload(load_json(frame))
    if payload is None:
        return []
    return checked(_dispatch(payload, _USDM), now_ms)


# -- COIN-M --------------------------------------------------------------------------------


class CoinmParser:
    """Binance COIN-M frames: same shapes as USDⓈ-M (+ ``ps``), sizes in USD contracts."""

    def __init__(self, contract_usd: Mapping[str, float] | None = None) -> None:
        self._overrides = dict(contract_usd or {})
        self._sizes: dict[str, float] = {}
        self._handlers: dict[str, Callable[[dict[str, Any]], list[Event]]] = {
            "forceOrder": self._force_order,
            "aggTrade": self._agg_trade,
            "markPriceUpdate": _mark_price,
            "kline": self._kline,
        }

    def contract_usd(self, symbol: str) -> float:
        size = self._sizes.get(symbol)
        if size is None:
            size = self._sizes[symbol] = coinm_contract_usd(symbol, self._overrides)
        return size

    def _force_order(self, d: dict[str, Any]) -> list[Event]:
        o = d["o"]
        fill = _filled(o)
        if fill is None:
            return []
        contracts, price, side = fill
        usd = contracts * self.contract_usd(o.get("ps") or o["s"])
        return [Liquidation(VENUE, o["s"], int(o["T"]), side, usd / price, price, _FILL, usd, True)]

    def _agg_trade(self, d: dict[str, Any]) -> list[Event]:
        side = _taker_side(d)
        price = float(d["p"])
        if not price > 0.0:
            raise MalformedFrame("aggTrade: non-positive price")
        base = float(d["q"]) * self.contract_usd(d["s"]) / price
        return [Trade(VENUE, d["s"], int(d["T"]), price, base, side, str(d["a"]))]

    def _kline(self, d: dict[str, Any]) -> list[Event]:
        return _kline(d, volume="q", taker_buy="Q")  # COIN-M: v / V are contracts

    def __call__(self, frame: Frame, now_ms: int | None = None) -> list[Event]:
        payload = _payload(load_json(frame))
        if payload is None:
            return []
        return checked(_dispatch(payload, self._handlers), now_ms)


_DEFAULT_COINM = CoinmParser()


def parse_coinm_frame(frame: Frame) -> list[Event]:
    """Events of one Binance COIN-M WS frame, with the default contract sizes."""
    return _DEFAULT_COINM(frame)
