"""Estimator state resume: a range estimated in pieces, each continuing the previous one's
state, equals one run over the whole range (model.estimate(initial=), estimate_market,
market_plan, concat_estimates)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_model_market import venue_steps as walk_steps

from liqscope.domain.errors import InputError
from liqscope.model import (
    MarketEstimate,
    ModelConfig,
    Steps,
    concat_estimates,
    estimate,
    estimate_market,
    market_plan,
    preset,
)
from liqscope.model.market import concat_results

T0 = 1_767_225_600_000  # 2026-01-01 UTC
HOUR = 3_600_000

CONFIGS = {
    "all": preset("all"),
    "calibrated": preset("calibrated"),
    "recent+decay+calibrate": replace(
        preset("all"),
        closing="recent",
        recent_window_ms=HOUR,
        half_lives_ms=(0.0, 6 * HOUR, 3 * HOUR, HOUR, HOUR),
        calibrate_to_oi=True,
    ),
    "v1-net": replace(preset("all"), book="net", seed_initial_oi=False),
}


def venue_steps(venue: str, seed: int, n: int = 600, start: int = T0) -> Steps:
    """The market tests' walk on irregular 1-10 minute steps, with OI holes, steps without
    volume and realized liquidations."""
    base = walk_steps(venue, "BTCUSDT", seed, n)
    rng = np.random.default_rng(seed + 1000)
    v = np.where(rng.random(n) < 0.05, 0.0, base.volume)
    oi = np.where(rng.random(n) < 0.05, np.nan, base.oi_base)
    oi[0] = base.oi_base[0]
    gaps = rng.choice([60_000, 60_000, 60_000, 120_000, 600_000], size=n)
    return replace(
        base,
        ts=start + np.cumsum(gaps).astype(np.int64),
        volume=v,
        taker_buy_volume=v * rng.uniform(0.3, 0.7, n),
        oi_base=oi,
        liq_long_usd=np.where(rng.random(n) < 0.7, np.nan, rng.uniform(0, 5e4, n)),
    )


def window(s: Steps, a: int, b: int) -> Steps | None:
    """The steps of ``s`` in ``[a, b)`` (None when there are none)."""
    i, j = np.searchsorted(s.ts, [a, b])
    return s.slice(int(i), int(j)) if j > i else None


def in_pieces(steps: Sequence[Steps], cfg: ModelConfig, cuts: Sequence[int]) -> MarketEstimate:
    """``steps`` estimated piece by piece between the time ``cuts``, the state carried."""
    grid, ratios, planned = market_plan(steps, cfg)
    bounds = [-(2**62), *cuts, 2**62]
    state = None
    parts = []
    for a, b in itertools.pairwise(bounds):
        piece = [w for s in steps if (w := window(s, a, b)) is not None]
        if piece:
            est = estimate_market(piece, planned, grid, ratios=ratios, initial=state)
            state = est.state
            parts.append(est)
    return concat_estimates(parts)


def assert_same(got: MarketEstimate, want: MarketEstimate) -> None:
    for a, b in (
        (got.heatmap, want.heatmap),
        *zip(got.venues.values(), want.venues.values(), strict=False),
    ):
        np.testing.assert_array_equal(a.columns_ts, b.columns_ts)
        assert a.snapshots.tobytes() == b.snapshots.tobytes()
        assert a.column_close.tobytes() == b.column_close.tobytes()
        assert a.grid == b.grid and a.column_ms == b.column_ms
        for at in (0, a.columns_ts.shape[0] // 2, -1):
            pa, pb = a.profile(at), b.profile(at)
            assert pa.cum_long.tobytes() == pb.cum_long.tobytes()
            assert pa.cum_short.tobytes() == pb.cum_short.tobytes()
    assert list(got.venues) == list(want.venues)
    for v, r in want.venues.items():
        g = got.venues[v]
        for name in ("ts", "live", "consumed", "opened", "closed", "decayed", "turnover"):
            assert getattr(g, name).tobytes() == getattr(r, name).tobytes(), name
        np.testing.assert_array_equal(g.final_state, r.final_state)


STEPS = {
    "one": [venue_steps("binance", 1)],
    # two venues over different ranges: bybit starts six hours later
    "two": [venue_steps("binance", 1), venue_steps("bybit", 2, 500, T0 + 6 * HOUR)],
}


def column_cuts(steps: Sequence[Steps], cfg: ModelConfig, data: st.DataObject) -> list[int]:
    _, _, planned = market_plan(steps, cfg)
    w = int(planned.column_ms or 0)
    t0 = min(int(s.ts[0]) for s in steps) // w + 1
    t1 = max(int(s.ts[-1]) for s in steps) // w
    k = data.draw(st.lists(st.integers(t0, t1), min_size=1, max_size=6, unique=True))
    return [c * w for c in sorted(k)]


@pytest.mark.parametrize("market", list(STEPS))
@pytest.mark.parametrize("name", list(CONFIGS))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_pieces_cut_at_column_edges_equal_one_run(
    market: str, name: str, data: st.DataObject
) -> None:
    steps, cfg = STEPS[market], replace(CONFIGS[name], max_columns=64)
    cuts = column_cuts(steps, cfg, data)
    assert_same(in_pieces(steps, cfg, cuts), estimate_market(steps, cfg))


@pytest.mark.parametrize("market", list(STEPS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_pieces_cut_anywhere_equal_one_run(market: str, data: st.DataObject) -> None:
    """Cuts inside a column too: the column two pieces share is the later piece's."""
    steps, cfg = STEPS[market], replace(CONFIGS["all"], max_columns=40)
    ts = np.unique(np.concatenate([s.ts for s in steps]))
    idx = data.draw(st.lists(st.integers(1, ts.shape[0] - 1), min_size=1, max_size=8, unique=True))
    assert_same(
        in_pieces(steps, cfg, [int(ts[i]) for i in sorted(idx)]), estimate_market(steps, cfg)
    )


