"""The history lake: export from a real SQLite store, import of Binance bulk files, DuckDB
reads that give exactly the steps the store's reader gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest
from test_cli_heatmap import run_cli
from test_import_binance_bulk import KLINES_HEADER, LIQ_HEADER, METRICS_HEADER, T0, write_zip

from liqscope.domain.events import Candle, Liquidation
from liqscope.domain.types import PriceKind, Side
from liqscope.ingest.importers import import_file
from liqscope.lake import Lake, export_store, import_bulk, read_steps
from liqscope.sim.synthetic import fill_store
from liqscope.store import readers
from liqscope.store.sqlite import SqliteStore

MIN = 60_000
DAY = 86_400_000
START = 1_765_065_600_000 + 13 * 3_600_000  # 2025-12-07 13:00 UTC: days start mid-day
MINUTES = 2 * 1440 + 300
MARKETS = (("binance", "BTCUSDT"), ("bybit", "BTCUSDT"), ("binance", "ETHUSDT"))
FIELDS = ("ts", "open", "high", "low", "close", "volume", "taker_buy_volume", "oi_base",
          "liq_long_usd", "liq_short_usd", "quote_volume")  # fmt: skip


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A store with three markets over ~2.2 days, 1-minute and some 5-minute candles."""
    root = tmp_path_factory.mktemp("lake")
    db = root / "store.sqlite"
    with SqliteStore(db) as st:
        fill_store(st, START, MINUTES, markets=MARKETS, liquidations_per_day=400)
        five = [  # coarser candles for part of one market: the coarsest dividing interval wins
            Candle("binance", "BTCUSDT", START + i * 5 * MIN, 5 * MIN, 100.0 + i, 101.0 + i,
                   99.0 + i, 100.5 + i, 3.0, None, True)
            for i in range(200)
        ]  # fmt: skip
        st.write_candles(five)
    lake = root / "lake"
    with SqliteStore(db, readonly=True) as st:
        counts = export_store(st, lake)
    return {"db": db, "lake": lake, "counts": counts}


def files(lake: Path) -> dict[str, bytes]:
    return {str(p.relative_to(lake)): p.read_bytes() for p in sorted(lake.rglob("*.parquet"))}


def lake_count(lake: Path, kind: str) -> int:
    pattern = f"{lake}/kind={kind}/*/*/*/*.parquet"
    q = f"SELECT count(*) FROM read_parquet('{pattern}', hive_partitioning = true)"
    return int(sql(q)[0][0])


