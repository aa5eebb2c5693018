"""The numba kernel and the plain-Python reference implement the same model."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqscope.model.config import ModelConfig
from liqscope.model.estimator import estimate
from liqscope.model.grid import PriceGrid
from liqscope.model.reference import reference_estimate
from liqscope.model.steps import Steps


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[Steps, ModelConfig, np.ndarray, PriceGrid, np.ndarray | None]:
    n = draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    vol = draw(st.sampled_from([0.002, 0.01, 0.03]))
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, vol, n)))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, vol / 2, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, vol / 2, n)))
    flat = rng.random(n) < 0.1  # some steps with high == low == close
    high[flat] = low[flat] = open_[flat] = close[flat]
    oi = np.abs(50 + np.cumsum(rng.normal(0, 4, n)))
    if draw(st.booleans()):  # OI dropping to zero closes everything
        oi[rng.random(n) < 0.15] = 0.0
    gaps = rng.choice([60_000, 60_000, 120_000, 600_000], size=n)
    ts = 1_700_000_000_000 + np.cumsum(gaps).astype(np.int64)
    volume = rng.uniform(0, 10, n)
    taker = volume * rng.uniform(0, 1, n)
    taker[rng.random(n) < 0.2] = np.nan
    liq_l = np.where(rng.random(n) < 0.5, np.nan, rng.uniform(0, 300, n))
    liq_s = np.where(rng.random(n) < 0.5, np.nan, rng.uniform(0, 300, n))
    if draw(st.booleans()):  # OI holes (NaN) are carried over explicitly
        oi[rng.random(n) < 0.1] = np.nan
        if np.isnan(oi).all():
            oi[0] = 10.0
    steps = Steps(
        ts=ts,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
        taker_buy_volume=taker,
        oi_base=oi,
        liq_long_usd=liq_l,
        liq_short_usd=liq_s,
    )
    n_lev = draw(st.integers(1, 3))
    levs = tuple(float(x) for x in rng.choice([2, 5, 10, 25, 50, 100], n_lev, replace=False))
    n_size = draw(st.integers(1, 2))
    decay = draw(st.booleans())
    cfg = ModelConfig(
        leverages=levs,
        tier_weights=tuple(float(x) for x in rng.uniform(0.1, 1, n_lev)),
        size_classes_usd=tuple(1000.0 * (i + 1) for i in range(n_size)),
        size_weights=tuple(float(x) for x in rng.uniform(0.1, 1, n_size)),
        side_split=draw(st.sampled_from(["taker", "equal", "ratio"])),
        entry_points=draw(st.integers(1, 6)),
        closing=draw(st.sampled_from(["proportional", "recent"])),
        recent_window_ms=draw(st.sampled_from([120_000, 300_000])),
        half_lives_ms=tuple(float(x) for x in rng.uniform(1e5, 1e6, n_lev)) if decay else None,
        seed_initial_oi=draw(st.booleans()),
        book=draw(st.sampled_from(["oi", "net"])),
        turnover_per_day=draw(st.sampled_from([0.0, 1.0, 30.0])),
        use_realized_liquidations=draw(st.booleans()),
        column_ms=draw(st.sampled_from([None, 60_000, 180_000, 900_000])),
        max_columns=draw(st.integers(1, 50)),
    )
    g = n_lev * n_size
    ratios = np.empty((g, 2))
    for i in range(g):
        lev = levs[i // n_size]
        mmr = float(rng.uniform(0.002, 0.01))
        ratios[i] = (1 - 1 / lev + mmr, 1 + 1 / lev - mmr)
    if draw(st.booleans()):
        grid = PriceGrid.covering(
            float(low.min()), float(high.max()), ratios, n=draw(st.integers(3, 80))
        )
    else:  # a narrow grid: levels outside it are clipped to the edge buckets
        grid = PriceGrid(origin=float(close[0]) * 0.95, step=float(close[0]) * 0.004, n=25)
    share = rng.uniform(0, 1, n) if cfg.side_split == "ratio" else None
    return steps, cfg, ratios, grid, share


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.booleans())
def test_kernel_equals_reference(
    case: tuple[Steps, ModelConfig, np.ndarray, PriceGrid, np.ndarray | None], use_profile: bool
) -> None:
    steps, cfg, ratios, grid, share = case
    profile = None
    if use_profile:
        profile = np.random.default_rng(len(steps)).uniform(0, 1, (len(steps), cfg.entry_points))
    got = estimate(steps, cfg, ratios=ratios, grid=grid, long_share=share, volume_profile=profile)
    ref = reference_estimate(steps, cfg, ratios, grid, long_share=share, volume_profile=profile)
    scale = max(float(got.opened.sum()), 1.0)
    tol = {"rtol": 1e-9, "atol": 1e-9 * scale}
    np.testing.assert_allclose(got.opened, np.asarray(ref.opened), **tol)
    np.testing.assert_allclose(got.consumed, np.asarray(ref.consumed), **tol)
    np.testing.assert_allclose(got.closed, np.asarray(ref.closed), **tol)
    np.testing.assert_allclose(got.decayed, np.asarray(ref.decayed), **tol)
    np.testing.assert_allclose(got.live, np.asarray(ref.live), **tol)
    np.testing.assert_allclose(got.calibrated, np.asarray(ref.calibrated), **tol)
    assert got.columns_ts.tolist() == ref.columns_ts
    # snapshots are float32 by design
    np.testing.assert_allclose(
        got.snapshots, np.asarray(ref.snapshots), rtol=1e-6, atol=1e-6 * scale
    )
    # the final exact state agrees with the last live totals
    np.testing.assert_allclose(got.final_state.sum(axis=(0, 2)), got.live[-1], **tol)


@settings(max_examples=40, deadline=None)
@given(scenarios())
def test_conservation_per_side(
    case: tuple[Steps, ModelConfig, np.ndarray, PriceGrid, np.ndarray | None],
) -> None:
    steps, cfg, ratios, grid, share = case
    r = estimate(steps, cfg, ratios=ratios, grid=grid, long_share=share)
    seeded = r.opened.sum(axis=0)
    accounted = (
        r.live[-1] + r.consumed.sum(axis=(0, 1)) + r.closed.sum(axis=0) + r.decayed.sum(axis=0)
    )
    np.testing.assert_allclose(accounted, seeded, rtol=1e-9, atol=1e-9 * max(seeded.sum(), 1.0))
