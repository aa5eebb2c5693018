"""Market data the simulated venues derive alike: lot grid, 24 h statistics, the book."""

from __future__ import annotations

import pytest

from liqscope.sim.exchange.history import MarketHistory
from liqscope.sim.exchange.quotes import book, day_stats, fmt_lot, lot_decimals, on_lot
from liqscope.sim.exchange.toy import ToySource

ORIGIN = 1_760_000_000_000


@pytest.mark.parametrize(
    ("qty", "lot", "expected", "text"),
    [
        (0.123456, 0.001, 0.123, "0.123"),
        (0.1235, 0.001, 0.124, "0.124"),
        (0.0001, 0.001, 0.001, "0.001"),  # never below one lot
        (12.3456, 0.01, 12.35, "12.35"),
        (7.6, 1.0, 8.0, "8"),
        (0.000123456, 0.00001, 0.00012, "0.00012"),
    ],
)
def test_sizes_go_on_the_lot_grid(qty: float, lot: float, expected: float, text: str) -> None:
    assert on_lot(qty, lot) == pytest.approx(expected)
    assert fmt_lot(qty, lot) == text
    assert lot_decimals(lot) == (len(text.split(".")[1]) if "." in text else 0)


def test_day_stats_and_book_follow_the_trades() -> None:
    h = MarketHistory(ToySource("binance", "BTCUSDT", ORIGIN))
    t = ORIGIN + 3_600_000
    h.ensure(t + 1)
    d = day_stats(h, t)
    i0, i1 = h.span("trade", ORIGIN, t + 1)
    px = h.col("trade_px")[i0:i1]
    assert d.count == i1 - i0 > 0 and d.last == px[-1] and d.high == px.max()
    assert d.volume == pytest.approx(float(h.col("trade_qty")[i0:i1].sum()))
    bids, asks = book(h, t, 5, 0.1, 0.001)
    assert len(bids) == len(asks) == 5
    assert bids[0][0] <= px[-1] < asks[0][0] and asks[0][0] - bids[0][0] == pytest.approx(0.1)
    assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
    assert all(on_lot(q, 0.001) == pytest.approx(q) for _, q in bids + asks)
    assert book(h, t, 5, 0.1, 0.001) == (bids, asks)  # deterministic
    assert book(h, t + 1000, 5, 0.1, 0.001) != (bids, asks)  # changes each second
