"""The simulated market: determinism, chunking, OI bookkeeping, exact liquidations."""

from __future__ import annotations

import itertools
import time
from dataclasses import fields, replace

import numpy as np
import pytest

from liqscope.sim.config import EXIT_LIQ
from liqscope.sim.market import Market, Positions, SimConfig
from liqscope.sim.scenarios import scenario
from liqscope.sim.trace import TraceChunk
from liqscope.sim.truth import positions_at, recompute_liquidation_prices

H_MS = 3_600_000
ARRAYS = [
    f.name
    for f in fields(TraceChunk)
    if f.name.startswith(("trade", "sec", "mark", "index", "funding", "oi", "liq"))
]


def _small(**kw: object) -> SimConfig:
    return replace(SimConfig(), warmup_s=6 * 3600, **kw)  # type: ignore[arg-type]


def _same(a: TraceChunk, b: TraceChunk) -> None:
    assert (a.start_ms, a.end_ms) == (b.start_ms, b.end_ms)
    for name in ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        assert np.array_equal(x, y), name


@pytest.fixture(scope="module")
def cascade() -> tuple[Market, TraceChunk]:
    m = Market(scenario("cascade"), seed=7)
    return m, m.advance(m.now_ms + 10 * H_MS)


def test_same_seed_gives_identical_trace_and_other_seed_differs() -> None:
    cfg = _small()
    a = Market(cfg, 11).advance(cfg.start_ms + 2 * H_MS)
    b = Market(cfg, 11).advance(cfg.start_ms + 2 * H_MS)
    c = Market(cfg, 12).advance(cfg.start_ms + 2 * H_MS)
    _same(a, b)
    assert a.trade_ts.size > 1000 and a.liq_ts.size > 0
    assert a.trade_px.shape != c.trade_px.shape or not np.array_equal(a.trade_px, c.trade_px)
    assert not np.array_equal(a.mark_px, c.mark_px)


def test_chunks_are_contiguous_and_concat_equals_one_shot() -> None:
    cfg = _small()
    one = Market(cfg, 5)
    whole = one.advance(cfg.start_ms + 3 * H_MS + 17_000)
    parts_m = Market(cfg, 5)
    chunks = []
    for step in (1_000, 1_234_000, 999, 0, 3_600_000, 7_001, 5_000_000):
        chunks.append(parts_m.advance(parts_m.now_ms + step))
    chunks.append(parts_m.advance(cfg.start_ms + 3 * H_MS + 17_000))
    for a, b in itertools.pairwise(chunks):
        assert a.end_ms == b.start_ms
    _same(TraceChunk.concat(chunks), whole)
    la, lb = one.position_log(), parts_m.position_log()
    for f in fields(Positions):
        assert np.array_equal(getattr(la, f.name), getattr(lb, f.name), equal_nan=True), f.name


def test_trace_is_well_formed(cascade: tuple[Market, TraceChunk]) -> None:
    _, ch = cascade
    assert np.all(np.diff(ch.trade_ts) >= 0)
    assert np.all(np.diff(ch.liq_ts) >= 0)
    assert np.array_equal(ch.sec_ts, ch.start_ms + 1000 * np.arange(ch.sec_ts.size))
    assert np.all((ch.trade_ts >= ch.start_ms) & (ch.trade_ts < ch.end_ms))
    assert np.all(ch.trade_qty > 0) and set(np.unique(ch.trade_taker)) <= {-1, 1}
    assert np.all(np.isfinite(ch.mark_px) & np.isfinite(ch.index_px) & np.isfinite(ch.funding_rate))


