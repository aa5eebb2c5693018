"""Binance bulk files (data.binance.vision formats) written in tmp_path, imported for real."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from liqscope.domain.errors import InputError
from liqscope.domain.types import Side
from liqscope.ingest.importers import detect_format, import_file
from liqscope.store.base import LiquidationQuery
from liqscope.store.sqlite import SqliteStore

T0 = 1_722_816_000_000  # 2024-08-05 00:00 UTC
KLINES_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore"
)
METRICS_HEADER = (
    "create_time,symbol,sum_open_interest,sum_open_interest_value,"
    "count_toptrader_long_short_ratio,sum_toptrader_long_short_ratio,"
    "count_long_short_ratio,sum_taker_long_short_vol_ratio"
)
AGG_HEADER = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"
LIQ_HEADER = (
    "time,symbol,side,order_type,time_in_force,original_quantity,price,average_price,"
    "order_status,last_fill_quantity,accumulated_fill_quantity"
)


def kline_rows(n: int) -> list[str]:
    rows = []
    for i in range(n):
        o = 60000 + i
        rows.append(
            f"{T0 + i * 60000},{o},{o + 5},{o - 5},{o + 1},12.5,{T0 + i * 60000 + 59999},"
            f"750000.0,100,7.25,435000.0,0"
        )
    return rows


def write_zip(folder: Path, name: str, lines: list[str], checksum: bool = True) -> Path:
    path = folder / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name.replace(".zip", ".csv"), "\n".join(lines) + "\n")
    if checksum:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        (folder / (name + ".CHECKSUM")).write_text(f"{digest}  {name}\n")
    return path


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    s = SqliteStore(tmp_path / "s.sqlite")
    yield s  # type: ignore[misc]
    s.close()


def test_klines_zip_with_header_and_checksum(store: SqliteStore, tmp_path: Path) -> None:
    path = write_zip(tmp_path, "BTCUSDT-1m-2024-08-05.zip", [KLINES_HEADER, *kline_rows(30)])
    assert detect_format(path) == "binance-bulk"
    r = import_file(store, path)
    assert (r.kind, r.parsed, r.new.candles, r.duplicates) == ("klines", 30, 30, 0)
    c = store.candles("binance", "BTCUSDT", 60000, T0, T0 + 60000)[0]
    assert (c.open, c.high, c.volume, c.taker_buy_volume, c.closed) == (
        60000,
        60005,
        12.5,
        7.25,
        True,
    )
    again = import_file(store, path)
    assert again.new.total == 0 and again.skipped
    forced = import_file(store, path, force=True)
    assert forced.new.total == 0 and forced.duplicates == 30


def test_klines_csv_without_header(store: SqliteStore, tmp_path: Path) -> None:
    path = tmp_path / "ETHUSDT-5m-2024-08.csv"
    path.write_text("\n".join(kline_rows(4)) + "\n")
    r = import_file(store, path)
    assert r.new.candles == 4
    assert len(store.candles("binance", "ETHUSDT", 300000, 0, 2**62)) == 4


def test_metrics_open_interest(store: SqliteStore, tmp_path: Path) -> None:
    lines = [
        METRICS_HEADER,
        "2024-08-05 00:05:00,BTCUSDT,81234.5,4.9e9,1.2,1.3,1.4,0.9",
        "2024-08-05 00:10:00,BTCUSDT,81300.0,4.91e9,,,,",
    ]
    r = import_file(store, write_zip(tmp_path, "BTCUSDT-metrics-2024-08-05.zip", lines))
    assert r.new.open_interest == 2
    ois = store.open_interest("binance", "BTCUSDT", 0, 2**62)
    assert [(o.ts, o.oi_base) for o in ois] == [(T0 + 300_000, 81234.5), (T0 + 600_000, 81300.0)]


def test_unsorted_agg_trades_and_taker_side(store: SqliteStore, tmp_path: Path) -> None:
    lines = [
        AGG_HEADER,
        f"3,60002.0,0.5,5,5,{T0 + 3000},false",
        f"1,60000.0,0.1,1,2,{T0 + 1000},true",
        f"2,60001.0,0.2,3,4,{T0 + 2000},True",
    ]
    r = import_file(store, write_zip(tmp_path, "BTCUSDT-aggTrades-2024-08.zip", lines))
    assert r.new.trades == 3
    st = store.steps("binance", "BTCUSDT", T0, T0 + 60000, 60000)
    assert st.open[0] == 60000.0 and st.close[0] == 60002.0
    assert st.volume[0] == pytest.approx(0.8) and st.taker_buy_volume[0] == 0.5


def test_liquidation_snapshot_dedupes_doubled_rows(store: SqliteStore, tmp_path: Path) -> None:
    rows = [
        f"{T0 + 1000},BTCUSDT,SELL,LIMIT,IOC,0.5,59000,59100.5,FILLED,0.5,0.5",
        f"{T0 + 2000},BTCUSDT,BUY,LIMIT,IOC,0.2,61000,60900,FILLED,0.2,0.2",
    ]
    lines = [LIQ_HEADER] + [r for r in rows for _ in range(2)]  # every row twice
    r = import_file(store, write_zip(tmp_path, "BTCUSDT-liquidationSnapshot-2024-03-01.zip", lines))
    assert (r.parsed, r.new.liquidations, r.duplicates) == (4, 2, 2)
    a, b = store.liquidations(LiquidationQuery(["binance"], "BTCUSDT"))
    assert a.side is Side.LONG and a.price == 59100.5 and a.notional_usd == pytest.approx(29550.25)
    assert b.side is Side.SHORT and b.sampled


def test_checksum_mismatch_stores_nothing(store: SqliteStore, tmp_path: Path) -> None:
    path = write_zip(tmp_path, "BTCUSDT-1m-2024-08-05.zip", kline_rows(3), checksum=False)
    (tmp_path / (path.name + ".CHECKSUM")).write_text("0" * 64 + "  " + path.name + "\n")
    with pytest.raises(InputError, match="checksum mismatch"):
        import_file(store, path)
    assert store.counts()["candles"] == 0


def test_malformed_row_names_line_and_store_is_unchanged(
    store: SqliteStore, tmp_path: Path
) -> None:
    import_file(store, write_zip(tmp_path, "BTCUSDT-1m-2024-08-04.zip", kline_rows(2)))
    before = store.counts()
    rows = [KLINES_HEADER, *kline_rows(60000)]
    rows[59990] = rows[59990].replace("12.5", "twelve")
    bad = write_zip(tmp_path, "BTCUSDT-1m-2024-08-05.zip", rows)
    with pytest.raises(InputError, match=r"BTCUSDT-1m-2024-08-05.csv:59991: volume"):
        import_file(store, bad)
    assert store.counts() == before  # the first 50k-row batch was rolled back too


def test_unknown_type_and_coinm_are_refused(store: SqliteStore, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unsupported"):
        import_file(store, write_zip(tmp_path, "BTCUSDT-bookDepth-2024-08-05.zip", ["1,2"]))
    with pytest.raises(InputError, match="COIN-M"):
        import_file(store, write_zip(tmp_path, "BTCUSD_PERP-1m-2024-08-05.zip", kline_rows(1)))


def test_interrupted_import_leaves_nothing_and_rerun_completes(
    store: SqliteStore, tmp_path: Path
) -> None:
    path = write_zip(tmp_path, "BTCUSDT-1m-2024-08-05.zip", kline_rows(120_000))
    seen = 0

    def interrupt(nbytes: int) -> None:
        nonlocal seen
        seen += nbytes
        if seen > 8_000_000:  # after the first batches were written
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_file(store, path, progress=interrupt)
    assert store.counts()["candles"] == 0 and store.counts()["import_files"] == 0
    assert import_file(store, path).new.candles == 120_000
    assert store.integrity_check() == ["ok"]
