"""Alerts, snapshots and message stats are the store's own tables (schema v3)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from liqscope.domain.clock import ManualClock
from liqscope.store.base import AlertQuery, AlertRecord, SnapshotRecord, Store
from liqscope.store.schema import MIGRATIONS, SCHEMA_VERSION
from liqscope.store.sqlite import SqliteStore

T0 = 1_722_816_000_000
MIN = 60_000
DAY = 86_400_000

# The DDL the signals layer used to run itself beside the store (before v3).
_OLD_SIGNAL_DDL = (
    MIGRATIONS[2][0].replace("IF NOT EXISTS ", ""),
    MIGRATIONS[2][2].replace("IF NOT EXISTS ", ""),
)


def alert(ts: int, rule: str = "r1", symbol: str = "BTCUSDT") -> AlertRecord:
    return AlertRecord(rule, "binance", symbol, "cluster_near", ts, f"near {ts}", {"usd": 1.5e6})


def snap(ts: int, preset: str = "all", scale: float = 1.0) -> SnapshotRecord:
    levels = (np.arange(3 * 2 * 4, dtype=np.float32).reshape(3, 2, 4) + 1) * scale
    return SnapshotRecord(
        "binance", "BTCUSDT", preset, ts, 60_000.0 + ts % 1000, "m2", 59_000.0, 10.0, 4,
        (10.0, 25.0, 50.0), {"column_ms": MIN, "half_life": None}, levels,
    )  # fmt: skip


def test_alerts_round_trip_newest_first_with_filters(any_store: Store) -> None:
    ids = [any_store.write_alert(alert(T0 + i * MIN, "r1" if i % 2 else "r2")) for i in range(5)]
    assert len(set(ids)) == 5 and all(i > 0 for i in ids)
    got = any_store.alerts(AlertQuery(limit=10))
    assert [a.ts for a in got] == [T0 + i * MIN for i in range(4, -1, -1)]
    first = got[-1]
    assert first.details == {"usd": 1.5e6} and first.message == f"near {T0}"
    assert first.id == ids[0] and first.fired_ms is not None and first.fired_ms > 0
    assert [a.ts for a in any_store.alerts(AlertQuery(limit=2))] == [T0 + 4 * MIN, T0 + 3 * MIN]
    assert {a.rule_id for a in any_store.alerts(AlertQuery(rule_id="r1"))} == {"r1"}
    assert len(any_store.alerts(AlertQuery(rule_id="r1"))) == 2
    since = any_store.alerts(AlertQuery(since_ms=T0 + 3 * MIN))
    assert [a.ts for a in since] == [T0 + 4 * MIN, T0 + 3 * MIN]
    assert any_store.alerts(AlertQuery(symbol="ETHUSDT")) == []


def test_alert_is_stamped_with_the_store_clock(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "s.sqlite", clock=ManualClock(T0 + 123)) as st:
        st.write_alert(alert(T0))
        assert st.alerts()[0].fired_ms == T0 + 123


def test_snapshots_round_trip_and_point_in_time(any_store: Store) -> None:
    stamps = [T0 + i * 5 * MIN for i in range(4)]
    assert any_store.save_snapshots([snap(t) for t in stamps]) == 4
    assert any_store.save_snapshots([snap(stamps[0], "calibrated", 0.5)]) == 1
    back = any_store.snapshots("binance", "BTCUSDT", "all", 0, 2**62)
    assert [s.ts for s in back] == stamps
    want = snap(stamps[1])
    got = back[1]
    assert got.levels.dtype == np.float32 and np.array_equal(got.levels, want.levels)
    assert got.leverages == want.leverages and got.config == want.config
    assert (got.grid_origin, got.grid_step, got.grid_n) == (59_000.0, 10.0, 4)
    assert got.price == want.price
    # never a later one: exactly at a stamp, between two, before the first
    at = any_store.snapshot_at
    assert at("binance", "BTCUSDT", "all", stamps[2]).ts == stamps[2]  # type: ignore[union-attr]
    assert at("binance", "BTCUSDT", "all", stamps[2] - 1).ts == stamps[1]  # type: ignore[union-attr]
    assert at("binance", "BTCUSDT", "all", stamps[3] + DAY).ts == stamps[3]  # type: ignore[union-attr]
    assert at("binance", "BTCUSDT", "all", stamps[0] - 1) is None
    assert at("binance", "BTCUSDT", "calibrated", stamps[3]).ts == stamps[0]  # type: ignore[union-attr]
    # a later save of the same key replaces it (no duplicate)
    assert any_store.save_snapshots([snap(stamps[1], scale=2.0)]) == 1
    again = any_store.snapshots("binance", "BTCUSDT", "all", stamps[1], stamps[1] + 1)
    assert len(again) == 1 and float(again[0].levels.sum()) == 2.0 * float(want.levels.sum())


def test_counts_and_retention_cover_alerts_and_snapshots(any_store: Store) -> None:
    any_store.write_alert(alert(T0))
    any_store.write_alert(alert(T0 + 3 * DAY))
    any_store.save_snapshots([snap(T0), snap(T0 + 3 * DAY)])
    counts = any_store.counts()
    assert counts["alerts"] == 2 and counts["snapshots"] == 2
    deleted = any_store.delete_older_than({"alerts": 1, "snapshots": 1}, T0 + 3 * DAY)
    assert deleted == {"alerts": 1, "snapshots": 1}
    assert [a.ts for a in any_store.alerts()] == [T0 + 3 * DAY]
    assert [s.ts for s in any_store.snapshots("binance", "BTCUSDT", "all", 0, 2**62)] == [
        T0 + 3 * DAY
    ]
    assert any_store.delete_older_than(0, T0 + 10 * DAY)["snapshots"] == 1


def test_message_stats_reader(any_store: Store) -> None:
    assert any_store.message_stats() == [] and any_store.last_messages("binance") == {}
    any_store.touch_stream("binance", "BTCUSDT:forceOrder", T0 + 100)
    any_store.touch_stream("binance", "BTCUSDT:forceOrder", T0 + 50, messages=4)  # older
    any_store.touch_stream("binance", "BTCUSDT:kline_1m", T0 + 70)
    any_store.touch_stream("okx", "BTC-USDT-SWAP:liquidation-orders", T0 + 90)
    assert any_store.last_messages("binance") == {
        "BTCUSDT:forceOrder": T0 + 100,
        "BTCUSDT:kline_1m": T0 + 70,
    }
    stats = any_store.message_stats("binance")
    assert [(m.stream, m.messages) for m in stats] == [
        ("BTCUSDT:forceOrder", 5),
        ("BTCUSDT:kline_1m", 1),
    ]
    assert len(any_store.message_stats()) == 3


def _v2_file(path: Path, with_signal_tables: bool) -> None:
    """A store as liqscope's v2 schema wrote it, optionally with the tables the signals
    layer created beside it, holding one alert and one snapshot."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("BEGIN")
    conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_ms INTEGER)")
    for version in (1, 2):
        for statement in MIGRATIONS[version - 1]:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES (?, 0)", (version,))
    if with_signal_tables:
        for ddl in _OLD_SIGNAL_DDL:
            conn.execute(ddl)
        conn.execute(
            "INSERT INTO alerts (rule_id, venue, symbol, condition, ts, fired_ms, message, "
            "details) VALUES ('old', 'binance', 'BTCUSDT', 'c', ?, 1, 'kept', '{\"a\": 1}')",
            (T0,),
        )
    conn.execute("COMMIT")
    conn.close()


