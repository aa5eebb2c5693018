"""Bybit v5 adapter (linear and inverse perpetuals)."""

from __future__ import annotations

from typing import ClassVar

from liqscope.domain.events import Event
from liqscope.domain.types import Venue
from liqscope.venues.base import Frame, VenueAdapter, VenueStreams
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
    streams: ClassVar[VenueStreams] = streams
    rest_class = BybitRest

    def parse(self, frame: Frame) -> list[Event]:
        return parse_frame(frame)
