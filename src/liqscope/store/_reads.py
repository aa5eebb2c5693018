"""Row reads shared by the SQL backends: events, catalogue, journal, signals."""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from liqscope.domain.errors import InputError, StoreError
from liqscope.domain.events import Candle, Liquidation, OpenInterest, Trade
from liqscope.domain.instruments import Instrument
from liqscope.domain.types import ContractType, PriceKind, Side
from liqscope.store._db import Params, Row, SqlBase
from liqscope.store._writes import ALERT_COLUMNS, LIQ_COLUMNS, SNAPSHOT_CODEC, SNAPSHOT_COLUMNS
from liqscope.store.base import (
    NEWEST_ALERTS,
    TABLES,
    TS_MAX,
    AlertQuery,
    AlertRecord,
    Gap,
    ImportRecord,
    LiquidationQuery,
    MessageStats,
    RawFrame,
    SnapshotRecord,
)

LAST_SEQ_SQL = (
    "SELECT COALESCE((SELECT MAX(seq) FROM liquidations), 0), "
    "COALESCE((SELECT value FROM sequences WHERE name = 'liquidations'), 0)"
)


def check_event_table(table: str) -> None:
    if table not in TABLES:
        raise InputError(f"unknown event table {table!r} (expected one of {', '.join(TABLES)})")


def where(*conditions: tuple[str, Any]) -> tuple[str, list[Any]]:
    """`` WHERE a = ? AND …`` for the conditions whose value is not None."""
    used = [(sql, v) for sql, v in conditions if v is not None]
    if not used:
        return "", []
    return " WHERE " + " AND ".join(sql for sql, _ in used), [v for _, v in used]


def _liquidation(row: Sequence[Any]) -> Liquidation:
    """A stored liquidation from its ``LIQ_COLUMNS`` values."""
    v, s, ts, side, q, p, k, n, samp = row
    return Liquidation(v, s, int(ts), Side(side), q, p, PriceKind(k), n, bool(samp))


def _snapshot(row: Row) -> SnapshotRecord:
    v, s, preset, ts, price, version, origin, step, n, levs, cfg, codec, data = row
    if codec != SNAPSHOT_CODEC:
        raise StoreError(f"snapshot {v} {s} {preset} {ts}: unknown codec {codec!r}")
    leverages = tuple(float(x) for x in json.loads(levs))
    levels = np.frombuffer(zlib.decompress(bytes(data)), dtype=np.float32)
    return SnapshotRecord(
        venue=v,
        symbol=s,
        preset=preset,
        ts=int(ts),
        price=float(price),
        model_version=version,
        grid_origin=float(origin),
        grid_step=float(step),
        grid_n=int(n),
        leverages=leverages,
        config=json.loads(cfg),
        levels=levels.reshape(len(leverages), 2, int(n)).copy(),
    )