@pytest.mark.parametrize("with_signal_tables", [False, True])
def test_v2_file_migrates_to_v3(tmp_path: Path, with_signal_tables: bool) -> None:
    path = tmp_path / "v2.sqlite"
    _v2_file(path, with_signal_tables)
    with pytest.raises(Exception, match="schema version 2"):
        SqliteStore(path, readonly=True)  # a reader does not migrate
    with SqliteStore(path) as st:
        assert st.integrity_check() == ["ok"]
        old = st.alerts()
        assert [(a.rule_id, a.message, dict(a.details)) for a in old] == (
            [("old", "kept", {"a": 1})] if with_signal_tables else []
        )
        new_id = st.write_alert(alert(T0 + MIN))
        assert st.save_snapshots([snap(T0)]) == 1
    conn = sqlite3.connect(path)
    versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY 1")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    conn.close()
    assert SCHEMA_VERSION >= 3
    with SqliteStore(path, readonly=True) as ro:
        assert ro.alerts()[0].id == new_id
        assert ro.snapshot_at("binance", "BTCUSDT", "all", T0) is not None
        assert ro.counts()["alerts"] == (2 if with_signal_tables else 1)


def test_many_snapshots_in_one_save(any_store: Store) -> None:
    snaps = [snap(T0 + i * MIN, scale=float(i + 1)) for i in range(40)]
    assert any_store.save_snapshots([*snaps, snap(T0, scale=7.0)]) == 40  # last of a key wins
    back = any_store.snapshots("binance", "BTCUSDT", "all", 0, 2**62)
    assert [s.ts for s in back] == [s.ts for s in snaps]
    assert np.array_equal(back[0].levels, snap(T0, scale=7.0).levels)
    assert all(np.array_equal(b.levels, s.levels) for b, s in zip(back[1:], snaps[1:], strict=True))
