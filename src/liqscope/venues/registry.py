"""Adapters by name: ``adapter("bybit", rest_url="http://127.0.0.1:8123")``."""

from __future__ import annotations

from typing import Any

from liqscope.domain.errors import InputError
from liqscope.venues.base import VenueAdapter
from liqscope.venues.binance import BinanceAdapter, BinanceCoinmAdapter
from liqscope.venues.bybit import BybitAdapter
from liqscope.venues.hyperliquid import HyperliquidAdapter
from liqscope.venues.okx import OkxAdapter

__all__ = ["ADAPTERS", "adapter", "names"]

ADAPTERS: dict[str, type[VenueAdapter]] = {
    cls.name: cls
    for cls in (BinanceAdapter, BinanceCoinmAdapter, BybitAdapter, OkxAdapter, HyperliquidAdapter)
}


def names() -> list[str]:
    """Registered adapter names."""
    return sorted(ADAPTERS)


def adapter(venue_name: str, **overrides: Any) -> VenueAdapter:
    """A new adapter for ``venue_name``.

    ``overrides`` go to the adapter: ``ws_url``/``rest_url`` (e.g. a simulated exchange on
    127.0.0.1), ``transport``, ``sleeper``, ``clock``, and venue extras (OKX ``instruments``,
    Binance COIN-M ``contract_usd``).
    """
    key = venue_name.strip().lower().replace("-", "_")
    cls = ADAPTERS.get(key)
    if cls is None:
        raise InputError(f"unknown venue {venue_name!r} (expected one of {', '.join(names())})")
    return cls(**overrides)