class ReadMixin(SqlBase):
    """Reads of stored rows."""

    def imported(self, sha256: str) -> ImportRecord | None:
        row = self._one(
            "SELECT sha256, path, size, format, rows_parsed, rows_new, finished_ms "
            "FROM import_files WHERE sha256 = ? AND status = 'done'",
            (sha256,),
        )
        return None if row is None else ImportRecord(*row)

    def liquidations(self, query: LiquidationQuery) -> list[Liquidation]:
        """The liquidations of ``query`` (see :class:`LiquidationQuery`)."""
        return [r for _, r in self.liquidation_rows(query)]

    def liquidation_rows(self, query: LiquidationQuery) -> list[tuple[int, Liquidation]]:
        """``(seq, liquidation)`` of ``query``; ties in time ordered by venue, symbol, side
        and seq (reversed too when newest first)."""
        q = query
        sql = (
            f"SELECT seq, {LIQ_COLUMNS} FROM liquidations "
            "WHERE ts >= ? AND ts < ? AND notional_usd >= ?"
        )
        params: list[Any] = [max(q.t0, -TS_MAX), min(q.t1, TS_MAX), q.min_notional_usd]
        if q.venues:
            sql += f" AND venue IN ({','.join('?' * len(q.venues))})"
            params.extend(q.venues)
        if q.symbol is not None:
            sql += " AND symbol = ?"
            params.append(q.symbol)
        order = " DESC" if q.newest_first else ""
        sql += f" ORDER BY ts{order}, venue{order}, symbol{order}, side{order}, seq{order}"
        if q.limit is not None:
            sql += " LIMIT ?"
            params.append(max(int(q.limit), 0))
        return [(int(row[0]), _liquidation(row[1:])) for row in self._all(sql, params)]

    def liquidations_after(self, seq: int, limit: int = 10_000) -> list[tuple[int, Liquidation]]:
        """``(seq, liquidation)`` stored after insertion sequence ``seq``, in insertion order
        (whatever their event times), at most ``limit``."""
        rows = self._all(
            f"SELECT seq, {LIQ_COLUMNS} FROM liquidations WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, max(int(limit), 0)),
        )
        return [(int(row[0]), _liquidation(row[1:])) for row in rows]

    def last_liquidation_seq(self) -> int:
        """The highest insertion sequence given so far (0 for none); it changes exactly when
        liquidations are added, so it also serves as a data version.

        That is the newest stored row's seq, or the ``sequences`` floor that retention raises
        before deleting rows (so a deleted row's seq is never given again).
        """
        row = self._one(LAST_SEQ_SQL)
        return 0 if row is None else max(int(row[0]), int(row[1]))

    def markets(
        self, tables: Sequence[str] = ("candles", "liquidations", "open_interest")
    ) -> list[tuple[str, str]]:
        """Distinct ``(venue, symbol)`` pairs stored in any of ``tables``, sorted.

        Found by seeks on the tables' key prefix (one look-up per pair, no scan).
        """
        pairs: set[tuple[str, str]] = set()
        for table in tables:
            check_event_table(table)
            row = self._one(f"SELECT venue, symbol FROM {table} ORDER BY venue, symbol LIMIT 1")
            while row is not None:
                pairs.add((str(row[0]), str(row[1])))
                row = self._one(
                    f"SELECT venue, symbol FROM {table} WHERE (venue, symbol) > (?, ?) "
                    "ORDER BY venue, symbol LIMIT 1",
                    (row[0], row[1]),
                )
        return sorted(pairs)

    def candle_intervals(self, venue: str, symbol: str) -> list[int]:
        """Candle intervals stored for a market, ascending (by key seeks)."""
        out: list[int] = []
        last = -1
        while True:
            row = self._one(
                "SELECT interval_ms FROM candles "
                "WHERE venue = ? AND symbol = ? AND interval_ms > ? "
                "ORDER BY interval_ms LIMIT 1",
                (venue, symbol, last),
            )
            if row is None:
                return out
            last = int(row[0])
            out.append(last)

    def candle_range(self, venue: str, symbol: str, interval_ms: int) -> tuple[int, int] | None:
        """First and last open time of a market's candles of one interval, or None (two
        index seeks: MIN and MAX in one select would scan the market's candles)."""
        one = "FROM candles WHERE venue = ? AND symbol = ? AND interval_ms = ?"
        row = self._one(
            f"SELECT (SELECT MIN(ts) {one}), (SELECT MAX(ts) {one})",
            (venue, symbol, interval_ms) * 2,
        )
        if row is None or row[0] is None or row[1] is None:
            return None
        return int(row[0]), int(row[1])

    def max_ts(self, table: str, venue: str, symbol: str) -> int | None:
        """Newest event time of a market in an event table (candles: over every interval)."""
        return self._ts_bound(table, venue, symbol, newest=True)

    def min_ts(self, table: str, venue: str, symbol: str) -> int | None:
        """Oldest event time of a market in an event table (candles: over every interval),
        by index seeks; it moves when retention deletes any of the market's rows there."""
        return self._ts_bound(table, venue, symbol, newest=False)

    def _ts_bound(self, table: str, venue: str, symbol: str, *, newest: bool) -> int | None:
        """The newest (or oldest) event time of a market in an event table, or None."""
        check_event_table(table)
        if table == "candles":
            ends = [
                r[1] if newest else r[0]
                for iv in self.candle_intervals(venue, symbol)
                if (r := self.candle_range(venue, symbol, iv)) is not None
            ]
            return (max if newest else min)(ends, default=None)
        row = self._one(
            f"SELECT {'MAX' if newest else 'MIN'}(ts) FROM {table} WHERE venue = ? AND symbol = ?",
            (venue, symbol),
        )
        return int(row[0]) if row is not None and row[0] is not None else None

    def candles(self, venue: str, symbol: str, interval_ms: int, t0: int, t1: int) -> list[Candle]:
        rows = self._all(
            "SELECT ts, open, high, low, close, volume, taker_buy_volume, closed FROM candles "
            "WHERE venue = ? AND symbol = ? AND interval_ms = ? AND ts >= ? AND ts < ? "
            "ORDER BY ts",
            (venue, symbol, interval_ms, t0, min(t1, TS_MAX)),
        )
        return [
            Candle(venue, symbol, int(ts), interval_ms, o, h, lo, c, v, tb, bool(cl))
            for ts, o, h, lo, c, v, tb, cl in rows
        ]

    def open_interest(self, venue: str, symbol: str, t0: int, t1: int) -> list[OpenInterest]:
        rows = self._all(
            "SELECT ts, oi_base, oi_usd FROM open_interest "
            "WHERE venue = ? AND symbol = ? AND ts >= ? AND ts < ? ORDER BY ts",
            (venue, symbol, t0, min(t1, TS_MAX)),
        )
        return [OpenInterest(venue, symbol, int(ts), oi, usd) for ts, oi, usd in rows]

    def frames(
        self, venue: str, after_id: int = 0, limit: int = 10_000
    ) -> list[tuple[int, RawFrame]]:
        """Journaled frames of a venue in arrival order, paged by row id."""
        rows = self._all(
            "SELECT id, venue, received_ms, conn_id, seq, raw FROM frames "
            "WHERE venue = ? AND id > ? ORDER BY id LIMIT ?",
            (venue, after_id, limit),
        )
        return [(int(i), RawFrame(v, r, c, s, bytes(raw))) for i, v, r, c, s, raw in rows]

    def gaps(self, venue: str | None = None, symbol: str | None = None) -> list[Gap]:
        cond, params = where(("venue = ?", venue), ("symbol = ?", symbol))
        rows = self._all(
            "SELECT venue, symbol, stream, start_ms, end_ms, reason, backfilled FROM gaps"
            f"{cond} ORDER BY venue, symbol, stream, start_ms",
            params,
        )
        return [Gap(v, s, st, a, b, r, bool(bf)) for v, s, st, a, b, r, bf in rows]

    def instrument(self, venue: str, symbol: str) -> Instrument | None:
        row = self._one(
            "SELECT base, quote, contract_type, contract_size FROM instruments "
            "WHERE venue = ? AND symbol = ?",
            (venue, symbol),
        )
        if row is None:
            return None
        return Instrument(venue, symbol, row[0], row[1], ContractType(row[2]), row[3])

    def message_stats(self, venue: str | None = None) -> list[MessageStats]:
        """Messages received per venue and stream (``touch_stream``), sorted."""
        cond, params = where(("venue = ?", venue))
        rows = self._all(
            "SELECT venue, stream, last_received_ms, messages FROM messages_stats"
            f"{cond} ORDER BY venue, stream",
            params,
        )
        return [MessageStats(str(v), str(s), int(t), int(n)) for v, s, t, n in rows]

    def last_messages(self, venue: str) -> dict[str, int]:
        """Last received time per stream of ``venue``."""
        return {m.stream: m.last_received_ms for m in self.message_stats(venue)}

    # ------------------------------------------------------------------ signals
    def alerts(self, query: AlertQuery = NEWEST_ALERTS) -> list[AlertRecord]:
        """Stored alerts of ``query``, newest first."""
        cond, params = where(
            ("symbol = ?", query.symbol),
            ("rule_id = ?", query.rule_id),
            ("ts >= ?", query.since_ms),
        )
        rows = self._all(
            f"SELECT id, {ALERT_COLUMNS} FROM alerts{cond} ORDER BY ts DESC, id DESC LIMIT ?",
            [*params, max(int(query.limit), 0)],
        )
        return [
            AlertRecord(
                rule_id=rule,
                venue=v,
                symbol=s,
                condition=cond_,
                ts=int(ts),
                message=msg,
                details=json.loads(details),
                fired_ms=int(fired),
                id=int(i),
            )
            for i, rule, v, s, cond_, ts, fired, msg, details in rows
        ]

    def _snapshot_rows(self, sql: str, params: Params) -> list[SnapshotRecord]:
        return [
            _snapshot(r)
            for r in self._all(f"SELECT {SNAPSHOT_COLUMNS} FROM snapshots {sql}", params)
        ]

    def snapshots(
        self, venue: str, symbol: str, preset: str, t0: int, t1: int
    ) -> list[SnapshotRecord]:
        """Snapshots with ``t0 <= ts < t1``, oldest first."""
        return self._snapshot_rows(
            "WHERE venue = ? AND symbol = ? AND preset = ? AND ts >= ? AND ts < ? ORDER BY ts",
            (venue, symbol, preset, max(t0, -TS_MAX), min(t1, TS_MAX)),
        )

    def snapshot_at(
        self, venue: str, symbol: str, preset: str, at_ms: int
    ) -> SnapshotRecord | None:
        """The newest snapshot with ``ts <= at_ms`` (what was known then; never a later one)."""
        got = self._snapshot_rows(
            "WHERE venue = ? AND symbol = ? AND preset = ? AND ts <= ? ORDER BY ts DESC LIMIT 1",
            (venue, symbol, preset, min(at_ms, TS_MAX)),
        )
        return got[0] if got else None

    def trades(self, venue: str, symbol: str, t0: int, t1: int) -> list[Trade]:
        rows = self._all(
            "SELECT ts, price, qty, taker_side, trade_id FROM trades "
            "WHERE venue = ? AND symbol = ? AND ts >= ? AND ts < ?",
            (venue, symbol, max(t0, -TS_MAX), min(t1, TS_MAX)),
        )
        out = [Trade(venue, symbol, int(ts), p, q, Side(sd), str(i)) for ts, p, q, sd, i in rows]
        out.sort(key=lambda t: (t.ts, t.trade_id))  # in Python: the backends collate apart
        return out
