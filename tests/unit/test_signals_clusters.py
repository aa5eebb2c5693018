"""Clusters, max pain, proximity, spikes, cascades, levels and momentum on hand-built data."""

from __future__ import annotations

import numpy as np
import pytest

from liqscope.domain.errors import InputError
from liqscope.signals.cascade import CascadeRead, cascade_read
from liqscope.signals.clusters import (
    LevelMap,
    bands,
    find_clusters,
    key_levels,
    log_return_sigma,
    mass_near,
    rolling_sigma,
)
from liqscope.signals.levels import crossed, realized_levels
from liqscope.signals.momentum import momentum_read
from liqscope.signals.proximity import proximity
from liqscope.signals.spikes import SpikeTracker, spike_scores
from liqscope.signals.window import realized_window

ORIGIN, STEP, N = 90_000.0, 100.0, 200  # 90k .. 110k


def _map(price: float = 100_000.0) -> LevelMap:
    long = np.zeros((2, N))
    short = np.zeros((2, N))
    long[0, :100] = 10_000.0  # background below price
    long[0, 50:55] = 2_000_000.0  # 95.0k-95.5k: 10M, the largest long cluster
    long[1, 80:82] = 1_500_000.0  # 98.0k-98.2k: 3M, nearest long cluster
    short[1, 130:133] = 1_000_000.0  # 103.0k-103.3k: 3M shorts
    short[0, 150:154] = 2_000_000.0  # 105.0k-105.4k: 8M shorts
    return LevelMap.from_profile(ORIGIN, STEP, long, short, price, leverages=(10.0, 50.0))


def test_bands_join_small_gaps() -> None:
    m = np.array([0, 1, 1, 0, 1, 0, 0, 1], dtype=bool)
    assert bands(m) == [(1, 3), (4, 5), (7, 8)]
    assert bands(m, merge_gap=1) == [(1, 5), (7, 8)]
    assert bands(np.zeros(4, dtype=bool)) == []


def test_clusters_and_max_pain_on_a_hand_built_profile() -> None:
    m = _map()
    cl = find_clusters(m, window_pct=15.0)
    longs = [c for c in cl if c.side == "long"]
    shorts = [c for c in cl if c.side == "short"]
    assert [(c.low, c.high) for c in longs] == [(98_000.0, 98_200.0), (95_000.0, 95_500.0)]
    assert [(c.low, c.high) for c in shorts] == [(103_000.0, 103_300.0), (105_000.0, 105_400.0)]
    assert longs[1].usd == pytest.approx(10_000_000.0)
    assert longs[0].distance_pct == pytest.approx(1.8)
    assert shorts[0].distance_pct == pytest.approx(3.0)
    assert longs[0].leverage_mix["50x"] == pytest.approx(3_000_000.0)
    kl = key_levels(cl)
    assert kl.nearest_below is longs[0] and kl.max_pain_below is longs[1]
    assert kl.nearest_above is shorts[0] and kl.max_pain_above is shorts[1]


def test_clusters_threshold_window_and_sigma_units() -> None:
    m = _map()
    assert not [c for c in find_clusters(m, window_pct=3.0) if c.side == "long" and c.low < 97_000]
    big = find_clusters(m, threshold_usd=1_800_000.0)
    assert {(c.side, c.low) for c in big} == {("long", 95_000.0), ("short", 105_000.0)}
    cl = find_clusters(m, sigma=0.001, horizon_steps=100.0)
    c = cl[0]
    assert c.distance_sigma == pytest.approx(abs(np.log(98_200 / 100_000)) / 0.01)
    with pytest.raises(InputError):
        find_clusters(m, window_pct=0)


def test_mass_near_and_proximity() -> None:
    m = _map()
    assert mass_near(m, 2.0, "long") == pytest.approx(3_000_000.0 + 20 * 10_000.0)
    assert mass_near(m, 2.0, "short") == 0.0
    cl = find_clusters(m, window_pct=15.0)
    w = proximity(cl, pct=2.0, min_usd=1e6)
    assert [x.cluster.low for x in w] == [98_000.0]
    assert proximity(cl, pct=2.0, min_usd=5e6) == []
    moved = find_clusters(m.with_price(98_500.0), window_pct=15.0)
    assert proximity(moved, pct=0.5, min_usd=1e6)[0].cluster.low == 98_000.0


