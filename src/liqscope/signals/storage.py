"""The signals layer's view of the store: fired alerts and point-in-time map snapshots.

The tables are the store's own (``store/schema.py``, v3); this wrapper only serialises calls
from several threads (the live evaluator, alert sinks) onto one store handle and speaks the
alert dictionaries (``Alert.to_dict()``) the rest of the signals layer uses.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from liqscope.store import open_store
from liqscope.store.base import NEWEST_ALERTS, AlertQuery, AlertRecord, SnapshotRecord

_ALERT_KEYS = ("id", "rule_id", "venue", "symbol", "condition", "ts", "fired_ms", "message")


def alert_dict(record: AlertRecord) -> dict[str, Any]:
    """A stored alert as the API and the CLI show it."""
    return {**{k: getattr(record, k) for k in _ALERT_KEYS}, "details": dict(record.details)}


class SignalStore:
    """Alerts and snapshots of one store; safe to share between threads."""

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self._store = open_store(path, readonly=readonly)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._store.close()

    def __enter__(self) -> SignalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ alerts
    def add_alert(self, alert: dict[str, Any]) -> int:
        """Store one fired alert (``Alert.to_dict()``); returns its id."""
        record = AlertRecord(
            rule_id=str(alert["rule_id"]),
            venue=str(alert["venue"]),
            symbol=str(alert["symbol"]),
            condition=str(alert["condition"]),
            ts=int(alert["ts"]),
            message=str(alert["message"]),
            details=dict(alert.get("details", {})),
        )
        with self._lock:
            return self._store.write_alert(record)

    def alerts(self, query: AlertQuery = NEWEST_ALERTS) -> list[dict[str, Any]]:
        """Stored alerts of ``query``, newest first, as dictionaries (:func:`alert_dict`)."""
        with self._lock:
            rows = self._store.alerts(query)
        return [alert_dict(r) for r in rows]

    # ------------------------------------------------------------------ snapshots
    def save_snapshots(self, snapshots: Sequence[SnapshotRecord]) -> int:
        with self._lock:
            return self._store.save_snapshots(snapshots)

    def snapshots(
        self, venue: str, symbol: str, preset: str, t0: int, t1: int
    ) -> list[SnapshotRecord]:
        """Snapshots with ``t0 <= ts < t1``, oldest first."""
        with self._lock:
            return self._store.snapshots(venue, symbol, preset, t0, t1)

    def snapshot_at(
        self, venue: str, symbol: str, preset: str, at_ms: int
    ) -> SnapshotRecord | None:
        """The newest snapshot with ``ts <= at_ms`` (never a later one)."""
        with self._lock:
            return self._store.snapshot_at(venue, symbol, preset, at_ms)

    def snapshot_rows(
        self, venue: str, symbol: str, preset: str, t0: int, t1: int
    ) -> list[dict[str, Any]]:
        """Compatibility: :meth:`snapshots` as dictionaries of their fields."""
        return [
            {f.name: getattr(s, f.name) for f in fields(SnapshotRecord)}
            for s in self.snapshots(venue, symbol, preset, t0, t1)
        ]
