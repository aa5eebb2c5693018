"""The storage interface every backend implements, and the plain records it exchanges.

Writes are idempotent: each event has a key (see the schema) and writing the same event
twice stores it once. Every ``write_*`` returns how many rows were new (for candles: new
or replacing an open candle). Calls made inside ``with store.transaction():`` become one
atomic unit; outside one, each call is its own transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from liqscope.domain.events import (
    Candle,
    Event,
    Liquidation,
    MarkPrice,
    OpenInterest,
    Trade,
)
from liqscope.domain.instruments import Instrument
from liqscope.domain.records import Columns
from liqscope.model.steps import Steps as ModelSteps

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

TABLES: tuple[str, ...] = ("liquidations", "trades", "candles", "open_interest", "marks")
"""Event tables (export applies to these; retention to these, ``frames``, ``gaps``,
``alerts`` and ``snapshots``)."""

Float32Array = npt.NDArray[np.float32]

TS_MAX = 2**62
"""An open upper time bound that both backends' integers hold."""


@dataclass(frozen=True, slots=True)
class LiquidationQuery:
    """Which stored liquidations to read: ``t0 <= ts < t1`` on ``venues`` (empty: all) for
    ``symbol`` (None: all), of at least ``min_notional_usd``, ordered by time (newest first
    when asked), at most ``limit`` (None: no limit)."""

    venues: Sequence[str] = ()
    symbol: str | None = None
    t0: int = 0
    t1: int = TS_MAX
    min_notional_usd: float = 0.0
    limit: int | None = None
    newest_first: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "venues", tuple(self.venues))


@dataclass(frozen=True, slots=True)
class AlertQuery:
    """Which stored alerts to read (newest first): at most ``limit``, of one ``symbol`` and
    one ``rule_id`` when given, fired for events at or after ``since_ms`` when given."""

    limit: int = 100
    symbol: str | None = None
    rule_id: str | None = None
    since_ms: int | None = None


NEWEST_ALERTS = AlertQuery()
"""The newest 100 alerts of every symbol and rule."""


@dataclass(frozen=True, slots=True)
class ExportQuery:
    """What :meth:`Store.export_parquet` writes: event ``tables``, of one ``venue`` and one
    ``symbol`` when given."""

    tables: Sequence[str] = TABLES
    venue: str | None = None
    symbol: str | None = None


EXPORT_ALL = ExportQuery()
"""Every event table of every market."""


@dataclass(frozen=True, slots=True)
class Gap:
    """A span in which a stream was not received (``end_ms`` exclusive)."""

    venue: str
    symbol: str
    stream: str
    start_ms: int
    end_ms: int
    reason: str
    backfilled: bool = False


@dataclass(frozen=True, slots=True)
class RawFrame:
    """One raw message as received, journaled before parsing."""

    venue: str
    received_ms: int
    conn_id: str
    seq: int
    raw: bytes


@dataclass(frozen=True, slots=True)
class ImportRecord:
    """A file whose import completed (keyed by content hash)."""

    sha256: str
    path: str
    size: int
    format: str
    rows_parsed: int
    rows_new: int
    finished_ms: int


@dataclass(frozen=True, slots=True)
class MessageStats:
    """How many messages of one stream of a venue arrived, and when the last one did."""

    venue: str
    stream: str
    last_received_ms: int
    messages: int


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """A fired alert with what triggered it (``details``, JSON-serialisable).

    ``id`` and ``fired_ms`` are given by the store when it is written (leave them None)."""

    rule_id: str
    venue: str
    symbol: str
    condition: str
    ts: int
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)
    fired_ms: int | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True, eq=False)
class SnapshotRecord:
    """The live levels ``[n_tiers, 2, grid_n]`` (USD, side 0 = long) of a map as known at
    ``ts``, with its grid, leverages, model configuration and version."""

    venue: str
    symbol: str
    preset: str
    ts: int
    price: float
    model_version: str
    grid_origin: float
    grid_step: float
    grid_n: int
    leverages: tuple[float, ...]
    config: Mapping[str, Any]
    levels: Float32Array


@dataclass(slots=True)
class WriteCounts:
    """New rows per event table after a mixed write."""

    liquidations: int = 0
    trades: int = 0
    candles: int = 0
    open_interest: int = 0
    marks: int = 0

    @property
    def total(self) -> int:
        return self.liquidations + self.trades + self.candles + self.open_interest + self.marks

    def add(self, other: WriteCounts) -> None:
        self.liquidations += other.liquidations
        self.trades += other.trades
        self.candles += other.candles
        self.open_interest += other.open_interest
        self.marks += other.marks


