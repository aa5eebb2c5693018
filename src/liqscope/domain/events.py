"""The normalised event model every venue parser produces and the store keeps.

Conventions (fixed across venues, whatever the wire says):
- times are integer epoch milliseconds UTC;
- ``side`` of a liquidation is the side of the *position* that was liquidated;
- quantities are in base units (coins), prices in quote units, notionals in USD;
- ``sampled`` is True when the venue publishes only a sample of liquidations,
  so totals built from it are lower bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

from liqscope.domain.types import PriceKind, Side


@dataclass(frozen=True, slots=True)
class Liquidation:
    venue: str
    symbol: str
    ts: int
    side: Side
    qty: float
    price: float
    price_kind: PriceKind
    notional_usd: float
    sampled: bool

    def key(self) -> tuple[str, str, int, int, float, float]:
        """Identity used for idempotent writes (venues give liquidations no id)."""
        return (self.venue, self.symbol, self.ts, int(self.side), self.qty, self.price)


@dataclass(frozen=True, slots=True)
class Trade:
    venue: str
    symbol: str
    ts: int
    price: float
    qty: float
    taker_side: Side  # LONG = the taker bought
    trade_id: str


@dataclass(frozen=True, slots=True)
class Candle:
    venue: str
    symbol: str
    ts: int  # open time
    interval_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float  # base units
    taker_buy_volume: float | None
    closed: bool


@dataclass(frozen=True, slots=True)
class OpenInterest:
    venue: str
    symbol: str
    ts: int
    oi_base: float  # one side, in base units
    oi_usd: float | None


@dataclass(frozen=True, slots=True)
class MarkPrice:
    venue: str
    symbol: str
    ts: int
    mark: float
    index: float | None
    funding_rate: float | None


Event = Liquidation | Trade | Candle | OpenInterest | MarkPrice
