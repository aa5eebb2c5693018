"""Named model configurations ("presets"), like the commercial heatmap "models"."""

from __future__ import annotations

from liqscope.domain.errors import InputError
from liqscope.model.config import ModelConfig

ALL = ModelConfig(name="all")
"""Every leverage tier (5, 10, 25, 50, 100x) with the default weights and the v2 book's
prior turnover (each book turns over once a day at average volume). Not fitted: the prior
that ``calibrated`` is measured against."""

HIGH = ModelConfig(name="high", display_leverages=(25.0, 50.0, 100.0))
"""The same model as ``all``, viewed through the high-leverage tiers only (>= 25x); values
stay in USD of the whole OI (the low tiers still take their share of new positions)."""

CALIBRATED = ModelConfig(
    name="calibrated",
    leverages=(2.0, 5.0, 10.0, 25.0, 50.0, 100.0),
    tier_weights=(0.998, 0.0005, 0.0006, 0.0005, 0.00024, 0.00016),
    display_leverages=(5.0, 10.0, 25.0, 50.0, 100.0),
    grid_leverages=(5.0, 10.0, 25.0, 50.0, 100.0),
    turnover_per_day=2.0,
    unknown_long_share=0.6,
)
"""Fitted on REAL data by ``liqscope calibrate`` (:func:`liqscope.signals.calibrate.
calibrate_daily`): Hyperliquid hourly OI + Binance 1h candles against real all-venue daily
long/short liquidations, BTC/ETH/SOL, trained on 2025-12-07..20 and reported on
2025-12-21..31 (docs/methodology.md). The one-SE rule kept the default tier weights (tilt
0) and no decay, and chose a turnover of 2 per day and a long share of 0.6 of the books'
turnover when taker-buy volume is unknown (the side split). The magnitude stage put 99.8 %
of new notional in a low effective-leverage tier (2x: cross-margin, hedged and
collateral-rich accounts) so that predicted Hyperliquid USD / realized all-venue USD on the
train days is near Hyperliquid's assumed 7 % share of market OI (0.093 train, 0.084 test);
the 5-100x tiers keep the prior's proportions. Views show the 5-100x tiers by default and
the grid spans their levels (the 2x levels, never reached, sit in its edge buckets).
Regenerate with ``liqscope calibrate --data ../shared/data/real --split 2025-12-21``."""

PRESETS: dict[str, ModelConfig] = {"all": ALL, "high": HIGH, "calibrated": CALIBRATED}
"""Registry of named presets."""


def preset(name: str) -> ModelConfig:
    """The preset called ``name`` (case-insensitive)."""
    key = name.strip().lower()
    if key not in PRESETS:
        raise InputError(f"unknown preset {name!r} (expected one of {', '.join(PRESETS)})")
    return PRESETS[key]
