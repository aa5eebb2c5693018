from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from liqscope.domain.errors import InputError
from liqscope.model import ModelConfig, PriceGrid, Steps, aggregate, estimate, preset
from liqscope.model.estimator import column_width_ms, shortcut_ratios

T0 = 1_700_000_040_000 - (1_700_000_040_000 % 3_600_000)


def make_steps(
    low: list[float], high: list[float], close: list[float], oi: list[float], **kw: object
) -> Steps:
    n = len(close)
    return Steps(
        ts=T0 + 60_000 * np.arange(n, dtype=np.int64),
        open=np.asarray(close, float),
        high=np.asarray(high, float),
        low=np.asarray(low, float),
        close=np.asarray(close, float),
        volume=np.ones(n),
        taker_buy_volume=np.full(n, np.nan),
        oi_base=np.asarray(oi, float),
        **kw,  # type: ignore[arg-type]
    )


def random_steps(n: int, seed: int = 1) -> Steps:
    rng = np.random.default_rng(seed)
    c = 1000 * np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    o = np.r_[1000.0, c[:-1]]
    h = np.maximum(o, c) * (1 + np.abs(rng.normal(0, 0.002, n)))
    lo = np.minimum(o, c) * (1 - np.abs(rng.normal(0, 0.002, n)))
    oi = np.abs(100 + np.cumsum(rng.normal(0, 2, n)))
    v = rng.uniform(1, 5, n)
    return Steps(
        ts=T0 + 60_000 * np.arange(n, dtype=np.int64),
        open=o,
        high=h,
        low=lo,
        close=c,
        volume=v,
        taker_buy_volume=v * rng.uniform(0.3, 0.7, n),
        oi_base=oi,
    )


ONE = ModelConfig(
    leverages=(10.0,), tier_weights=(1.0,), side_split="equal", entry_points=1, book="net"
)
"""One 10x tier on the v1 (net-flow) book: the level mechanics in isolation."""


def test_level_consumed_exactly_when_low_enters_its_bucket() -> None:
    # Step 0 opens 1 unit of OI at price 1000 (flat candle): the long level sits at 900,
    # in bucket [900, 910). Lows then approach: 950, 920, 910.01 (not yet), 909.99 (hit).
    grid = PriceGrid(origin=500.0, step=10.0, n=150)
    ratios = np.array([[0.9, 1.1]])
    s = make_steps(
        low=[1000, 950, 920, 910.01, 909.99, 905],
        high=[1000, 1000, 1000, 1000, 1000, 1000],
        close=[1000, 960, 930, 915, 912, 950],
        oi=[1, 1, 1, 1, 1, 1],
    )
    r = estimate(s, ONE, ratios=ratios, grid=grid)
    assert r.opened[0].tolist() == [1000.0, 1000.0]
    long_consumed = r.consumed[:, 0, 0]
    assert long_consumed.tolist() == [0.0, 0.0, 0.0, 0.0, 1000.0, 0.0]
    assert r.live[:, 0].tolist() == [1000.0, 1000.0, 1000.0, 1000.0, 0.0, 0.0]
    assert r.consumed[:, 0, 1].sum() == 0.0  # shorts at 1100 never reached
    assert r.final_state[0, 1, grid.index_of(1100.0)] == pytest.approx(1000.0)


def test_short_level_consumed_when_high_reaches_it_not_in_opening_step() -> None:
    grid = PriceGrid(origin=500.0, step=10.0, n=150)
    ratios = np.array([[0.9, 1.1]])
    # the opening step's own high reaches the short level: not consumed in that step
    s = make_steps(
        low=[990, 1000, 1000], high=[1010, 1099.9, 1100.5], close=[1000, 1050, 1100], oi=[1, 1, 1]
    )
    cfg = ModelConfig(
        leverages=(100.0,), tier_weights=(1.0,), side_split="equal", entry_points=1, book="net"
    )
    r = estimate(s, cfg, ratios=np.array([[0.995, 1.005]]), grid=grid)
    assert r.consumed[0].sum() == 0.0
    assert r.consumed[1, 0, 1] == pytest.approx(1000.0)  # 1005 <= high 1099.9
    r = estimate(s, ONE, ratios=ratios, grid=grid)
    assert r.consumed[:, 0, 1].tolist() == [0.0, 0.0, 1000.0]


