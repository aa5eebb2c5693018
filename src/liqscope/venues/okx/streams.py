"""How to connect to OKX v5 public streams (described, not driven).

URL ``<base>/ws/v5/public``. Subscribe with ``{"op":"subscribe","args":[{…}]}``; liquidations
are subscribed per instrument type (``SWAP``/``FUTURES``), not per symbol, so the collector
receives every instrument of that type. The client sends the text ``ping`` when idle (OKX
closes a connection silent for 30 s) and gets ``pong``. No documented lifetime.
Candles stream from the ``/business`` endpoint and are not offered here: backfill them by REST.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from liqscope.domain.errors import InputError
from liqscope.venues.base import Channel, PingPolicy, op_subscribe
from liqscope.venues.okx.rules import PING_INTERVAL_S, SUBSCRIBE_ARGS_PER_MESSAGE, inst_type

WS_URL = "wss://ws.okx.com:8443"
REST_URL = "https://www.okx.com"
PING = PingPolicy(interval_s=PING_INTERVAL_S, message="ping", server_pings=False)
CHANNELS = frozenset(
    {Channel.LIQUIDATIONS, Channel.TRADES, Channel.MARK_PRICE, Channel.OPEN_INTEREST}
)
_PER_INSTRUMENT = {
    Channel.TRADES: "trades",
    Channel.MARK_PRICE: "mark-price",
    Channel.OPEN_INTEREST: "open-interest",
}


def subscriptions(symbols: Sequence[str], channels: Iterable[Channel]) -> list[dict[str, Any]]:
    """Subscription args for ``symbols`` (OKX instIds) × ``channels``."""
    chans = set(channels)
    out: list[dict[str, Any]] = []
    if Channel.LIQUIDATIONS in chans:
        types = sorted({inst_type(s) for s in symbols if s != "*"} or {"SWAP"})
        out.extend({"channel": "liquidation-orders", "instType": t} for t in types)
    for sym in symbols:
        if sym == "*":
            if chans - {Channel.LIQUIDATIONS}:
                raise InputError("okx: only liquidations can be subscribed for all symbols")
            continue
        for chan, name in _PER_INSTRUMENT.items():
            if chan in chans:
                out.append({"channel": name, "instId": sym})
    return out


def ws_url(base: str, symbols: Sequence[str]) -> str:
    return f"{base.rstrip('/')}/ws/v5/public"


def subscribe_messages(arg_list: Sequence[dict[str, Any]]) -> list[str]:
    return op_subscribe(arg_list, SUBSCRIBE_ARGS_PER_MESSAGE)
