"""Binance futures: USDⓈ-M (``binance``) and COIN-M (``binance_coinm``) adapters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from liqscope.domain.events import Event
from liqscope.venues.base import Frame, VenueAdapter, VenueStreams
from liqscope.venues.binance import streams
from liqscope.venues.binance.parse import CoinmParser, parse_frame
from liqscope.venues.binance.rest import BinanceCoinmRest, BinanceRest
from liqscope.venues.binance.rules import MAX_CONNECTION_LIFETIME_S, MAX_INCOMING_MESSAGES_PER_S

__all__ = ["BinanceAdapter", "BinanceCoinmAdapter"]


class BinanceAdapter(VenueAdapter):
    """Binance USDⓈ-M perpetuals. Liquidations are sampled (≤ 1 per symbol per second)."""

    default_ws_url = streams.USDM_WS_URL
    streams: ClassVar[VenueStreams] = streams
    max_connection_lifetime_s = MAX_CONNECTION_LIFETIME_S
    max_messages_per_s = MAX_INCOMING_MESSAGES_PER_S
    rest_class = BinanceRest

    def parse(self, frame: Frame) -> list[Event]:
        return parse_frame(frame, self.clock.now_ms())


class BinanceCoinmAdapter(BinanceAdapter):
    """Binance COIN-M (inverse) perpetuals: sizes are USD contracts (BTCUSD 100, others 10)."""

    name = "binance_coinm"
    default_ws_url = streams.COINM_WS_URL
    rest_class = BinanceCoinmRest

    def __init__(self, *, contract_usd: Mapping[str, float] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self._parser = CoinmParser(contract_usd)

    def parse(self, frame: Frame) -> list[Event]:
        return self._parser(frame, self.clock.now_ms())
