"""Writing the lake: one partition at a time, atomically, without duplicates.

Two writers: :func:`export_store` copies whole UTC days from a store (through its public
read methods, so any backend) and *replaces* each day's partition; :func:`import_bulk`
parses Binance bulk files with the importer's own parser and *merges* into the partitions
(one row per key, the new row winning). Both can be re-run: the lake ends the same.
One writer per partition at a time (writes are atomic renames, merges are not locked).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from liqscope.domain.errors import InputError
from liqscope.domain.events import Event
from liqscope.domain.intervals import DAY_MS
from liqscope.ingest.importers.binance_bulk import BinanceBulkImporter
from liqscope.ingest.importers.common import ImportOptions
from liqscope.lake.layout import (
    KEYS,
    KINDS,
    PART,
    SCHEMAS,
    day_of,
    partition_dir,
    tables_by_partition,
)
from liqscope.store.base import LiquidationQuery, Store

__all__ = ["LakeCounts", "export_store", "import_bulk", "write_partition"]


@dataclass(slots=True)
class LakeCounts:
    """What a lake write did."""

    partitions: int = 0
    rows: int = 0
    bytes: int = 0
    removed: int = 0
    files: list[Path] = field(default_factory=list)

    def add(self, path: Path | None, rows: int) -> None:
        if path is None:
            self.removed += 1
            return
        self.partitions += 1
        self.rows += rows
        self.bytes += path.stat().st_size
        self.files.append(path)


def _sorted(kind: str, table: pa.Table) -> pa.Table:
    keys = ["ts", *(k for k in KEYS[kind] if k != "ts")]
    return table.sort_by([(k, "ascending") for k in keys])


def _merged(kind: str, old: pa.Table, new: pa.Table) -> pa.Table:
    """``old`` and ``new`` with one row per key (``new`` wins)."""
    import duckdb

    both = pa.concat_tables(
        [
            old.append_column("_src", pa.array([0] * old.num_rows, pa.int8())),
            new.append_column("_src", pa.array([1] * new.num_rows, pa.int8())),
        ]
    )
    keys = ", ".join(KEYS[kind])
    con = duckdb.connect()
    try:
        con.register("rows_in", both)
        out = con.sql(
            "SELECT * EXCLUDE (_src) FROM rows_in QUALIFY row_number() OVER "
            f"(PARTITION BY {keys} ORDER BY _src DESC) = 1"
        ).to_arrow_table()
        if out is None:  # pragma: no cover - DuckDB always returns a table for a SELECT
            raise InputError("DuckDB returned no result for the merge")
    finally:
        con.close()
    return out.cast(SCHEMAS[kind])


def write_partition(
    lake: Path, kind: str, venue: str, symbol: str, day: int, table: pa.Table, *, merge: bool
) -> tuple[Path | None, int]:
    """Write one day of one market's ``kind`` rows; ``merge`` keeps the rows already there
    (one per key), otherwise they are replaced. An empty replacement removes the partition.
    Returns the file (None when removed) and its row count."""
    folder = partition_dir(lake, kind, venue, symbol, day)
    target = folder / PART
    table = table.cast(SCHEMAS[kind])
    if merge and target.is_file():
        try:
            old = pq.read_table(target, schema=SCHEMAS[kind])
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"cannot read {target}: {exc}") from None
        table = _merged(kind, old, table)
    elif merge:
        table = _merged(kind, table.slice(0, 0), table)
    if table.num_rows == 0:
        if target.is_file():
            target.unlink()
        return None, 0
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{PART}.{os.getpid()}.tmp"
    try:
        pq.write_table(_sorted(kind, table), tmp, compression="zstd")
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target, table.num_rows


Progress = Callable[[str], None]
"""Called with a short description after each unit of work."""


def _span(store: Store, venue: str, symbol: str) -> tuple[int, int] | None:
    spans = [
        (c.first_ts, c.last_ts)
        for c in store.coverage(0)
        if c.venue == venue and c.symbol == symbol
        if c.stream.startswith("candles") or c.stream in KINDS
        if c.first_ts is not None and c.last_ts is not None
    ]
    if not spans:
        return None
    return min(a for a, _ in spans), max(b for _, b in spans)


def _day_tables(store: Store, venue: str, symbol: str, day: int) -> dict[str, list[Event]]:
    t0, t1 = day * DAY_MS, (day + 1) * DAY_MS
    candles: list[Event] = []
    for iv in store.candle_intervals(venue, symbol):
        candles.extend(store.candles(venue, symbol, iv, t0, t1))
    return {
        "candles": candles,
        "open_interest": list(store.open_interest(venue, symbol, t0, t1)),
        "liquidations": list(store.liquidations(LiquidationQuery([venue], symbol, t0, t1))),
        "trades": list(store.trades(venue, symbol, t0, t1)),
    }


def export_store(
    store: Store,
    lake: Path,
    *,
    t0: int | None = None,
    t1: int | None = None,
    markets: Sequence[tuple[str, str]] | None = None,
    progress: Progress | None = None,
) -> LakeCounts:
    """Copy candles, open interest, liquidations and trades of every stored market (or
    ``markets``, ``(venue, native symbol)``) into the lake, whole UTC days overlapping
    ``[t0, t1)``; each day's partition is replaced by what the store holds for that day."""
    if t0 is not None and t1 is not None and t1 <= t0:
        raise InputError("--to must be after --from")
    counts = LakeCounts()
    chosen = list(markets) if markets is not None else store.markets(("candles", *KINDS))
    for venue, symbol in chosen:
        span = _span(store, venue, symbol)
        if span is None:
            continue
        d0 = day_of(max(span[0], t0 if t0 is not None else span[0]))
        d1 = day_of(min(span[1], t1 - 1 if t1 is not None else span[1]))
        for day in range(d0, d1 + 1):
            events = _day_tables(store, venue, symbol, day)
            for kind in KINDS:
                tables = tables_by_partition(events[kind])
                table = tables.get((kind, venue, symbol, day))
                if table is None:
                    table = SCHEMAS[kind].empty_table()
                existed = (partition_dir(lake, kind, venue, symbol, day) / PART).is_file()
                path, rows = write_partition(lake, kind, venue, symbol, day, table, merge=False)
                if path is not None or existed:
                    counts.add(path, rows)
            if progress is not None:
                progress(f"{venue} {symbol} day {day - d0 + 1}/{d1 - d0 + 1}")
    return counts


def import_bulk(
    lake: Path,
    paths: Iterable[Path],
    *,
    symbol: str | None = None,
    progress: Progress | None = None,
) -> LakeCounts:
    """Parse Binance bulk files (klines, metrics, aggTrades, liquidationSnapshot) with the
    importer's parser and merge their rows into the lake. A file is parsed whole before
    anything is written, so a malformed file writes nothing."""
    importer = BinanceBulkImporter()
    options = ImportOptions(symbol=symbol)
    counts = LakeCounts()
    for path in paths:
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        tables = tables_by_partition(importer.events(path, options, None))
        for (kind, venue, sym, day), table in sorted(tables.items(), key=lambda kv: kv[0]):
            counts.add(*write_partition(lake, kind, venue, sym, day, table, merge=True))
        if progress is not None:
            progress(path.name)
    return counts
