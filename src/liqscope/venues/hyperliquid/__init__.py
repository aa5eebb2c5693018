"""Hyperliquid adapter (no public liquidation feed)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from liqscope.domain import registry
from liqscope.domain.events import Event
from liqscope.domain.types import Venue
from liqscope.venues.base import Channel, Frame, VenueAdapter
from liqscope.venues.hyperliquid import streams
from liqscope.venues.hyperliquid.parse import HyperliquidPosition, parse_frame
from liqscope.venues.hyperliquid.rest import HyperliquidRest

__all__ = ["HyperliquidAdapter", "HyperliquidPosition"]


class HyperliquidAdapter(VenueAdapter):
    """Hyperliquid perpetuals. Frames without a timestamp are stamped with ``clock``."""

    name = "hyperliquid"
    venue = Venue.HYPERLIQUID.value
    default_ws_url = streams.WS_URL
    default_rest_url = streams.REST_URL
    has_liquidation_feed = registry.has_liquidation_feed(Venue.HYPERLIQUID.value)
    liquidations_sampled = registry.sampled_feed(Venue.HYPERLIQUID.value)
    ws_channels = streams.CHANNELS
    ping = streams.PING
    max_connection_lifetime_s = None
    rest_class = HyperliquidRest

    def ws_url(self, symbols: Sequence[str], channels: Iterable[Channel]) -> str:
        return streams.ws_url(self.ws_base_url)

    def subscribe_messages(
        self, symbols: Sequence[str], channels: Iterable[Channel]
    ) -> list[Frame]:
        return list(streams.subscribe_messages(streams.subscriptions(symbols, channels)))

    def parse(self, frame: Frame) -> list[Event]:
        return parse_frame(frame, self.clock.now_ms())
