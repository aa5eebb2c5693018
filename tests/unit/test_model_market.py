"""The one market estimate every view renders (model.estimate_market)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from liqscope.domain.errors import InputError
from liqscope.model import (
    GridPolicy,
    PriceGrid,
    Steps,
    aggregate,
    estimate,
    estimate_market,
    preset,
)
from liqscope.model.estimator import level_ratios

T0 = 1_767_225_600_000  # 2026-01-01 UTC


def venue_steps(venue: str, symbol: str, seed: int, n: int = 240) -> Steps:
    rng = np.random.default_rng(seed)
    c = 60_000 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    o = np.r_[c[0], c[:-1]]
    h = np.maximum(o, c) * (1 + np.abs(rng.normal(0, 0.001, n)))
    lo = np.minimum(o, c) * (1 - np.abs(rng.normal(0, 0.001, n)))
    v = rng.uniform(1, 5, n)
    return Steps(
        ts=T0 + 60_000 * np.arange(n, dtype=np.int64),
        open=o,
        high=h,
        low=lo,
        close=c,
        volume=v,
        taker_buy_volume=v * rng.uniform(0.3, 0.7, n),
        oi_base=np.abs(1000 + np.cumsum(rng.normal(0, 5, n))),
        venue=venue,
        symbol=symbol,
    )


def test_single_venue_equals_a_direct_run_on_the_same_grid() -> None:
    cfg = preset("all")
    s = venue_steps("binance", "BTCUSDT", 1)
    m = estimate_market([s], cfg)
    direct = estimate(s, cfg)  # the estimator's own covering grid from the same config
    assert m.used == ("binance",)
    assert m.grid == direct.grid
    np.testing.assert_array_equal(m.heatmap.snapshots, direct.snapshots)


def test_venues_share_one_grid_and_sum_to_the_aggregate() -> None:
    cfg = preset("all")
    a = venue_steps("binance", "BTCUSDT", 1)
    b = venue_steps("bybit", "BTCUSDT", 2)
    m = estimate_market([a, b], cfg)
    assert set(m.venues) == {"binance", "bybit"}
    assert all(r.grid == m.grid for r in m.venues.values())
    summed = aggregate(list(m.venues.values()))
    np.testing.assert_allclose(m.heatmap.snapshots, summed.snapshots)
    total = m.heatmap.snapshots.sum()
    parts = sum(float(r.snapshots.sum()) for r in m.venues.values())
    assert total == pytest.approx(parts, rel=1e-5)


def test_grid_policy_bucket_size_and_fixed_grid() -> None:
    cfg = preset("all")
    s = venue_steps("binance", "BTCUSDT", 3)
    m = estimate_market([s], cfg, GridPolicy(bucket_usd=50.0))
    assert m.grid.step == 50.0 and m.grid.origin % 50.0 == 0
    fixed = PriceGrid(30_000.0, 100.0, 800)
    assert estimate_market([s], cfg, fixed).grid == fixed


def test_unpriceable_venue_is_skipped_with_reason_and_none_left_raises() -> None:
    cfg = preset("all")
    good = venue_steps("binance", "BTCUSDT", 4)
    bad = replace(venue_steps("binance", "NOSUCHCOIN", 5), venue="okx")
    m = estimate_market([good, bad], cfg, skipped={"bybit": "no open interest stored"})
    assert m.used == ("binance",)
    assert set(m.skipped) == {"okx", "bybit"}
    with pytest.raises(InputError, match="nothing to estimate"):
        estimate_market([bad], cfg)


def test_ratios_given_per_venue_are_used() -> None:
    cfg = preset("all")
    s = venue_steps("binance", "BTCUSDT", 6)
    exact = level_ratios(cfg, "binance", "BTCUSDT", float(np.median(s.close)))
    wider = np.column_stack([exact[:, 0] * 0.98, exact[:, 1] * 1.02])
    a = estimate_market([s], cfg)
    b = estimate_market([s], cfg, ratios={"binance": wider})
    assert not np.array_equal(
        a.heatmap.snapshots.sum(axis=(0, 1, 2)), b.heatmap.snapshots.sum(axis=(0, 1, 2))
    )