@dataclass(frozen=True, slots=True)
class Coverage:
    """What is stored for one venue/symbol/stream.

    ``stream`` is a table name, with the interval for candles (``candles:1m``).
    ``sampled`` is True when liquidations come from a sampled feed (totals are lower bounds).
    """

    venue: str
    symbol: str
    stream: str
    rows: int
    first_ts: int | None
    last_ts: int | None
    gaps: int
    gap_ms: int
    last_message_age_ms: int | None
    sampled: bool | None


@dataclass(frozen=True, slots=True)
class OhlcvColumns(Columns):
    """Prices and volumes per step, one array each (all the same length)."""

    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    taker_buy_volume: FloatArray


@dataclass(frozen=True, slots=True)
class Steps(OhlcvColumns):
    """Per-step arrays in the estimator's layout (all the same length).

    ``ts`` is each step's open time. Prices are NaN for steps without market data,
    ``volume`` is 0 there. ``taker_buy_volume`` is NaN when unknown. ``oi_base`` is the
    last open-interest observation at or before the step's close (``ts + interval``),
    forward-filled; NaN before the first one. ``liq_*_usd`` are realized liquidation
    notionals of liquidated longs / shorts inside the step.
    """

    interval_ms: int
    ts: IntArray
    oi_base: FloatArray
    liq_long_usd: FloatArray
    liq_short_usd: FloatArray
    sampled: bool = field(default=False)

    def to_model(self, venue: str, symbol: str) -> ModelSteps | None:
        """The steps the estimator can use: those with prices and a known OI (OHLC made
        consistent), or None when fewer than two remain."""
        ok = (
            np.isfinite(self.open)
            & np.isfinite(self.high)
            & np.isfinite(self.low)
            & np.isfinite(self.close)
            & np.isfinite(self.oi_base)
            & (self.low > 0)
        )
        if int(ok.sum()) < 2:
            return None
        o, c = self.open[ok], self.close[ok]
        return ModelSteps(
            ts=self.ts[ok],
            open=o,
            high=np.maximum(self.high[ok], np.maximum(o, c)),
            low=np.minimum(self.low[ok], np.minimum(o, c)),
            close=c,
            volume=self.volume[ok],
            taker_buy_volume=self.taker_buy_volume[ok],
            oi_base=self.oi_base[ok],
            liq_long_usd=self.liq_long_usd[ok],
            liq_short_usd=self.liq_short_usd[ok],
            venue=venue,
            symbol=symbol,
        )


