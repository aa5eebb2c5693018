"""Request parameters: one typed object per endpoint, built and validated by FastAPI from
the query string (``Annotated[HeatmapParams, Query()]``: a query-parameter model).

The docstring of a model served as JSON by ``api.app`` is its endpoint's description.
Shared groups (the market, the time window, the model view) are models of their own that the
endpoint models inherit; ``p.market``, ``p.window`` and ``p.model`` name the group. The
published schema is as strict as the validation: closed sets are enums, lists and times carry
a pattern, numbers their bounds; what a schema cannot say (``end`` after ``start``, a symbol
that is stored) answers 422 / 404 naming the parameter. Unknown query parameters are ignored.
"""

# no ``from __future__ import annotations``: FastAPI reads these annotations at run time

import re
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from liqscope.domain.types import Venue
from liqscope.model.presets import PRESETS

__all__ = [
    "AlertsParams",
    "BarsParams",
    "CellParams",
    "CheckParams",
    "FeedParams",
    "HeatmapParams",
    "LevelsParams",
    "MapParams",
    "MarketSel",
    "ModelSel",
    "OIParams",
    "PriceParams",
    "ScoreParams",
    "WindowSel",
]

RangeName = Literal["12h", "24h", "3d", "7d", "30d", "90d", "180d", "1y", "custom"]
IntervalName = Literal[
    "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w"
]
SidesName = Literal["long", "short", "both", "all"]
UnitsName = Literal["usd", "relative"]
FormatName = Literal["json", "bin"]
SideName = Literal["long", "short"]
ScenarioName = Literal["calm", "trending", "squeeze", "cascade"]

_VENUE = "(?:" + "|".join(v.value for v in Venue) + ")"
VENUES_PATTERN = f"^(?:all|{_VENUE}(?:,{_VENUE})*)$"
VENUE_PATTERN = f"^{_VENUE}$"
_PRESET = "(?:" + "|".join(re.escape(p) for p in PRESETS) + ")"
PRESET_PATTERN = f"^{_PRESET}$"
PRESETS_PATTERN = f"^{_PRESET}(?:,{_PRESET})*$"
SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,39}$"
_TIER = "(?:" + "|".join(sorted({f"{x:g}" for c in PRESETS.values() for x in c.leverages})) + ")x?"
TIERS_PATTERN = f"^(?:all|{_TIER}(?:,{_TIER})*)$"
_HMS = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]"
TIME_PATTERN = (
    r"^(?:[1-9][0-9]{9}|[1-9][0-9]{12}"  # epoch seconds or milliseconds (2001 onwards)
    r"|20[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"  # ISO 8601, 2000..2099
    rf"(?:T{_HMS}(?::[0-5][0-9](?:\.[0-9]{{1,6}})?)?(?:Z|[+-]{_HMS})?)?)$"
)
MAX_TS = 4_102_444_800_000  # 2100-01-01

# the fields several endpoints share, declared once
Time = Annotated[str | None, Field(pattern=TIME_PATTERN, description="epoch ms (or s) or ISO 8601")]
Symbol = Annotated[str, Field(pattern=SYMBOL_PATTERN, max_length=40)]
AnySymbol = Annotated[str | None, Field(pattern=SYMBOL_PATTERN, max_length=40)]
OneVenue = Annotated[str | None, Field(pattern=VENUE_PATTERN)]
Preset = Annotated[
    str | None, Field(pattern=PRESET_PATTERN, description="model preset (default: all)")
]


