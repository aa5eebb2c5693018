from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from liqscope.domain.errors import InputError
from liqscope.export.steps_file import read_steps
from liqscope.model.steps import steps_from_columns

HEADER = "ts,open,high,low,close,volume,taker_buy_volume,open_interest"
ROWS = [
    "1700000000000,100,101,99,100.5,10,6,1000",
    "1700000060000,100.5,102,100,101,12,5,1010",
    "1700000120000,101,101.5,99.5,100,9,,990",
]


def write(tmp_path: Path, lines: list[str], name: str = "steps.csv") -> Path:
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    return p


def test_reads_csv_with_epoch_ms(tmp_path: Path) -> None:
    s = read_steps(write(tmp_path, [HEADER, *ROWS]), venue="binance", symbol="BTCUSDT")
    assert len(s) == 3
    assert s.ts.dtype == np.int64 and s.ts[1] == 1_700_000_060_000
    assert np.isnan(s.taker_buy_volume[2])
    assert np.isnan(s.liq_long_usd).all()
    assert (s.venue, s.symbol) == ("binance", "BTCUSDT")


def test_iso_timestamps_oi_usd_and_venue_columns(tmp_path: Path) -> None:
    lines = [
        "ts,open,high,low,close,volume,open_interest_usd,venue,symbol",
        "2023-11-14T22:13:20Z,100,101,99,100,10,100000,bybit,BTCUSDT",
        "2023-11-14T22:14:20,100,101,99,100,10,200000,bybit,BTCUSDT",
    ]
    s = read_steps(write(tmp_path, lines))
    assert s.ts.tolist() == [1_700_000_000_000, 1_700_000_060_000]
    assert s.oi_base.tolist() == [1000.0, 2000.0]
    assert (s.venue, s.symbol) == ("bybit", "BTCUSDT")


def test_reads_parquet(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    ts = np.array([1_700_000_000_000, 1_700_000_060_000], dtype="datetime64[ms]")
    tab = pa.table(
        {
            "ts": pa.array(ts),
            "open": [1.0, 2.0],
            "high": [2.0, 2.0],
            "low": [1.0, 1.0],
            "close": [2.0, 1.5],
            "volume": [1.0, 1.0],
            "open_interest": [5.0, 6.0],
        }
    )
    p = tmp_path / "s.parquet"
    pq.write_table(tab, p)
    s = read_steps(p)
    assert s.ts.tolist() == [1_700_000_000_000, 1_700_000_060_000]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            [HEADER.replace(",open_interest", ""), *(r.rsplit(",", 1)[0] for r in ROWS)],
            "missing column",
        ),
        ([HEADER.replace("volume,taker", "vol,taker"), *ROWS], "missing column.*volume"),
        ([HEADER, ROWS[1], ROWS[0], ROWS[2]], "not sorted"),
        ([HEADER, ROWS[0], ROWS[0], ROWS[2]], "duplicate timestamp"),
        ([HEADER, ROWS[0], ROWS[1].replace(",1010", ",-5")], "negative open interest"),
        ([HEADER, ROWS[0], ROWS[1].replace(",101,12", ",nan,12")], "close.*non-finite"),
        ([HEADER, ROWS[0], ROWS[1].replace(",101,12", ",inf,12")], "close.*non-finite"),
        ([HEADER, ROWS[0], ROWS[1].replace(",101,12", ",abc,12")], "close.*unparsable"),
        ([HEADER, ROWS[0], ROWS[1].replace(",101,12", ",,12")], "close.*missing"),
        ([HEADER, ROWS[0].replace("1700000000000", "yesterday")], "ts.*unparsable"),
        ([HEADER, "1700000000000,100,99,101,100,10,6,1000"], "high < low"),
        ([HEADER, "1700000000000,100,101,99,105,10,6,1000"], "close outside"),
        ([HEADER], "empty"),
        ([HEADER, "1,2,3"], "fields"),
    ],
)
def test_bad_files_name_the_problem(tmp_path: Path, lines: list[str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_steps(write(tmp_path, lines))


def test_empty_file_missing_file_and_bad_suffix(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="empty"):
        read_steps(write(tmp_path, []))
    (tmp_path / "blank.csv").write_text("")
    with pytest.raises(InputError, match="empty"):
        read_steps(tmp_path / "blank.csv")
    with pytest.raises(InputError, match="not found"):
        read_steps(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="unsupported"):
        read_steps(write(tmp_path, [HEADER], name="x.xlsx"))
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(InputError, match="Parquet"):
        read_steps(tmp_path / "bad.parquet")


def test_steps_from_columns_rejects_mixed_symbols() -> None:
    cols = {
        "ts": [1, 2],
        "open": [1, 1],
        "high": [1, 1],
        "low": [1, 1],
        "close": [1, 1],
        "volume": [1, 1],
        "open_interest": [1, 1],
        "symbol": ["A", "B"],
    }
    with pytest.raises(InputError, match="symbol"):
        steps_from_columns(cols)
    s = steps_from_columns({k: v for k, v in cols.items() if k != "symbol"})
    assert s.slice(1, 2).ts.tolist() == [2]
