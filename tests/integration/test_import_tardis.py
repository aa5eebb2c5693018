"""tardis.dev CSVs: µs timestamps, liquidation order side, contracts → base units."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from liqscope.domain.errors import InputError
from liqscope.domain.types import Side
from liqscope.ingest.importers import detect_format, import_file
from liqscope.store.base import LiquidationQuery
from liqscope.store.sqlite import SqliteStore

US = 1_722_816_000_000_000  # 2024-08-05 00:00 UTC in µs
HEADER = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount"
TICKER = (
    "exchange,symbol,timestamp,local_timestamp,funding_timestamp,funding_rate,"
    "predicted_funding_rate,open_interest,last_price,index_price,mark_price"
)


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    s = SqliteStore(tmp_path / "s.sqlite")
    yield s  # type: ignore[misc]
    s.close()


def write_gz(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wt") as f:
        f.write("\n".join(lines) + "\n")
    return path


def test_okx_liquidations_in_contracts(store: SqliteStore, tmp_path: Path) -> None:
    path = write_gz(
        tmp_path / "okex-swap_liquidations_2024-08-05_BTC-USDT-SWAP.csv.gz",
        [
            HEADER,
            f"okex-swap,BTC-USDT-SWAP,{US + 1_500},{US + 2_000},,buy,60000,250",
            f"okex-swap,BTC-USDT-SWAP,{US + 9_000},{US + 9_500},,sell,59000,10",
            f"okex-swap,BTC-USD-SWAP,{US + 9_000},{US + 9_500},,sell,50000,30",
        ],
    )
    assert detect_format(path) == "tardis"
    r = import_file(store, path)
    assert r.kind == "liquidations" and r.new.liquidations == 3
    a, b = store.liquidations(LiquidationQuery(["okx"], "BTC-USDT-SWAP"))
    assert a.ts == 1_722_816_000_001 and a.side is Side.SHORT  # buy order = short liquidated
    assert a.qty == pytest.approx(2.5) and a.notional_usd == pytest.approx(150_000)
    assert b.side is Side.LONG and b.qty == pytest.approx(0.1)
    (inv,) = store.liquidations(LiquidationQuery(["okx"], "BTC-USD-SWAP"))
    assert inv.notional_usd == pytest.approx(3000) and inv.qty == pytest.approx(0.06)
    assert import_file(store, path).new.total == 0


def test_unknown_contract_size_is_an_error(store: SqliteStore, tmp_path: Path) -> None:
    path = tmp_path / "okex-swap_liquidations_2024-08-05_XYZ.csv"
    path.write_text(HEADER + "\nokex-swap,XYZ-USDT-SWAP,1,1,,buy,1,1\n")
    with pytest.raises(InputError, match="contract size of okx XYZ-USDT-SWAP is unknown"):
        import_file(store, path)


def test_binance_trades_and_ticker(store: SqliteStore, tmp_path: Path) -> None:
    trades = tmp_path / "binance-futures_trades_2024-08-05_BTCUSDT.csv"
    trades.write_text(
        HEADER + "\n"
        f"binance-futures,BTCUSDT,{US + 1_000},{US + 2_000},101,buy,60000,0.5\n"
        f"binance-futures,BTCUSDT,{US + 5_000},{US + 6_000},102,sell,60010,0.25\n"
    )
    assert import_file(store, trades).new.trades == 2
    ticker = write_gz(
        tmp_path / "binance-futures_derivative_ticker_2024-08-05_BTCUSDT.csv.gz",
        [
            TICKER,
            f"binance-futures,BTCUSDT,{US},{US},{US},0.0001,0.0001,80000.5,60000,59990,59995",
            f"binance-futures,BTCUSDT,{US + 1_000_000},{US},,,,,60001,,",
        ],
    )
    r = import_file(store, ticker)
    assert (r.kind, r.new.open_interest, r.new.marks) == ("derivative_ticker", 1, 1)
    (oi,) = store.open_interest("binance", "BTCUSDT", 0, 2**62)
    assert oi.oi_base == 80000.5 and oi.oi_usd == pytest.approx(80000.5 * 59995)


def test_ambiguous_name_and_bad_side(store: SqliteStore, tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text(HEADER + "\nbinance-futures,BTCUSDT,1,1,1,buy,1,1\n")
    with pytest.raises(InputError, match="share one header"):
        import_file(store, path)
    bad = tmp_path / "bybit_liquidations_2024-08-05_BTCUSDT.csv"
    bad.write_text(
        HEADER + f"\nbybit,BTCUSDT,{US},{US},,buy,1,1\nbybit,BTCUSDT,{US},{US},,up,1,1\n"
    )
    with pytest.raises(InputError, match=r"bybit_liquidations_2024-08-05_BTCUSDT.csv:3: side"):
        import_file(store, bad)
    assert store.counts()["liquidations"] == 0


@pytest.mark.parametrize(
    ("ts_us", "price", "amount", "field"),
    [
        (str(US), "0", "1", "price"),
        (str(US), "-5", "1", "price"),
        (str(US), "60000", "0", "amount"),
        ("-1", "60000", "1", "ts"),
        ("0", "60000", "1", "ts"),
        (str(10**17 * 1000), "60000", "1", "ts"),  # 10^17 ms
        (str((2**63 + 5) * 1000), "60000", "1", "ts"),  # overflowed SQLite before
    ],
)
def test_absurd_values_exit_2_naming_file_line_and_field(
    tmp_path: Path, ts_us: str, price: str, amount: str, field: str
) -> None:
    """``liqscope import`` stored Inf rows and died with an OverflowError traceback before."""
    import subprocess
    import sys

    path = tmp_path / "bybit_liquidations_2024-08-05_BTCUSDT.csv"
    good = f"bybit,BTCUSDT,{US},{US},,buy,60000,1"
    path.write_text("\n".join([HEADER, good, f"bybit,BTCUSDT,{ts_us},{US},,sell,{price},{amount}"]))
    db = tmp_path / "x.sqlite"
    res = subprocess.run(
        [sys.executable, "-c", "from liqscope.cli import main; main()", "import", str(path),
         "--db", str(db)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, res.stderr
    assert f"{path}:3:" in errors[0] and field in errors[0], errors[0]
    s = SqliteStore(db)
    assert s.liquidations(LiquidationQuery(["bybit"])) == []  # nothing of the file stored
    s.close()