def test_closing_nets_realized_liquidations_first() -> None:
    grid = PriceGrid(origin=500.0, step=10.0, n=150)
    ratios = np.array([[0.9, 1.1]])
    real = np.array([np.nan, 300.0, np.nan])
    s = make_steps(
        low=[1000, 1000, 1000],
        high=[1000, 1000, 1000],
        close=[1000, 1000, 1000],
        oi=[2, 1.5, 1.5],
        liq_long_usd=real,
    )
    r = estimate(s, ONE, ratios=ratios, grid=grid)
    # OI fell by 0.5 -> 500 USD per side; 300 of the longs were liquidations
    assert r.closed[1].tolist() == pytest.approx([200.0, 500.0])
    cfg = ModelConfig(
        book="net",
        leverages=(10.0,),
        tier_weights=(1.0,),
        side_split="equal",
        entry_points=1,
        use_realized_liquidations=False,
    )
    assert estimate(s, cfg, ratios=ratios, grid=grid).closed[1].tolist() == [500.0, 500.0]


def test_taker_split_and_decay_and_calibration() -> None:
    grid = PriceGrid(origin=500.0, step=10.0, n=150)
    s = make_steps(low=[1000, 1000], high=[1000, 1000], close=[1000, 1000], oi=[1, 2])
    s2 = replace(s, taker_buy_volume=np.array([0.5, 0.75]))
    cfg = ModelConfig(leverages=(10.0,), tier_weights=(1.0,), entry_points=1, book="net")
    r = estimate(s2, cfg, ratios=np.array([[0.9, 1.1]]), grid=grid)
    assert r.opened[1].tolist() == pytest.approx([1500.0, 500.0])
    dec = ModelConfig(
        leverages=(10.0,),
        tier_weights=(1.0,),
        entry_points=1,
        half_lives_ms=(60_000.0,),
        book="net",
    )
    r = estimate(s, dec, ratios=np.array([[0.9, 1.1]]), grid=grid)
    assert r.decayed[1].tolist() == pytest.approx([500.0, 500.0])
    cal = ModelConfig(
        book="net",
        leverages=(10.0,),
        tier_weights=(1.0,),
        entry_points=1,
        half_lives_ms=(60_000.0,),
        calibrate_to_oi=True,
    )
    r = estimate(s, cal, ratios=np.array([[0.9, 1.1]]), grid=grid)
    _ts, inv = r.invariant()
    assert np.allclose(inv, 1.0)


def test_tier_and_side_filters_partition_the_heatmap() -> None:
    s = random_steps(600)
    cfg = preset("all")
    r = estimate(s, cfg, ratios=shortcut_ratios(cfg))
    _, _prices, total = r.heatmap()
    parts = sum(r.heatmap(tiers=[lev])[2] for lev in cfg.leverages)
    np.testing.assert_allclose(parts, total, rtol=1e-6)
    lo = r.heatmap(sides="long")[2]
    sh = r.heatmap(sides="short")[2]
    np.testing.assert_allclose(lo + sh, total, rtol=1e-6)
    assert r.heatmap(tiers=[25, 50, 100], sides="long")[2].sum() < lo.sum()
    # no live long mass above the column's highest high; no short mass below its lowest low
    cidx = s.ts // r.column_ms - r.columns_ts[0] // r.column_ms
    for c in range(r.columns_ts.shape[0]):
        m = cidx == c
        top = r.grid.index_of(float(s.high[m].max()))
        bot = r.grid.index_of(float(s.low[m].min()))
        assert lo[c, top + 1 :].sum() == 0.0
        assert sh[c, :bot].sum() == 0.0
    rel = r.heatmap(relative=True)[2]
    assert rel.max() == pytest.approx(1.0)
    with pytest.raises(InputError):
        r.heatmap(tiers=[3])
    with pytest.raises(InputError):
        r.heatmap(sides="up")
    high = estimate(s, preset("high"), ratios=shortcut_ratios(cfg))
    np.testing.assert_allclose(high.heatmap()[2], r.heatmap(tiers=[25, 50, 100])[2])


