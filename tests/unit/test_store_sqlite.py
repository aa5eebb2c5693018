"""The store suite, on every backend (``any_store``: SQLite and a live PostgreSQL server):
idempotent writes, readers, migrations, maintenance, steps; and SQLite's own (WAL, files)."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from liqscope.domain.errors import InputError
from liqscope.domain.events import Candle, Liquidation, MarkPrice, OpenInterest, Trade
from liqscope.domain.instruments import Instrument
from liqscope.domain.types import ContractType, PriceKind, Side
from liqscope.store.base import Gap, LiquidationQuery, RawFrame, Store
from liqscope.store.schema import SCHEMA_VERSION
from liqscope.store.sqlite import SqliteStore

T0 = 1_722_816_000_000  # 2024-08-05 00:00 UTC
MIN = 60_000
DAY = 86_400_000


def liq(ts: int, side: Side = Side.LONG, qty: float = 1.0, price: float = 50_000.0) -> Liquidation:
    return Liquidation(
        "binance", "BTCUSDT", ts, side, qty, price, PriceKind.AVERAGE_FILL, qty * price, True
    )


def candle(ts: int, close: float, closed: bool = True, interval: int = MIN) -> Candle:
    return Candle(
        "binance", "BTCUSDT", ts, interval, close, close + 10, close - 10, close, 2.0, 1.5, closed
    )


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


def test_implements_protocol(store: Store) -> None:
    assert isinstance(store, Store)


def test_wal_mode_and_version(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "s.sqlite").close()
    conn = sqlite3.connect(tmp_path / "s.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_same_batch_twice_is_stored_once(store: Store) -> None:
    batch = [liq(T0 + i * 1000, Side.LONG if i % 2 else Side.SHORT) for i in range(100)]
    assert store.write_liquidations(batch) == 100
    assert store.write_liquidations(batch) == 0
    assert store.write_liquidations(batch + batch[:3]) == 0
    trades = [Trade("binance", "BTCUSDT", T0 + i, 1.0, 1.0, Side.LONG, str(i)) for i in range(10)]
    assert store.write_trades(trades) == 10
    assert store.write_trades(trades) == 0
    ois = [OpenInterest("binance", "BTCUSDT", T0 + i * 300_000, 100.0 + i, None) for i in range(5)]
    assert store.write_open_interest(ois) == 5
    assert store.write_open_interest(ois) == 0
    marks = [MarkPrice("binance", "BTCUSDT", T0 + i, 1.0, None, 0.0001) for i in range(4)]
    assert store.write_marks(marks) == 4
    assert store.write_marks(marks) == 0
    counts = store.counts()
    assert (counts["liquidations"], counts["trades"], counts["open_interest"], counts["marks"]) == (
        100,
        10,
        5,
        4,
    )


def test_closed_candle_replaces_open_one_but_not_the_reverse(store: Store) -> None:
    assert store.write_candles([candle(T0, 100.0, closed=False)]) == 1
    assert store.write_candles([candle(T0, 101.0, closed=False)]) == 1  # newer open update
    assert store.write_candles([candle(T0, 102.0, closed=True)]) == 1
    assert store.write_candles([candle(T0, 999.0, closed=False)]) == 0  # late open: ignored
    assert store.write_candles([candle(T0, 102.0, closed=True)]) == 0
    (c,) = store.candles("binance", "BTCUSDT", MIN, T0, T0 + MIN)
    assert c.close == 102.0 and c.closed


def test_write_events_mixed_and_transaction_rollback(store: Store) -> None:
    counts = store.write_events([liq(T0), candle(T0, 100.0), liq(T0)])
    assert (counts.liquidations, counts.candles, counts.total) == (1, 1, 2)
    with pytest.raises(RuntimeError), store.transaction():
        store.write_liquidations([liq(T0 + 5)])
        raise RuntimeError("boom")
    assert store.counts()["liquidations"] == 1


def test_reopen_is_idempotent_and_migrates_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite"
    path.touch()  # an empty file is a version-0 store
    s = SqliteStore(path)
    s.write_liquidations([liq(T0)])
    s.close()
    for _ in range(2):
        s = SqliteStore(path)
        assert s.counts()["liquidations"] == 1
        s.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "n.sqlite"
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (?, 0)", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(InputError, match="newer"):
        SqliteStore(path)


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(InputError, match="not a usable liqscope store"):
        SqliteStore(path)


def test_integrity_check_ok(store: Store) -> None:
    store.write_liquidations([liq(T0 + i) for i in range(50)])
    assert store.integrity_check() == ["ok"]


def _reader(path: str, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    s = SqliteStore(path, readonly=True)
    seen = []
    for _ in range(40):
        seen.append(len(s.liquidations(LiquidationQuery(["binance"], "BTCUSDT"))))
    s.close()
    queue.put(seen)


def test_reader_in_another_process_while_writing(tmp_path: Path) -> None:
    path = tmp_path / "w.sqlite"
    writer = SqliteStore(path)
    writer.write_liquidations([liq(T0)])
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    proc = ctx.Process(target=_reader, args=(str(path), queue))
    proc.start()
    for k in range(1, 200):
        writer.write_liquidations([liq(T0 + k * 1000 + j) for j in range(50)])
    seen = queue.get(timeout=60)
    proc.join(timeout=60)
    writer.close()
    assert proc.exitcode == 0
    assert seen == sorted(seen)  # readers only ever see whole committed batches, growing
    assert all((n - 1) % 50 == 0 for n in seen)


def test_retention_per_table(store: Store) -> None:
    now = T0 + 10 * DAY
    store.write_liquidations([liq(T0), liq(T0 + 9 * DAY)])
    store.write_trades([Trade("binance", "BTCUSDT", T0, 1.0, 1.0, Side.LONG, "1")])
    store.append_frames([RawFrame("binance", T0, "c1", 1, b"{}")])
    deleted = store.delete_older_than({"liquidations": 5, "frames": 30}, now)
    assert deleted == {"liquidations": 1, "frames": 0}
    assert store.counts()["liquidations"] == 1
    assert store.delete_older_than(5, now)["trades"] == 1
    with pytest.raises(InputError):
        store.delete_older_than({"nope": 1}, now)


def test_parquet_export_partitions(store: Store, tmp_path: Path) -> None:
    store.write_liquidations([liq(T0 + 1000), liq(T0 + 2000), liq(T0 + DAY + 5)])
    store.write_candles([candle(T0, 100.0)])
    files = store.export_parquet(tmp_path / "out")
    rel = sorted(str(p.relative_to(tmp_path / "out")) for p in files)
    assert rel == [
        "candles/venue=binance/symbol=BTCUSDT/date=2024-08-05/part-0.parquet",
        "liquidations/venue=binance/symbol=BTCUSDT/date=2024-08-05/part-0.parquet",
        "liquidations/venue=binance/symbol=BTCUSDT/date=2024-08-06/part-0.parquet",
    ]
    day1 = pq.read_table(files[0] if "liquidations" in str(files[0]) else files[1])
    assert day1.num_rows == 2 and "notional_usd" in day1.column_names


def test_gaps_frames_stats_instruments(store: Store) -> None:
    store.record_gap(Gap("binance", "BTCUSDT", "liquidations", T0, T0 + 5000, "disconnect"))
    store.record_gap(Gap("binance", "BTCUSDT", "liquidations", T0, T0 + 9000, "disconnect"))
    (g,) = store.gaps("binance")
    assert g.end_ms == T0 + 9000 and not g.backfilled
    store.mark_gap_backfilled("binance", "BTCUSDT", "liquidations", T0)
    assert store.gaps()[0].backfilled
    assert store.append_frames([RawFrame("binance", T0, "c", i, b"x%d" % i) for i in range(3)]) == 3
    assert store.append_frames([RawFrame("binance", T0, "c", 0, b"x0")]) == 0
    page = store.frames("binance", after_id=0, limit=2)
    assert [f.seq for _, f in page] == [0, 1]
    assert [f.seq for _, f in store.frames("binance", after_id=page[-1][0])] == [2]
    store.touch_stream("binance", "forceOrder", T0 + 100)
    store.touch_stream("binance", "forceOrder", T0 + 50, messages=4)
    store.write_liquidations([liq(T0)])
    cov = {c.stream: c for c in store.coverage(T0 + 1100)}
    assert cov["liquidations"].last_message_age_ms == 1000
    assert cov["liquidations"].sampled is True
    inst = Instrument("okx", "BTC-USDT-SWAP", "BTC", "USDT", ContractType.LINEAR, 0.01)
    store.write_instruments([inst])
    assert store.instrument("okx", "BTC-USDT-SWAP") == inst


def test_steps_layout(store: Store) -> None:
    # 1-minute candles for 10 minutes; the first 5 lack taker volume; minute 7 is missing.
    cs = []
    for i in range(10):
        if i == 7:
            continue
        c = candle(T0 + i * MIN, 100.0 + i)
        if i < 5:
            c = Candle(c.venue, c.symbol, c.ts, c.interval_ms, c.open, c.high, c.low, c.close,
                       c.volume, None, True)  # fmt: skip
        cs.append(c)
    store.write_candles(cs)
    # Trades in minute 7 fill the hole; OI every 5 minutes (and one before the range).
    store.write_trades(
        [
            Trade("binance", "BTCUSDT", T0 + 7 * MIN + 1, 107.0, 3.0, Side.LONG, "a"),
            Trade("binance", "BTCUSDT", T0 + 7 * MIN + 2, 108.0, 1.0, Side.SHORT, "b"),
        ]
    )
    store.write_open_interest(
        [
            OpenInterest("binance", "BTCUSDT", T0 - 5 * MIN, 1000.0, None),
            OpenInterest("binance", "BTCUSDT", T0 + 5 * MIN, 1100.0, None),
        ]
    )
    store.write_liquidations(
        [
            liq(T0 + 2 * MIN + 1, Side.LONG, 1.0, 100.0),
            liq(T0 + 2 * MIN + 2, Side.SHORT, 2.0, 100.0),
        ]
    )
    st = store.steps("binance", "BTCUSDT", T0, T0 + 10 * MIN, MIN)
    assert len(st) == 10 and st.ts[0] == T0 and st.ts[-1] == T0 + 9 * MIN
    assert np.isnan(st.taker_buy_volume[0]) and st.taker_buy_volume[5] == 1.5
    assert st.open[7] == 107.0 and st.close[7] == 108.0 and st.high[7] == 108.0
    assert st.volume[7] == 4.0 and st.taker_buy_volume[7] == 3.0
    # OI as of each step's close: the row at T0+5m closes step 4.
    assert list(st.oi_base[:4]) == [1000.0] * 4 and list(st.oi_base[4:]) == [1100.0] * 6
    assert st.liq_long_usd[2] == 100.0 and st.liq_short_usd[2] == 200.0
    assert st.liq_long_usd.sum() == 100.0 and st.sampled
    # 5-minute steps aggregate the 1-minute candles.
    st5 = store.steps("binance", "BTCUSDT", T0, T0 + 10 * MIN, 5 * MIN)
    assert len(st5) == 2
    assert st5.open[0] == 100.0 and st5.close[0] == 104.0 and st5.volume[0] == 10.0
    assert st5.high[1] == 119.0  # candle at minute 9: close 109 + 10
    assert list(st5.oi_base) == [1100.0, 1100.0]
    # Nothing stored: NaN prices, zero volume, NaN OI.
    empty = store.steps("binance", "ETHUSDT", T0, T0 + 3 * MIN, MIN)
    assert np.isnan(empty.close).all() and (empty.volume == 0).all()
    assert np.isnan(empty.oi_base).all()


# -- insertion sequence (schema v2) ------------------------------------------------------------


def _v1_file(path: Path, rows: list[Liquidation]) -> None:
    """A store as liqscope's v1 schema wrote it (no insertion sequence)."""
    from liqscope.store.schema import MIGRATIONS

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("BEGIN")
    conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_ms INTEGER)")
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("INSERT INTO schema_version VALUES (1, 0)")
    conn.executemany(
        "INSERT INTO liquidations VALUES (?,?,?,?,?,?,?,?,?)",
        [
            (r.venue, r.symbol, r.ts, int(r.side), r.qty, r.price, r.price_kind.value,
             r.notional_usd, int(r.sampled))
            for r in rows
        ],
    )  # fmt: skip
    conn.execute(
        "INSERT INTO candles VALUES ('binance','BTCUSDT',60000,?,1,2,0.5,1.5,3,NULL,1)", (T0,)
    )
    conn.execute("COMMIT")
    conn.close()