def test_oi_equals_one_side_of_open_positions_every_second(
    cascade: tuple[Market, TraceChunk],
) -> None:
    m, ch = cascade
    log = m.position_log()
    closed = log.exit_reason != 0
    oi = {}
    for sd in (1, -1):
        s = log.side == sd
        ent_t = np.sort(log.entry_ts[s])
        ent_q = log.qty[s][np.argsort(log.entry_ts[s], kind="stable")]
        ex = s & closed
        ex_order = np.argsort(log.exit_ts[ex], kind="stable")
        ex_t, ex_q = log.exit_ts[ex][ex_order], log.qty[ex][ex_order]
        opened = np.concatenate([[0.0], np.cumsum(ent_q)])[np.searchsorted(ent_t, ch.sec_ts)]
        gone = np.concatenate([[0.0], np.cumsum(ex_q)])[np.searchsorted(ex_t, ch.sec_ts)]
        oi[sd] = opened - gone
    expected = np.maximum(oi[1], oi[-1])
    np.testing.assert_allclose(ch.oi_base, expected, rtol=1e-8)
    for k in (0, 1, 777, ch.sec_ts.size // 2, ch.sec_ts.size - 1):  # exact, no cumsum
        pos = positions_at(log, int(ch.sec_ts[k]))
        longs, shorts = pos.qty[pos.side > 0].sum(), pos.qty[pos.side < 0].sum()
        assert ch.oi_base[k] == pytest.approx(max(longs, shorts), rel=1e-10)
    now = m.open_positions()
    assert np.array_equal(now.id, positions_at(log, m.now_ms).id)


def _check_liquidations(m: Market, ch: TraceChunk) -> None:
    log = m.position_log()
    lp = recompute_liquidation_prices(m.instrument, m.tiers, log)
    np.testing.assert_allclose(log.liq_px, lp, rtol=1e-9)
    lev = log.leverage
    bk = np.where(log.side > 0, log.entry_px * (1 - 1 / lev), log.entry_px * (1 + 1 / lev))
    np.testing.assert_allclose(log.bk_px, bk, rtol=1e-12)
    # each liquidation: its position, at a second whose mark reached the liquidation price
    pos = log.select(ch.liq_position_id)
    assert np.all(pos.exit_reason == EXIT_LIQ) and np.array_equal(pos.exit_ts, ch.liq_ts)
    assert np.array_equal(pos.side, ch.liq_side) and np.array_equal(pos.qty, ch.liq_qty)
    np.testing.assert_array_equal(pos.bk_px, ch.liq_bk_px)
    k = (ch.liq_ts - ch.start_ms) // 1000
    mark = ch.mark_px[k]
    assert np.all(np.where(ch.liq_side > 0, mark <= pos.liq_px, mark >= pos.liq_px))
    # the fill is a taker trade at the market price at that time, on the forced side
    t = np.searchsorted(ch.trade_ts, ch.liq_ts)
    for i in range(ch.liq_ts.size):
        j = t[i] + np.flatnonzero(ch.trade_ts[t[i] :] == ch.liq_ts[i])
        hit = (ch.trade_px[j] == ch.liq_px[i]) & (ch.trade_taker[j] == -ch.liq_side[i])
        assert hit.any()
    # nothing escaped: from the second after entry, the mark never crossed a position's
    # liquidation price while it stayed open (a liquidated one: not before its liquidation)
    live = log.select((log.exit_reason == 0) | (log.exit_ts >= ch.start_ms))
    first = np.maximum((live.entry_ts - ch.start_ms) // 1000 + 1, 0)
    exit_sec = (live.exit_ts - ch.start_ms) // 1000
    end = np.where(live.exit_reason == 0, ch.sec_ts.size, exit_sec + 1)
    end = np.where(live.exit_reason == EXIT_LIQ, exit_sec, end)
    for i in range(len(live)):
        seg = ch.mark_px[int(first[i]) : int(end[i])]
        if seg.size:
            crossed = seg <= live.liq_px[i] if live.side[i] > 0 else seg >= live.liq_px[i]
            assert not crossed.any(), int(live.id[i])


def test_liquidations_are_exact_on_binance(cascade: tuple[Market, TraceChunk]) -> None:
    m, ch = cascade
    assert ch.liq_ts.size > 500
    _check_liquidations(m, ch)


@pytest.mark.parametrize(("venue", "symbol"), [("bybit", "BTCUSDT"), ("okx", "BTC-USDT-SWAP")])
def test_liquidations_are_exact_on_other_venues(venue: str, symbol: str) -> None:
    cfg = replace(scenario("cascade", venue, symbol), warmup_s=6 * 3600)
    m = Market(cfg, 3)
    assert m.liq_exact
    ch = m.advance(cfg.start_ms + 8 * H_MS)
    assert ch.liq_ts.size > 100
    _check_liquidations(m, ch)


def test_leverage_respects_tier_caps(cascade: tuple[Market, TraceChunk]) -> None:
    m, _ = cascade
    log = m.position_log()
    cap = np.array(
        [m.tiers.max_leverage_for(q * p) for q, p in zip(log.qty, log.entry_px, strict=True)]
    )
    assert np.all(log.leverage <= cap * (1 + 1e-6))
    assert set(np.unique(log.leverage)) <= set(m.config.leverages)


def test_a_simulated_day_runs() -> None:
    m = Market(SimConfig(), 1)
    t0 = time.perf_counter()
    ch = m.advance(m.now_ms + 24 * H_MS)
    print(f"one simulated day: {time.perf_counter() - t0:.2f} s, {ch.trade_ts.size} trades")
    assert ch.sec_ts.size == 86_400
    assert len(m.open_positions()) > 1000


def test_forced_orders_have_millisecond_times(cascade: tuple[Market, TraceChunk]) -> None:
    m, ch = cascade
    assert ch.liq_ts.size > 1000
    assert (ch.liq_ts % 1000 != 0).mean() > 0.95  # fills a few ms after the mark update
    assert np.all(np.diff(ch.trade_ts) >= 0) and np.all(np.diff(ch.liq_ts) >= 0)
    log = m.position_log()
    pid = ch.liq_position_id
    assert np.array_equal(log.exit_ts[pid], ch.liq_ts)
    assert np.all(log.exit_reason[pid] == EXIT_LIQ)
    # each forced order is filled within the second its trigger was seen
    first = np.searchsorted(ch.trade_ts, ch.liq_ts)
    assert np.all(ch.trade_ts[first] == ch.liq_ts)
