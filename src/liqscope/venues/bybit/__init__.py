"""Bybit v5 adapter (linear and inverse perpetuals)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from liqscope.domain import registry
from liqscope.domain.events import Event
from liqscope.domain.types import Venue
from liqscope.venues.base import Channel, Frame, VenueAdapter
from liqscope.venues.bybit import streams
from liqscope.venues.bybit.parse import parse_frame
from liqscope.venues.bybit.rest import BybitRest

__all__ = ["BybitAdapter"]


class BybitAdapter(VenueAdapter):
    """Bybit v5. ``allLiquidation`` claims every liquidation (not sampled)."""

    name = "bybit"
    venue = Venue.BYBIT.value
    default_ws_url = streams.WS_URL
    default_rest_url = streams.REST_URL
    has_liquidation_feed = registry.has_liquidation_feed(Venue.BYBIT.value)
    liquidations_sampled = registry.sampled_feed(Venue.BYBIT.value)
    ws_channels = streams.CHANNELS
    ping = streams.PING
    max_connection_lifetime_s = None
    rest_class = BybitRest

    def ws_url(self, symbols: Sequence[str], channels: Iterable[Channel]) -> str:
        return streams.ws_url(self.ws_base_url, symbols)

    def subscribe_messages(
        self, symbols: Sequence[str], channels: Iterable[Channel]
    ) -> list[Frame]:
        return list(streams.subscribe_messages(streams.topics(symbols, channels)))

    def parse(self, frame: Frame) -> list[Event]:
        return parse_frame(frame)
