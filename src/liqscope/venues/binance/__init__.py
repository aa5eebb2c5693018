"""Binance futures: USDⓈ-M (``binance``) and COIN-M (``binance_coinm``) adapters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from liqscope.domain.events import Event
from liqscope.domain.types import Venue
from liqscope.venues.base import Frame, VenueAdapter, VenueStreams
from liqscope.venues.binance import streams
from liqscope.venues.binance.parse import CoinmParser, parse_frame
from liqscope.venues.binance.rest import BinanceCoinmRest, BinanceRest
from liqscope.venues.binance.rules import MAX_CONNECTION_LIFETIME_S, MAX_INCOMING_MESSAGES_PER_S

__all__ = ["BinanceAdapter", "BinanceCoinmAdapter"]


class BinanceAdapter(VenueAdapter):
    """Binance USDⓈ-M perpetuals. Liquidations are sampled (≤ 1 per symbol per second)."""

    name = "binance"
    venue = Venue.BINANCE.value
    default_ws_url = streams.USDM_WS_URL
    default_rest_url = streams.USDM_REST_URL
    streams: ClassVar[VenueStreams] = streams
    max_connection_lifetime_s = MAX_CONNECTION_LIFETIME_S
    max_messages_per_s = MAX_INCOMING_MESSAGES_PER_S
    rest_class = BinanceRest

    def parse(self, frame: Frame) -> list[Event]:
        return parse_frame(frame)


class BinanceCoinmAdapter(BinanceAdapter):
    """Binance COIN-M (inverse) perpetuals: sizes are USD contracts (BTCUSD 100, others 10)."""

    name = "binance_coinm"
    default_ws_url = streams.COINM_WS_URL
    default_rest_url = streams.COINM_REST_URL
    rest_class = BinanceCoinmRest

    def __init__(self, *, contract_usd: Mapping[str, float] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self._parser = CoinmParser(contract_usd)

    def parse(self, frame: Frame) -> list[Event]:
        return self._parser(frame)