@runtime_checkable
class Store(Protocol):
    """Storage of normalised events, raw frames, gaps and import bookkeeping."""

    @property
    def path(self) -> Path: ...

    def close(self) -> None: ...

    def __enter__(self) -> Store: ...
    def __exit__(self, *exc: object) -> None: ...

    def transaction(self) -> AbstractContextManager[None]: ...

    # -- writes (idempotent; return new rows) --
    def write_liquidations(self, rows: Sequence[Liquidation]) -> int: ...
    def write_trades(self, rows: Sequence[Trade]) -> int: ...
    def write_candles(self, rows: Sequence[Candle]) -> int: ...
    def write_open_interest(self, rows: Sequence[OpenInterest]) -> int: ...
    def write_marks(self, rows: Sequence[MarkPrice]) -> int: ...
    def write_events(self, events: Iterable[Event]) -> WriteCounts: ...
    def write_instruments(self, rows: Sequence[Instrument]) -> int: ...

    def record_gap(self, gap: Gap) -> None: ...
    def mark_gap_backfilled(self, venue: str, symbol: str, stream: str, start_ms: int) -> None: ...
    def append_frames(self, frames: Sequence[RawFrame]) -> int: ...
    def touch_stream(
        self, venue: str, stream: str, received_ms: int, messages: int = 1
    ) -> None: ...
    def record_import(self, record: ImportRecord) -> None: ...
    def write_alert(self, alert: AlertRecord) -> int:
        """Store a fired alert; returns its id."""
        ...

    def save_snapshots(self, snapshots: Sequence[SnapshotRecord]) -> int:
        """Store snapshots (one per venue, symbol, preset and ts: a later save replaces)."""
        ...

    # -- reads --
    def imported(self, sha256: str) -> ImportRecord | None: ...
    def liquidations(self, query: LiquidationQuery) -> list[Liquidation]: ...
    def liquidation_rows(self, query: LiquidationQuery) -> list[tuple[int, Liquidation]]:
        """``(seq, liquidation)`` of ``query`` (see :class:`LiquidationQuery`)."""
        ...

    def liquidations_after(self, seq: int, limit: int = 10_000) -> list[tuple[int, Liquidation]]:
        """Liquidations stored after insertion sequence ``seq``, in insertion order.

        Every stored liquidation has a seq, given when it was first written (a duplicate gets
        none) and never reused: following ``seq`` sees each row once, however late its
        event time."""
        ...

    def last_liquidation_seq(self) -> int:
        """The highest seq given so far (0 when none); grows whenever liquidations are added."""
        ...

    def markets(
        self, tables: Sequence[str] = ("candles", "liquidations", "open_interest")
    ) -> list[tuple[str, str]]:
        """Distinct ``(venue, symbol)`` pairs stored in any of ``tables``, sorted."""
        ...

    def candle_intervals(self, venue: str, symbol: str) -> list[int]: ...
    def candle_range(self, venue: str, symbol: str, interval_ms: int) -> tuple[int, int] | None: ...
    def max_ts(self, table: str, venue: str, symbol: str) -> int | None:
        """Newest event time of a market in an event table, or None."""
        ...

    def min_ts(self, table: str, venue: str, symbol: str) -> int | None:
        """Oldest event time of a market in an event table, or None."""
        ...

    def candles(
        self, venue: str, symbol: str, interval_ms: int, t0: int, t1: int
    ) -> list[Candle]: ...
    def open_interest(self, venue: str, symbol: str, t0: int, t1: int) -> list[OpenInterest]: ...
    def frames(
        self, venue: str, after_id: int = 0, limit: int = 10_000
    ) -> list[tuple[int, RawFrame]]: ...
    def gaps(self, venue: str | None = None, symbol: str | None = None) -> list[Gap]: ...
    def instrument(self, venue: str, symbol: str) -> Instrument | None: ...
    def message_stats(self, venue: str | None = None) -> list[MessageStats]: ...
    def last_messages(self, venue: str) -> dict[str, int]:
        """Last received time per stream of ``venue``."""
        ...

    def alerts(self, query: AlertQuery = NEWEST_ALERTS) -> list[AlertRecord]:
        """Stored alerts of ``query``, newest first."""
        ...

    def snapshots(
        self, venue: str, symbol: str, preset: str, t0: int, t1: int
    ) -> list[SnapshotRecord]:
        """Snapshots with ``t0 <= ts < t1``, oldest first."""
        ...

    def snapshot_at(
        self, venue: str, symbol: str, preset: str, at_ms: int
    ) -> SnapshotRecord | None:
        """The newest snapshot with ``ts <= at_ms`` (what was known then; never a later one)."""
        ...

    def steps(self, venue: str, symbol: str, t0: int, t1: int, interval_ms: int) -> Steps: ...
    def coverage(self, now_ms: int) -> list[Coverage]: ...
    def counts(self) -> dict[str, int]: ...

    # -- maintenance --
    def delete_older_than(self, days: int | Mapping[str, int], now_ms: int) -> dict[str, int]: ...
    def integrity_check(self) -> list[str]: ...
    def export_parquet(self, out_dir: Path, query: ExportQuery = EXPORT_ALL) -> list[Path]: ...

    # -- trades --
    def trades(self, venue: str, symbol: str, t0: int, t1: int) -> list[Trade]:
        """Public trades with ``t0 <= ts < t1``, by time, then trade id (code-point order)."""
        ...


__all__ = [
    "EXPORT_ALL",
    "NEWEST_ALERTS",
    "TABLES",
    "TS_MAX",
    "AlertQuery",
    "AlertRecord",
    "Coverage",
    "ExportQuery",
    "Float32Array",
    "FloatArray",
    "Gap",
    "ImportRecord",
    "IntArray",
    "LiquidationQuery",
    "MessageStats",
    "OhlcvColumns",
    "RawFrame",
    "SnapshotRecord",
    "Steps",
    "Store",
    "WriteCounts",
]
