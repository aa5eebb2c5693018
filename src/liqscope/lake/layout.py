"""The lake's layout: kinds, their Parquet schemas and keys, and partition paths.

``<lake>/kind=<kind>/venue=<venue>/symbol=<native symbol>/date=<YYYY-MM-DD>/part-0.parquet``
(hive style). One file per partition; the partition columns are in the path, not the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from liqscope.domain.errors import InputError
from liqscope.domain.events import Candle, Event, Liquidation, OpenInterest, Trade
from liqscope.domain.intervals import DAY_MS

__all__ = [
    "KEYS",
    "KINDS",
    "PART",
    "SCHEMAS",
    "day_of",
    "day_text",
    "partition_dir",
    "table_of",
    "tables_by_partition",
]

PART = "part-0.parquet"

_TYPES = {"i8": pa.int8(), "i64": pa.int64(), "f64": pa.float64(), "str": pa.string(),
          "bool": pa.bool_()}  # fmt: skip


def _schema(columns: str) -> pa.Schema:
    """``"name:type name:type …"`` (types of ``_TYPES``) as a Parquet schema."""
    return pa.schema([(n, _TYPES[t]) for n, t in (c.split(":") for c in columns.split())])


SCHEMAS: dict[str, pa.Schema] = {
    "candles": _schema(
        "ts:i64 interval_ms:i64 open:f64 high:f64 low:f64 close:f64 volume:f64 taker_buy_volume:f64"
    ),
    "open_interest": _schema("ts:i64 oi_base:f64 oi_usd:f64"),
    "liquidations": _schema(
        "ts:i64 side:i8 qty:f64 price:f64 price_kind:str notional_usd:f64 sampled:bool"
    ),
    "trades": _schema("ts:i64 trade_id:str price:f64 qty:f64 taker_side:i8"),
}
"""Columns of each kind, in file order."""

KINDS: tuple[str, ...] = tuple(SCHEMAS)

KEYS: dict[str, tuple[str, ...]] = {
    "candles": ("interval_ms", "ts"),
    "open_interest": ("ts",),
    "liquidations": ("ts", "side", "qty", "price"),
    "trades": ("trade_id",),
}
"""The store's primary key of each kind (without venue and symbol): one row per key."""


def _value(part: str, what: str) -> str:
    if not part or any(c in part for c in "/\\=") or part in (".", ".."):
        raise InputError(f"{what} {part!r} cannot name a lake partition")
    return part


def day_of(ts: int) -> int:
    """The UTC day number (epoch days) of an epoch-ms time."""
    return ts // DAY_MS


def day_text(day: int) -> str:
    """``YYYY-MM-DD`` of an epoch day number."""
    return datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d")


def partition_dir(lake: Path, kind: str, venue: str, symbol: str, day: int) -> Path:
    """The folder of one partition."""
    if kind not in SCHEMAS:
        raise InputError(f"unknown lake kind {kind!r} (expected one of {', '.join(KINDS)})")
    return (
        lake
        / f"kind={kind}"
        / f"venue={_value(venue, 'venue')}"
        / f"symbol={_value(symbol, 'symbol')}"
        / f"date={day_text(day)}"
    )


def _row(event: Event) -> tuple[str, tuple[Any, ...]]:
    if isinstance(event, Candle):
        return "candles", (
            event.ts, event.interval_ms, event.open, event.high, event.low, event.close,
            event.volume, event.taker_buy_volume,
        )  # fmt: skip
    if isinstance(event, OpenInterest):
        return "open_interest", (event.ts, event.oi_base, event.oi_usd)
    if isinstance(event, Liquidation):
        return "liquidations", (
            event.ts, int(event.side), event.qty, event.price, event.price_kind.value,
            event.notional_usd, event.sampled,
        )  # fmt: skip
    if isinstance(event, Trade):
        return "trades", (event.ts, event.trade_id, event.price, event.qty, int(event.taker_side))
    raise InputError(f"the lake does not hold {type(event).__name__} events")


def table_of(kind: str, rows: Sequence[tuple[Any, ...]]) -> pa.Table:
    """Rows (tuples in the kind's column order) as a table of the kind's schema."""
    schema = SCHEMAS[kind]
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in schema.names]
    return pa.table(
        {f.name: pa.array(list(c), type=f.type) for f, c in zip(schema, cols, strict=True)},
        schema=schema,
    )


def tables_by_partition(events: Iterable[Event]) -> dict[tuple[str, str, str, int], pa.Table]:
    """Events grouped into ``{(kind, venue, symbol, day): table}``."""
    rows: dict[tuple[str, str, str, int], list[tuple[Any, ...]]] = {}
    for ev in events:
        kind, row = _row(ev)
        rows.setdefault((kind, ev.venue, ev.symbol, day_of(ev.ts)), []).append(row)
    return {key: table_of(key[0], r) for key, r in rows.items()}