class _Params(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class MarketSel(_Params):
    """One market, on one venue, several or all (the aggregate)."""

    symbol: Annotated[
        str,
        Field(
            pattern=SYMBOL_PATTERN,
            max_length=40,
            description="market, e.g. BTCUSDT (or a venue's native name)",
        ),
    ]
    venues: Annotated[
        str | None,
        Field(
            pattern=VENUES_PATTERN,
            max_length=200,
            description="'all' (aggregate) or a comma list: binance,bybit,okx",
        ),
    ] = None

    @property
    def market(self) -> Self:
        return self


class WindowSel(_Params):
    """A time window: a named range ending at the latest stored data, or start/end."""

    range_: Annotated[
        RangeName | None,
        Field(alias="range", description="ends at the latest stored data; or custom"),
    ] = None
    start: Time = None
    end: Time = None

    @property
    def window(self) -> Self:
        return self


class ModelSel(_Params):
    """Which model view: its step, preset and tiers."""

    interval: Annotated[IntervalName | None, Field(description="model step (default by range)")] = (
        None
    )
    tiers: Annotated[
        str | None,
        Field(
            pattern=TIERS_PATTERN,
            max_length=200,
            description="'all' (the preset's tiers) or a comma list: 10x,25x",
        ),
    ] = None
    preset: Preset = None

    @property
    def model(self) -> Self:
        return self


MinUsd = Annotated[
    float,
    Field(ge=0, le=1e15, allow_inf_nan=False, description="ignore liquidations below this USD"),
]


class HeatmapParams(MarketSel, WindowSel, ModelSel):
    width: Annotated[int, Field(ge=10, le=4000, description="max columns returned")] = 1200
    height: Annotated[int, Field(ge=10, le=2000, description="max price rows returned")] = 500
    sides: Annotated[SidesName | None, Field(description="long, short or both")] = None
    units: Annotated[UnitsName, Field(description="usd or relative")] = "usd"
    split: Annotated[bool, Field(description="also return the long part (z_long)")] = True
    format: Annotated[
        FormatName, Field(description="json (z as nested lists) or bin (see docs/api.md)")
    ] = "json"


class CellParams(MarketSel, WindowSel, ModelSel):
    """USD per tier and side inside one heatmap cell (the tooltip's breakdown)."""

    ts: Annotated[int, Field(ge=0, le=MAX_TS, description="column start, epoch ms")]
    price_lo: Annotated[float, Field(gt=0, le=1e12, allow_inf_nan=False)]
    price_hi: Annotated[float, Field(gt=0, le=1e12, allow_inf_nan=False)]
    column_ms: Annotated[int | None, Field(ge=1, le=366 * 86_400_000)] = None
    width: Annotated[int, Field(ge=10, le=4000, description="as sent to /api/heatmap")] = 1200


class MapParams(MarketSel, ModelSel):
    range_: Annotated[
        RangeName | None, Field(alias="range", description="history the model runs over")
    ] = None
    at: Annotated[
        str | None, Field(pattern=TIME_PATTERN, description="time of the map (default latest)")
    ] = None
    buckets: Annotated[int, Field(ge=5, le=2000, description="max price buckets")] = 200
    window_pct: Annotated[
        float, Field(gt=0, le=100, allow_inf_nan=False, description="± % around price")
    ] = 15.0


class BarsParams(MarketSel, WindowSel):
    """Realized liquidations per interval, long and short USD, per venue."""

    interval: Annotated[IntervalName, Field(description="bar width")] = "1h"
    min_usd: MinUsd = 0.0


class LevelsParams(MarketSel, WindowSel):
    """Realized liquidations by price level (where they clustered)."""

    buckets: Annotated[int, Field(ge=5, le=2000)] = 120
    min_usd: MinUsd = 0.0


class FeedParams(_Params):
    """The latest realized liquidations, newest first."""

    symbol: AnySymbol = None
    venues: Annotated[str | None, Field(pattern=VENUES_PATTERN, max_length=200)] = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    min_usd: MinUsd = 0.0


class PriceParams(WindowSel):
    """OHLCV candles of one venue."""

    symbol: Symbol
    venue: OneVenue = None
    interval: Annotated[IntervalName, Field(description="candle width")] = "1m"


class OIParams(WindowSel):
    """Open interest of one venue (one side, base units and USD)."""

    symbol: Symbol
    venue: OneVenue = None
    max_points: Annotated[int, Field(ge=10, le=20000)] = 2000


class AlertsParams(_Params):
    """Fired alerts (newest first) with what triggered them."""

    limit: Annotated[int, Field(ge=1, le=1000, description="most recent alerts")] = 100
    symbol: AnySymbol = None
    rule: Annotated[str | None, Field(min_length=1, max_length=100)] = None


class CheckParams(_Params):
    """Exact liquidation price, estimated liquidation mass around it and a verdict."""

    symbol: Symbol
    side: Annotated[SideName, Field(description="long or short")]
    entry: Annotated[float, Field(ge=1e-6, le=1e9, allow_inf_nan=False, description="entry price")]
    leverage: Annotated[float, Field(ge=1, le=1000, allow_inf_nan=False)]
    qty: Annotated[
        float | None,
        Field(gt=0, le=1e12, allow_inf_nan=False, description="base units (contracts: inverse)"),
    ] = None
    venue: Annotated[str, Field(pattern=VENUE_PATTERN)] = "binance"
    days: Annotated[float, Field(gt=0, le=90, allow_inf_nan=False)] = 7.0
    preset: Annotated[str, Field(pattern=PRESET_PATTERN)] = "all"
    band: Annotated[float, Field(gt=0, le=20, allow_inf_nan=False)] = 0.5


class ScoreParams(_Params):
    """Share of realized liquidations in the predicted hot zones vs a matched baseline,
    with bootstrap CIs and false positives, per preset (429 while another is computed)."""

    scenario: Annotated[
        ScenarioName | None,
        Field(description="the built-in simulator (default cascade, unless symbol is given)"),
    ] = None
    seed: Annotated[int, Field(ge=0, le=1000, description="simulator seed")] = 1
    hours: Annotated[int, Field(ge=4, le=48, description="simulated hours (whole hours)")] = 24
    symbol: AnySymbol = None
    venue: Annotated[
        str | None, Field(pattern=VENUE_PATTERN, description="with symbol (default binance)")
    ] = None
    days: Annotated[int, Field(ge=1, le=90, description="stored history, whole days")] = 7
    presets: Annotated[str, Field(pattern=PRESETS_PATTERN, max_length=100)] = "all,high,calibrated"
    q: Annotated[
        float,
        Field(ge=0.01, le=0.99, allow_inf_nan=False, description="hot share (to 0.01)"),
    ] = 0.2
    range_pct: Annotated[
        float, Field(ge=0.5, le=50, allow_inf_nan=False, description="± % (to 0.1)")
    ] = 10.0
