"""Accuracy on REAL data (December 2025): the bar of issue 10 must keep holding.

Reads ``<repo parent>/shared/data/real`` (never copied into the repo); skips with the
reason when the folder is absent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from liqscope.model import preset
from liqscope.signals import realdata as rd
from liqscope.signals.calibrate import calibrate_daily

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"
pytestmark = pytest.mark.skipif(
    not (REAL / "daily-liquidations-2025-12.csv").is_file(),
    reason=f"real data folder {REAL} is absent (shared/data/real beside the repository)",
)


@pytest.fixture(scope="module")
def data() -> rd.RealData:
    return rd.load_real(REAL)


@pytest.fixture(scope="module")
def figures(data: rd.RealData) -> dict[str, Any]:
    return rd.evaluate(data, preset("all"), split_day=rd.day_of("2025-12-21"), n_boot=100)


def test_default_preset_beats_the_oi_baselines_on_real_days(figures: dict[str, Any]) -> None:
    per = figures["periods"]["all"]
    model, hl, rng = per["model"], per["oi_open_low_high_open"], per["oi_range_by_sign"]
    assert per["days"] >= 70
    assert model["long"]["value"] >= hl["long"]["value"] + 0.05, (model["long"], hl["long"])
    assert model["short"]["value"] >= hl["short"]["value"] + 0.05, (model["short"], hl["short"])
    assert model["total"]["value"] >= rng["total"]["value"], (model["total"], rng["total"])


def test_realized_clusters_sit_in_denser_than_prior_bins(figures: dict[str, Any]) -> None:
    dens = figures["swept_density"]
    assert dens["map_share"] > dens["prior_share"] > 0


def test_book_tracks_oi_on_the_real_december_data(figures: dict[str, Any]) -> None:
    for side in ("long", "short"):
        lo, hi = figures["live_over_oi"][side]
        assert 0.9 <= lo <= hi <= 1.1, (side, lo, hi)


def test_v1_book_drains_on_the_same_data(data: rd.RealData) -> None:
    from dataclasses import replace

    _, ratio = rd.daily_predictions(data, replace(preset("all"), book="net"))
    assert min(float(np.nanmin(r[-24:])) for r in ratio.values()) < 0.5


def test_calibration_reports_train_and_test_separately(data: rd.RealData) -> None:
    cal = calibrate_daily(data, preset("all"), rd.day_of("2025-12-21"), n_boot=60,
                          tilts=(0.0, 1.0), turnovers=(1.0, 2.0), half_lives_h=(0.0,),
                          long_shares=(0.5, 0.6), at_risk_shares=(1.0, 0.01))  # fmt: skip
    assert cal.train != cal.test
    assert {g["tilt"] for g in cal.grid} == {0.0, 1.0} and len(cal.grid) == 4 + 2 + 2
    assert cal.config.name == "calibrated"
    # the shipped preset is what the full calibration chose on December (train days)
    full = calibrate_daily(data, preset("all"), rd.day_of("2025-12-21"), n_boot=100)
    shipped = preset("calibrated")
    assert full.config.turnover_per_day == shipped.turnover_per_day
    assert full.config.tier_weights == pytest.approx(shipped.tier_weights)
    assert full.config.half_lives_ms == shipped.half_lives_ms
    assert full.config.unknown_long_share == shipped.unknown_long_share
    assert full.config.leverages == shipped.leverages
    assert full.config.display_leverages == shipped.display_leverages
    assert full.config.grid_leverages == shipped.grid_leverages
    # the magnitude stage: predicted Hyperliquid USD / realized all-venue USD near the assumed
    # 7 % OI share on the train days (a factor 2 either way), and out of sample too
    assert full.oi_share == 0.07
    for fig in (full.train, full.test):
        assert 0.035 <= fig["usd_ratio"] <= 0.14, fig
    assert full.default_train["usd_ratio"] > 10  # the prior alone: 20-60x the market total
    # a larger assumed share never asks for less at-risk mass
    sens = sorted((float(k), v) for k, v in full.sensitivity.items())
    assert [v for _, v in sens] == sorted(v for _, v in sens)


def test_calibrated_preset_keeps_the_rank_bar_with_plausible_magnitudes(
    data: rd.RealData,
) -> None:
    ev = rd.evaluate(data, preset("calibrated"), split_day=rd.day_of("2025-12-21"), n_boot=50)
    per = ev["periods"]["all"]
    model, hl, rng = per["model"], per["oi_open_low_high_open"], per["oi_range_by_sign"]
    assert model["long"]["value"] >= hl["long"]["value"] + 0.05, (model["long"], hl["long"])
    assert model["short"]["value"] >= hl["short"]["value"] + 0.05, (model["short"], hl["short"])
    assert model["total"]["value"] >= rng["total"]["value"], (model["total"], rng["total"])
    # one venue's predicted USD below the all-venue realized total, per period
    for period in ("train", "test"):
        assert 0.02 <= ev["periods"][period]["model"]["usd_ratio"]["value"] < 0.5
    for side in ("long", "short"):
        lo, hi = ev["live_over_oi"][side]
        assert 0.9 <= lo <= hi <= 1.1, (side, lo, hi)
