"""OKX v5 public WS frames -> normalised events.

Channels: ``liquidation-orders`` (per instType; one frame may carry several instruments and
several details each; the first frame after subscribing is a snapshot of recent orders and is
parsed the same way), ``trades``, ``mark-price``, ``open-interest``. ``event`` replies and the
text ``pong`` give ``[]``; an ``error`` event raises :class:`SubscriptionRejected`.

Conventions: liquidation ``side`` is the *order* side (``buy`` = a SHORT was liquidated);
``posSide`` (long/short), when given, must agree. ``sz`` is contracts: base = sz × ctVal
(linear), USD = sz × ctVal (inverse). ``bkPx`` is the bankruptcy price. The feed is sampled.
Contract values come from the instruments map the parser holds. Per-instrument channels raise
:class:`UnknownInstrument` (a :class:`MalformedFrame`) for an instrument missing from it;
``liquidation-orders`` skips such instruments (counted in ``OkxParser.unknown``) and raises only
when a frame holds nothing else.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from liqscope.domain.events import Event, Liquidation, MarkPrice, OpenInterest, Trade
from liqscope.domain.instruments import Instrument
from liqscope.domain.types import PriceKind, Side
from liqscope.venues.base import (
    Frame,
    MalformedFrame,
    SubscriptionRejected,
    UnknownInstrument,
    checked,
    load_object,
    read_fields,
    side_of,
)
from liqscope.venues.okx.rules import DEFAULT_INSTRUMENTS, VENUE

__all__ = ["OkxParser", "parse_frame"]

_ORDER_SIDE_TO_POSITION = {"buy": Side.SHORT, "sell": Side.LONG}
_POS_SIDE = {"long": Side.LONG, "short": Side.SHORT}
_TAKER_SIDE = {"buy": Side.LONG, "sell": Side.SHORT}
_BANKRUPTCY = PriceKind.BANKRUPTCY
_PONG = frozenset({"pong", b"pong"})


class OkxParser:
    """Parses OKX frames using an instruments map (instId -> Instrument)."""

    def __init__(self, instruments: Mapping[str, Instrument] | None = None) -> None:
        self.instruments: dict[str, Instrument] = dict(DEFAULT_INSTRUMENTS)
        self.unknown: Counter[str] = Counter()  # liquidations skipped per unknown instId
        if instruments:
            self.instruments.update(instruments)
        self._handlers: dict[str, Callable[[list[Any]], list[Event]]] = {
            "liquidation-orders": self._liquidations,
            "trades": self._trades,
            "mark-price": self._mark_price,
            "open-interest": self._open_interest,
        }

    def update(self, instruments: Mapping[str, Instrument] | list[Instrument]) -> None:
        """Add or replace instruments (e.g. after loading ``/api/v5/public/instruments``)."""
        items = instruments.values() if isinstance(instruments, Mapping) else instruments
        for inst in items:
            self.instruments[inst.symbol] = inst

    def _instrument(self, inst_id: str) -> Instrument:
        inst = self.instruments.get(inst_id)
        if inst is None:
            raise UnknownInstrument(f"unknown instrument {inst_id!r}: load instruments first")
        return inst

    def _liquidations(self, data: list[Any]) -> list[Event]:
        # The channel carries every instrument of the type: instruments whose contract value is
        # unknown are skipped (and counted in ``unknown``) so known ones in the same frame
        # survive; a frame with nothing but unknown instruments raises UnknownInstrument.
        out: list[Event] = []
        missing: list[str] = []
        for item in data:
            inst_id = item["instId"]
            inst = self.instruments.get(inst_id)
            if inst is None:
                missing.append(inst_id)
                self.unknown[inst_id] += 1
                continue
            for det in item["details"]:
                side = side_of(_ORDER_SIDE_TO_POSITION, det["side"], "liquidation-orders")
                pos = _POS_SIDE.get(det.get("posSide") or "")
                if pos is not None and pos is not side:
                    raise MalformedFrame(
                        f"liquidation-orders: posSide {det['posSide']!r} contradicts "
                        f"side {det['side']!r}"
                    )
                contracts = float(det["sz"])
                price = float(det["bkPx"])
                if not price > 0.0 or not contracts > 0.0:
                    raise MalformedFrame("liquidation-orders: non-positive price or size")
                qty = inst.base_qty(contracts, price)
                usd = contracts * inst.contract_size if inst.inverse else qty * price
                out.append(
                    Liquidation(
                        VENUE, inst_id, int(det["ts"]), side, qty, price, _BANKRUPTCY, usd, True
                    )
                )
        if missing and not out:
            raise UnknownInstrument(f"unknown instrument {missing[0]!r}: load instruments first")
        return out

    def _trades(self, data: list[Any]) -> list[Event]:
        out: list[Event] = []
        for d in data:
            inst_id = d["instId"]
            side = side_of(_TAKER_SIDE, d["side"], "trades")
            price = float(d["px"])
            if not price > 0.0:
                raise MalformedFrame("trades: non-positive price")
            qty = self._instrument(inst_id).base_qty(float(d["sz"]), price)
            out.append(Trade(VENUE, inst_id, int(d["ts"]), price, qty, side, str(d["tradeId"])))
        return out

    def _mark_price(self, data: list[Any]) -> list[Event]:
        return [
            MarkPrice(VENUE, d["instId"], int(d["ts"]), float(d["markPx"]), None, None)
            for d in data
        ]

    def _open_interest(self, data: list[Any]) -> list[Event]:
        out: list[Event] = []
        for d in data:
            usd = d.get("oiUsd")
            out.append(
                OpenInterest(
                    VENUE,
                    d["instId"],
                    int(d["ts"]),
                    float(d["oiCcy"]),  # coins, for linear and inverse alike
                    float(usd) if usd not in (None, "") else None,
                )
            )
        return out

    def __call__(self, frame: Frame, now_ms: int | None = None) -> list[Event]:
        if frame in _PONG:
            return []
        msg = load_object(frame)
        event = msg.get("event")
        if event is not None:
            if event == "error":
                raise SubscriptionRejected(
                    f"okx: error {msg.get('code', '')}: {msg.get('msg', '')}"
                )
            return []  # subscribe / unsubscribe / channel-conn-count notices
        arg = msg.get("arg")
        data = msg.get("data")
        if arg is None or data is None:
            return []
        try:
            channel = arg["channel"]
        except (KeyError, TypeError):
            raise MalformedFrame("arg without channel") from None
        handler = self._handlers.get(channel)
        if handler is None:
            return []
        if type(data) is not list:
            raise MalformedFrame(f"{channel}: data is not a list")
        return checked(read_fields(channel, handler, data), now_ms)


_DEFAULT = OkxParser()


def parse_frame(frame: Frame) -> list[Event]:
    """Events of one OKX frame using the default instruments only."""
    return _DEFAULT(frame)
