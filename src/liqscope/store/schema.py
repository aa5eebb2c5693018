"""Versioned schema of the embedded store and its forward migrations.

``MIGRATIONS[i]`` takes a store at version ``i`` to version ``i + 1``. A migration is a
list of SQL statements run inside one transaction together with the version bump, so a
store is always at exactly one version. Never edit a released migration: append one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from liqscope.domain.errors import InputError

_V1: tuple[str, ...] = (
    # Liquidations have no venue id: the identity is the event's own key.
    """CREATE TABLE liquidations (
        venue TEXT NOT NULL, symbol TEXT NOT NULL, ts INTEGER NOT NULL,
        side INTEGER NOT NULL, qty REAL NOT NULL, price REAL NOT NULL,
        price_kind TEXT NOT NULL, notional_usd REAL NOT NULL, sampled INTEGER NOT NULL,
        PRIMARY KEY (venue, symbol, ts, side, qty, price)
    ) WITHOUT ROWID""",
    """CREATE TABLE trades (
        venue TEXT NOT NULL, symbol TEXT NOT NULL, trade_id TEXT NOT NULL,
        ts INTEGER NOT NULL, price REAL NOT NULL, qty REAL NOT NULL, taker_side INTEGER NOT NULL,
        PRIMARY KEY (venue, symbol, trade_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX trades_ts ON trades (venue, symbol, ts)",
    """CREATE TABLE candles (
        venue TEXT NOT NULL, symbol TEXT NOT NULL, interval_ms INTEGER NOT NULL,
        ts INTEGER NOT NULL, open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL,
        close REAL NOT NULL, volume REAL NOT NULL, taker_buy_volume REAL,
        closed INTEGER NOT NULL,
        PRIMARY KEY (venue, symbol, interval_ms, ts)
    ) WITHOUT ROWID""",
    """CREATE TABLE open_interest (
        venue TEXT NOT NULL, symbol TEXT NOT NULL, ts INTEGER NOT NULL,
        oi_base REAL NOT NULL, oi_usd REAL,
        PRIMARY KEY (venue, symbol, ts)
    ) WITHOUT ROWID""",
    """CREATE TABLE marks (
        venue TEXT NOT NULL, symbol TEXT NOT NULL, ts INTEGER NOT NULL,
        mark REAL NOT NULL, index_price REAL, funding_rate REAL,
        PRIMARY KEY (venue, symbol, ts)
    ) WITHOUT ROWID""",
    """CREATE TABLE instruments (
        venue TEXT NOT NULL, symbol TEXT NOT NULL, base TEXT NOT NULL, quote TEXT NOT NULL,
        contract_type TEXT NOT NULL, contract_size REAL NOT NULL,
        PRIMARY KEY (venue, symbol)
    ) WITHOUT ROWID""",
    """CREATE TABLE gaps (
        id INTEGER PRIMARY KEY,
        venue TEXT NOT NULL, symbol TEXT NOT NULL, stream TEXT NOT NULL,
        start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL, reason TEXT NOT NULL,
        backfilled INTEGER NOT NULL DEFAULT 0,
        UNIQUE (venue, symbol, stream, start_ms)
    )""",
    # Raw frames written by the collector before parsing, so they can be replayed.
    """CREATE TABLE frames (
        id INTEGER PRIMARY KEY,
        venue TEXT NOT NULL, received_ms INTEGER NOT NULL, conn_id TEXT NOT NULL,
        seq INTEGER NOT NULL, raw BLOB NOT NULL,
        UNIQUE (venue, conn_id, seq)
    )""",
    "CREATE INDEX frames_received ON frames (venue, received_ms)",
    """CREATE TABLE import_files (
        sha256 TEXT PRIMARY KEY, path TEXT NOT NULL, size INTEGER NOT NULL,
        format TEXT NOT NULL, status TEXT NOT NULL, rows_parsed INTEGER NOT NULL,
        rows_new INTEGER NOT NULL, finished_ms INTEGER NOT NULL
    )""",
    """CREATE TABLE messages_stats (
        venue TEXT NOT NULL, stream TEXT NOT NULL,
        last_received_ms INTEGER NOT NULL, messages INTEGER NOT NULL,
        PRIMARY KEY (venue, stream)
    ) WITHOUT ROWID""",
)

# v2: an insertion sequence for liquidations, so readers can follow what was stored after a
# point ("new rows") whatever the events' own times. ``seq`` is assigned by the writer in the
# same transaction as the row, after the highest seq given so far: ``MAX(seq)`` or, when
# retention deleted the newest rows, the floor kept in ``sequences`` (raised before deleting),
# so it only grows and a deleted row's seq is never reused. A duplicate, being ignored, gets
# none. Existing rows are numbered in event-time order.
_V2: tuple[str, ...] = (
    "ALTER TABLE liquidations ADD COLUMN seq INTEGER",
    """UPDATE liquidations SET seq = n.rn FROM (
        SELECT venue, symbol, ts, side, qty, price,
               row_number() OVER (ORDER BY ts, venue, symbol, side, qty, price) AS rn
        FROM liquidations
    ) AS n
    WHERE liquidations.venue = n.venue AND liquidations.symbol = n.symbol
      AND liquidations.ts = n.ts AND liquidations.side = n.side
      AND liquidations.qty = n.qty AND liquidations.price = n.price""",
    "CREATE INDEX liquidations_seq ON liquidations (seq)",
    """CREATE TABLE sequences (
        name TEXT PRIMARY KEY, value INTEGER NOT NULL
    ) WITHOUT ROWID""",
    "INSERT INTO sequences VALUES ('liquidations', (SELECT IFNULL(MAX(seq), 0) FROM liquidations))",
)

# v3: the signals layer's tables (fired alerts, point-in-time map snapshots). Earlier files may
# already hold them, created by the signals layer itself with exactly this DDL: kept as they are.
_V3: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS alerts (
        id INTEGER PRIMARY KEY,
        rule_id TEXT NOT NULL, venue TEXT NOT NULL, symbol TEXT NOT NULL,
        condition TEXT NOT NULL, ts INTEGER NOT NULL, fired_ms INTEGER NOT NULL,
        message TEXT NOT NULL, details TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS alerts_ts ON alerts (ts)",
    """CREATE TABLE IF NOT EXISTS snapshots (
        venue TEXT NOT NULL, symbol TEXT NOT NULL, preset TEXT NOT NULL,
        ts INTEGER NOT NULL, price REAL NOT NULL, model_version TEXT NOT NULL,
        grid_origin REAL NOT NULL, grid_step REAL NOT NULL, grid_n INTEGER NOT NULL,
        leverages TEXT NOT NULL, config TEXT NOT NULL, codec TEXT NOT NULL, data BLOB NOT NULL,
        PRIMARY KEY (venue, symbol, preset, ts)
    ) WITHOUT ROWID""",
)

# v4: measured positions (Hyperliquid ``clearinghouseState``): the accounts known, every poll
# of an account (an empty one too: "no position then"), and each polled position, so the map
# as known at any time is the newest poll per account at or before it (store/positions.py).
_V4: tuple[str, ...] = (
    """CREATE TABLE position_accounts (
        venue TEXT NOT NULL, address TEXT NOT NULL, source TEXT NOT NULL,
        first_seen_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL,
        PRIMARY KEY (venue, address)
    ) WITHOUT ROWID""",
    """CREATE TABLE position_polls (
        venue TEXT NOT NULL, address TEXT NOT NULL, ts INTEGER NOT NULL,
        positions INTEGER NOT NULL,
        PRIMARY KEY (venue, address, ts)
    ) WITHOUT ROWID""",
    "CREATE INDEX position_polls_ts ON position_polls (venue, ts)",
    """CREATE TABLE position_snapshots (
        venue TEXT NOT NULL, address TEXT NOT NULL, coin TEXT NOT NULL, ts INTEGER NOT NULL,
        size REAL NOT NULL, entry_px REAL NOT NULL, leverage REAL NOT NULL,
        leverage_type TEXT NOT NULL, liquidation_px REAL, margin_used REAL NOT NULL,
        position_value REAL NOT NULL,
        PRIMARY KEY (venue, address, coin, ts)
    ) WITHOUT ROWID""",
    "CREATE INDEX position_snapshots_coin ON position_snapshots (venue, coin, ts)",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3, _V4)
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: sqlite3.Connection) -> int:
    """The schema version of an open store; 0 for an empty file."""
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'"
    ).fetchone()
    if row is None:
        return 0
    got = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(got[0]) if got and got[0] is not None else 0


def upgrade(
    version: int,
    migrations: Sequence[Sequence[str]],
    execute: Callable[[str, Sequence[Any]], object],
    now_ms: int,
) -> int:
    """Run the ``migrations`` (one dialect's statements of each version) that a store at
    ``version`` lacks, recording each version after its statements, through ``execute``
    inside the caller's transaction; a store newer than this code is refused. Returns the
    version reached."""
    if version > SCHEMA_VERSION:
        raise InputError(
            f"store schema version {version} is newer than this liqscope "
            f"understands ({SCHEMA_VERSION}); upgrade liqscope"
        )
    for target in range(version + 1, SCHEMA_VERSION + 1):
        for statement in migrations[target - 1]:
            execute(statement, ())
        execute("INSERT INTO schema_version VALUES (?, ?)", (target, now_ms))
    return SCHEMA_VERSION


def migrate(conn: sqlite3.Connection, now_ms: int) -> int:
    """Bring the store forward to ``SCHEMA_VERSION``; idempotent. Returns the version.

    ``conn`` must be in autocommit mode (``isolation_level=None``).
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            "version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)"
        )
        upgrade(current_version(conn), MIGRATIONS, conn.execute, now_ms)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # a full disk may already have ended it
            conn.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION
