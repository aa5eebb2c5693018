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


def test_model_beats_shuffled_which_scores_about_the_baseline(sim) -> None:  # type: ignore[no-untyped-def]
    out = sim_scorecards(sim, {"all": preset("all")}, n_boot=500)
    model = out["models"]["all"]
    broken = out["broken_shuffled"]
    for d in (model, broken):
        assert d["hot_share"]["ci_low"] <= d["hot_share"]["value"] <= d["hot_share"]["ci_high"]
        assert d["hot_share"]["ci_high"] > d["hot_share"]["ci_low"]
        assert 0.15 < d["hot_cell_fraction"] <= 0.21  # ceil(q * cells)
    assert model["hot_share"]["value"] > broken["hot_share"]["value"] + 0.08
    assert model["lift"]["ci_low"] > 0
    assert abs(broken["lift"]["value"]) < 0.06
    assert out["oracle_true_profile"]["hot_share"]["value"] > broken["hot_share"]["value"]
    assert model["zones_reached"] >= model["false_positives"] >= 0
    assert np.isfinite(model["emd_pct"])


def test_scoring_on_a_hand_built_window() -> None:
    n = 100
    scores = np.zeros((2, n))
    scores[:, 40:45] = 1.0  # hot: 100.0k-101.25k
    wm = WindowMaps(
        start=np.array([0, 3_600_000]), end=np.array([3_600_000, 7_200_000]),
        price0=np.array([100_000.0, 100_000.0]), sigma=np.array([0.01, 0.01]),
        high=np.array([100_500.0, 100_500.0]), low=np.array([93_000.0, 99_000.0]),
        origin=90_000.0, step=250.0, scores=scores,
    )  # fmt: skip
    liq = Realized(
        ts=np.array([10, 20, 3_600_010]), price=np.array([100_100.0, 100_200.0, 99_900.0]),
        usd=np.array([3.0, 1.0, 4.0]), side=np.array([1, 1, 1]),
    )  # fmt: skip
    sc = score_windows(wm, liq, n_boot=50)
    assert sc.hot_share.value == pytest.approx(0.5)  # 3 + 1 of 8 in 100.0k-101.25k
    assert sc.false_positives == 1 and sc.zones_reached == 2  # window 2 reached it, no liqs
    assert sc.windows_with_liquidations == 2
    none = score_windows(wm, Realized(liq.ts[2:], liq.price[2:], liq.usd[2:], liq.side[2:]))
    assert none.false_positives == 2 and none.hot_share.value == 0.0


def test_window_maps_use_only_the_previous_column(sim) -> None:  # type: ignore[no-untyped-def]
    res = estimate_sim(sim, preset("all"))
    wm = window_maps(res, sim.steps)
    assert (wm.start == res.columns_ts[1:]).all()
    assert wm.price0[0] == res.column_close[0]
    assert shuffled(wm).scores.shape == wm.scores.shape
