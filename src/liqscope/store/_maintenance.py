"""Maintenance shared by the SQL backends: retention and Parquet export."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from liqscope.domain.errors import InputError
from liqscope.domain.intervals import DAY_MS
from liqscope.store._db import SqlBase
from liqscope.store._reads import LAST_SEQ_SQL, where
from liqscope.store._writes import EVENT_COLUMNS
from liqscope.store.base import EXPORT_ALL, ExportQuery
from liqscope.store.positions import POSITION_RETENTION, with_positions

RETENTION_COLUMN: dict[str, str] = {
    "liquidations": "ts",
    "trades": "ts",
    "candles": "ts",
    "open_interest": "ts",
    "marks": "ts",
    "frames": "received_ms",
    "gaps": "end_ms",
    "alerts": "ts",
    "snapshots": "ts",
    **POSITION_RETENTION,
}
"""Tables retention applies to, and the time column it compares."""


class MaintenanceMixin(SqlBase):
    """Retention and export."""

    def _lock_sequence(self) -> None:
        """Keep liquidation writers out until commit (SQLite: the write lock already does)."""

    def _drop_expired(self, cutoffs: Mapping[str, int]) -> dict[str, int]:
        """Drop whole stretches of tables older than their cutoff, where the backend
        partitions them; rows dropped per table. SQLite: nothing."""
        return {}

    def delete_older_than(self, days: int | Mapping[str, int], now_ms: int) -> dict[str, int]:
        """Delete rows older than ``days`` (one figure, or per table); returns rows deleted."""
        plan = dict.fromkeys(RETENTION_COLUMN, days) if isinstance(days, int) else dict(days)
        unknown = set(plan) - set(RETENTION_COLUMN)
        if unknown:
            raise InputError(f"unknown table(s) for retention: {', '.join(sorted(unknown))}")
        for table, d in plan.items():
            if d < 0:
                raise InputError(f"retention days must be >= 0, got {d} for {table}")
        cutoffs = with_positions({table: now_ms - d * DAY_MS for table, d in plan.items()})
        deleted = self._drop_expired(cutoffs)
        with self.transaction():
            for table, cutoff in cutoffs.items():
                if table == "liquidations":  # keep deleted seqs from being given again
                    self._lock_sequence()
                    row = self._one(LAST_SEQ_SQL)
                    floor = 0 if row is None else max(int(row[0]), int(row[1]))
                    self._run(
                        "UPDATE sequences SET value = ? WHERE name = 'liquidations'", (floor,)
                    )
                column = RETENTION_COLUMN[table]
                n = self._run(f"DELETE FROM {table} WHERE {column} < ?", (cutoff,))
                deleted[table] = deleted.get(table, 0) + max(n, 0)
        return deleted

    def export_parquet(self, out_dir: Path, query: ExportQuery = EXPORT_ALL) -> list[Path]:
        """Write ``<out>/<table>/venue=V/symbol=S/date=YYYY-MM-DD/part-0.parquet`` files.

        Partition columns are in the path, not in the files. Returns the files written.
        """
        for table in query.tables:
            if table not in EVENT_COLUMNS:
                raise InputError(f"cannot export table {table!r}")
        written: list[Path] = []
        cond, params = where(("venue = ?", query.venue), ("symbol = ?", query.symbol))
        for table in query.tables:
            data_cols = EVENT_COLUMNS[table][2:]
            pairs = self._all(
                f"SELECT DISTINCT venue, symbol FROM {table}{cond} ORDER BY venue, symbol", params
            )
            for v, s in pairs:
                buffer: list[tuple[Any, ...]] = []
                day: int | None = None
                part_dir = out_dir / table / f"venue={_safe(v)}" / f"symbol={_safe(s)}"
                for chunk in self._chunks(
                    f"SELECT {', '.join(data_cols)} FROM {table} "
                    "WHERE venue = ? AND symbol = ? ORDER BY ts",
                    (v, s),
                    100_000,
                ):
                    for row in chunk:
                        d = row[0] // DAY_MS
                        if day is not None and d != day:
                            written.append(_write_partition(part_dir, day, data_cols, buffer))
                            buffer = []
                        day = d
                        buffer.append(row)
                if buffer and day is not None:
                    written.append(_write_partition(part_dir, day, data_cols, buffer))
        return written


def _safe(part: str) -> str:
    """A partition value safe as one path component."""
    return part.replace("/", "_").replace("\\", "_").replace("=", "_")


def _write_partition(
    part_dir: Path, day: int, names: Sequence[str], rows: list[tuple[Any, ...]]
) -> Path:
    """Write one day's rows of one venue/symbol as a Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    date = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")
    target_dir = part_dir / f"date={date}"
    target_dir.mkdir(parents=True, exist_ok=True)
    columns = zip(*rows, strict=True)
    table = pa.table({name: pa.array(list(col)) for name, col in zip(names, columns, strict=True)})
    target = target_dir / "part-0.parquet"
    pq.write_table(table, target)
    return target
