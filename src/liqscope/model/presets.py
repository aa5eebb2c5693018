"""Named model configurations ("presets"), like the commercial heatmap "models"."""

from __future__ import annotations

from liqscope.domain.errors import InputError
from liqscope.model.config import ModelConfig

ALL = ModelConfig(name="all")
"""Every leverage tier (5, 10, 25, 50, 100x) with the default weights."""

HIGH = ModelConfig(name="high", display_leverages=(25.0, 50.0, 100.0))
"""The same model as ``all``, viewed through the high-leverage tiers only (>= 25x); values
stay in USD of the whole OI (the low tiers still take their share of new positions)."""

_H = 3_600_000.0

CALIBRATED = ModelConfig(
    name="calibrated",
    tier_weights=(0.25, 0.30, 0.25, 0.12, 0.08),
    half_lives_ms=(24 * _H, 24 * _H, 24 * _H, 24 * _H, 24 * _H),
)
"""Fitted by ``liqscope.signals.calibrate`` on the built-in simulator (scenario cascade, seed
1, 24 h, trained on the first 12 h): tilt 0 (the default tier weights) and a 24 h half-life
for every tier. Regenerate with
``liqscope score --scenario cascade --seed 1 --hours 24 --presets all --calibrate --json``
(``calibration.tier_weights`` and ``calibration.half_life_h``); see docs/scorecard.md."""

PRESETS: dict[str, ModelConfig] = {"all": ALL, "high": HIGH, "calibrated": CALIBRATED}
"""Registry of named presets."""


def preset(name: str) -> ModelConfig:
    """The preset called ``name`` (case-insensitive)."""
    key = name.strip().lower()
    if key not in PRESETS:
        raise InputError(f"unknown preset {name!r} (expected one of {', '.join(PRESETS)})")
    return PRESETS[key]
