"""How to connect to Binance futures market streams (described, not driven).

Combined-stream endpoint ``<base>/stream``; each message arrives as ``{"stream", "data"}``.
Subscriptions are sent as ``SUBSCRIBE`` requests so a reconnect replays them. The server pings
every 3 minutes (``websockets`` answers), a connection lives at most 24 h, and the server accepts
at most 10 client messages per second and 1024 streams per connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import orjson

from liqscope.domain.errors import InputError
from liqscope.venues.base import Channel, PingPolicy
from liqscope.venues.binance.rules import (
    MAX_STREAMS_PER_CONNECTION,
    SUBSCRIBE_PARAMS_PER_MESSAGE,
)

# Since 2026 USDⓈ-M market streams (aggTrade, markPrice, kline, forceOrder) live under /market;
# legacy paths were announced to retire on 2026-04-23 (verify on the first live connection).
USDM_WS_URL = "wss://fstream.binance.com/market"
USDM_REST_URL = "https://fapi.binance.com"
COINM_WS_URL = "wss://dstream.binance.com"
COINM_REST_URL = "https://dapi.binance.com"

ALL_SYMBOLS = "*"  # symbol wildcard: the all-market streams where Binance has one

PING = PingPolicy(interval_s=None, message=None, server_pings=True)
CHANNELS = frozenset({Channel.LIQUIDATIONS, Channel.TRADES, Channel.MARK_PRICE, Channel.CANDLES})


def subscriptions(symbols: Sequence[str], channels: Iterable[Channel]) -> list[str]:
    """Binance stream names for ``symbols`` × ``channels`` (``*`` = all symbols)."""
    names: list[str] = []
    chans = set(channels)
    wildcard = ALL_SYMBOLS in symbols
    if wildcard:
        if Channel.LIQUIDATIONS in chans:
            names.append("!forceOrder@arr")
        if Channel.MARK_PRICE in chans:
            names.append("!markPrice@arr@1s")
        if chans & {Channel.TRADES, Channel.CANDLES}:
            raise InputError("binance: trades and candles need explicit symbols, not '*'")
    for sym in symbols:
        if sym == ALL_SYMBOLS:
            continue
        s = sym.lower()
        if Channel.LIQUIDATIONS in chans:
            names.append(f"{s}@forceOrder")
        if Channel.TRADES in chans:
            names.append(f"{s}@aggTrade")
        if Channel.MARK_PRICE in chans:
            names.append(f"{s}@markPrice@1s")
        if Channel.CANDLES in chans:
            names.append(f"{s}@kline_1m")
    if len(names) > MAX_STREAMS_PER_CONNECTION:
        raise InputError(
            f"binance: {len(names)} streams exceed {MAX_STREAMS_PER_CONNECTION} per connection"
        )
    return names


def ws_url(base: str, symbols: Sequence[str]) -> str:
    """The combined-stream URL under ``base``."""
    return f"{base.rstrip('/')}/stream"


def subscribe_messages(names: Sequence[str]) -> list[str]:
    """``SUBSCRIBE`` requests carrying ``names``, a bounded number of streams each."""
    step = SUBSCRIBE_PARAMS_PER_MESSAGE
    return [
        orjson.dumps(
            {"method": "SUBSCRIBE", "params": list(names[i : i + step]), "id": i // step + 1}
        ).decode()
        for i in range(0, len(names), step)
    ]
