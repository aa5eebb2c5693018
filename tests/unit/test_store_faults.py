"""A failing store says why in one line and stores nothing half; absurd rows are refused."""

from __future__ import annotations

import math
from contextlib import closing
from pathlib import Path

import pytest

from liqscope.domain.clock import ManualClock
from liqscope.domain.errors import InputError, StoreError
from liqscope.domain.events import Candle, Liquidation, MarkPrice, OpenInterest, Trade
from liqscope.domain.types import PriceKind, Side
from liqscope.store import open_store
from liqscope.store.sqlite import SqliteStore

T0 = 1_722_816_000_000
DAY = 86_400_000


def liq(i: int, price: float = 50_000.0, qty: float = 0.5, ts: int | None = None) -> Liquidation:
    return Liquidation(
        "binance", "BTCUSDT", T0 + i if ts is None else ts, Side.LONG, qty, price,
        PriceKind.AVERAGE_FILL, abs(qty * price) if math.isfinite(qty * price) else 1.0, False,
    )  # fmt: skip


def _fill_until_full(st: SqliteStore) -> int:
    """Cap the file near its size and write until it is full; rows stored before that."""
    pages = int(st._all("PRAGMA page_count")[0][0])
    st._all(f"PRAGMA max_page_count = {pages + 8}")
    i = 0
    with pytest.raises(StoreError) as err:
        while i < 200_000:
            st.write_liquidations([liq(i + k) for k in range(500)])
            i += 500
    assert i < 200_000
    return i if err else 0


def test_full_database_reports_the_real_cause_and_stores_nothing_half(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "s.sqlite") as st:
        stored = _fill_until_full(st)
        assert st.counts()["liquidations"] == stored and st.last_liquidation_seq() == stored
        batch = [liq(10**6 + k) for k in range(2_000)]
        with pytest.raises(StoreError) as err:
            st.write_events(batch)
        msg = str(err.value)
        assert "full" in msg and str(tmp_path / "s.sqlite") in msg, msg
        assert "rollback" not in msg and "\n" not in msg
        assert st.counts()["liquidations"] == stored  # nothing of the failed batch
        # inside an explicit transaction too: the whole unit is gone
        with pytest.raises(StoreError, match="full"), st.transaction():
            st.write_trades([Trade("binance", "BTCUSDT", T0, 1.0, 1.0, Side.LONG, "t1")])
            st.write_liquidations(batch)
        assert st.counts()["trades"] == 0
        # room again: the same batch goes in once, with dense seqs after the stored ones
        st._all("PRAGMA max_page_count = 1073741823")
        assert st.write_events(batch).liquidations == 2_000
        assert st.write_events(batch).liquidations == 0
        seqs = [q for q, _ in st.liquidations_after(stored, 5_000)]
        assert seqs == list(range(stored + 1, stored + 2_001))
        assert st.integrity_check() == ["ok"]


def test_write_to_a_read_only_store_is_a_store_error(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "s.sqlite").close()
    with SqliteStore(tmp_path / "s.sqlite", readonly=True) as ro:
        with pytest.raises(StoreError, match=r"readonly|read-only"):
            ro.write_liquidations([liq(1)])
        assert ro.counts()["liquidations"] == 0


BAD: list[tuple[str, object]] = [
    ("price inf", liq(1, price=math.inf)),
    ("price nan", liq(1, price=math.nan)),
    ("price 0", liq(1, price=0.0)),
    ("qty -1", liq(1, qty=-1.0)),
    ("qty 1e400", liq(1, qty=float("1e400"))),
    ("ts -1", liq(0, ts=-1)),
    ("ts 0", liq(0, ts=0)),
    ("ts 2016", liq(0, ts=1_451_606_400_000)),
    ("ts 10^17", liq(0, ts=10**17)),
    ("ts 2^63+5", liq(0, ts=2**63 + 5)),
    ("ts tomorrow+1h", liq(0, ts=T0 + DAY + 3_600_000)),
    ("trade price -5", Trade("binance", "BTCUSDT", T0, -5.0, 1.0, Side.LONG, "x")),
    ("trade qty inf", Trade("binance", "BTCUSDT", T0, 5.0, math.inf, Side.LONG, "x")),
    (
        "candle low 0",
        Candle("binance", "BTCUSDT", T0, 60_000, 1.0, 2.0, 0.0, 1.5, 1.0, None, True),
    ),
    (
        "candle volume nan",
        Candle("binance", "BTCUSDT", T0, 60_000, 1.0, 2.0, 0.5, 1.5, math.nan, None, True),
    ),
    ("oi -1", OpenInterest("binance", "BTCUSDT", T0, -1.0, None)),
    ("oi usd inf", OpenInterest("binance", "BTCUSDT", T0, 1.0, math.inf)),
    ("mark inf", MarkPrice("binance", "BTCUSDT", T0, math.inf, None, None)),
    ("funding nan", MarkPrice("binance", "BTCUSDT", T0, 1.0, 1.0, math.nan)),
]


@pytest.mark.parametrize("bad", [b for _, b in BAD], ids=[n for n, _ in BAD])
def test_absurd_rows_are_refused_whole_batch(store_url: str, bad: object) -> None:
    # the store's clock says "now" is T0: an hour past a day ahead is absurd
    with closing(open_store(store_url, clock=ManualClock(T0))) as st:
        good = [liq(100 + k) for k in range(9)]
        with pytest.raises(InputError, match="store refused") as err:
            st.write_events([*good[:5], bad, *good[5:]])  # type: ignore[list-item]
        assert "\n" not in str(err.value)
        assert st.counts()["liquidations"] == 0 and st.last_liquidation_seq() == 0
        assert st.write_events(good).liquidations == 9  # the good ones alone go in


def test_edge_values_are_accepted(store_url: str) -> None:
    with closing(open_store(store_url, clock=ManualClock(T0))) as st:
        ok = [
            liq(0, ts=1_483_228_800_000),  # 2017-01-01 exactly
            liq(0, ts=T0 + DAY),  # now + 1 day exactly
            liq(0, price=1e-8, qty=1e-8),
        ]
        assert st.write_liquidations(ok) == 3
        assert st.write_open_interest([OpenInterest("binance", "BTCUSDT", T0, 0.0, None)]) == 1
        zero_volume = Candle("binance", "BTCUSDT", T0, 60_000, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, True)
        assert st.write_candles([zero_volume]) == 1
        assert st.write_marks([MarkPrice("binance", "BTCUSDT", T0, 1.0, None, -0.01)]) == 1
