"""What the API needs from the data layer, as one small interface.

``Backend`` is implemented by ``liqscope.api.storebackend.StoreBackend`` (SQLite store + the
estimator). The service layer (``liqscope.api.service``) depends only on this module.

Conventions: times are epoch milliseconds UTC, prices in quote units, notionals in USD,
``side`` is +1 for long positions and -1 for short positions. ``market`` is the venue-neutral
symbol (``BTCUSDT``); each backend maps it to the venue's native symbol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]
BOOL = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class MarketInfo:
    """One market on one venue."""

    venue: str
    market: str
    native_symbol: str
    sampled: bool  # the venue publishes only a sample of its liquidations
    contract_type: str = "linear"


@dataclass(frozen=True)
class Candles:
    ts: I64  # open times
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64

    @staticmethod
    def empty() -> Candles:
        z = np.zeros(0)
        return Candles(np.zeros(0, np.int64), z, z, z, z, z)

    def __len__(self) -> int:
        return int(self.ts.size)


@dataclass(frozen=True)
class OISeries:
    ts: I64
    oi_base: F64
    oi_usd: F64  # NaN where unknown


@dataclass(frozen=True)
class Liquidations:
    """Realized liquidations, one row each."""

    id: I64
    venue: list[str]
    market: list[str]
    ts: I64
    side: I8
    price: F64
    qty: F64
    notional_usd: F64
    sampled: BOOL

    def __len__(self) -> int:
        return int(self.ts.size)

    @staticmethod
    def empty() -> Liquidations:
        z = np.zeros(0)
        return Liquidations(
            np.zeros(0, np.int64),
            [],
            [],
            np.zeros(0, np.int64),
            np.zeros(0, np.int8),
            z,
            z,
            z,
            np.zeros(0, np.bool_),
        )


@dataclass(frozen=True)
class LiquidationRow:
    """One realized liquidation as the live feed pushes it."""

    id: int
    venue: str
    market: str
    native_symbol: str
    ts: int
    side: int
    price: float
    qty: float
    notional_usd: float
    sampled: bool


@dataclass(frozen=True)
class Coverage:
    """What the store holds for one market on one venue."""

    venue: str
    market: str
    native_symbol: str
    sampled: bool
    liquidations: int = 0
    candles: int = 0
    oi_points: int = 0
    first_ts: int | None = None
    last_ts: int | None = None
    last_message_ms: int | None = None
    gaps: list[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Grid:
    """A heatmap before reduction: ``matrix[bucket, column]`` in USD."""

    column_ts: I64
    bucket_edges: F64  # len = n_buckets + 1, ascending
    matrix: F64


@dataclass(frozen=True)
class Profile:
    """One column split by tier and side: ``long[tier, bucket]``, ``short[tier, bucket]``."""

    ts: int
    price: float
    bucket_edges: F64
    tiers: list[str]
    long: F64
    short: F64


class Estimate(Protocol):
    """A model run over one market (or an aggregate of venues on one price grid)."""

    @property
    def tiers(self) -> list[str]: ...

    @property
    def model_version(self) -> str: ...

    def grid(self, tiers: Sequence[str], sides: Sequence[int], relative: bool) -> Grid: ...

    def profile(self, at: int | None, tiers: Sequence[str]) -> Profile: ...


class Backend(Protocol):
    """Read side of the data layer, as the API sees it."""

    def markets(self) -> list[MarketInfo]: ...

    def presets(self) -> list[str]: ...

    def tiers(self) -> list[str]: ...

    def data_version(self, venues: Sequence[str], market: str) -> tuple[int, ...]:
        """Changes whenever anything stored for these markets changes (cache key)."""
        ...

    def data_range(self, venues: Sequence[str], market: str) -> tuple[int, int] | None:
        """First and last stored candle open time across ``venues``, or None."""
        ...

    def candles(self, venue: str, market: str, t0: int, t1: int, interval_ms: int) -> Candles: ...

    def open_interest(self, venue: str, market: str, t0: int, t1: int) -> OISeries: ...

    def liquidations(
        self,
        venues: Sequence[str],
        market: str | None,
        t0: int,
        t1: int,
        min_usd: float = 0.0,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> Liquidations: ...

    def liquidations_after(self, last_id: int, limit: int) -> list[LiquidationRow]:
        """Rows stored after ``last_id`` (ascending id); the live feed polls this."""
        ...

    def last_liquidation_id(self) -> int: ...

    def estimate(
        self,
        venues: Sequence[str],
        market: str,
        t0: int,
        t1: int,
        interval_ms: int,
        preset: str,
        column_ms: int | None = None,
    ) -> Estimate | None:
        """Run the model with steps of ``interval_ms`` and snapshot columns of ``column_ms``
        (None: the backend chooses); None when there is no data to run it on."""
        ...

    def price_buckets(
        self, market: str, prices: F64, lo: float, hi: float, max_buckets: int
    ) -> tuple[F64, I64]:
        """The canonical price grid over [lo, hi] (at most ``max_buckets`` buckets): its edges
        and the bucket index of each price (-1 outside)."""
        ...

    def coverage(self) -> list[Coverage]: ...
