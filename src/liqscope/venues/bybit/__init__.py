"""Bybit v5 adapter (linear and inverse perpetuals)."""

from __future__ import annotations

from typing import ClassVar

from liqscope.domain.events import Event
from liqscope.venues.base import Frame, VenueAdapter, VenueStreams
from liqscope.venues.bybit import streams
from liqscope.venues.bybit.parse import parse_frame
from liqscope.venues.bybit.rest import BybitRest

__all__ = ["BybitAdapter"]


class BybitAdapter(VenueAdapter):
    """Bybit v5. ``allLiquidation`` claims every liquidation (not sampled)."""

    default_ws_url = streams.WS_URL
    streams: ClassVar[VenueStreams] = streams
    rest_class = BybitRest

    def parse(self, frame: Frame) -> list[Event]:
        return parse_frame(frame, self.clock.now_ms())
