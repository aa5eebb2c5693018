"""OKX v5 adapter (SWAP and FUTURES, linear and inverse)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from liqscope.domain.events import Event
from liqscope.domain.instruments import Instrument
from liqscope.venues.base import Channel, Frame, VenueAdapter, VenueStreams
from liqscope.venues.okx import streams
from liqscope.venues.okx.parse import OkxParser
from liqscope.venues.okx.rest import OkxRest

__all__ = ["OkxAdapter"]


class OkxAdapter(VenueAdapter):
    """OKX v5. Liquidations are sampled (≤ 1 per contract per second); sizes are contracts,
    converted with the instruments map the adapter holds (defaults, or loaded by
    :meth:`load_instruments`)."""

    default_ws_url = streams.WS_URL
    streams: ClassVar[VenueStreams] = streams
    rest_polled_channels = frozenset({Channel.CANDLES})  # /api/v5/market/history-candles
    rest_class = OkxRest

    def __init__(self, *, instruments: Mapping[str, Instrument] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.parser = OkxParser(instruments)

    @property
    def instruments(self) -> Mapping[str, Instrument]:
        return self.parser.instruments

    async def load_instruments(self, inst_types: Iterable[str] = ("SWAP",)) -> int:
        """Fetch contract values from ``/api/v5/public/instruments``; returns how many."""
        client = OkxRest(
            self.rest_base_url, transport=self._transport, sleeper=self._sleeper, clock=self.clock
        )
        async with client:
            count = 0
            for t in inst_types:
                found = await client.instruments(t)
                self.parser.update(found)
                count += len(found)
        return count

    async def prepare(self) -> None:
        """Load SWAP and FUTURES contract values so every instrument's size converts."""
        await self.load_instruments(("SWAP", "FUTURES"))

    def parse(self, frame: Frame) -> list[Event]:
        return self.parser(frame, self.clock.now_ms())
