"""Idempotent writes shared by the SQL backends (each returns how many rows were new)."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Sequence

import numpy as np

from liqscope.domain.events import Candle, Event, Liquidation, MarkPrice, OpenInterest, Trade
from liqscope.domain.instruments import Instrument
from liqscope.store._db import Row, SqlBase
from liqscope.store.base import (
    AlertRecord,
    Gap,
    ImportRecord,
    RawFrame,
    SnapshotRecord,
    WriteCounts,
)
from liqscope.store.guard import check_events

EVENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "liquidations": (
        "venue", "symbol", "ts", "side", "qty", "price", "price_kind", "notional_usd", "sampled",
    ),
    "trades": ("venue", "symbol", "ts", "trade_id", "price", "qty", "taker_side"),
    "candles": (
        "venue", "symbol", "ts", "interval_ms", "open", "high", "low", "close", "volume",
        "taker_buy_volume", "closed",
    ),
    "open_interest": ("venue", "symbol", "ts", "oi_base", "oi_usd"),
    "marks": ("venue", "symbol", "ts", "mark", "index_price", "funding_rate"),
}  # fmt: skip
"""The columns of each event table, in the order writes give and exports read them."""
LIQ_COLUMNS = ", ".join(EVENT_COLUMNS["liquidations"])
SNAPSHOT_CODEC = "zlib-f32"
SNAPSHOT_COLUMNS = (
    "venue, symbol, preset, ts, price, model_version, grid_origin, grid_step, grid_n, "
    "leverages, config, codec, data"
)
ALERT_COLUMNS = "rule_id, venue, symbol, condition, ts, fired_ms, message, details"


def _later(table: str, column: str) -> str:
    """``SET`` expression keeping the larger of the stored and the new value (both dialects)."""
    return (
        f"{column} = CASE WHEN excluded.{column} > {table}.{column} "
        f"THEN excluded.{column} ELSE {table}.{column} END"
    )


def _candle_batch(rows: Sequence[Candle]) -> list[Candle]:
    """One candle per key, as writing them one after the other would leave it: a later
    candle of the same key replaces an earlier one only while that one is open."""
    kept: dict[tuple[str, str, int, int], Candle] = {}
    for r in rows:
        key = (r.venue, r.symbol, r.interval_ms, r.ts)
        old = kept.get(key)
        if old is None or not old.closed:
            kept[key] = r
    return list(kept.values())


class WriteMixin(SqlBase):
    """``write_*``, journaling, bookkeeping, alerts and snapshots."""

    _prechecked = False  # inside write_events, whose whole batch was checked already

    def _checked(self, rows: Iterable[Event]) -> None:
        if not self._prechecked:
            check_events(rows, self._clock.now_ms())

    def write_liquidations(self, rows: Sequence[Liquidation]) -> int:
        """Insert liquidations; each new row gets the next insertion ``seq``."""
        if not rows:
            return 0
        self._checked(rows)
        values = [
            (
                r.venue,
                r.symbol,
                r.ts,
                int(r.side),
                r.qty,
                r.price,
                r.price_kind.value,
                r.notional_usd,
                int(r.sampled),
            )
            for r in rows
        ]
        with self.transaction():
            return self._insert_liquidations(values)

    def _write(self, table: str, columns: str, rows: Sequence[Row], tail: str) -> int:
        if not rows:
            return 0
        with self.transaction():
            return self._insert(table, columns, rows, tail)

    def _write_events_of(
        self, table: str, events: Sequence[Event], values: Iterable[Row], tail: str = ""
    ) -> int:
        """Check ``events``, then write their ``values`` (in ``EVENT_COLUMNS[table]`` order);
        rows already stored are kept unless ``tail`` says how to update them."""
        self._checked(events)
        columns = ", ".join(EVENT_COLUMNS[table])
        return self._write(table, columns, list(values), tail or "ON CONFLICT DO NOTHING")

    def write_trades(self, rows: Sequence[Trade]) -> int:
        return self._write_events_of(
            "trades",
            rows,
            (
                (r.venue, r.symbol, r.ts, r.trade_id, r.price, r.qty, int(r.taker_side))
                for r in rows
            ),
        )

    def write_candles(self, rows: Sequence[Candle]) -> int:
        """Insert candles; a stored open candle is replaced by a newer one (open or closed)."""
        return self._write_events_of(
            "candles",
            rows,
            (
                (
                    r.venue,
                    r.symbol,
                    r.ts,
                    r.interval_ms,
                    r.open,
                    r.high,
                    r.low,
                    r.close,
                    r.volume,
                    r.taker_buy_volume,
                    int(r.closed),
                )
                for r in _candle_batch(rows)
            ),
            "ON CONFLICT (venue, symbol, interval_ms, ts) DO UPDATE SET "
            "open=excluded.open, high=excluded.high, low=excluded.low, close=excluded.close, "
            "volume=excluded.volume, taker_buy_volume=excluded.taker_buy_volume, "
            "closed=excluded.closed WHERE candles.closed = 0",
        )

    def write_open_interest(self, rows: Sequence[OpenInterest]) -> int:
        return self._write_events_of(
            "open_interest", rows, ((r.venue, r.symbol, r.ts, r.oi_base, r.oi_usd) for r in rows)
        )

    def write_marks(self, rows: Sequence[MarkPrice]) -> int:
        return self._write_events_of(
            "marks",
            rows,
            ((r.venue, r.symbol, r.ts, r.mark, r.index, r.funding_rate) for r in rows),
        )

    def write_events(self, events: Iterable[Event]) -> WriteCounts:
        """Write a mixed batch in one transaction (refused whole if one event is absurd)."""
        batch = list(events)
        self._checked(batch)
        self._prechecked = True
        try:
            with self.transaction():
                return WriteCounts(
                    liquidations=self.write_liquidations(
                        [e for e in batch if isinstance(e, Liquidation)]
                    ),
                    trades=self.write_trades([e for e in batch if isinstance(e, Trade)]),
                    candles=self.write_candles([e for e in batch if isinstance(e, Candle)]),
                    open_interest=self.write_open_interest(
                        [e for e in batch if isinstance(e, OpenInterest)]
                    ),
                    marks=self.write_marks([e for e in batch if isinstance(e, MarkPrice)]),
                )
        finally:
            self._prechecked = False

    def write_instruments(self, rows: Sequence[Instrument]) -> int:
        """Insert or replace instrument definitions (they change: contract sizes do)."""
        latest = {(r.venue, r.symbol): r for r in rows}
        return self._write(
            "instruments",
            "venue, symbol, base, quote, contract_type, contract_size",
            [
                (r.venue, r.symbol, r.base, r.quote, r.contract_type.value, r.contract_size)
                for r in latest.values()
            ],
            "ON CONFLICT (venue, symbol) DO UPDATE SET base=excluded.base, "
            "quote=excluded.quote, contract_type=excluded.contract_type, "
            "contract_size=excluded.contract_size",
        )

    def record_gap(self, gap: Gap) -> None:
        """Record a gap; re-recording the same start widens it to the later end."""
        self._write(
            "gaps",
            "venue, symbol, stream, start_ms, end_ms, reason, backfilled",
            [
                (
                    gap.venue,
                    gap.symbol,
                    gap.stream,
                    gap.start_ms,
                    gap.end_ms,
                    gap.reason,
                    int(gap.backfilled),
                )
            ],
            "ON CONFLICT (venue, symbol, stream, start_ms) DO UPDATE SET "
            + _later("gaps", "end_ms"),
        )

    def mark_gap_backfilled(self, venue: str, symbol: str, stream: str, start_ms: int) -> None:
        with self.transaction():
            self._run(
                "UPDATE gaps SET backfilled = 1 "
                "WHERE venue = ? AND symbol = ? AND stream = ? AND start_ms = ?",
                (venue, symbol, stream, start_ms),
            )

    def append_frames(self, frames: Sequence[RawFrame]) -> int:
        """Journal raw frames (idempotent on venue, conn_id, seq)."""
        return self._write(
            "frames",
            "venue, received_ms, conn_id, seq, raw",
            [(f.venue, f.received_ms, f.conn_id, f.seq, f.raw) for f in frames],
            "ON CONFLICT DO NOTHING",
        )

    def touch_stream(self, venue: str, stream: str, received_ms: int, messages: int = 1) -> None:
        """Note that ``messages`` messages of a stream arrived, the last at ``received_ms``."""
        self._write(
            "messages_stats",
            "venue, stream, last_received_ms, messages",
            [(venue, stream, received_ms, messages)],
            "ON CONFLICT (venue, stream) DO UPDATE SET "
            + _later("messages_stats", "last_received_ms")
            + ", messages = messages_stats.messages + excluded.messages",
        )

    def record_import(self, record: ImportRecord) -> None:
        self._write(
            "import_files",
            "sha256, path, size, format, status, rows_parsed, rows_new, finished_ms",
            [
                (
                    record.sha256,
                    record.path,
                    record.size,
                    record.format,
                    "done",
                    record.rows_parsed,
                    record.rows_new,
                    record.finished_ms,
                )
            ],
            "ON CONFLICT (sha256) DO UPDATE SET path=excluded.path, size=excluded.size, "
            "format=excluded.format, status=excluded.status, rows_parsed=excluded.rows_parsed, "
            "rows_new=excluded.rows_new, finished_ms=excluded.finished_ms",
        )

    # ------------------------------------------------------------------ signals
    def write_alert(self, alert: AlertRecord) -> int:
        """Store a fired alert (stamped with the store clock's time); returns its id."""
        fired = self._clock.now_ms() if alert.fired_ms is None else alert.fired_ms
        with self.transaction():
            row = self._one(
                f"INSERT INTO alerts ({ALERT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?) RETURNING id",
                (
                    alert.rule_id,
                    alert.venue,
                    alert.symbol,
                    alert.condition,
                    int(alert.ts),
                    int(fired),
                    alert.message,
                    json.dumps(dict(alert.details), default=float),
                ),
            )
        return int(row[0]) if row else 0

    def save_snapshots(self, snapshots: Sequence[SnapshotRecord]) -> int:
        """Store snapshots; one of the same venue, symbol, preset and ts is replaced."""
        latest = {(s.venue, s.symbol, s.preset, s.ts): s for s in snapshots}
        self._write(
            "snapshots",
            SNAPSHOT_COLUMNS,
            [
                (
                    s.venue,
                    s.symbol,
                    s.preset,
                    int(s.ts),
                    float(s.price),
                    s.model_version,
                    float(s.grid_origin),
                    float(s.grid_step),
                    int(s.grid_n),
                    json.dumps([float(x) for x in s.leverages]),
                    json.dumps(dict(s.config), default=str),
                    SNAPSHOT_CODEC,
                    zlib.compress(np.ascontiguousarray(s.levels, dtype=np.float32).tobytes(), 6),
                )
                for s in latest.values()
            ],
            "ON CONFLICT (venue, symbol, preset, ts) DO UPDATE SET price=excluded.price, "
            "model_version=excluded.model_version, grid_origin=excluded.grid_origin, "
            "grid_step=excluded.grid_step, grid_n=excluded.grid_n, "
            "leverages=excluded.leverages, config=excluded.config, codec=excluded.codec, "
            "data=excluded.data",
        )
        return len(latest)