def test_sigma_helpers() -> None:
    close = 100.0 * np.exp(np.cumsum(np.r_[0.0, np.tile([0.01, -0.01], 50)]))
    assert log_return_sigma(close, 20) == pytest.approx(0.01, rel=0.05)
    rs = rolling_sigma(close, 20)
    assert np.isnan(rs[1]) and rs[-1] == pytest.approx(log_return_sigma(close, 20))


def test_spikes_need_a_jump_not_just_a_level() -> None:
    steady = np.full(100, 5e6)
    assert np.nanmax(spike_scores(steady, 30)) == pytest.approx(1.0)
    jump = steady.copy()
    jump[80:] = 1.2e7
    sc = spike_scores(jump, 30)
    assert sc[80] == pytest.approx(2.4) and np.nanmax(sc[:80]) == pytest.approx(1.0)
    noisy = 5e6 + np.random.default_rng(0).normal(0, 1e5, 100)
    noisy[90] = 8e6
    z = spike_scores(noisy, 40, "z")
    assert z[90] > 10 and np.nanmax(np.abs(z[:90])) < 5
    tr = SpikeTracker(30)
    scores = [tr.push(float(x)) for x in jump]
    assert scores[80] == pytest.approx(sc[80])


def test_a_realized_window_reads_both_sides_against_their_baseline() -> None:
    ll = np.r_[np.full(20, 10.0), np.nan, np.full(4, 500.0)]
    ls = np.r_[np.full(20, 0.5), np.zeros(5)]
    close = np.r_[np.full(20, 100.0), np.linspace(99.0, 95.0, 5)]
    win = realized_window(ll, ls, close, window=5, baseline=10)
    assert win is not None and win.full
    assert win.move_pct == pytest.approx(-5.0)  # from the close 5 steps back (100) to 95
    assert win.long.usd == 2_000.0 and win.long.baseline_usd == 50.0  # NaN counts as 0
    assert win.long.ratio == 40.0
    assert win.short.usd == 0.0 and win.short.baseline_usd == 5.0  # floor: $1 per step
    short = realized_window(ll[-4:], ls[-4:], close[-4:], window=5, baseline=10)
    assert short is not None and not short.full and short.long.baseline_usd == 5.0
    assert realized_window(ll[-1:], ls[-1:], close[-1:], window=5, baseline=10) is None
    assert cascade_read(None) == [] and momentum_read(None).label == "flat"


def _cascade(ll: np.ndarray, ls: np.ndarray, close: np.ndarray) -> list[CascadeRead]:
    return cascade_read(realized_window(ll, ls, close, window=5, baseline=240))


def test_cascade_needs_burst_and_move() -> None:
    n = 300
    ll = np.full(n, 1_000.0)
    ls = np.full(n, 1_000.0)
    close = np.full(n, 100.0)
    assert not any(r.active for r in _cascade(ll, ls, close))
    ll[-5:] = 200_000.0
    assert not any(r.active for r in _cascade(ll, ls, close))  # no price move
    close[-5:] = np.linspace(99.5, 98.0, 5)
    reads = {r.side: r for r in _cascade(ll, ls, close)}
    assert reads["long"].active and not reads["short"].active
    assert reads["long"].ratio == pytest.approx(200.0)
    close2 = close.copy()
    close2[-5:] = np.linspace(100.5, 102.0, 5)  # wrong direction for longs
    assert not any(r.active for r in _cascade(ll, ls, close2))