def test_profile_cumulative_curves() -> None:
    s = random_steps(300, seed=3)
    cfg = preset("all")
    r = estimate(s, cfg, ratios=shortcut_ratios(cfg))
    p = r.profile()
    ip = r.grid.index_of(p.price)
    assert p.long.shape == (5, r.grid.n)
    assert p.cum_long[0] == pytest.approx(p.long.sum(axis=0)[: ip + 1].sum())
    assert p.cum_short[-1] == pytest.approx(p.short.sum(axis=0)[ip:].sum())
    assert np.all(np.diff(p.cum_long[: ip + 1]) <= 1e-9)
    assert np.all(np.diff(p.cum_short[ip:]) >= -1e-9)
    only_short = r.profile(sides="short", tiers=[100])
    assert only_short.long.sum() == 0.0 and only_short.leverages == (100.0,)


def test_columns_are_aligned_and_bounded() -> None:
    assert column_width_ms(0, 525_600 * 60_000, 2048) == 6 * 3_600_000
    s = random_steps(500)
    cfg = ModelConfig(max_columns=20)
    r = estimate(s, cfg, ratios=shortcut_ratios(cfg))
    assert r.columns_ts.shape[0] <= 20
    assert np.all(r.columns_ts % r.column_ms == 0)
    assert r.snapshots.dtype == np.float32


def test_aggregate_sums_on_a_common_grid() -> None:
    cfg = ModelConfig(bucket_usd=5.0)
    a = estimate(random_steps(400, 1), cfg, ratios=shortcut_ratios(cfg))
    b_steps = random_steps(300, 2).slice(0, 300)
    b = estimate(b_steps, cfg, ratios=shortcut_ratios(cfg, 0.006))
    agg = aggregate([a, b])
    assert agg.heatmap()[2].sum() == pytest.approx(
        a.heatmap()[2].sum() + b.heatmap()[2].sum(), rel=1e-5
    )
    other = estimate(random_steps(100), ModelConfig(bucket_usd=7.0), ratios=shortcut_ratios(cfg))
    with pytest.raises(InputError):
        aggregate([a, other])


def test_bad_ratios_rejected() -> None:
    s = random_steps(10)
    with pytest.raises(InputError):
        estimate(s, ONE, ratios=np.array([[0.9, 1.1], [0.9, 1.1]]))
    with pytest.raises(InputError, match="venue and symbol"):
        estimate(s, ONE)


def test_exact_ratios_from_venue_rules() -> None:
    s = random_steps(50)
    s = replace(s, venue="binance", symbol="BTCUSDT")
    r = estimate(s, preset("all"))
    assert r.ratios.shape == (5, 2)
    assert np.all(r.ratios[:, 0] < 1) and np.all(r.ratios[:, 1] > 1)
    # 10x, tier 1 of Binance BTCUSDT: LP/EP = (1 - 1/10)/(1 - 0.004)
    assert r.ratios[1, 0] == pytest.approx(0.9 / 0.996, rel=1e-9)


def test_tier_above_venue_maximum_is_modelled_at_the_maximum() -> None:
    from liqscope.model.estimator import level_ratios

    r = level_ratios(preset("all"), "hyperliquid", "BTC", 50_000.0)
    assert np.all(r[:, 0] < 1) and np.all(r[:, 1] > 1)
    np.testing.assert_allclose(r[4], r[3])  # 100x and 50x both capped at 40x
