"""A property test over query parameters: whatever is sent, the API answers 2xx or 4xx."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from api_app import store_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

APP = store_app(minutes=1440, liquidations_per_day=100)
PATHS = [
    "/api/heatmap",
    "/api/heatmap/cell",
    "/api/map",
    "/api/liquidations/bars",
    "/api/liquidations/levels",
    "/api/liquidations/feed",
    "/api/series/price",
    "/api/series/oi",
    "/api/instruments",
    "/api/status",
]
NAMES = [
    "symbol",
    "venues",
    "venue",
    "range",
    "start",
    "end",
    "interval",
    "width",
    "height",
    "tiers",
    "sides",
    "preset",
    "units",
    "split",
    "at",
    "buckets",
    "window_pct",
    "min_usd",
    "limit",
    "max_points",
    "ts",
    "price_lo",
    "price_hi",
    "column_ms",
]
VALUES = st.one_of(
    st.sampled_from(
        [
            "BTCUSDT",
            "btc-usdt-swap",
            "all",
            "binance",
            "bybit,okx",
            "24h",
            "1y",
            "custom",
            "1m",
            "1w",
            "0",
            "-1",
            "1e308",
            "nan",
            "inf",
            "10x,25x",
            "long",
            "short",
            "relative",
            "usd",
            "high",
            "2000",
            "10",
            "1700000000000",
            "2023-11-15T00:00:00Z",
            "",
            " ",
            "%00",
            "x" * 50,
            "99999999999999999999",
            "true",
        ]
    ),
    st.text(max_size=12),
    st.integers(min_value=-(10**15), max_value=10**15).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)


async def _get(path: str, params: dict[str, str]) -> int:
    transport = httpx.ASGITransport(app=APP)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        return (await c.get(path, params=params)).status_code


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    path=st.sampled_from(PATHS),
    params=st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=7),
    with_symbol=st.booleans(),
)
def test_no_5xx(path: str, params: dict[str, Any], with_symbol: bool) -> None:
    if with_symbol:
        params.setdefault("symbol", "BTCUSDT")
    status = asyncio.run(_get(path, params))
    assert status < 500, (path, params)