def test_v1_file_migrates_with_rows_intact(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite"
    # written out of time order: existing rows are numbered by event time
    old = [liq(T0 + 5000), liq(T0), liq(T0 + 1000, Side.SHORT, 2.0), liq(T0 + 1000)]
    _v1_file(path, old)
    with SqliteStore(path) as s:
        assert s.integrity_check() == ["ok"]
        assert s.liquidations(LiquidationQuery()) == sorted(old, key=lambda r: (r.ts, r.side))
        got = s.liquidations_after(0, 100)
        assert [q for q, _ in got] == [1, 2, 3, 4]
        assert [r.ts for _, r in got] == [T0, T0 + 1000, T0 + 1000, T0 + 5000]
        assert {r for _, r in got} == set(old)
        assert s.last_liquidation_seq() == 4
        assert len(s.candles("binance", "BTCUSDT", MIN, T0, T0 + MIN)) == 1
        # idempotent writes keep working across the migration; new rows continue the sequence
        assert s.write_liquidations(old) == 0
        assert s.write_liquidations([liq(T0 - DAY), *old]) == 1
        assert s.liquidations_after(4, 10) == [(5, liq(T0 - DAY))]
    conn = sqlite3.connect(path)
    versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY 1")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    assert conn.execute("SELECT COUNT(*) FROM liquidations WHERE seq IS NULL").fetchone()[0] == 0
    conn.close()
    with SqliteStore(path) as s:  # re-opening a migrated file changes nothing
        assert s.last_liquidation_seq() == 5 and s.counts()["liquidations"] == 5


def test_insertion_sequence(store: Store) -> None:
    assert store.last_liquidation_seq() == 0 and store.liquidations_after(0, 10) == []
    batch = [liq(T0 + i * 1000) for i in range(5)]
    assert store.write_liquidations(batch) == 5
    assert [q for q, _ in store.liquidations_after(0, 10)] == [1, 2, 3, 4, 5]
    # duplicates interleaved with new rows: the new ones get the next seqs, densely
    late = [liq(T0 - 10 * MIN - i) for i in range(3)]
    mixed = [batch[0], late[0], batch[1], late[1], late[1], batch[4], late[2]]
    assert store.write_liquidations(mixed) == 3
    assert store.liquidations_after(5, 10) == [(6, late[0]), (7, late[1]), (8, late[2])]
    assert store.last_liquidation_seq() == 8
    assert store.write_liquidations(batch) == 0 and store.last_liquidation_seq() == 8
    # paging
    assert [q for q, _ in store.liquidations_after(2, 3)] == [3, 4, 5]
    # inside a transaction after other writes (the seq must not count the other rows)
    with store.transaction():
        store.write_trades([Trade("binance", "BTCUSDT", T0 + i, 1.0, 1.0, Side.LONG, str(i))
                            for i in range(7)])  # fmt: skip
        counts = store.write_events([candle(T0, 100.0), liq(T0 + 77), liq(T0 + 77)])
        assert counts.liquidations == 1
    assert store.liquidations_after(8, 10) == [(9, liq(T0 + 77))]
    # a rolled-back write gives nothing away
    with pytest.raises(RuntimeError), store.transaction():
        store.write_liquidations([liq(T0 + 99)])
        raise RuntimeError("boom")
    assert store.last_liquidation_seq() == 9
    # retention deleting the newest seq never makes it reused
    store.delete_older_than({"liquidations": 0}, T0 + DAY)
    assert store.counts()["liquidations"] == 0 and store.last_liquidation_seq() == 9
    assert store.write_liquidations([liq(T0 + 2 * DAY)]) == 1
    assert store.liquidations_after(0, 10) == [(10, liq(T0 + 2 * DAY))]


def test_readonly_reader_follows_the_sequence(store: Store, reopen: Any) -> None:
    reader = reopen(readonly=True)
    try:
        assert reader.last_liquidation_seq() == 0
        store.write_liquidations([liq(T0)])
        store.write_liquidations([liq(T0 - DAY)])  # stored a day late: still "after" seq 1
        assert reader.liquidations_after(1, 10) == [(2, liq(T0 - DAY))]
        assert reader.last_liquidation_seq() == 2
    finally:
        reader.close()


def test_catalogue_queries(store: Store) -> None:
    assert store.markets() == [] and store.max_ts("liquidations", "binance", "BTCUSDT") is None
    store.write_candles([candle(T0, 100.0), candle(T0 + 5 * MIN, 100.0, interval=5 * MIN)])
    store.write_candles([candle(T0 + 2 * MIN, 100.0)])
    store.write_liquidations([liq(T0 + 7), liq(T0 + 3)])
    store.write_open_interest([OpenInterest("okx", "BTC-USDT-SWAP", T0, 1.0, None)])
    store.write_trades([Trade("bybit", "BTCUSDT", T0, 1.0, 1.0, Side.LONG, "1")])
    assert store.markets() == [("binance", "BTCUSDT"), ("okx", "BTC-USDT-SWAP")]
    assert store.markets(("trades",)) == [("bybit", "BTCUSDT")]
    assert store.candle_intervals("binance", "BTCUSDT") == [MIN, 5 * MIN]
    assert store.candle_range("binance", "BTCUSDT", MIN) == (T0, T0 + 2 * MIN)
    assert store.candle_range("binance", "BTCUSDT", 15 * MIN) is None
    assert store.max_ts("candles", "binance", "BTCUSDT") == T0 + 5 * MIN
    assert store.max_ts("liquidations", "binance", "BTCUSDT") == T0 + 7
    assert store.max_ts("open_interest", "okx", "BTC-USDT-SWAP") == T0
    with pytest.raises(InputError):
        store.max_ts("frames; DROP TABLE x", "a", "b")
    with pytest.raises(InputError):
        store.markets(("gaps",))
    rows = store.liquidation_rows(
        LiquidationQuery(["binance"], "BTCUSDT", 0, 2**63, limit=1, newest_first=True)
    )
    assert rows == [(1, liq(T0 + 7))]
    assert [q for q, _ in store.liquidation_rows(LiquidationQuery())] == [2, 1]


def test_large_batches_of_every_table_round_trip(store: Store) -> None:
    """Batches beyond a few rows (the server store COPYs those) keep the same semantics."""
    n = 60
    opens = [candle(T0 + i * MIN, 100.0 + i, closed=False) for i in range(n)]
    assert store.write_candles(opens) == n
    # one batch: every open candle closed, and a late open update of each (ignored after)
    closed = [candle(T0 + i * MIN, 200.0 + i) for i in range(n)]
    late = [candle(T0 + i * MIN, 999.0, closed=False) for i in range(n)]
    assert store.write_candles(closed + late) == n
    got = store.candles("binance", "BTCUSDT", MIN, T0, T0 + n * MIN)
    assert [c.close for c in got] == [200.0 + i for i in range(n)] and all(c.closed for c in got)
    frames = [RawFrame("binance", T0 + i, "c", i, bytes([i, 0, 255]) * 3) for i in range(n)]
    assert store.append_frames(frames + frames[:5]) == n
    assert [f for _, f in store.frames("binance", limit=1000)] == frames
    oi = [OpenInterest("binance", "BTCUSDT", T0 + i, 1000.0 + i, None) for i in range(n)]
    marks = [MarkPrice("binance", "BTCUSDT", T0 + i, 100.0, None, 0.0001) for i in range(n)]
    trades = [
        Trade("binance", "BTCUSDT", T0 + i, 100.0, 1.0, Side.SHORT, f"t{i}") for i in range(n)
    ]
    for _ in range(2):
        counts = store.write_events([*oi, *marks, *trades, *(liq(T0 + i) for i in range(n))])
    assert counts.total == 0  # the second time, nothing new
    c = store.counts()
    assert (c["open_interest"], c["marks"], c["trades"], c["liquidations"]) == (n, n, n, n)
    assert store.open_interest("binance", "BTCUSDT", T0, T0 + n) == oi
    insts = [
        Instrument("okx", f"S{i}-USDT-SWAP", f"S{i}", "USDT", ContractType.LINEAR, 0.01 * (i + 1))
        for i in range(n)
    ]
    assert store.write_instruments(insts) == n
    bigger = Instrument("okx", "S7-USDT-SWAP", "S7", "USDT", ContractType.LINEAR, 5.0)
    store.write_instruments([*insts, bigger])  # the later definition of a symbol wins
    assert store.instrument("okx", "S7-USDT-SWAP") == bigger
    assert store.instrument("okx", "S8-USDT-SWAP") == insts[8]
