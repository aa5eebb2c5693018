"""Tables of the signals layer (fired alerts, point-in-time map snapshots) in the store's
SQLite file, created with ``CREATE TABLE IF NOT EXISTS`` beside the store's own schema
(their names do not collide with store/schema.py)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from liqscope.domain.errors import InputError

DDL: tuple[str, ...] = (
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


class SignalStore:
    """Alert and snapshot tables on one SQLite file; safe to share between threads."""

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly and not self.path.is_file():
            raise InputError(f"no store at {self.path}")
        if self.path.is_dir():
            raise InputError(f"{self.path} is a directory, not a store file")
        try:
            if readonly:
                self._conn = sqlite3.connect(
                    f"file:{self.path}?mode=ro", uri=True, isolation_level=None,
                    check_same_thread=False,
                )  # fmt: skip
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._conn = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False
                )
            self._conn.execute("PRAGMA busy_timeout=10000")
            if not readonly:
                self._conn.execute("PRAGMA journal_mode=WAL")
                for stmt in DDL:
                    self._conn.execute(stmt)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: not a usable liqscope store ({exc})") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> SignalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _has(self, table: str) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)
        ).fetchone()
        return row is not None

    # ------------------------------------------------------------------ alerts
    def add_alert(self, alert: dict[str, Any]) -> int:
        """Store one fired alert (``Alert.to_dict()``); returns its id."""
        with self._lock:
            cur = self._conn.execute(
                "INSERT INTO alerts (rule_id, venue, symbol, condition, ts, fired_ms, message,"
                " details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    alert["rule_id"],
                    alert["venue"],
                    alert["symbol"],
                    alert["condition"],
                    int(alert["ts"]),
                    int(time.time() * 1000),
                    alert["message"],
                    json.dumps(alert.get("details", {}), default=float),
                ),
            )
            return int(cur.lastrowid or 0)

    def alerts(
        self,
        *,
        limit: int = 100,
        symbol: str | None = None,
        rule_id: str | None = None,
        since_ms: int | None = None,
    ) -> list[dict[str, Any]]:
        """Stored alerts, newest first."""
        if not self._has("alerts"):
            return []
        sql = (
            "SELECT id, rule_id, venue, symbol, condition, ts, fired_ms, message, details"
            " FROM alerts"
        )
        where, params = [], []
        if symbol:
            where.append("symbol = ?")
            params.append(symbol)
        if rule_id:
            where.append("rule_id = ?")
            params.append(rule_id)
        if since_ms is not None:
            where.append("ts >= ?")
            params.append(since_ms)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY ts DESC, id DESC LIMIT ?"
        params.append(int(limit))
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        keys = ("id", "rule_id", "venue", "symbol", "condition", "ts", "fired_ms", "message")
        return [{**dict(zip(keys, r[:8], strict=True)), "details": json.loads(r[8])} for r in rows]

    # ------------------------------------------------------------------ snapshots
    def put_snapshot(self, row: dict[str, Any]) -> None:
        """Insert or replace one snapshot row (see ``snapshots.Snapshot.to_row``)."""
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row["venue"],
                    row["symbol"],
                    row["preset"],
                    int(row["ts"]),
                    float(row["price"]),
                    row["model_version"],
                    float(row["grid_origin"]),
                    float(row["grid_step"]),
                    int(row["grid_n"]),
                    row["leverages"],
                    row["config"],
                    row["codec"],
                    row["data"],
                ),
            )

    def snapshot_rows(
        self, venue: str, symbol: str, preset: str, t0: int, t1: int
    ) -> list[dict[str, Any]]:
        """Rows with ``t0 <= ts < t1``, oldest first."""
        if not self._has("snapshots"):
            return []
        with self._lock:
            cur = self._conn.execute(
                "SELECT * FROM snapshots WHERE venue = ? AND symbol = ? AND preset = ?"
                " AND ts >= ? AND ts < ? ORDER BY ts",
                (venue, symbol, preset, t0, t1),
            )
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def latest_snapshot_row(
        self, venue: str, symbol: str, preset: str, at_ms: int
    ) -> dict[str, Any] | None:
        """The newest row with ``ts <= at_ms`` (what was known at ``at_ms``)."""
        if not self._has("snapshots"):
            return None
        with self._lock:
            cur = self._conn.execute(
                "SELECT * FROM snapshots WHERE venue = ? AND symbol = ? AND preset = ?"
                " AND ts <= ? ORDER BY ts DESC LIMIT 1",
                (venue, symbol, preset, at_ms),
            )
            r = cur.fetchone()
            if r is None:
                return None
            return dict(zip([d[0] for d in cur.description], r, strict=True))
