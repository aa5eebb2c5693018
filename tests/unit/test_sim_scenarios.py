"""Scenarios: the cascade drops and liquidates far above calm; venues share the driver."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from liqscope.sim.market import Market
from liqscope.sim.scenarios import EVENTS, SCENARIOS, scenario, venue_markets
from liqscope.sim.trace import TraceChunk

H_MS = 3_600_000


def _usd_per_hour(ch: TraceChunk, t0: int, t1: int) -> float:
    m = (ch.liq_ts >= t0) & (ch.liq_ts < t1)
    return float((ch.liq_qty[m] * ch.liq_px[m]).sum()) / ((t1 - t0) / H_MS)


@pytest.mark.parametrize("seed", [1, 2])
def test_cascade_drops_and_liquidates_far_above_calm(seed: int) -> None:
    m = Market(scenario("cascade"), seed)
    ch = m.advance(m.now_ms + 9 * H_MS)
    windows = sliding_window_view(ch.mark_px, 3600)
    drops = windows.min(axis=1) / windows[:, 0] - 1.0
    assert drops.min() <= -0.08
    calm = Market(scenario("calm"), seed)
    base = calm.advance(calm.now_ms + 9 * H_MS)
    baseline = _usd_per_hour(base, base.start_ms, base.end_ms)
    e0, e1 = EVENTS["cascade"]
    during = _usd_per_hour(ch, ch.start_ms + e0 * 1000, ch.start_ms + e1 * 1000)
    assert during > 10 * baseline
    assert ch.liq_side[(ch.liq_ts >= ch.start_ms + e0 * 1000)].mean() > 0.5  # mostly longs


def test_squeeze_rises_and_liquidates_shorts() -> None:
    m = Market(scenario("squeeze"), 4)
    ch = m.advance(m.now_ms + 10 * H_MS)
    e0, e1 = EVENTS["squeeze"]
    sel = (ch.sec_ts >= ch.start_ms + e0 * 1000) & (ch.sec_ts < ch.start_ms + e1 * 1000)
    assert ch.mark_px[sel][-1] / ch.mark_px[sel][0] > 1.04
    lq = (ch.liq_ts >= ch.start_ms + e0 * 1000) & (ch.liq_ts < ch.start_ms + e1 * 1000)
    assert (ch.liq_side[lq] < 0).mean() > 0.8


def test_every_scenario_builds_and_unknown_is_refused() -> None:
    for name in SCENARIOS:
        assert scenario(name).regimes
    assert scenario("calm", "bybit", "BTCUSDT", arrival_rate=0.1).arrival_rate == 0.1
    with pytest.raises(ValueError, match="unknown scenario"):
        scenario("moon")


def test_venues_share_the_driver_but_not_the_crowd() -> None:
    markets = venue_markets("trending", seed=9, warmup_s=3600)
    assert [k[0] for k in markets] == ["binance", "bybit", "okx"]
    chunks = {k: mk.advance(mk.now_ms + 6 * H_MS) for k, mk in markets.items()}
    rets = np.array([np.diff(np.log(c.index_px[::600])) for c in chunks.values()])
    corr = np.corrcoef(rets)
    assert corr[np.triu_indices(3, 1)].min() > 0.8
    a, b = (chunks[k] for k in list(chunks)[:2])
    assert a.trade_ts.size != b.trade_ts.size or not np.array_equal(a.trade_ts, b.trade_ts)
    assert a.instrument.venue == "binance" and b.instrument.venue == "bybit"
    # alone, without the shared driver, the same venue follows another path
    solo = Market(replace(scenario("trending"), warmup_s=3600), seed=10)
    other = solo.advance(solo.now_ms + 6 * H_MS)
    r_solo = np.diff(np.log(other.index_px[::600]))
    assert abs(np.corrcoef(rets[0], r_solo)[0, 1]) < 0.8
