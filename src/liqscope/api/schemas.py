"""Response models: they document the JSON bodies in the OpenAPI schema (``/docs``).

The routes return pre-serialised bytes from the cache, so these models describe the bodies
rather than validate them at run time; ``tests/unit/test_api_endpoints.py`` checks real bodies
against them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class VenueProvenance(BaseModel):
    venue: str
    native_symbol: str
    feed: str = Field(description="'sampled' (totals are lower bounds) or 'complete'")
    lower_bound: bool
    last_ts: int | None = Field(description="last stored candle open time, epoch ms")
    last_message_age_s: float | None = Field(description="age of the newest stored message")
    gaps: list[list[int]] = Field(description="[start_ms, end_ms] intervals with no data")


class Provenance(BaseModel):
    venues: list[VenueProvenance]
    lower_bound: bool = Field(description="true when any venue's liquidation feed is sampled")
    generated_ms: int
    skipped_venues: list[str] | None = Field(
        default=None,
        description="venues asked for but left out of the model (no candles or OI in the window)",
    )


class ColumnCandles(BaseModel):
    ts: list[int]
    open: list[float | None]
    high: list[float | None]
    low: list[float | None]
    close: list[float | None]


class HeatmapEncoding(BaseModel):
    z: str = Field(
        description="f16-rowdelta-zlib-base64: z/scale as float16 bit patterns (uint16 LE), "
        "each row delta-coded along time modulo 2**16, zlib, base64"
    )
    z_long: str | None = Field(
        description="u8-share-zlib-base64: round(255 * z_long / z) per cell, zlib, base64"
    )
    shape: list[int] = Field(description="[rows, columns] of z")
    scale: float = Field(description="multiply the decoded float16 values by this")


class HeatmapResponse(BaseModel):
    symbol: str
    venues: list[str]
    aggregate: bool = Field(description="true when several venues are summed on one price grid")
    start: int
    end: int
    range: str | None
    interval_ms: int = Field(description="model step")
    column_ms: int = Field(description="width of one returned column (steps merged)")
    preset: str
    tiers: list[str]
    sides: list[str]
    units: str = Field(description="'usd' or 'relative'")
    units_label: str
    ts: list[int] = Field(description="column start times, epoch ms")
    bucket_edges: list[float] = Field(description="price bucket edges, len(z) + 1, ascending")
    format: str = Field(default="json", description="'json' or 'bin' (see z_encoding)")
    z: list[list[float | None]] | str = Field(
        description="z[bucket][column]: USD (or share of max); format=bin: an encoded string"
    )
    z_long: list[list[float | None]] | str | None = Field(
        description="the long-position part of z (short = z - z_long); when split=true"
    )
    z_encoding: HeatmapEncoding | None = Field(
        default=None, description="format=bin only: how z and z_long are encoded"
    )
    max: float
    max_usd: float | None = None
    candles: ColumnCandles
    model_version: str | None
    data_version: list[int]
    provenance: Provenance
    note: str | None


class CellTier(BaseModel):
    tier: str
    long: float
    short: float


class CellResponse(BaseModel):
    ts: int
    price_lo: float
    price_hi: float
    tiers: list[CellTier]
    long: float
    short: float


class Cluster(BaseModel):
    """A dense band of one side's levels (``liqscope.signals.clusters.Cluster``)."""

    price: float = Field(description="middle of the band's densest bucket")
    price_lo: float
    price_hi: float
    usd: float
    distance_pct: float = Field(
        description="from price to the band's near edge, % of price (+ above, - below)"
    )
    center: float | None = Field(default=None, description="USD-weighted mean price")
    side: str | None = Field(default=None, description="long (below price) or short (above)")
    leverage_mix: dict[str, float] | None = Field(default=None, description="USD per tier")


class Clusters(BaseModel):
    above: list[Cluster]
    below: list[Cluster]


