"""Simulated exchanges: real servers on 127.0.0.1 speaking Binance, Bybit, OKX and Hyperliquid
wire formats.

They replay ``TraceChunk``s pulled from a chunk source ``(to_ms) -> TraceChunk`` as a replay
clock advances, and record every liquidation they actually send. See docs/simulated-exchanges.md.
"""

from liqscope.sim.exchange.binance import BinanceServer
from liqscope.sim.exchange.bybit import BybitServer
from liqscope.sim.exchange.history import ChunkSource, MarketHistory, ReplayClock
from liqscope.sim.exchange.hyperliquid import HyperliquidServer
from liqscope.sim.exchange.okx import OkxServer
from liqscope.sim.exchange.runner import VENUES, SimExchanges, VenueUrls
from liqscope.sim.exchange.server import (
    Fault,
    FaultKind,
    SentLiquidation,
    SentLog,
    ServerOptions,
    VenueServer,
)

__all__ = [
    "VENUES",
    "BinanceServer",
    "BybitServer",
    "ChunkSource",
    "Fault",
    "FaultKind",
    "HyperliquidServer",
    "MarketHistory",
    "OkxServer",
    "ReplayClock",
    "SentLiquidation",
    "SentLog",
    "ServerOptions",
    "SimExchanges",
    "VenueServer",
    "VenueUrls",
]
