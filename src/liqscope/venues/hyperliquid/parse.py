"""Hyperliquid WS frames and /info replies -> normalised events (pure; time passed in).

Hyperliquid has no public liquidation feed. WS ``trades`` (``side`` ``B`` = the taker bought,
``A`` = sold; sizes in coin), ``activeAssetCtx`` (mark, oracle, funding, open interest in coin —
frames carry no timestamp, so the caller's receive time ``now_ms`` is used) and ``candle``.
``subscriptionResponse`` and ``pong`` give ``[]``; ``error`` raises SubscriptionRejected.
``metaAndAssetCtxs`` and ``clearinghouseState`` replies have their own readers here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from liqscope.domain.errors import InputError
from liqscope.domain.events import Candle, Event, MarkPrice, OpenInterest, Trade
from liqscope.domain.intervals import interval_ms
from liqscope.domain.types import Side
from liqscope.venues.base import (
    Frame,
    MalformedFrame,
    SubscriptionRejected,
    checked,
    kline_candle,
    load_object,
    read_fields,
    side_of,
)

__all__ = [
    "VENUE",
    "HyperliquidPosition",
    "parse_asset_ctx",
    "parse_candles",
    "parse_clearinghouse_state",
    "parse_frame",
    "parse_meta_and_asset_ctxs",
    "parse_trade_users",
]

VENUE = "hyperliquid"
_TAKER_SIDE = {"B": Side.LONG, "A": Side.SHORT}


@dataclass(frozen=True, slots=True)
class HyperliquidPosition:
    """One open position of one user (from ``clearinghouseState``); not an Event."""

    user: str
    coin: str
    ts: int
    side: Side
    size: float  # coin, positive
    entry_px: float
    leverage: float
    leverage_type: str  # "cross" | "isolated"
    liquidation_px: float | None  # None when the position cannot be liquidated
    margin_used: float
    position_value: float


def _opt(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return float(value)


def parse_asset_ctx(coin: str, ctx: dict[str, Any], now_ms: int) -> list[Event]:
    """MarkPrice (index = oracle price) and OpenInterest (coin, × mark for USD) of one ctx."""
    mark = float(ctx["markPx"])
    oi = float(ctx["openInterest"])
    return [
        MarkPrice(VENUE, coin, now_ms, mark, _opt(ctx.get("oraclePx")), _opt(ctx.get("funding"))),
        OpenInterest(VENUE, coin, now_ms, oi, oi * mark),
    ]


def _candle(d: dict[str, Any], now_ms: int) -> Candle:
    """A candle object, lettered as Binance's klines (``t o h l c v``; ``T``: close time)."""
    row = [d[f] for f in "tohlc"]  # open time, open, high, low, close
    return kline_candle(VENUE, d["s"], interval_ms(d["i"]), row, d["v"], None, int(d["T"]) < now_ms)


def _trades(data: Any, now_ms: int) -> list[Event]:
    out: list[Event] = []
    for d in data:
        side = side_of(_TAKER_SIDE, d["side"], "trades")
        px, sz = float(d["px"]), float(d["sz"])
        out.append(Trade(VENUE, d["coin"], int(d["time"]), px, sz, side, str(d["tid"])))
    return out


def _active_asset_ctx(data: Any, now_ms: int) -> list[Event]:
    return parse_asset_ctx(data["coin"], data["ctx"], now_ms)


def _candle_frame(data: Any, now_ms: int) -> list[Event]:
    items = data if type(data) is list else [data]
    return [_candle(d, now_ms) for d in items]


_HANDLERS: dict[str, Callable[[Any, int], list[Event]]] = {
    "trades": _trades,
    "activeAssetCtx": _active_asset_ctx,
    "candle": _candle_frame,
}


def parse_frame(frame: Frame, now_ms: int) -> list[Event]:
    """Events of one Hyperliquid WS frame received at ``now_ms``."""
    msg = load_object(frame)
    channel = msg.get("channel")
    if channel == "error":
        raise SubscriptionRejected(f"hyperliquid: {msg.get('data')}")
    handler = _HANDLERS.get(channel) if type(channel) is str else None
    if handler is None:
        return []  # subscriptionResponse, pong, channels we do not read
    return checked(read_fields(str(channel), lambda: handler(msg["data"], now_ms)), now_ms)


def parse_meta_and_asset_ctxs(body: Any, now_ms: int) -> list[Event]:
    """``{"type":"metaAndAssetCtxs"}`` reply ``[meta, ctxs]`` (aligned by index) -> events."""
    try:
        meta, ctxs = body
        universe = meta["universe"]
        if len(universe) != len(ctxs):
            raise MalformedFrame("metaAndAssetCtxs: universe and contexts differ in length")
        out: list[Event] = []
        for asset, ctx in zip(universe, ctxs, strict=True):
            if ctx.get("markPx") in (None, ""):
                continue  # delisted assets carry no mark
            out.extend(parse_asset_ctx(asset["name"], ctx, now_ms))
        return out
    except MalformedFrame:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedFrame(f"metaAndAssetCtxs: unreadable ({exc})") from None


def parse_candles(body: Any, now_ms: int) -> list[Candle]:
    """``candleSnapshot`` reply -> candles (closed when their close time has passed)."""
    try:
        return [_candle(d, now_ms) for d in body]
    except (KeyError, TypeError, ValueError, InputError) as exc:
        raise MalformedFrame(f"candleSnapshot: unreadable ({exc})") from None


def parse_clearinghouse_state(body: Any, user: str) -> list[HyperliquidPosition]:
    """``clearinghouseState`` reply -> the user's open positions."""
    try:
        ts = int(body.get("time") or 0)
        out: list[HyperliquidPosition] = []
        for item in body["assetPositions"]:
            p = item["position"]
            szi = float(p["szi"])
            if szi == 0.0:
                continue
            lev = p.get("leverage") or {}
            out.append(
                HyperliquidPosition(
                    user=user,
                    coin=p["coin"],
                    ts=ts,
                    side=Side.LONG if szi > 0 else Side.SHORT,
                    size=abs(szi),
                    entry_px=float(p["entryPx"]),
                    leverage=float(lev.get("value", 0)),
                    leverage_type=str(lev.get("type", "")),
                    liquidation_px=_opt(p.get("liquidationPx")),
                    margin_used=float(p.get("marginUsed") or 0.0),
                    position_value=float(p.get("positionValue") or 0.0),
                )
            )
        return out
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MalformedFrame(f"clearinghouseState: unreadable ({exc})") from None


def parse_trade_users(frame: Frame) -> list[tuple[str, str, float]]:
    """``(address, coin, notional USD)`` of both counterparties (``users`` = [buyer,
    seller]) of every trade in a WS ``trades`` frame; ``[]`` for other channels."""
    msg = load_object(frame)
    if msg.get("channel") != "trades":
        return []
    try:
        out: list[tuple[str, str, float]] = []
        for d in msg["data"]:
            usd = float(d["px"]) * float(d["sz"])
            out.extend((str(u).lower(), str(d["coin"]), usd) for u in d.get("users") or ())
        return out
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedFrame(f"trades: unreadable users ({exc})") from None
