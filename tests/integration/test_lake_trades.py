"""Trades in the history lake: ``Store.trades`` on SQLite and on a live PostgreSQL server,
exported day by day and read back equal; Binance aggTrades imported into the lake equal the
same file imported into a store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_import_binance_bulk import AGG_HEADER, T0, write_zip

from liqscope.domain.events import Trade
from liqscope.domain.types import Side
from liqscope.ingest.importers import import_file
from liqscope.lake import Lake, export_store, import_bulk
from liqscope.store import open_store
from pg_server import reset_pg, server_or_skip

DAY = 86_400_000
START = 1_765_065_600_000 + 20 * 3_600_000  # 2025-12-07 20:00 UTC: trades over three days


@pytest.fixture(scope="module")
def pg() -> Iterator[str]:
    with server_or_skip() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "s.sqlite")
    url: str = request.getfixturevalue("pg")
    reset_pg(url)
    return url


def trades() -> list[Trade]:
    out = []
    for venue, symbol in (("binance", "BTCUSDT"), ("bybit", "ETHUSDT")):
        for i in range(3000):  # one every 47 s: 39 h
            ts = START + i * 47_000
            side = Side.LONG if i % 3 else Side.SHORT
            out.append(Trade(venue, symbol, ts, 60_000.0 + i * 0.5, 0.001 * (i % 7 + 1), side,
                             f"{venue[:2]}-{i}"))  # fmt: skip
        # two trades at one time, ids that sort differently as numbers and as text
        out += [Trade(venue, symbol, START + 5, 1.0, 2.0, Side.LONG, i) for i in ("10", "9")]
    return out


def test_trades_round_trip_through_the_lake(store_url: str, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with open_store(store_url) as st:
        assert st.write_trades(trades()) == len(trades())
    with open_store(store_url, readonly=True) as st:
        counts = export_store(st, lake)
        stored = {
            (v, s): st.trades(v, s, 0, 2**62) for v, s in (("binance", "BTCUSDT"),
                                                          ("bybit", "ETHUSDT"))
        }  # fmt: skip
        ranges = [(START, START + DAY), (START + 3 * 3_600_000, START + 30 * 3_600_000)]
        windows = {r: st.trades("binance", "BTCUSDT", *r) for r in ranges}
    assert sum(len(t) for t in stored.values()) == len(trades())
    assert stored[("binance", "BTCUSDT")][1:3] == sorted(
        [t for t in trades() if t.venue == "binance" and t.ts == START + 5],
        key=lambda t: t.trade_id,
    )  # "10" before "9": code-point order on both backends
    days = sorted(p.parent.name for p in lake.glob("kind=trades/venue=binance/*/*/*.parquet"))
    assert days == ["date=2025-12-07", "date=2025-12-08", "date=2025-12-09"]
    with Lake(lake) as lk:
        for (venue, symbol), rows in stored.items():
            assert lk.trades(venue, symbol, 0, 2**62) == rows
        for r, rows in windows.items():
            assert lk.trades("binance", "BTCUSDT", *r) == rows and rows
        assert lk.trades("okx", "BTCUSDT", 0, 2**62) == []
    with open_store(store_url, readonly=True) as st:
        again = export_store(st, lake)  # a re-export replaces the days: no duplicates
    assert again.rows == counts.rows
    with Lake(lake) as lk:
        assert lk.trades("bybit", "ETHUSDT", 0, 2**62) == stored[("bybit", "ETHUSDT")]


def test_agg_trades_imported_into_the_lake_equal_the_store(tmp_path: Path) -> None:
    lines = [AGG_HEADER]
    for i in range(500):
        maker = "true" if i % 4 == 0 else "false"
        lines.append(f"{i + 1},{60_000 + i * 0.1:.1f},{0.01 * (i % 5 + 1):.2f},{i},{i},"
                     f"{T0 + i * 900},{maker}")  # fmt: skip
    path = write_zip(tmp_path, "BTCUSDT-aggTrades-2024-08-05.zip", lines)
    lake = tmp_path / "lake"
    import_bulk(lake, [path])
    import_bulk(lake, [path])  # merged: each trade once
    with open_store(tmp_path / "s.sqlite") as st:
        import_file(st, path)
        stored = st.trades("binance", "BTCUSDT", 0, 2**62)
    assert len(stored) == 500
    with Lake(lake) as lk:
        assert lk.trades("binance", "BTCUSDT", 0, 2**62) == stored
