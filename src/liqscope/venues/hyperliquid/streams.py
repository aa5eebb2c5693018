"""How to connect to Hyperliquid's WS (described, not driven).

URL ``<base>/ws``; one ``{"method":"subscribe","subscription":{…}}`` per feed and coin; the
client sends ``{"method":"ping"}`` (the server closes a connection silent for 60 s). There is no
public liquidation feed; ``activeAssetCtx`` carries mark price, funding and open interest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from liqscope.domain.errors import InputError
from liqscope.venues.base import Channel, PingPolicy
from liqscope.venues.hyperliquid.rules import PING_INTERVAL_S

WS_URL = "wss://api.hyperliquid.xyz"
REST_URL = "https://api.hyperliquid.xyz"
PING = PingPolicy(interval_s=PING_INTERVAL_S, message='{"method":"ping"}', server_pings=False)
CHANNELS = frozenset({Channel.TRADES, Channel.MARK_PRICE, Channel.OPEN_INTEREST, Channel.CANDLES})


def subscriptions(symbols: Sequence[str], channels: Iterable[Channel]) -> list[dict[str, Any]]:
    chans = set(channels)
    out: list[dict[str, Any]] = []
    for coin in symbols:
        if coin == "*":
            raise InputError("hyperliquid: subscribe per coin; '*' is not offered")
        if Channel.TRADES in chans:
            out.append({"type": "trades", "coin": coin})
        if chans & {Channel.MARK_PRICE, Channel.OPEN_INTEREST}:
            out.append({"type": "activeAssetCtx", "coin": coin})
        if Channel.CANDLES in chans:
            out.append({"type": "candle", "coin": coin, "interval": "1m"})
    return out


def ws_url(base: str, symbols: Sequence[str]) -> str:
    return f"{base.rstrip('/')}/ws"


def subscribe_messages(subs: Sequence[dict[str, Any]]) -> list[str]:
    return [orjson.dumps({"method": "subscribe", "subscription": s}).decode() for s in subs]