def test_momentum_reads() -> None:
    n = 200
    ll = np.full(n, 1_000.0)
    ls = np.full(n, 1_000.0)
    close = np.r_[np.full(140, 100.0), np.linspace(100, 97, 60)]
    ll[-60:] = 100.0

    def read(close: np.ndarray, baseline: int = 100) -> str:
        win = realized_window(ll, ls, close, window=60, baseline=baseline)
        return momentum_read(win).label

    r = momentum_read(realized_window(ll, ls, close, window=60, baseline=100))
    assert r.label == "falling_without_long_liquidations" and r.unforced
    ll[-60:] = 50_000.0
    assert read(close) == "falling_with_long_liquidations"
    up = np.r_[np.full(140, 100.0), np.linspace(100, 103, 60)]
    ls[-60:] = 100.0
    assert read(up) == "rising_without_short_liquidations"
    assert read(np.full(n, 100.0), baseline=1440) == "flat"


def test_support_resistance_from_realized_clusters() -> None:
    rng = np.random.default_rng(1)
    px = np.r_[rng.uniform(90_000, 110_000, 200), rng.normal(95_000, 50, 50),
               rng.normal(104_000, 50, 30)]  # fmt: skip
    usd = np.r_[np.full(200, 1_000.0), np.full(50, 50_000.0), np.full(30, 40_000.0)]
    side = np.r_[rng.choice([-1, 1], 200), np.ones(50), -np.ones(30)].astype(np.int64)
    ts = np.arange(px.shape[0], dtype=np.int64)
    lv = realized_levels(ts, px, usd, side, 100_000.0, bucket_pct=0.25)
    kinds = {(x.kind, round(x.price, -3)) for x in lv}
    assert ("support", 95_000.0) in kinds and ("resistance", 104_000.0) in kinds
    sup = next(x for x in lv if x.kind == "support")
    assert sup.long_usd > 0.9 * sup.usd
    assert crossed(lv, 96_000.0, sup.low - 1) == [sup]
    assert crossed(lv, 99_000.0, 98_000.0) == []


def test_a_wider_reach_finds_farther_bands_with_the_same_threshold() -> None:
    m = _map()
    near = find_clusters(m, window_pct=3.5)
    far = find_clusters(m, window_pct=3.5, reach_pct=8.0)
    # the threshold still comes from the 3.5 % window: the near bands are unchanged
    assert [(c.low, c.high, c.usd) for c in far[: len(near)]] == [
        (c.low, c.high, c.usd) for c in near
    ]
    assert (95_000.0, 95_500.0) not in {(c.low, c.high) for c in near}
    assert (95_000.0, 95_500.0) in {(c.low, c.high) for c in far}
    assert (105_000.0, 105_400.0) in {(c.low, c.high) for c in far}
    # a window as wide as the reach averages other buckets: another threshold (at 10x the
    # mean: 0.96M from the 3.5 % window, 1.7M from the 8 % one, the 98k band holds 1.5M)
    wide = find_clusters(m, window_pct=8.0, factor=10.0, side="long")
    thin = find_clusters(m, window_pct=3.5, reach_pct=8.0, factor=10.0, side="long")
    assert [(c.low, c.high) for c in thin] == [(98_000.0, 98_200.0), (95_000.0, 95_500.0)]
    assert [(c.low, c.high) for c in wide] == [(95_000.0, 95_500.0)]


def test_a_map_of_a_heatmap_reads_the_presets_display_tiers() -> None:
    from liqscope.model.estimator import Heatmap
    from liqscope.model.grid import PriceGrid

    snaps = np.zeros((1, 3, 2, N), dtype=np.float32)
    snaps[0, :, 0, 10] = [1.0, 2.0, 4.0]  # long USD per tier at one bucket
    hm = Heatmap(
        columns_ts=np.array([0], dtype=np.int64), column_ms=60_000,
        grid=PriceGrid(ORIGIN, STEP, N), leverages=(5.0, 25.0, 100.0), snapshots=snaps,
        column_close=np.array([100_000.0]), display_leverages=(25.0, 100.0),
    )  # fmt: skip
    m = LevelMap.from_heatmap(hm)
    assert m.leverages == (25.0, 100.0) and m.long[:, 10].sum() == pytest.approx(6.0)
    every = LevelMap.from_heatmap(hm, tiers=(5.0, 25.0, 100.0))
    assert every.long[:, 10].sum() == pytest.approx(7.0) and m.ts == 60_000