class MaxPain(BaseModel):
    above: Cluster | None
    below: Cluster | None


class MapResponse(BaseModel):
    symbol: str
    venues: list[str]
    aggregate: bool
    preset: str
    tiers: list[str]
    ts: int | None
    price: float | None
    bucket_edges: list[float]
    long: dict[str, list[float]] = Field(description="per tier: long USD per bucket")
    short: dict[str, list[float]] = Field(description="per tier: short USD per bucket")
    long_total: list[float]
    short_total: list[float]
    cum_long: list[float] = Field(description="longs liquidated if price falls to the bucket")
    cum_short: list[float] = Field(description="shorts liquidated if price rises to the bucket")
    clusters: Clusters
    max_pain: MaxPain
    units: str
    model_version: str | None
    data_version: list[int]
    provenance: Provenance
    note: str | None


class VenueBars(BaseModel):
    long: list[float]
    short: list[float]
    sampled: bool
    lower_bound: bool


class BarsResponse(BaseModel):
    symbol: str
    venues: list[str]
    aggregate: bool
    start: int
    end: int
    interval_ms: int
    ts: list[int]
    long: list[float] = Field(description="USD of long positions liquidated per bar")
    short: list[float] = Field(description="USD of short positions liquidated per bar")
    by_venue: dict[str, VenueBars]
    count: int
    units: str
    lower_bound: bool
    provenance: Provenance
    note: str | None


class LevelsResponse(BaseModel):
    symbol: str
    venues: list[str]
    aggregate: bool
    start: int
    end: int
    bucket_edges: list[float]
    long: list[float]
    short: list[float]
    count_long: list[int]
    count_short: list[int]
    units: str
    lower_bound: bool
    provenance: Provenance
    note: str | None


class FeedItem(BaseModel):
    id: int
    venue: str
    symbol: str
    native_symbol: str | None
    ts: int
    side: str
    price: float
    qty: float
    notional_usd: float
    sampled: bool


class FeedResponse(BaseModel):
    symbol: str | None
    venues: list[str]
    items: list[FeedItem]
    min_usd: float
    last_id: int
    lower_bound: bool
    note: str | None


class PriceResponse(BaseModel):
    symbol: str
    venue: str
    start: int
    end: int
    interval_ms: int
    ts: list[int]
    open: list[float]
    high: list[float]
    low: list[float]
    close: list[float]
    volume: list[float]
    note: str | None


class OIResponse(BaseModel):
    symbol: str
    venue: str
    start: int
    end: int
    ts: list[int]
    oi_base: list[float]
    oi_usd: list[float | None]
    units: dict[str, str]
    note: str | None


class InstrumentVenue(BaseModel):
    venue: str
    native_symbol: str
    sampled: bool
    contract_type: str


class Market(BaseModel):
    symbol: str
    venues: list[InstrumentVenue]


class InstrumentsResponse(BaseModel):
    markets: list[Market]
    venues: list[str]
    presets: list[str]
    tiers: list[str]
    ranges: list[str]
    intervals: list[str]
    units: list[str]


class MarketStatus(BaseModel):
    venue: str
    symbol: str
    native_symbol: str
    feed: str
    lower_bound: bool
    liquidations: int
    candles: int
    oi_points: int
    first_ts: int | None
    last_ts: int | None
    last_message_age_s: float | None
    gaps: list[list[int]]


class CacheStats(BaseModel):
    items: int
    hits: int
    misses: int


class StatusResponse(BaseModel):
    ok: bool
    now: int
    uptime_s: float
    markets: list[MarketStatus]
    ws_clients: int
    cache: CacheStats
    server_time: float


class AlertsResponse(BaseModel):
    alerts: list[dict[str, Any]] = Field(description="fired alerts, newest first")


class ErrorItem(BaseModel):
    loc: list[str]
    msg: str
    type: str


class ErrorResponse(BaseModel):
    detail: list[ErrorItem] | str
