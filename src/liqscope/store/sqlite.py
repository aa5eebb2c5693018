"""The embedded store: one SQLite file in WAL mode (stdlib ``sqlite3``).

One process writes (the collector or an import) while any number of processes read.
Writes are batched ``executemany`` calls inside one transaction with ``INSERT OR IGNORE``
(or an upsert for candles), so they are idempotent per event key.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from liqscope.domain.clock import SYSTEM_CLOCK, Clock
from liqscope.domain.errors import InputError
from liqscope.domain.events import (
    Candle,
    Event,
    Liquidation,
    MarkPrice,
    OpenInterest,
    Trade,
)
from liqscope.domain.instruments import Instrument
from liqscope.domain.intervals import interval_name
from liqscope.domain.types import ContractType, PriceKind, Side
from liqscope.store import queries
from liqscope.store.base import (
    TABLES,
    Coverage,
    Gap,
    ImportRecord,
    RawFrame,
    Steps,
    WriteCounts,
)
from liqscope.store.schema import SCHEMA_VERSION, migrate

_DAY_MS = 86_400_000

# Time column of each table that retention and export use.
_TIME_COLUMN: dict[str, str] = {
    "liquidations": "ts",
    "trades": "ts",
    "candles": "ts",
    "open_interest": "ts",
    "marks": "ts",
    "frames": "received_ms",
    "gaps": "end_ms",
}

_TS_MAX = 2**62  # an open upper time bound that SQLite's integers hold

_LIQ_COLUMNS = "venue, symbol, ts, side, qty, price, price_kind, notional_usd, sampled"


_LAST_SEQ_SQL = (
    "SELECT MAX(IFNULL((SELECT MAX(seq) FROM liquidations), 0), "
    "(SELECT value FROM sequences WHERE name = 'liquidations'))"
)


def _liquidation(row: Sequence[Any]) -> Liquidation:
    """A stored liquidation from its ``_LIQ_COLUMNS`` values."""
    v, s, ts, side, q, p, k, n, samp = row
    return Liquidation(v, s, int(ts), Side(side), q, p, PriceKind(k), n, bool(samp))


def _check_event_table(table: str) -> None:
    if table not in TABLES:
        raise InputError(f"unknown event table {table!r} (expected one of {', '.join(TABLES)})")


_EXPORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "liquidations": (
        "venue",
        "symbol",
        "ts",
        "side",
        "qty",
        "price",
        "price_kind",
        "notional_usd",
        "sampled",
    ),
    "trades": ("venue", "symbol", "ts", "trade_id", "price", "qty", "taker_side"),
    "candles": (
        "venue",
        "symbol",
        "ts",
        "interval_ms",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "taker_buy_volume",
        "closed",
    ),
    "open_interest": ("venue", "symbol", "ts", "oi_base", "oi_usd"),
    "marks": ("venue", "symbol", "ts", "mark", "index_price", "funding_rate"),
}


class SqliteStore:
    """The SQLite backend of :class:`liqscope.store.base.Store`.

    Not shared between threads: open one per thread or process.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        readonly: bool = False,
        clock: Clock = SYSTEM_CLOCK,
        busy_timeout_ms: int = 10_000,
    ) -> None:
        self._path = Path(path)
        self._clock = clock
        self._depth = 0
        if readonly:
            if not self._path.exists():
                raise InputError(f"no store at {self._path}")
            uri = f"file:{self._path}?mode=ro"
            self._conn = sqlite3.connect(uri, uri=True, isolation_level=None)
        else:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self._path, isolation_level=None)
        try:
            self._conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            if not readonly:
                mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise InputError(f"{self._path}: cannot switch to WAL mode (got {mode})")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA temp_store=MEMORY")
            self._conn.execute("PRAGMA cache_size=-32000")
            if readonly:
                from liqscope.store.schema import current_version

                version = current_version(self._conn)
                if version != SCHEMA_VERSION:
                    raise InputError(
                        f"{self._path}: schema version {version}, expected {SCHEMA_VERSION}"
                    )
            else:
                migrate(self._conn, clock.now_ms())
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise InputError(f"{self._path}: not a usable liqscope store ({exc})") from None
        except BaseException:
            self._conn.close()
            raise

    # ------------------------------------------------------------------ basics
    @property
    def path(self) -> Path:
        return self._path

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of work; nested uses join the outer transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self._conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self._conn.execute("COMMIT")

    def _write(self, sql: str, rows: Iterable[tuple[Any, ...]]) -> int:
        with self.transaction():
            cur = self._conn.executemany(sql, rows)
            return max(cur.rowcount, 0)

    # ------------------------------------------------------------------ writes
    def write_liquidations(self, rows: Sequence[Liquidation]) -> int:
        """Insert liquidations; each new row gets the next insertion ``seq``.

        The seq of a row is ``total_changes()`` (rows changed so far on this connection,
        evaluated before that row's insert: ``executemany`` runs one statement per row) plus a
        per-batch offset, so ignored duplicates consume no number and the batch's seqs are
        dense. The batch starts after the last seq given (:meth:`last_liquidation_seq`);
        nothing but the row and its index entry is written per batch.
        """
        if not rows:
            return 0
        with self.transaction():
            offset = self.last_liquidation_seq() + 1 - self._conn.total_changes
            cur = self._conn.executemany(
                # the offset is an int computed here, inlined: one bound value less per row
                "INSERT OR IGNORE INTO liquidations "
                f"VALUES (?,?,?,?,?,?,?,?,?, total_changes() + {int(offset)})",
                (
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
                ),
            )
            return max(cur.rowcount, 0)

    def write_trades(self, rows: Sequence[Trade]) -> int:
        if not rows:
            return 0
        return self._write(
            "INSERT OR IGNORE INTO trades VALUES (?,?,?,?,?,?,?)",
            (
                (r.venue, r.symbol, r.trade_id, r.ts, r.price, r.qty, int(r.taker_side))
                for r in rows
            ),
        )

    def write_candles(self, rows: Sequence[Candle]) -> int:
        """Insert candles; a stored open candle is replaced by a newer one (open or closed)."""
        if not rows:
            return 0
        return self._write(
            "INSERT INTO candles VALUES (?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (venue, symbol, interval_ms, ts) DO UPDATE SET "
            "open=excluded.open, high=excluded.high, low=excluded.low, close=excluded.close, "
            "volume=excluded.volume, taker_buy_volume=excluded.taker_buy_volume, "
            "closed=excluded.closed WHERE candles.closed = 0",
            (
                (
                    r.venue,
                    r.symbol,
                    r.interval_ms,
                    r.ts,
                    r.open,
                    r.high,
                    r.low,
                    r.close,
                    r.volume,
                    r.taker_buy_volume,
                    int(r.closed),
                )
                for r in rows
            ),
        )

    def write_open_interest(self, rows: Sequence[OpenInterest]) -> int:
        if not rows:
            return 0
        return self._write(
            "INSERT OR IGNORE INTO open_interest VALUES (?,?,?,?,?)",
            ((r.venue, r.symbol, r.ts, r.oi_base, r.oi_usd) for r in rows),
        )

    def write_marks(self, rows: Sequence[MarkPrice]) -> int:
        if not rows:
            return 0
        return self._write(
            "INSERT OR IGNORE INTO marks VALUES (?,?,?,?,?,?)",
            ((r.venue, r.symbol, r.ts, r.mark, r.index, r.funding_rate) for r in rows),
        )

    def write_events(self, events: Iterable[Event]) -> WriteCounts:
        """Write a mixed batch in one transaction."""
        liqs: list[Liquidation] = []
        trades: list[Trade] = []
        candles: list[Candle] = []
        ois: list[OpenInterest] = []
        marks: list[MarkPrice] = []
        for e in events:
            if isinstance(e, Liquidation):
                liqs.append(e)
            elif isinstance(e, Trade):
                trades.append(e)
            elif isinstance(e, Candle):
                candles.append(e)
            elif isinstance(e, OpenInterest):
                ois.append(e)
            else:
                marks.append(e)
        with self.transaction():
            return WriteCounts(
                liquidations=self.write_liquidations(liqs),
                trades=self.write_trades(trades),
                candles=self.write_candles(candles),
                open_interest=self.write_open_interest(ois),
                marks=self.write_marks(marks),
            )

    def write_instruments(self, rows: Sequence[Instrument]) -> int:
        """Insert or replace instrument definitions (they change: contract sizes do)."""
        return self._write(
            "INSERT OR REPLACE INTO instruments VALUES (?,?,?,?,?,?)",
            (
                (r.venue, r.symbol, r.base, r.quote, r.contract_type.value, r.contract_size)
                for r in rows
            ),
        )

    def record_gap(self, gap: Gap) -> None:
        """Record a gap; re-recording the same start widens it to the later end."""
        self._write(
            "INSERT INTO gaps (venue, symbol, stream, start_ms, end_ms, reason, backfilled) "
            "VALUES (?,?,?,?,?,?,?) ON CONFLICT (venue, symbol, stream, start_ms) DO UPDATE "
            "SET end_ms = MAX(gaps.end_ms, excluded.end_ms)",
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
        )

    def mark_gap_backfilled(self, venue: str, symbol: str, stream: str, start_ms: int) -> None:
        self._write(
            "UPDATE gaps SET backfilled = 1 "
            "WHERE venue = ? AND symbol = ? AND stream = ? AND start_ms = ?",
            [(venue, symbol, stream, start_ms)],
        )

    def append_frames(self, frames: Sequence[RawFrame]) -> int:
        """Journal raw frames (idempotent on venue, conn_id, seq)."""
        if not frames:
            return 0
        return self._write(
            "INSERT OR IGNORE INTO frames (venue, received_ms, conn_id, seq, raw) "
            "VALUES (?,?,?,?,?)",
            ((f.venue, f.received_ms, f.conn_id, f.seq, f.raw) for f in frames),
        )

    def touch_stream(self, venue: str, stream: str, received_ms: int, messages: int = 1) -> None:
        """Note that ``messages`` messages of a stream arrived, the last at ``received_ms``."""
        self._write(
            "INSERT INTO messages_stats VALUES (?,?,?,?) ON CONFLICT (venue, stream) DO UPDATE "
            "SET last_received_ms = MAX(last_received_ms, excluded.last_received_ms), "
            "messages = messages + excluded.messages",
            [(venue, stream, received_ms, messages)],
        )

    def record_import(self, record: ImportRecord) -> None:
        self._write(
            "INSERT OR REPLACE INTO import_files VALUES (?,?,?,?,?,?,?,?)",
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
        )

    # ------------------------------------------------------------------ reads
    def imported(self, sha256: str) -> ImportRecord | None:
        row = self._conn.execute(
            "SELECT sha256, path, size, format, rows_parsed, rows_new, finished_ms "
            "FROM import_files WHERE sha256 = ? AND status = 'done'",
            (sha256,),
        ).fetchone()
        if row is None:
            return None
        return ImportRecord(*row)

    def liquidations(
        self,
        venues: Sequence[str],
        symbol: str | None,
        t0: int,
        t1: int,
        min_notional_usd: float = 0.0,
    ) -> list[Liquidation]:
        """Liquidations with ``t0 <= ts < t1`` ordered by time; no venues = all venues."""
        return [r for _, r in self.liquidation_rows(venues, symbol, t0, t1, min_notional_usd)]

    def liquidation_rows(
        self,
        venues: Sequence[str],
        symbol: str | None,
        t0: int,
        t1: int,
        min_notional_usd: float = 0.0,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[tuple[int, Liquidation]]:
        """``(seq, liquidation)`` with ``t0 <= ts < t1`` ordered by time (newest first when
        asked), at most ``limit``; no venues = all venues."""
        sql = (
            f"SELECT seq, {_LIQ_COLUMNS} FROM liquidations "
            "WHERE ts >= ? AND ts < ? AND notional_usd >= ?"
        )
        params: list[Any] = [t0, min(t1, _TS_MAX), min_notional_usd]
        if venues:
            sql += f" AND venue IN ({','.join('?' * len(venues))})"
            params.extend(venues)
        if symbol is not None:
            sql += " AND symbol = ?"
            params.append(symbol)
        order = " DESC" if newest_first else ""
        sql += f" ORDER BY ts{order}, venue{order}, symbol{order}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(int(limit), 0))
        return [(int(row[0]), _liquidation(row[1:])) for row in self._conn.execute(sql, params)]

    def liquidations_after(self, seq: int, limit: int = 10_000) -> list[tuple[int, Liquidation]]:
        """``(seq, liquidation)`` stored after insertion sequence ``seq``, in insertion order
        (whatever their event times), at most ``limit``."""
        rows = self._conn.execute(
            f"SELECT seq, {_LIQ_COLUMNS} FROM liquidations WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, max(int(limit), 0)),
        )
        return [(int(row[0]), _liquidation(row[1:])) for row in rows]

    def last_liquidation_seq(self) -> int:
        """The highest insertion sequence given so far (0 for none); it changes exactly when
        liquidations are added, so it also serves as a data version.

        That is the newest stored row's seq, or the ``sequences`` floor that retention raises
        before deleting rows (so a deleted row's seq is never given again).
        """
        row = self._conn.execute(_LAST_SEQ_SQL).fetchone()
        return int(row[0])

    def markets(
        self, tables: Sequence[str] = ("candles", "liquidations", "open_interest")
    ) -> list[tuple[str, str]]:
        """Distinct ``(venue, symbol)`` pairs stored in any of ``tables``, sorted.

        Found by seeks on the tables' key prefix (one look-up per pair, no scan).
        """
        pairs: set[tuple[str, str]] = set()
        for table in tables:
            _check_event_table(table)
            row = self._conn.execute(
                f"SELECT venue, symbol FROM {table} ORDER BY venue, symbol LIMIT 1"
            ).fetchone()
            while row is not None:
                pairs.add((str(row[0]), str(row[1])))
                row = self._conn.execute(
                    f"SELECT venue, symbol FROM {table} WHERE (venue, symbol) > (?, ?) "
                    "ORDER BY venue, symbol LIMIT 1",
                    (row[0], row[1]),
                ).fetchone()
        return sorted(pairs)

    def candle_intervals(self, venue: str, symbol: str) -> list[int]:
        """Candle intervals stored for a market, ascending (by key seeks)."""
        out: list[int] = []
        last = -1
        while True:
            row = self._conn.execute(
                "SELECT interval_ms FROM candles "
                "WHERE venue = ? AND symbol = ? AND interval_ms > ? "
                "ORDER BY interval_ms LIMIT 1",
                (venue, symbol, last),
            ).fetchone()
            if row is None:
                return out
            last = int(row[0])
            out.append(last)

    def candle_range(self, venue: str, symbol: str, interval_ms: int) -> tuple[int, int] | None:
        """First and last open time of a market's candles of one interval, or None."""
        lo, hi = self._conn.execute(
            "SELECT MIN(ts), MAX(ts) FROM candles WHERE venue = ? AND symbol = ? "
            "AND interval_ms = ?",
            (venue, symbol, interval_ms),
        ).fetchone()
        if lo is None or hi is None:
            return None
        return int(lo), int(hi)

    def max_ts(self, table: str, venue: str, symbol: str) -> int | None:
        """Newest event time of a market in an event table (candles: over every interval)."""
        _check_event_table(table)
        if table == "candles":
            ends = [
                r[1]
                for iv in self.candle_intervals(venue, symbol)
                if (r := self.candle_range(venue, symbol, iv)) is not None
            ]
            return max(ends, default=None)
        row = self._conn.execute(
            f"SELECT MAX(ts) FROM {table} WHERE venue = ? AND symbol = ?", (venue, symbol)
        ).fetchone()
        return int(row[0]) if row is not None and row[0] is not None else None

    def candles(self, venue: str, symbol: str, interval_ms: int, t0: int, t1: int) -> list[Candle]:
        rows = self._conn.execute(
            "SELECT ts, open, high, low, close, volume, taker_buy_volume, closed FROM candles "
            "WHERE venue = ? AND symbol = ? AND interval_ms = ? AND ts >= ? AND ts < ? "
            "ORDER BY ts",
            (venue, symbol, interval_ms, t0, t1),
        )
        return [
            Candle(venue, symbol, ts, interval_ms, o, h, lo, c, v, tb, bool(cl))
            for ts, o, h, lo, c, v, tb, cl in rows
        ]

    def open_interest(self, venue: str, symbol: str, t0: int, t1: int) -> list[OpenInterest]:
        rows = self._conn.execute(
            "SELECT ts, oi_base, oi_usd FROM open_interest "
            "WHERE venue = ? AND symbol = ? AND ts >= ? AND ts < ? ORDER BY ts",
            (venue, symbol, t0, t1),
        )
        return [OpenInterest(venue, symbol, ts, oi, usd) for ts, oi, usd in rows]

    def frames(
        self, venue: str, after_id: int = 0, limit: int = 10_000
    ) -> list[tuple[int, RawFrame]]:
        """Journaled frames of a venue in arrival order, paged by row id."""
        rows = self._conn.execute(
            "SELECT id, venue, received_ms, conn_id, seq, raw FROM frames "
            "WHERE venue = ? AND id > ? ORDER BY id LIMIT ?",
            (venue, after_id, limit),
        )
        return [(i, RawFrame(v, r, c, s, bytes(raw))) for i, v, r, c, s, raw in rows]

    def gaps(self, venue: str | None = None, symbol: str | None = None) -> list[Gap]:
        sql = (
            "SELECT venue, symbol, stream, start_ms, end_ms, reason, backfilled FROM gaps "
            "WHERE (? IS NULL OR venue = ?) AND (? IS NULL OR symbol = ?) "
            "ORDER BY venue, symbol, stream, start_ms"
        )
        rows = self._conn.execute(sql, (venue, venue, symbol, symbol))
        return [Gap(v, s, st, a, b, r, bool(bf)) for v, s, st, a, b, r, bf in rows]

    def instrument(self, venue: str, symbol: str) -> Instrument | None:
        row = self._conn.execute(
            "SELECT base, quote, contract_type, contract_size FROM instruments "
            "WHERE venue = ? AND symbol = ?",
            (venue, symbol),
        ).fetchone()
        if row is None:
            return None
        return Instrument(venue, symbol, row[0], row[1], ContractType(row[2]), row[3])

    def _columns(self, sql: str, params: Sequence[Any], dtypes: str) -> list[np.ndarray[Any, Any]]:
        """Run a query and return one array per column (``dtypes``: ``i`` int64, ``f`` float64;
        NULL becomes NaN in float columns)."""
        rows = self._conn.execute(sql, params).fetchall()
        kinds = {"i": np.int64, "f": np.float64}
        if not rows:
            return [np.empty(0, dtype=kinds[d]) for d in dtypes]
        cols = zip(*rows, strict=True)
        return [np.array(c, dtype=kinds[d]) for c, d in zip(cols, dtypes, strict=True)]

    def steps(self, venue: str, symbol: str, t0: int, t1: int, interval_ms: int) -> Steps:
        """Estimator steps over ``[t0, t1)`` (see :class:`Steps`).

        Prices come from stored candles of ``interval_ms`` or of the coarsest stored
        interval dividing it, and from trades for steps candles do not cover (trades also
        supply taker-buy volume where candles lack it).
        """
        g = queries.grid(t0, t1, interval_ms)
        n = int(g.size)
        lo_t = int(g[0]) if n else t0
        hi_t = int(g[-1]) + interval_ms if n else t1
        # Candles: pick the coarsest stored interval that divides the step.
        intervals = [
            int(r[0])
            for r in self._conn.execute(
                "SELECT DISTINCT interval_ms FROM candles WHERE venue = ? AND symbol = ?",
                (venue, symbol),
            )
        ]
        usable = sorted((i for i in intervals if interval_ms % i == 0), reverse=True)
        ohlcv = queries.empty_ohlcv(n)
        if usable and n:
            ts, o, h, lo, c, v, tb = self._columns(
                "SELECT ts, open, high, low, close, volume, taker_buy_volume FROM candles "
                "WHERE venue = ? AND symbol = ? AND interval_ms = ? AND ts >= ? AND ts < ?",
                (venue, symbol, usable[0], lo_t, hi_t),
                "iffffff",
            )
            if ts.size:
                ohlcv = queries.ohlcv_from_candles(ts, o, h, lo, c, v, tb, g, interval_ms)
        has_trades = self._conn.execute(
            "SELECT 1 FROM trades WHERE venue = ? AND symbol = ? AND ts >= ? AND ts < ? LIMIT 1",
            (venue, symbol, lo_t, hi_t),
        ).fetchone()
        complete = bool(ohlcv.present.all()) and not np.isnan(ohlcv.taker_buy_volume).any()
        if n and has_trades and not complete:
            ts, p, q, side = self._columns(
                "SELECT ts, price, qty, taker_side FROM trades "
                "WHERE venue = ? AND symbol = ? AND ts >= ? AND ts < ?",
                (venue, symbol, lo_t, hi_t),
                "iffi",
            )
            from_trades = queries.ohlcv_from_trades(ts, p, q, side, g, interval_ms)
            ohlcv = queries.merge_ohlcv(ohlcv, from_trades)
        # Open interest as of each step's close, carried in from before the range.
        oi_ts, oi_v = self._columns(
            "SELECT ts, oi_base FROM ("
            " SELECT ts, oi_base FROM open_interest WHERE venue = ? AND symbol = ? AND ts < ?"
            " ORDER BY ts DESC LIMIT 1) "
            "UNION ALL SELECT ts, oi_base FROM open_interest "
            "WHERE venue = ? AND symbol = ? AND ts >= ? AND ts <= ?",
            (venue, symbol, lo_t, venue, symbol, lo_t, hi_t),
            "if",
        )
        oi = queries.asof(oi_ts, oi_v, g + interval_ms)
        # Realized liquidations per side.
        l_ts, l_side, l_usd, l_samp = self._columns(
            "SELECT ts, side, notional_usd, sampled FROM liquidations "
            "WHERE venue = ? AND symbol = ? AND ts >= ? AND ts < ?",
            (venue, symbol, lo_t, hi_t),
            "ifii",
        )
        bars = queries.realized(l_ts, l_side, l_usd, l_samp.astype(bool), lo_t, hi_t, interval_ms)
        return Steps(
            interval_ms=interval_ms,
            ts=g,
            open=ohlcv.open,
            high=ohlcv.high,
            low=ohlcv.low,
            close=ohlcv.close,
            volume=ohlcv.volume,
            taker_buy_volume=ohlcv.taker_buy_volume,
            oi_base=oi,
            liq_long_usd=bars.long_usd,
            liq_short_usd=bars.short_usd,
            sampled=bool(bars.sampled.any()),
        )

    def coverage(self, now_ms: int) -> list[Coverage]:
        """Counts, time ranges, gaps and last message age per venue/symbol/stream."""
        groups: list[tuple[str, str, str, int, int | None, int | None, bool | None]] = []
        for table in ("liquidations", "trades", "open_interest", "marks"):
            extra = ", MAX(sampled)" if table == "liquidations" else ", NULL"
            sql = (
                f"SELECT venue, symbol, COUNT(*), MIN(ts), MAX(ts){extra} FROM {table} "
                "GROUP BY venue, symbol"
            )
            for v, s, cnt, a, b, samp in self._conn.execute(sql):
                groups.append((v, s, table, cnt, a, b, None if samp is None else bool(samp)))
        for v, s, iv, cnt, a, b in self._conn.execute(
            "SELECT venue, symbol, interval_ms, COUNT(*), MIN(ts), MAX(ts) FROM candles "
            "GROUP BY venue, symbol, interval_ms"
        ):
            groups.append((v, s, f"candles:{interval_name(iv)}", cnt, a, b, None))
        gap_stats: dict[tuple[str, str, str], tuple[int, int]] = {
            (v, s, st): (cnt, total)
            for v, s, st, cnt, total in self._conn.execute(
                "SELECT venue, symbol, stream, COUNT(*), SUM(end_ms - start_ms) FROM gaps "
                "WHERE backfilled = 0 GROUP BY venue, symbol, stream"
            )
        }
        last_msg: dict[str, int] = {}
        for v, _stream, last in self._conn.execute(
            "SELECT venue, stream, last_received_ms FROM messages_stats"
        ):
            last_msg[v] = max(last_msg.get(v, last), last)
        seen = {(g[0], g[1], g[2]) for g in groups}
        for key in gap_stats:
            if key not in seen:
                groups.append((key[0], key[1], key[2], 0, None, None, None))
        out: list[Coverage] = []
        for v, s, st, cnt, a, b, samp in sorted(groups, key=lambda x: (x[0], x[1], x[2])):
            gcnt, gms = gap_stats.get((v, s, st), (0, 0))
            last = last_msg.get(v)
            out.append(
                Coverage(
                    venue=v,
                    symbol=s,
                    stream=st,
                    rows=int(cnt),
                    first_ts=a,
                    last_ts=b,
                    gaps=int(gcnt),
                    gap_ms=int(gms or 0),
                    last_message_age_ms=None if last is None else now_ms - int(last),
                    sampled=samp,
                )
            )
        return out

    def counts(self) -> dict[str, int]:
        """Row counts of every table."""
        names = (*TABLES, "instruments", "gaps", "frames", "import_files", "messages_stats")
        return {
            t: int(self._conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in names
        }

    # ------------------------------------------------------------------ maintenance
    def delete_older_than(self, days: int | Mapping[str, int], now_ms: int) -> dict[str, int]:
        """Delete rows older than ``days`` (one figure, or per table); returns rows deleted."""
        plan = dict.fromkeys(_TIME_COLUMN, days) if isinstance(days, int) else dict(days)
        unknown = set(plan) - set(_TIME_COLUMN)
        if unknown:
            raise InputError(f"unknown table(s) for retention: {', '.join(sorted(unknown))}")
        deleted: dict[str, int] = {}
        with self.transaction():
            for table, d in plan.items():
                if d < 0:
                    raise InputError(f"retention days must be >= 0, got {d} for {table}")
                cutoff = now_ms - d * _DAY_MS
                col = _TIME_COLUMN[table]
                if table == "liquidations":  # keep deleted seqs from being given again
                    self._conn.execute(
                        f"UPDATE sequences SET value = ({_LAST_SEQ_SQL}) "
                        "WHERE name = 'liquidations'"
                    )
                cur = self._conn.execute(f"DELETE FROM {table} WHERE {col} < ?", (cutoff,))
                deleted[table] = max(cur.rowcount, 0)
        return deleted

    def integrity_check(self) -> list[str]:
        """``PRAGMA integrity_check`` messages; ``["ok"]`` when the file is sound."""
        return [str(r[0]) for r in self._conn.execute("PRAGMA integrity_check")]

    def checkpoint(self) -> None:
        """Fold the WAL back into the main file."""
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def export_parquet(
        self,
        out_dir: Path,
        tables: Sequence[str] = TABLES,
        venue: str | None = None,
        symbol: str | None = None,
    ) -> list[Path]:
        """Write ``<out>/<table>/venue=V/symbol=S/date=YYYY-MM-DD/part-0.parquet`` files.

        Partition columns are in the path, not in the files. Returns the files written.
        """
        written: list[Path] = []
        for table in tables:
            if table not in _EXPORT_COLUMNS:
                raise InputError(f"cannot export table {table!r}")
            cols = _EXPORT_COLUMNS[table]
            pairs = self._conn.execute(
                f"SELECT DISTINCT venue, symbol FROM {table} "
                "WHERE (? IS NULL OR venue = ?) AND (? IS NULL OR symbol = ?) "
                "ORDER BY venue, symbol",
                (venue, venue, symbol, symbol),
            ).fetchall()
            data_cols = cols[2:]
            for v, s in pairs:
                cur = self._conn.execute(
                    f"SELECT {', '.join(data_cols)} FROM {table} "
                    "WHERE venue = ? AND symbol = ? ORDER BY ts",
                    (v, s),
                )
                buffer: list[tuple[Any, ...]] = []
                day: int | None = None
                part_dir = out_dir / table / f"venue={_safe(v)}" / f"symbol={_safe(s)}"
                while True:
                    chunk = cur.fetchmany(100_000)
                    if not chunk:
                        break
                    for row in chunk:
                        d = row[0] // _DAY_MS
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
