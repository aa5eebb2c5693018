"""``LiquidationQuery``: every field filters or orders the same way on both backends."""

from __future__ import annotations

from liqscope.domain.events import Liquidation
from liqscope.domain.types import PriceKind, Side
from liqscope.store.base import TS_MAX, LiquidationQuery, Store

T0 = 1_722_816_000_000


def liq(venue: str, symbol: str, ts: int, usd: float, side: Side = Side.LONG) -> Liquidation:
    return Liquidation(
        venue, symbol, ts, side, usd / 100.0, 100.0, PriceKind.AVERAGE_FILL, usd, False
    )


ROWS = [
    liq("binance", "BTCUSDT", T0, 1_000.0),
    liq("binance", "BTCUSDT", T0 + 10, 50_000.0, Side.SHORT),
    liq("binance", "ETHUSDT", T0 + 20, 2_000.0),
    liq("bybit", "BTCUSDT", T0 + 30, 70_000.0),
    liq("okx", "BTC-USDT-SWAP", T0 + 40, 3_000.0),
]


def stamps(store: Store, query: LiquidationQuery) -> list[int]:
    return [r.ts - T0 for r in store.liquidations(query)]


def test_each_field_of_the_query(any_store: Store) -> None:
    assert any_store.write_liquidations(ROWS) == len(ROWS)
    assert stamps(any_store, LiquidationQuery()) == [0, 10, 20, 30, 40]  # no venues: all
    assert stamps(any_store, LiquidationQuery(["binance", "okx"])) == [0, 10, 20, 40]
    assert stamps(any_store, LiquidationQuery(symbol="BTCUSDT")) == [0, 10, 30]
    assert stamps(any_store, LiquidationQuery(t0=T0 + 10, t1=T0 + 30)) == [10, 20]  # [t0, t1)
    assert stamps(any_store, LiquidationQuery(min_notional_usd=3_000.0)) == [10, 30, 40]
    assert stamps(any_store, LiquidationQuery(limit=2)) == [0, 10]
    assert stamps(any_store, LiquidationQuery(limit=2, newest_first=True)) == [40, 30]
    assert stamps(any_store, LiquidationQuery(limit=0)) == []
    both = LiquidationQuery(["binance"], "BTCUSDT", min_notional_usd=10_000.0)
    assert [r.side for r in any_store.liquidations(both)] == [Side.SHORT]
    seqs = [s for s, _ in any_store.liquidation_rows(LiquidationQuery(newest_first=True))]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == len(ROWS)


def test_open_bounds_and_value_semantics() -> None:
    q = LiquidationQuery(["binance"], "BTCUSDT")
    assert (q.t0, q.t1) == (0, TS_MAX)
    assert q.venues == ("binance",)  # a list given is kept as a tuple: queries are values
    assert q == LiquidationQuery(("binance",), "BTCUSDT")
    assert hash(q) == hash(LiquidationQuery(("binance",), "BTCUSDT"))
