"""The JSON form of calibration fits: their fields, the config as tier weights and leverages."""

from __future__ import annotations

from liqscope.domain.intervals import DAY_MS
from liqscope.model.presets import preset
from liqscope.signals.calibrate import Calibration, DailyCalibration, with_low_tier


def test_a_fit_names_its_config_by_tier_weights_and_leverages() -> None:
    cfg = with_low_tier(preset("all"), 0.2)
    cal = Calibration(cfg, 0.5, 24.0, 0.6, 0.55, 0.4, 0.35, 1_700_000_000_000, [{"tilt": 0.5}])
    d = cal.to_dict()
    assert "config" not in d and d["split_ms"] == 1_700_000_000_000
    assert d["leverages"] == [2.0, *preset("all").leverages]
    assert d["tier_weights"] == list(cfg.tier_weights) and d["tier_weights"][0] == 0.8
    d["grid"][0]["tilt"] = 9.0  # a copy: the fit is not changed through its dict
    assert cal.grid == [{"tilt": 0.5}]


def test_a_daily_fit_reports_the_split_in_ms_and_the_oi_share_sensitivity() -> None:
    day = 20_443
    figs = {"total": 0.5}
    cal = DailyCalibration(
        preset("all"), 0.0, 1.0, 72.0, 0.4, 0.02, 0.07, {"0.04": 0.01, "0.12": 0.05}, day,
        0.01, figs, figs, figs, figs, [],
    )  # fmt: skip
    d = cal.to_dict()
    assert d["split_day_ms"] == day * DAY_MS and "split_day" not in d
    assert d["at_risk_share_by_oi_share"] == {"0.04": 0.01, "0.12": 0.05}
    assert "sensitivity" not in d and "config" not in d
    assert d["leverages"] == list(preset("all").leverages) and d["oi_share"] == 0.07
