"""The server store: PostgreSQL through psycopg 3, behind the same interface as SQLite.

Several collectors (on several machines) may write one database at once and several API
servers read it. Writes are upserts idempotent per event key as in SQLite (small batches as
one multi-row ``VALUES``, larger ones COPYed into a staging table first), so two writers
storing the same events store them once. Liquidation writers take a transaction-scoped
advisory lock before numbering new rows, so insertion sequences become visible in increasing
order (a reader following ``seq`` never skips a row committed late) and a sequence number is
never given twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from typing import Any

import psycopg
from psycopg import pq

from liqscope.domain.clock import SYSTEM_CLOCK, Clock
from liqscope.domain.errors import InputError
from liqscope.domain.intervals import DAY_MS
from liqscope.store._db import Params, Row
from liqscope.store._maintenance import MaintenanceMixin
from liqscope.store._summaries import COUNTED_TABLES, SummaryMixin
from liqscope.store._writes import LIQ_COLUMNS, WriteMixin
from liqscope.store.pg_schema import PARTITIONED, month_end_ms, partition_ddl, pg_migrate
from liqscope.store.schema import SCHEMA_VERSION

__all__ = ["PostgresStore", "redact"]

SEQ_LOCK = 0x6C697173_73657100
"""Advisory lock key held by liquidation writers until they commit."""
_VALUES_ROWS = 20
"""Batches up to this many rows go as one multi-row VALUES; larger ones through COPY."""


def redact(url: str) -> str:
    """The URL without its password (for messages)."""
    url = re.sub(r"(//[^:/@]*):[^@/]*@", r"\1:***@", url)
    return re.sub(r"(password=)[^&]*", r"\1***", url)


def _pg(sql: str) -> str:
    """The shared ``?`` placeholders in psycopg's style."""
    return sql.replace("?", "%s")


