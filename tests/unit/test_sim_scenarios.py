"""Scenarios: the cascade drops and liquidates far above calm; venues share the driver."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from liqscope.domain.clock import ManualClock
from liqscope.sim.market import Market
from liqscope.sim.scenarios import BASIS, EVENTS, SCENARIOS, anchor_ms, scenario, venue_markets
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


@pytest.fixture(scope="module")
def shared() -> dict[tuple[str, str], TraceChunk]:
    markets = venue_markets("cascade", seed=5, warmup_s=3600)
    return {k: m.advance(m.now_ms + 8 * H_MS) for k, m in markets.items()}


def test_venues_follow_one_market_path_within_a_realistic_basis(
    shared: dict[tuple[str, str], TraceChunk],
) -> None:
    lead = shared[("binance", "BTCUSDT")]
    e0, e1 = EVENTS["cascade"]
    in_event = (lead.liq_ts >= lead.start_ms + e0 * 1000) & (
        lead.liq_ts < lead.start_ms + e1 * 1000
    )
    assert in_event.sum() > 100  # the leader's own cascade
    for (venue, _), ch in shared.items():
        assert np.array_equal(ch.sec_ts, lead.sec_ts)
        basis = ch.mark_px / (lead.mark_px * (1.0 + BASIS[venue])) - 1.0
        assert np.abs(basis).max() < 0.001, venue  # < 0.1 % at every second, cascade included
        closes = ch.mark_px[59::60] / lead.mark_px[59::60] - 1.0
        assert np.abs(closes).max() < 0.001, venue
        # each venue's own crowd is liquidated by the shared crash
        sel = (ch.liq_ts >= ch.start_ms + e0 * 1000) & (ch.liq_ts < ch.start_ms + e1 * 1000)
        assert sel.sum() > 20 and (ch.liq_side[sel] > 0).mean() > 0.5, venue
    bybit = shared[("bybit", "BTCUSDT")]
    assert not np.array_equal(bybit.trade_ts[:100], lead.trade_ts[:100])  # its own flow


def test_a_follower_is_deterministic_however_advanced(
    shared: dict[tuple[str, str], TraceChunk],
) -> None:
    markets = venue_markets("cascade", seed=5, warmup_s=3600)
    okx = markets[("okx", "BTC-USDT-SWAP")]
    t0 = okx.now_ms
    parts = [okx.advance(t0 + step) for step in (1_234_000, 2 * H_MS, 5 * H_MS)]
    parts.append(okx.advance(shared[("okx", "BTC-USDT-SWAP")].end_ms))
    whole = shared[("okx", "BTC-USDT-SWAP")]
    joined = TraceChunk.concat(parts)
    for name in ("trade_ts", "trade_px", "mark_px", "liq_ts", "liq_qty", "oi_base"):
        assert np.array_equal(getattr(joined, name), getattr(whole, name)), name


def test_anchor_is_wall_time_floored_to_the_minute() -> None:
    assert anchor_ms(ManualClock(1_796_192_912_345)) == 1_796_192_880_000
    assert anchor_ms(ManualClock(1_796_192_880_000)) == 1_796_192_880_000


def test_a_run_anchored_later_is_the_same_market_shifted() -> None:
    day = 25 * H_MS  # not a multiple of the 8 h funding interval: only funding may differ
    a = venue_markets("calm", seed=2, warmup_s=3600, start_ms=1_796_169_600_000)
    b = venue_markets("calm", seed=2, warmup_s=3600, start_ms=1_796_169_600_000 + day)
    for key in a:
        x, y = a[key].advance(a[key].now_ms + H_MS), b[key].advance(b[key].now_ms + H_MS)
        assert np.array_equal(x.trade_ts + day, y.trade_ts) and np.array_equal(x.mark_px, y.mark_px)


def test_followers_may_run_one_after_another_over_many_blocks() -> None:
    """A server builds each venue's history in turn: the path keeps what a slower follower
    still needs, and gives the same market as advancing the venues together."""
    warm = 4 * 3600  # more hour blocks than the path keeps: each follower warms up in turn
    first = venue_markets("calm", seed=4, warmup_s=warm)
    alone = {k: m.advance(m.now_ms + 6 * H_MS) for k, m in list(first.items())[1:]}
    together = venue_markets("calm", seed=4, warmup_s=warm)
    t0 = next(iter(together.values())).now_ms
    parts: dict[tuple[str, str], list[TraceChunk]] = {k: [] for k in alone}
    for hour in range(1, 7):
        for k in alone:
            parts[k].append(together[k].advance(t0 + hour * H_MS))
    for k, chunk in alone.items():
        joined = TraceChunk.concat(parts[k])
        assert np.array_equal(joined.mark_px, chunk.mark_px), k
        assert np.array_equal(joined.liq_ts, chunk.liq_ts), k
