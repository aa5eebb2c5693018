"""Named model configurations ("presets"), like the commercial heatmap "models"."""

from __future__ import annotations

from liqscope.domain.errors import InputError
from liqscope.model.config import ModelConfig

ALL = ModelConfig(name="all")
"""Every leverage tier (5, 10, 25, 50, 100x) with the default weights."""

HIGH = ModelConfig(name="high", display_leverages=(25.0, 50.0, 100.0))
"""The same model as ``all``, viewed through the high-leverage tiers only (>= 25x); values
stay in USD of the whole OI (the low tiers still take their share of new positions)."""

PRESETS: dict[str, ModelConfig] = {"all": ALL, "high": HIGH}
"""Registry of named presets; ``calibrated`` is added by the calibration work."""


def preset(name: str) -> ModelConfig:
    """The preset called ``name`` (case-insensitive)."""
    key = name.strip().lower()
    if key not in PRESETS:
        raise InputError(f"unknown preset {name!r} (expected one of {', '.join(PRESETS)})")
    return PRESETS[key]
