"""The scorecard ranks the real model above a broken one and reports confidence intervals."""

from __future__ import annotations

import numpy as np
import pytest

from liqscope.model import preset
from liqscope.signals.scorecard import (
    Realized,
    WindowMaps,
    estimate_sim,
    score_windows,
    shuffled,
    sim_scorecards,
    simulate,
    window_maps,
)


@pytest.fixture(scope="module")
def sim():  # type: ignore[no-untyped-def]
    return simulate("cascade", 1, 24)


def test_oracle_scores_highest_and_shuffled_at_the_baseline(sim) -> None:  # type: ignore[no-untyped-def]
    out = sim_scorecards(sim, {"all": preset("all")}, n_boot=300)
    model = out["models"]["all"]
    broken = out["broken_shuffled"]
    oracle = out["oracle_true_profile"]
    for d in (model, broken, oracle):
        assert d["hot_share"]["ci_low"] <= d["hot_share"]["value"] <= d["hot_share"]["ci_high"]
        assert d["hot_share"]["ci_high"] > d["hot_share"]["ci_low"]
        assert d["hot_cell_fraction"] == pytest.approx(0.2, abs=0.02)  # fractional top-q
    pct = {k: d["level_percentile"]["value"] for k, d in
           (("model", model), ("broken", broken), ("oracle", oracle))}  # fmt: skip
    assert pct["oracle"] > pct["model"] > pct["broken"], pct
    assert abs(pct["broken"] - 0.5) < 0.05  # a map from the wrong time carries no information
    assert oracle["hot_share"]["value"] > model["hot_share"]["value"] > broken["hot_share"]["value"]
    assert oracle["hot_share"]["value"] > oracle["baseline_share"]["value"]
    assert model["zones_reached"] >= model["false_positives"] >= 0
    assert np.isfinite(model["emd_pct"])


def test_scoring_on_a_hand_built_window() -> None:
    n = 100
    scores = np.zeros((2, n))
    scores[:, 40:45] = 1.0  # 100.0k-101.25k: short side of p0 = 100k, zones 0..4 of 0.25 %
    scores[:, 30:40] = 0.5  # 97.5k-100k: long side, zones -10..-1
    wm = WindowMaps(
        start=np.array([0, 3_600_000]), end=np.array([3_600_000, 7_200_000]),
        price0=np.array([100_000.0, 100_000.0]), sigma=np.array([0.01, 0.01]),
        high=np.array([100_400.0, 100_400.0]), low=np.array([99_050.0, 99_050.0]),
        origin=90_000.0, step=250.0, scores=scores,
    )  # fmt: skip
    liq = Realized(
        ts=np.array([10, 20, 3_600_010]), price=np.array([100_100.0, 99_100.0, 99_900.0]),
        usd=np.array([3.0, 1.0, 4.0]), side=np.array([-1, 1, 1]),
    )  # fmt: skip
    sc = score_windows(wm, liq, n_boot=50, q=0.25)
    # reached zones: long -4..-1 (to 99.05k), short 0, 1 (to 100.4k): 6 zones, 1.5 hot (the two
    # short zones score 1.0 each: zone 0 fully hot, zone 1 half)
    assert sc.hot_cell_fraction == pytest.approx(0.25)
    # window 1: 3 USD in short zone 0 (hot), 1 USD in long zone -4 (not); window 2: 4 USD in
    # long zone -1 (not hot)
    assert sc.hot_share.value == pytest.approx(3.0 / 8.0)
    # the distance prior's hot zones: the farthest reached (long -4 fully, -3 half)
    assert sc.baseline_share.value == pytest.approx(1.0 / 8.0)
    # percentiles among the 6 reached zones: short zones tie at the top (mid-rank 4/6..)
    assert 0.5 < sc.level_percentile.value < 1.0
    assert sc.windows_with_liquidations == 2
    assert sc.zones_reached == 2 and sc.false_positives == 1  # window 2's hot band is empty
    none = score_windows(wm, Realized(liq.ts[2:], liq.price[2:], liq.usd[2:], liq.side[2:]))
    assert none.false_positives == 2 and none.hot_share.value == 0.0


def test_window_maps_use_only_the_previous_column(sim) -> None:  # type: ignore[no-untyped-def]
    res = estimate_sim(sim, preset("all"))
    wm = window_maps(res, sim.steps)
    assert (wm.start == res.columns_ts[1:]).all()
    assert wm.price0[0] == res.column_close[0]
    assert shuffled(wm).scores.shape == wm.scores.shape
