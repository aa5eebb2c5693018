"""Hyperliquid adapter (no public liquidation feed)."""

from __future__ import annotations

from typing import ClassVar

from liqscope.domain.events import Event
from liqscope.venues.base import Frame, VenueAdapter, VenueStreams
from liqscope.venues.hyperliquid import streams
from liqscope.venues.hyperliquid.parse import HyperliquidPosition, parse_frame
from liqscope.venues.hyperliquid.rest import HyperliquidRest

__all__ = ["HyperliquidAdapter", "HyperliquidPosition"]


class HyperliquidAdapter(VenueAdapter):
    """Hyperliquid perpetuals. Frames without a timestamp are stamped with ``clock``."""

    default_ws_url = streams.WS_URL
    streams: ClassVar[VenueStreams] = streams
    rest_class = HyperliquidRest

    def parse(self, frame: Frame) -> list[Event]:
        return parse_frame(frame, self.clock.now_ms())