@pytest.mark.parametrize("market", list(STEPS))
def test_incremental_extension_equals_the_full_run_on_common_columns(market: str) -> None:
    """Estimate [a, b], then continue with the new steps [b, c] from the state alone (grid,
    ratios and columns come from it): the columns equal a full [a, c] run on that plan."""
    steps = STEPS[market]
    cfg = replace(preset("all"), column_ms=15 * 60_000)
    b = int(steps[0].ts[350]) + 1  # inside a column
    first_steps = [w for s in steps if (w := window(s, -1, b)) is not None]
    grid, ratios, planned = market_plan(first_steps, cfg)
    first = estimate_market(first_steps, planned, grid, ratios=ratios)
    new = [w for s in steps if (w := window(s, b, 2**62)) is not None]
    more = estimate_market(new, cfg, initial=first.state)
    full = estimate_market(steps, planned, grid, ratios=ratios)
    n_first = first.heatmap.columns_ts.shape[0]
    # every column of the first run but its last (still open at b) is final
    np.testing.assert_array_equal(
        first.heatmap.snapshots[: n_first - 1], full.heatmap.snapshots[: n_first - 1]
    )
    # the continuation's columns are the full run's from its first one on
    off = int(more.heatmap.columns_ts[0] - full.heatmap.columns_ts[0]) // int(cfg.column_ms or 1)
    got = more.heatmap.snapshots
    assert got.tobytes() == full.heatmap.snapshots[off : off + got.shape[0]].tobytes()
    assert_same(concat_estimates([first, more]), full)


def test_a_mismatched_state_is_refused() -> None:
    s = venue_steps("binance", 3)
    cfg = replace(preset("all"), column_ms=HOUR)
    head = estimate(s.slice(0, 300), cfg)
    assert head.state is not None
    with pytest.raises(InputError, match="start after"):
        estimate(s.slice(200, 400), cfg, initial=head.state)
    with pytest.raises(InputError, match="columns"):
        estimate(s.slice(300, 400), replace(cfg, column_ms=2 * HOUR), initial=head.state)
    other = estimate(s.slice(300, 400), cfg)
    with pytest.raises(InputError, match="grid"):
        estimate(s.slice(300, 400), cfg, grid=other.grid, initial=head.state)
    tail = estimate(s.slice(300, 400), cfg, initial=head.state)
    with pytest.raises(InputError, match="overlap"):
        concat_results([tail, head])
    with pytest.raises(InputError, match="different"):
        concat_results([head, other])


def test_state_levels_are_the_final_state_and_track_oi() -> None:
    s = venue_steps("binance", 4)
    r = estimate(s, preset("all"))
    assert r.state is not None
    np.testing.assert_allclose(r.state.levels, r.final_state, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(r.state.levels.sum(axis=(0, 2)), r.live[-1], rtol=1e-9)
    assert r.state.ts == int(s.ts[-1]) and r.state.live == (r.live[-1, 0], r.live[-1, 1])
