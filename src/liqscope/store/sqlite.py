"""The embedded store: one SQLite file in WAL mode (stdlib ``sqlite3``).

One process writes (the collector or an import) while any number of processes read.
Writes are batched ``executemany`` calls inside one transaction with upserts
(``ON CONFLICT DO NOTHING``, or an update for candles), so they are idempotent per event key.
The shared SQL lives in the ``_writes``, ``_reads``, ``_summaries`` and ``_maintenance``
modules; this one holds the connection, transactions, the insertion sequence and the
SQLite-only maintenance.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import suppress
from pathlib import Path

from liqscope.domain.clock import SYSTEM_CLOCK, Clock
from liqscope.domain.errors import InputError
from liqscope.store._db import Params, Row
from liqscope.store._maintenance import MaintenanceMixin
from liqscope.store._summaries import SummaryMixin
from liqscope.store._writes import WriteMixin
from liqscope.store.schema import SCHEMA_VERSION, current_version, migrate

__all__ = ["SqliteStore"]


class SqliteStore(WriteMixin, SummaryMixin, MaintenanceMixin):
    """The SQLite backend of :class:`liqscope.store.base.Store`.

    One connection; calls from several threads must be serialised by the caller
    (``signals.storage.SignalStore`` does): else open one store per thread or process.
    """

    DRIVER_ERRORS = (sqlite3.DatabaseError,)
    BUG_ERRORS = (sqlite3.ProgrammingError,)
    BEGIN = "BEGIN IMMEDIATE"  # take the write lock now, not at the first write
    _conn: sqlite3.Connection

    def __init__(
        self,
        path: str | Path,
        *,
        readonly: bool = False,
        clock: Clock = SYSTEM_CLOCK,
        busy_timeout_ms: int = 10_000,
    ) -> None:
        self._path = Path(path)
        self._url = str(self._path)
        self._clock = clock
        self._depth = 0
        if self._path.is_dir():
            raise InputError(f"{self._path} is a directory, not a store file")
        if readonly:
            if not self._path.exists():
                raise InputError(f"no store at {self._path}")
            uri = f"file:{self._path}?mode=ro"
            self._conn = sqlite3.connect(
                uri, uri=True, isolation_level=None, check_same_thread=False
            )
        else:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
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
                version = current_version(self._conn)
                if version != SCHEMA_VERSION:
                    raise InputError(
                        f"{self._path}: schema version {version}, expected {SCHEMA_VERSION}"
                        " (open it once for writing to migrate it)"
                    )
            else:
                migrate(self._conn, clock.now_ms())
        except sqlite3.OperationalError as exc:
            self._conn.close()
            raise self._fail("open", exc) from None
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise InputError(f"{self._path}: not a usable liqscope store ({exc})") from None
        except BaseException:
            self._conn.close()
            raise

    # ------------------------------------------------------------------ basics
    def close(self) -> None:
        self._conn.close()

    # ------------------------------------------------------------------ primitives
    def _all(self, sql: str, params: Params = ()) -> list[Row]:
        with self._errors():
            return self._conn.execute(sql, params).fetchall()

    def _run(self, sql: str, params: Params = ()) -> int:
        with self._errors():
            return self._conn.execute(sql, params).rowcount

    def _insert(self, table: str, columns: str, rows: Sequence[Row], tail: str = "") -> int:
        marks = ",".join("?" * (columns.count(",") + 1))
        with self._errors():
            cur = self._conn.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({marks}) {tail}", rows
            )
            return max(cur.rowcount, 0)

    def _chunks(self, sql: str, params: Params, size: int) -> Iterator[list[Row]]:
        with self._errors():
            cur = self._conn.execute(sql, params)
            while chunk := cur.fetchmany(size):
                yield chunk

    def _insert_liquidations(self, rows: Sequence[Row]) -> int:
        """The seq of a row is ``total_changes()`` (rows changed so far on this connection,
        evaluated before that row's insert: ``executemany`` runs one statement per row) plus a
        per-batch offset, so ignored duplicates consume no number and the batch's seqs are
        dense. The batch starts after the last seq given (:meth:`last_liquidation_seq`).
        """
        offset = int(self.last_liquidation_seq() + 1 - self._conn.total_changes)
        with self._errors():
            cur = self._conn.executemany(
                # the offset is an int computed here, inlined: one bound value less per row
                "INSERT INTO liquidations VALUES "
                f"(?,?,?,?,?,?,?,?,?, total_changes() + {offset}) ON CONFLICT DO NOTHING",
                rows,
            )
            return max(cur.rowcount, 0)

    def _rollback_if_open(self) -> None:
        if self._conn.in_transaction:
            with suppress(sqlite3.Error):  # the original error is the one to report
                self._conn.execute("ROLLBACK")

    # ------------------------------------------------------------------ SQLite only
    def integrity_check(self) -> list[str]:
        """``PRAGMA integrity_check`` messages; ``["ok"]`` when the file is sound."""
        return [str(r[0]) for r in self._all("PRAGMA integrity_check")]

    def checkpoint(self) -> None:
        """Fold the WAL back into the main file."""
        self._all("PRAGMA wal_checkpoint(TRUNCATE)")