class PostgresStore(WriteMixin, SummaryMixin, MaintenanceMixin):
    """The PostgreSQL backend of :class:`liqscope.store.base.Store` (one connection)."""

    DRIVER_ERRORS = (psycopg.Error,)
    BUG_ERRORS = (psycopg.ProgrammingError, psycopg.InterfaceError)
    _conn: psycopg.Connection[Row]

    def __init__(
        self,
        url: str,
        *,
        readonly: bool = False,
        clock: Clock = SYSTEM_CLOCK,
        connect_timeout_s: int = 10,
    ) -> None:
        self._url = url
        self._clock = clock
        self._depth = 0
        self._staged: set[str] = set()
        self._ddl: psycopg.Connection[Row] | None = None
        self._readonly = readonly
        self._timeout_s = connect_timeout_s
        self._conn = self._connect()
        try:
            if readonly:
                version = self._version()
                if version != SCHEMA_VERSION:
                    raise InputError(
                        f"{self.location}: schema version {version}, expected {SCHEMA_VERSION}"
                        " (open it once for writing to migrate it)"
                    )
            else:
                with self.transaction():
                    pg_migrate(self._all, clock.now_ms())
        except BaseException:
            self._conn.close()
            raise

    def _connect(self) -> psycopg.Connection[Row]:
        try:
            conn = psycopg.connect(self._url, autocommit=True, connect_timeout=self._timeout_s)
            if self._readonly:
                conn.execute("SET default_transaction_read_only = on")
        except psycopg.Error as exc:
            raise self._fail("connect", exc) from None
        return conn

    def _reconnect_if_lost(self) -> None:
        """Between transactions, replace a connection the server or network dropped (the
        failed call has already reported it; the next one goes through a new connection)."""
        if self._depth == 0 and self._conn.closed and not self._closed:
            self._staged.clear()
            self._conn = self._connect()

    def _version(self) -> int:
        row = self._one("SELECT to_regclass('schema_version') IS NOT NULL")
        if row is None or not row[0]:
            return 0
        got = self._one("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        return int(got[0]) if got else 0

    # ------------------------------------------------------------------ basics
    @property
    def location(self) -> str:
        """The URL without its password."""
        return redact(self._url)

    _closed = False

    def close(self) -> None:
        self._closed = True
        self._conn.close()
        if self._ddl is not None:
            self._ddl.close()

    # ------------------------------------------------------------------ primitives
    def _all(self, sql: str, params: Params = ()) -> list[Row]:
        self._reconnect_if_lost()
        with self._errors():
            cur = self._conn.execute(_pg(sql), params)
            return cur.fetchall() if cur.description is not None else []

    def _run(self, sql: str, params: Params = ()) -> int:
        self._reconnect_if_lost()
        with self._errors():
            return self._conn.execute(_pg(sql), params).rowcount

    def _insert(self, table: str, columns: str, rows: Sequence[Row], tail: str = "") -> int:
        """Small batches as one multi-row ``VALUES``; larger ones COPYed into a session
        staging table, then one ``INSERT … SELECT … ON CONFLICT`` (about 2.5x faster)."""
        if table in PARTITIONED:
            self._ensure_partitions(table, rows, columns.split(", ").index("ts"))
        if len(rows) <= _VALUES_ROWS:
            one = "(" + ",".join(["%s"] * (columns.count(",") + 1)) + ")"
            sql = f"INSERT INTO {table} ({columns}) VALUES {','.join([one] * len(rows))} {tail}"
            with self._errors():
                return max(self._conn.execute(sql, [v for r in rows for v in r]).rowcount, 0)
        stage = self._stage(table, columns, rows)
        with self._errors():
            cur = self._conn.execute(
                f"INSERT INTO {table} ({columns}) SELECT * FROM {stage} {tail}"
            )
            return max(cur.rowcount, 0)

    def _stage(self, table: str, columns: str, rows: Sequence[Row], ordered: bool = False) -> str:
        """COPY ``rows`` into this session's empty staging table for ``table`` (``ord``
        first when ``ordered``: each row's position in the batch); returns its name."""
        stage = f"stage_{table}"
        first = "0::bigint AS ord, " if ordered else ""
        with self._errors():
            if stage not in self._staged:
                self._conn.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
                    f"SELECT {first}{columns} FROM {table} WITH NO DATA"
                )
                self._staged.add(stage)
            self._conn.execute(f"TRUNCATE {stage}")
            with self._conn.cursor().copy(f"COPY {stage} FROM STDIN") as copy:
                for n, r in enumerate(rows):
                    copy.write_row((n, *r) if ordered else r)
        return stage

    def _chunks(self, sql: str, params: Params, size: int) -> Iterator[list[Row]]:
        with self._errors():
            cur = self._conn.execute(_pg(sql), params)
            while chunk := cur.fetchmany(size):
                yield chunk

    def _insert_liquidations(self, rows: Sequence[Row]) -> int:
        """Under the sequence lock (held to commit), the batch's new rows (first occurrence,
        in order; rows already stored are skipped) take the seqs after the last one given,
        densely, exactly as in SQLite."""
        self._all("SELECT pg_advisory_xact_lock(?)", (SEQ_LOCK,))
        first: dict[Row, Row] = {}
        for r in rows:  # one row per key; as in SQLite, the first one wins
            first.setdefault(r[:6], r)
        unique = list(first.values())
        self._ensure_partitions("liquidations", unique, 2)
        params: list[Any] = []
        if len(unique) <= _VALUES_ROWS:
            one = "(" + ",".join(["%s"] * 10) + ")"
            source = f"(VALUES {','.join([one] * len(unique))}) AS v (ord, {LIQ_COLUMNS})"
            params = [v for n, r in enumerate(unique) for v in (n, *r)]
        else:
            source = self._stage("liquidations", LIQ_COLUMNS, unique, ordered=True) + " AS v"
        sql = (
            f"INSERT INTO liquidations ({LIQ_COLUMNS}, seq) "
            "SELECT venue, symbol, ts::bigint, side::bigint, qty::float8, price::float8, "
            "price_kind, notional_usd::float8, sampled::bigint, "
            f"{int(self.last_liquidation_seq())} + row_number() OVER (ORDER BY ord) "
            f"FROM {source} WHERE NOT EXISTS (SELECT 1 FROM liquidations l "
            "WHERE l.venue = v.venue AND l.symbol = v.symbol AND l.ts = v.ts::bigint "
            "AND l.side = v.side::bigint AND l.qty = v.qty::float8 "
            "AND l.price = v.price::float8) ON CONFLICT DO NOTHING"
        )
        with self._errors():
            return max(self._conn.execute(sql, params).rowcount, 0)

    def _ddl_conn(self) -> psycopg.Connection[Row]:
        """The second, autocommit connection partition DDL runs on."""
        if self._ddl is None or self._ddl.closed:
            self._ddl = psycopg.connect(self._url, autocommit=True, connect_timeout=self._timeout_s)
        return self._ddl

    def _ensure_partitions(self, table: str, rows: Sequence[Row], ts_at: int) -> None:
        """Create the month partitions ``rows`` fall in that do not exist yet.

        Each is created and attached by a second, autocommit connection in its own short
        transaction (``ATTACH`` locks the parent only against other DDL, so neither this
        handle's open transaction nor readers or other writers wait on it), under an
        advisory lock on its name so concurrent writers create it once. Which exist is looked
        up for every batch (one catalog query): retention on another handle may drop one."""
        wanted = dict(
            partition_ddl(table, day * DAY_MS) for day in {int(r[ts_at]) // DAY_MS for r in rows}
        )
        found = self._all(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(?) AND c.relname = ANY(?)",
            (table, list(wanted)),
        )
        for (name,) in found:
            wanted.pop(str(name), None)
        if not wanted:
            return
        try:
            conn = self._ddl_conn()
            for name, (create, attach) in sorted(wanted.items()):
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))
                    attached = conn.execute(
                        "SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(%s)", (name,)
                    ).fetchone()
                    if attached is None:
                        conn.execute(create)
                        conn.execute(attach)
        except (psycopg.ProgrammingError, psycopg.InterfaceError):
            raise
        except psycopg.Error as exc:
            raise self._fail("partition", exc) from exc

    def _lock_sequence(self) -> None:
        self._all("SELECT pg_advisory_xact_lock(?)", (SEQ_LOCK,))

    def _drop_expired(self, cutoffs: Mapping[str, int]) -> dict[str, int]:
        """Drop the month partitions wholly older than their table's cutoff, each in its own
        short transaction on the DDL connection (for liquidations after raising the seq
        floor, under the sequence lock). Inside an open transaction of this handle nothing
        is dropped (the rows are deleted instead): its locks would deadlock the drop."""
        if self._depth:
            return {}
        dropped: dict[str, int] = {}
        try:
            conn = self._ddl_conn()
            for table, cutoff in cutoffs.items():
                if table not in PARTITIONED:
                    continue
                names = conn.execute(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = to_regclass(%s) ORDER BY 1",
                    (table,),
                ).fetchall()
                for (name,) in names:
                    m = re.fullmatch(rf"{table}_m(\d{{4}})(\d{{2}})", str(name))
                    if m is None or month_end_ms(int(m[1]), int(m[2])) > cutoff:
                        continue
                    with conn.transaction():
                        if table == "liquidations":
                            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SEQ_LOCK,))
                            conn.execute(
                                "UPDATE sequences SET value = GREATEST(value, "
                                "COALESCE((SELECT MAX(seq) FROM liquidations), 0)) "
                                "WHERE name = 'liquidations'"
                            )
                        row = conn.execute(f"SELECT COUNT(*) FROM {name}").fetchone()
                        conn.execute(f"DROP TABLE {name}")
                    dropped[table] = dropped.get(table, 0) + (int(row[0]) if row else 0)
        except (psycopg.ProgrammingError, psycopg.InterfaceError):
            raise
        except psycopg.Error as exc:
            raise self._fail("retention", exc) from exc
        return dropped

    def _begin(self) -> None:
        self._reconnect_if_lost()
        super()._begin()

    def _rollback_if_open(self) -> None:
        self._staged.clear()  # staging tables created in the rolled-back transaction are gone
        if self._conn.closed:
            return
        if self._conn.info.transaction_status != pq.TransactionStatus.IDLE:
            with suppress(psycopg.Error):  # the original error is the one to report
                self._conn.execute("ROLLBACK")

    # ------------------------------------------------------------------ server only
    def integrity_check(self) -> list[str]:
        """``["ok"]`` when the schema is current and every table answers; else what is not."""
        problems: list[str] = []
        version = self._version()
        if version != SCHEMA_VERSION:
            problems.append(f"schema version {version}, expected {SCHEMA_VERSION}")
        for table in COUNTED_TABLES:
            row = self._one("SELECT to_regclass(?) IS NOT NULL", (table,))
            if row is None or not row[0]:
                problems.append(f"table {table} is missing")
        return problems or ["ok"]

    def checkpoint(self) -> None:
        """Nothing to fold: the server manages its own write-ahead log."""