def sql(query: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect()
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def test_export_is_hive_partitioned_and_complete(filled: dict[str, Any]) -> None:
    lake = filled["lake"]
    days = {"2025-12-07", "2025-12-08", "2025-12-09"}
    for kind in ("candles", "open_interest", "liquidations"):
        for venue, symbol in MARKETS:
            folder = lake / f"kind={kind}" / f"venue={venue}" / f"symbol={symbol}"
            got = {
                p.parent.name.removeprefix("date=") for p in folder.glob("date=*/part-*.parquet")
            }
            assert got == days, (kind, venue, symbol, got)
    with SqliteStore(filled["db"], readonly=True) as st:
        counts = st.counts()
    assert lake_count(lake, "candles") == counts["candles"]
    assert lake_count(lake, "open_interest") == counts["open_interest"]
    assert lake_count(lake, "liquidations") == counts["liquidations"]
    q = (
        f"SELECT venue, symbol, count(*) FROM read_parquet('{lake}/kind=candles/*/*/*/*.parquet',"
        " hive_partitioning = true) WHERE date = '2025-12-08' GROUP BY ALL ORDER BY ALL"
    )
    assert sql(q) == [
        ("binance", "BTCUSDT", 1440 + 200 - 11 * 12),  # 1m candles plus the 5m ones of that day
        ("binance", "ETHUSDT", 1440),
        ("bybit", "BTCUSDT", 1440),
    ]


def test_reexport_replaces_days_without_duplicates(filled: dict[str, Any], tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    db = tmp_path / "s.sqlite"
    db.write_bytes(filled["db"].read_bytes())
    with SqliteStore(db, readonly=True) as st:
        export_store(st, lake)
    before = files(lake)
    with SqliteStore(db, readonly=True) as st:
        again = export_store(st, lake)
    assert files(lake) == before and again.partitions == filled["counts"].partitions
    day = 1_765_152_000_000  # 2025-12-08
    extra = Liquidation("binance", "BTCUSDT", day + 5 * MIN, Side.LONG, 0.5, 90_000.0,
                        PriceKind.AVERAGE_FILL, 45_000.0, True)  # fmt: skip
    with SqliteStore(db) as st:
        st.write_liquidations([extra])
        one = export_store(st, lake, t0=day + 3_600_000, t1=day + 7_200_000)  # one day, whole
    assert one.partitions == 3 * 3  # 3 kinds x 3 markets, only that day
    after = files(lake)
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {
        "kind=liquidations/venue=binance/symbol=BTCUSDT/date=2025-12-08/part-0.parquet"
    }
    with SqliteStore(db, readonly=True) as st:
        assert lake_count(lake, "liquidations") == st.counts()["liquidations"]


def same_steps(a: Any, b: Any) -> None:
    assert a is not None and b is not None
    assert (a.venue, a.symbol) == (b.venue, b.symbol)
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize(
    ("venue", "symbol", "t0", "t1", "interval"),
    [
        ("binance", "BTCUSDT", START, START + MINUTES * MIN, MIN),
        ("bybit", "BTCUSDT", START + 977 * MIN, START + 2_100 * MIN + 17, MIN),  # OI carried in
        ("binance", "BTCUSDT", START - DAY, START + 2 * DAY, 5 * MIN),  # 5m candles where stored
        ("binance", "ETHUSDT", START + 31 * MIN, START + MINUTES * MIN + DAY, 3_600_000),
    ],
)
def test_lake_steps_equal_store_steps(
    filled: dict[str, Any], venue: str, symbol: str, t0: int, t1: int, interval: int
) -> None:
    with SqliteStore(filled["db"], readonly=True) as st, Lake(filled["lake"]) as lake:
        from_store = readers.read_steps(st, venue, symbol, t0, t1, interval)
        from_lake = read_steps(lake, venue, symbol, t0, t1, interval)
        raw_store = st.steps(venue, symbol, t0, t1, interval)
        raw_lake = lake.steps(venue, symbol, t0, t1, interval)
    same_steps(from_store, from_lake)
    assert raw_store.sampled == raw_lake.sampled
    assert np.isfinite(from_lake.liq_long_usd).all() and from_lake.liq_long_usd.sum() > 0  # type: ignore[union-attr]


def test_lake_without_the_market_gives_none(filled: dict[str, Any]) -> None:
    with Lake(filled["lake"]) as lake:
        assert read_steps(lake, "okx", "BTC-USDT-SWAP", START, START + DAY, MIN) is None
        assert lake.markets() == sorted(MARKETS)


def bulk_files(folder: Path) -> list[Path]:
    klines = [KLINES_HEADER]
    for i in range(120):
        o = 60_000 + i
        klines.append(f"{T0 + i * MIN},{o},{o + 5},{o - 5},{o + 1},12.5,{T0 + i * MIN + 59_999},"
                      f"750000.0,100,7.25,435000.0,0")  # fmt: skip
    metrics = [METRICS_HEADER]
    for i in range(0, 120, 5):
        ts = T0 + i * MIN
        stamp = f"2024-08-05 {ts // 3_600_000 % 24:02d}:{ts // MIN % 60:02d}:00"
        metrics.append(f"{stamp},BTCUSDT,{80_000 + 10 * i},1.0,1,1.0,1,1.0")
    liq = [LIQ_HEADER]
    for i in range(10):  # every row twice, as in the real archive
        row = (f"{T0 + i * 7 * MIN + 1234},BTCUSDT,{'SELL' if i % 2 else 'BUY'},LIMIT,IOC,0.1,"
               f"59990,{60_000 + i},FILLED,0.1,0.1")  # fmt: skip
        liq += [row, row]
    return [
        write_zip(folder, "BTCUSDT-1m-2024-08-05.zip", klines),
        write_zip(folder, "BTCUSDT-metrics-2024-08-05.zip", metrics),
        write_zip(folder, "BTCUSDT-liquidationSnapshot-2024-08-05.zip", liq),
    ]


def test_bulk_import_into_the_lake_matches_the_store(tmp_path: Path) -> None:
    paths = bulk_files(tmp_path)
    lake = tmp_path / "lake"
    first = import_bulk(lake, paths)
    snapshot = files(lake)
    again = import_bulk(lake, paths)  # merged: the same rows, no duplicates
    assert files(lake) == snapshot and again.rows == first.rows == 120 + 24 + 10
    with SqliteStore(tmp_path / "s.sqlite") as st:
        for p in paths:
            import_file(st, p)
        with Lake(lake) as lk:
            for interval in (MIN, 15 * MIN):
                same_steps(
                    readers.read_steps(st, "binance", "BTCUSDT", T0, T0 + 120 * MIN, interval),
                    read_steps(lk, "binance", "BTCUSDT", T0, T0 + 120 * MIN, interval),
                )


def test_bulk_import_of_a_bad_file_writes_nothing(tmp_path: Path) -> None:
    bad = write_zip(tmp_path, "BTCUSDT-1m-2024-08-05.zip", [KLINES_HEADER, "1,2,3"])
    lake = tmp_path / "lake"
    with pytest.raises(Exception, match="BTCUSDT-1m-2024-08-05"):
        import_bulk(lake, [bad])
    assert not list(lake.rglob("*.parquet"))


def test_cli_lake_export_and_errors(
    filled: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lake = tmp_path / "lake"
    code, out, err = run_cli(
        monkeypatch, capsys, "lake", "export", "--db", str(filled["db"]), "--lake", str(lake),
        "--from", "2025-12-08", "--to", "2025-12-09",
    )  # fmt: skip
    assert code == 0, err
    assert "9 partitions written" in out, out
    dates = {p.parent.name for p in lake.rglob("*.parquet")}
    assert dates == {"date=2025-12-08"}
    for args, fragment in [
        (["--db", str(tmp_path / "none.sqlite")], "no store at"),
        (["--db", str(filled["db"]), "--from", "2025-12-09", "--to", "2025-12-08"], "--to"),
        (["--db", str(filled["db"]), "--from", "yesterday"], "--from"),
    ]:
        code, _, err = run_cli(monkeypatch, capsys, "lake", "export", "--lake", str(lake), *args)
        assert code == 2 and err.count("\n") == 1 and fragment in err, (args, err)
    code, _, err = run_cli(
        monkeypatch, capsys, "lake", "import", str(tmp_path / "missing.zip"), "--lake", str(lake)
    )
    assert code == 2 and "no such file" in err and err.count("\n") == 1, err


def test_a_damaged_partition_is_a_clear_error(filled: dict[str, Any], tmp_path: Path) -> None:
    import shutil

    from liqscope.domain.errors import InputError

    lake = tmp_path / "lake"
    shutil.copytree(filled["lake"], lake)
    part = lake / "kind=candles/venue=bybit/symbol=BTCUSDT/date=2025-12-08/part-0.parquet"
    part.write_bytes(b"not parquet")
    with Lake(lake) as lk, pytest.raises(InputError, match="candles of bybit BTCUSDT"):
        read_steps(lk, "bybit", "BTCUSDT", START, START + MINUTES * MIN, MIN)
