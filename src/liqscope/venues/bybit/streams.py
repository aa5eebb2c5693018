"""How to connect to Bybit v5 public streams (described, not driven).

One URL per category: ``<base>/v5/public/linear`` or ``/inverse``. Subscribe with
``{"op":"subscribe","args":[…]}`` (at most 10 topics a message); the client sends
``{"op":"ping"}`` every 20 s; no documented connection lifetime.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from liqscope.domain.errors import InputError
from liqscope.venues.base import Channel, PingPolicy, op_subscribe
from liqscope.venues.bybit.rules import PING_INTERVAL_S, SUBSCRIBE_ARGS_PER_MESSAGE, category

WS_URL = "wss://stream.bybit.com"
REST_URL = "https://api.bybit.com"
PING = PingPolicy(interval_s=PING_INTERVAL_S, message='{"op":"ping"}', server_pings=False)
CHANNELS = frozenset(
    {
        Channel.LIQUIDATIONS,
        Channel.TRADES,
        Channel.MARK_PRICE,
        Channel.OPEN_INTEREST,
        Channel.CANDLES,
    }
)


def subscriptions(symbols: Sequence[str], channels: Iterable[Channel]) -> list[str]:
    """Bybit topics for ``symbols`` × ``channels`` (tickers carry mark price and OI)."""
    chans = set(channels)
    out: list[str] = []
    for sym in symbols:
        if sym == "*":
            raise InputError("bybit: subscribe per symbol; '*' is not offered")
        if Channel.LIQUIDATIONS in chans:
            out.append(f"allLiquidation.{sym}")
        if Channel.TRADES in chans:
            out.append(f"publicTrade.{sym}")
        if chans & {Channel.MARK_PRICE, Channel.OPEN_INTEREST}:
            out.append(f"tickers.{sym}")
        if Channel.CANDLES in chans:
            out.append(f"kline.1.{sym}")
    return out


def ws_url(base: str, symbols: Sequence[str]) -> str:
    """The category URL for ``symbols`` (all must be linear, or all inverse)."""
    cats = {category(s) for s in symbols} or {"linear"}
    if len(cats) > 1:
        raise InputError("bybit: linear and inverse symbols need separate connections")
    return f"{base.rstrip('/')}/v5/public/{cats.pop()}"


def subscribe_messages(topic_list: Sequence[str]) -> list[str]:
    return op_subscribe(topic_list, SUBSCRIBE_ARGS_PER_MESSAGE)
