"""Ground-truth helpers: profiles on a grid, positions at a time, public 1-minute steps."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from liqscope.sim.market import Market, Positions, SimConfig
from liqscope.sim.trace import TraceChunk
from liqscope.sim.truth import liquidation_profile, minute_steps, positions_at

H_MS = 3_600_000


def _positions(rows: list[tuple[int, float, float, float]]) -> Positions:
    """(side, qty, leverage, liq_px) rows, entry 100."""
    n = len(rows)
    side, qty, lev, lp = (np.array(c) for c in zip(*rows, strict=True))
    return Positions(
        id=np.arange(n, dtype=np.int64),
        entry_ts=np.zeros(n, np.int64),
        entry_px=np.full(n, 100.0),
        side=side.astype(np.int8),
        qty=qty.astype(float),
        leverage=lev.astype(float),
        liq_px=lp.astype(float),
        bk_px=np.zeros(n),
        kind=np.zeros(n, np.int8),
        tp_px=np.zeros(n),
        sl_px=np.zeros(n),
        exit_ts=np.full(n, -1, np.int64),
        exit_px=np.full(n, np.nan),
        exit_reason=np.zeros(n, np.int8),
    )


def test_profile_buckets_by_side_and_leverage() -> None:
    pos = _positions([(1, 2.0, 10, 91.0), (1, 1.0, 100, 99.5), (-1, 3.0, 25, 104.2), (1, 5, 3, 10)])
    prof = liquidation_profile(pos, origin=90.0, step=1.0, n=20, leverage_edges=(1, 5, 10, 50, 200))
    assert prof.long_usd.shape == (4, 20)
    assert prof.long_usd[2, 1] == 200.0  # 10x tier [10, 50), bucket [91, 92)
    assert prof.long_usd[3, 9] == 100.0  # 100x tier, bucket [99, 100)
    assert prof.short_usd[2, 14] == 300.0
    assert prof.long_outside == 500.0 and prof.short_outside == 0.0
    assert prof.long_total.sum() == 300.0
    by_liq = liquidation_profile(pos, 90.0, 1.0, 20, (1, 5, 10, 50, 200), value="liquidation")
    assert by_liq.long_usd[2, 1] == 182.0
    np.testing.assert_allclose(prof.edges[[0, -1]], [90.0, 110.0])


@pytest.fixture(scope="module")
def market() -> tuple[Market, TraceChunk]:
    m = Market(replace(SimConfig(), warmup_s=4 * 3600), 21)
    return m, m.advance(m.now_ms + 2 * H_MS + 30_000)


def test_profile_of_the_market_accounts_for_every_position(
    market: tuple[Market, TraceChunk],
) -> None:
    m, ch = market
    pos = m.open_positions()
    prof = liquidation_profile(pos, 50_000.0, 100.0, 1_000)
    total = prof.long_usd.sum() + prof.short_usd.sum() + prof.long_outside + prof.short_outside
    assert total == pytest.approx(float((pos.qty * pos.entry_px).sum()), rel=1e-12)
    mark = ch.mark_px[-1]
    edges = prof.edges
    assert prof.long_total[edges[1:] > mark * 1.01].sum() == 0  # longs liquidate below price
    assert prof.short_total[edges[:-1] < mark * 0.99].sum() == 0
    earlier = positions_at(m.position_log(), ch.start_ms + 600_000)
    assert len(earlier) > 1000 and not np.array_equal(earlier.id, pos.id)


def test_minute_steps_from_public_data(market: tuple[Market, TraceChunk]) -> None:
    _, ch = market
    st = minute_steps(ch)
    assert len(st) == 121 and np.all(np.diff(st.ts) == 60_000)
    assert st.volume.sum() == pytest.approx(ch.trade_qty.sum(), rel=1e-12)
    assert st.taker_buy_volume.sum() == pytest.approx(ch.trade_qty[ch.trade_taker > 0].sum())
    assert np.all(st.low <= np.minimum(st.open, st.close))
    assert np.all(st.high >= np.maximum(st.open, st.close))
    assert np.all(st.mark_low <= st.mark_high)
    k = 37
    in_k = (ch.trade_ts >= st.ts[k]) & (ch.trade_ts < st.ts[k] + 60_000)
    assert st.open[k] == ch.trade_px[in_k][0] and st.close[k] == ch.trade_px[in_k][-1]
    assert st.high[k] == ch.trade_px[in_k].max()
    row = np.searchsorted(ch.sec_ts, st.ts[k] + 59_000)
    assert st.oi_base[k] == ch.oi_base[row]
    assert st.mark_high[k] == ch.mark_px[row - 59 : row + 1].max()


def test_minute_steps_fill_steps_without_trades() -> None:
    m = Market(replace(SimConfig(), warmup_s=0, arrival_rate=0.002), 2)
    st = minute_steps(m.advance(m.now_ms + 30 * 60_000))
    empty = st.volume == 0
    assert empty.any() and (~empty).any()
    assert np.all(np.isfinite(st.close))
    i = np.flatnonzero(empty)[-1]
    assert st.open[i] == st.close[i] == st.high[i] == st.low[i]
