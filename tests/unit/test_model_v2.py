"""MODEL_VERSION 2: the OI-consistent book, input fixes, predicted liquidations."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from liqscope.domain.errors import InputError
from liqscope.model import MODEL_VERSION, ModelConfig, PriceGrid, Steps, estimate, preset
from liqscope.model.estimator import shortcut_ratios
from liqscope.model.predict import bin_by_interval, predicted_liquidations
from liqscope.model.steps import steps_from_columns

HOUR = 3_600_000
T0 = 1_700_000_000_000 - (1_700_000_000_000 % (24 * HOUR))


def walk(n: int, step_ms: int, seed: int = 7, vol: float = 0.001) -> Steps:
    """Random walk with fat tails and a mean-reverting OI random walk (one side, base)."""
    rng = np.random.default_rng(seed)
    c = 40_000.0 * np.exp(np.cumsum(rng.standard_t(4, n) * vol))
    o = np.r_[40_000.0, c[:-1]]
    h = np.maximum(o, c) * (1 + np.abs(rng.normal(0, vol, n)))
    lo = np.minimum(o, c) * (1 - np.abs(rng.normal(0, vol, n)))
    shocks = rng.normal(0, 0.002, n)
    x = np.zeros(n)
    for i in range(1, n):
        x[i] = 0.999 * x[i - 1] + shocks[i]
    v = rng.gamma(2.0, 50.0, n)
    return Steps(
        ts=T0 + step_ms * np.arange(n, dtype=np.int64), open=o, high=h, low=lo, close=c,
        volume=v, taker_buy_volume=v * np.clip(rng.normal(0.5, 0.08, n), 0, 1),
        oi_base=80_000.0 * np.exp(x),
    )  # fmt: skip


def test_model_version_is_2() -> None:
    assert MODEL_VERSION == "2"
    assert preset("all").book == "oi"


@pytest.mark.parametrize(
    ("step_ms", "name"), [(60_000, "all"), (HOUR, "all"), (HOUR, "calibrated")]
)
def test_live_tracks_oi_on_each_side_throughout_a_simulated_year(step_ms: int, name: str) -> None:
    n = 525_600 if step_ms == 60_000 else 8_760
    s = walk(n, step_ms, vol=0.0007 if step_ms == 60_000 else 0.006)
    cfg = replace(preset(name), max_columns=64)
    r = estimate(s, cfg, ratios=shortcut_ratios(cfg))
    ratio = r.invariant()[1]
    assert np.all((ratio >= 0.9) & (ratio <= 1.1)), (ratio.min(axis=0), ratio.max(axis=0))
    if name == "all":  # the v1 book drains on the same path (the bug v2 fixes)
        v1 = estimate(s, replace(cfg, book="net"), ratios=shortcut_ratios(cfg))
        assert v1.invariant()[1][-1].max() < 0.5


def test_flow_identity_per_side_and_step() -> None:
    s = walk(3_000, HOUR, seed=3, vol=0.01)
    cfg = replace(preset("all"), half_lives_ms=(24.0 * HOUR,) * 5, max_columns=16)
    r = estimate(s, cfg, ratios=shortcut_ratios(cfg))
    liq = r.consumed.sum(axis=1)
    prev = np.vstack([np.zeros((1, 2)), r.live[:-1]])
    # opened - closed - decayed - liquidated = change of the book = change of OI (USD)
    np.testing.assert_allclose(r.opened - r.closed - r.decayed - liq, r.live - prev, rtol=1e-9,
                               atol=1e-6 * r.live.max())  # fmt: skip
    assert (r.closed >= 0).all() and (r.opened >= 0).all()
    # gross flows exceed the net OI change: turnover from volume is at work
    assert r.closed[1:].sum() > 0.5 * np.abs(np.diff(r.oi_usd)).sum()
    assert r.turnover.shape == (3_000, 2)


def test_turnover_zero_and_flat_oi_keeps_the_book_untouched() -> None:
    s = walk(50, HOUR, seed=2)
    flat = replace(s, oi_base=np.full(50, 100.0), high=s.close, low=s.close, open=s.close)
    cfg = ModelConfig(leverages=(10.0,), tier_weights=(1.0,), turnover_per_day=0.0,
                      side_split="equal", entry_points=1, book="oi")  # fmt: skip
    r = estimate(flat, cfg, ratios=np.array([[0.9, 1.1]]))
    target = 100.0 * flat.close
    np.testing.assert_allclose(r.live[:, 0], target, rtol=1e-12)
    # with zero turnover only price-level drift of the target is traded
    np.testing.assert_allclose(r.opened[1:, 0] - r.closed[1:, 0], np.diff(target), atol=1e-6)


def test_recent_closing_works_on_hourly_steps() -> None:
    """One step opens, the next closes part of OI: with ``recent`` the levels of the
    previous step go first (v1 rolled the window over before closing: a no-op)."""
    grid = PriceGrid(origin=500.0, step=10.0, n=120)
    px = [1000.0, 1100.0, 1100.0]
    s = Steps(
        ts=T0 + HOUR * np.arange(3, dtype=np.int64), open=np.asarray(px), high=np.asarray(px),
        low=np.asarray(px), close=np.asarray(px), volume=np.zeros(3),
        taker_buy_volume=np.full(3, np.nan),
        oi_base=np.asarray([1.0, 2.0 * 1000 / 1100, 1000 / 1100]),
    )  # fmt: skip
    base = ModelConfig(leverages=(2.0,), tier_weights=(1.0,), side_split="equal", entry_points=1,
                       turnover_per_day=0.0, recent_window_ms=HOUR, max_columns=3)  # fmt: skip
    ratios = np.array([[0.5, 1.5]])
    rec = estimate(s, replace(base, closing="recent"), ratios=ratios, grid=grid)
    pro = estimate(s, base, ratios=ratios, grid=grid)
    long_rec = rec.final_state[0, 0]
    long_pro = pro.final_state[0, 0]
    b1000, b1100 = grid.index_of(500.0), grid.index_of(550.0)
    assert long_rec[b1000] == pytest.approx(1000.0) and long_rec[b1100] == pytest.approx(0.0)
    assert long_pro[b1000] == pytest.approx(500.0) and long_pro[b1100] == pytest.approx(500.0)


def test_oi_holes_are_carried_and_flagged() -> None:
    s = walk(30, HOUR, seed=5)
    oi = s.oi_base.copy()
    oi[[0, 10, 11]] = np.nan
    holed = replace(s, oi_base=oi)
    cfg = replace(preset("all"), max_columns=8)
    r = estimate(holed, cfg, ratios=shortcut_ratios(cfg))
    assert r.oi_filled.tolist() == [i in (0, 10, 11) for i in range(30)]
    assert r.oi_usd[10] == pytest.approx(s.oi_base[9] * (s.high[10] + s.low[10] + s.close[10]) / 3)
    assert np.isfinite(r.live).all()
    with pytest.raises(InputError, match="no value"):  # a fresh run needs one OI value
        estimate(replace(s, oi_base=np.full(30, np.nan)), cfg, ratios=shortcut_ratios(cfg))


@pytest.mark.parametrize(
    ("ts", "message"),
    [([1_700_000_000, 1_700_000_060], "epoch seconds"),
     ([1_700_000_000_000_000, 1_700_000_060_000_000], "micro")],
)  # fmt: skip
def test_epoch_seconds_and_microseconds_are_refused(ts: list[int], message: str) -> None:
    cols = {"ts": ts, "open": [1, 1], "high": [1, 1], "low": [1, 1], "close": [1, 1],
            "volume": [1, 1], "open_interest": [1, 1]}  # fmt: skip
    with pytest.raises(InputError, match=message):
        steps_from_columns(cols)


def test_open_interest_usd_is_converted_at_the_typical_price() -> None:
    cols = {"ts": [T0, T0 + HOUR], "open": [100, 100], "high": [120, 110], "low": [90, 95],
            "close": [90, 105], "volume": [1, 1], "open_interest_usd": [1000, 1100]}  # fmt: skip
    s = steps_from_columns(cols)
    assert s.oi_base.tolist() == pytest.approx([1000 / 100.0, 1100 / 103.33333333333333])


def test_predicted_liquidations_bin_the_consumed_mass() -> None:
    s = walk(24 * 6, HOUR, seed=11, vol=0.01)
    cfg = replace(preset("all"), max_columns=8)
    r = estimate(s, cfg, ratios=shortcut_ratios(cfg))
    p = predicted_liquidations(r, 24 * HOUR)
    assert len(p) == 6 and (p.ts % (24 * HOUR) == 0).all()
    assert p.long_usd.sum() == pytest.approx(r.consumed[:, :, 0].sum())
    assert p.short_usd.sum() == pytest.approx(r.consumed[:, :, 1].sum())
    day3 = (r.ts // (24 * HOUR)) == (p.ts[3] // (24 * HOUR))
    assert p.long_usd[3] == pytest.approx(r.consumed[day3, :, 0].sum())
    high = predicted_liquidations(r, HOUR, tiers=(50.0, 100.0))
    assert high.long_usd.sum() < p.long_usd.sum()
    with pytest.raises(InputError):
        bin_by_interval(r.ts, r.live, 0)


def test_combined_predictions_sum_venues_on_the_union_of_intervals() -> None:
    from liqscope.model.predict import PredictedLiquidations, combined

    a = PredictedLiquidations(np.array([0, HOUR]), np.array([1.0, 2.0]), np.array([0.0, 1.0]), HOUR)
    b = PredictedLiquidations(np.array([HOUR, 2 * HOUR]), np.array([4.0, 8.0]), np.zeros(2), HOUR)
    c = combined([a, b])
    assert c.ts.tolist() == [0, HOUR, 2 * HOUR]
    assert c.long_usd.tolist() == [1.0, 6.0, 8.0] and c.short_usd.tolist() == [0.0, 1.0, 0.0]
    assert combined([a]) is a
    with pytest.raises(InputError):
        combined([a, PredictedLiquidations(a.ts, a.long_usd, a.short_usd, 2 * HOUR)])


def test_grid_spans_only_the_grid_tiers_and_far_levels_are_never_consumed() -> None:
    s = walk(2_000, HOUR, seed=5, vol=0.004)
    near = ModelConfig(leverages=(10.0, 50.0), tier_weights=(0.6, 0.4), max_columns=16)
    far = replace(near, leverages=(1.5, 10.0, 50.0), tier_weights=(0.9, 0.06, 0.04),
                  grid_leverages=(10.0, 50.0))  # fmt: skip
    r_near = estimate(s, near, ratios=shortcut_ratios(near))
    r_far = estimate(s, far, ratios=shortcut_ratios(far))
    # the same grid as without the far tier (its levels would widen it otherwise)
    assert r_far.grid == r_near.grid
    wide = estimate(s, replace(far, grid_leverages=None), ratios=shortcut_ratios(far))
    assert wide.grid.step >= 2 * r_far.grid.step
    # the book still holds OI with the 1.5x levels clipped into the edge buckets
    ratio = r_far.invariant()[1]
    assert np.all((ratio >= 0.9) & (ratio <= 1.1))
    # the consumed mass of the near tiers is what their weight share makes it
    got = r_far.consumed[:, 1:].sum()
    assert 0.02 < got / r_near.consumed.sum() < 0.3
    with pytest.raises(InputError, match="grid_leverages"):
        replace(far, grid_leverages=(3.0,))


@pytest.mark.parametrize("scenario", ["calm", "trending", "squeeze", "cascade"])
def test_live_tracks_oi_on_each_side_on_the_market_simulator(scenario: str) -> None:
    """The simulator's own OI path (liquidation cascades, squeezes): v2 live/OI stays in
    [0.9, 1.1] per side at every step; v1 drifts on the same path."""
    from liqscope.signals.scorecard import estimate_sim, simulate

    sim = simulate(scenario, 2, 24)
    ratio = estimate_sim(sim, preset("all")).invariant()[1]
    assert np.all((ratio >= 0.9) & (ratio <= 1.1)), (ratio.min(axis=0), ratio.max(axis=0))
    v1 = estimate_sim(sim, replace(preset("all"), book="net")).invariant()[1]
    assert np.nanmax(np.abs(v1 - 1.0)) > 0.1
