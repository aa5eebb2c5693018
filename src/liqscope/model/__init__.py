"""The heatmap estimator: numba kernels over arrays, configuration, presets. No I/O."""

from liqscope.model.config import MODEL_VERSION, ModelConfig
from liqscope.model.estimator import EstimateResult, Heatmap, Profile, aggregate, estimate
from liqscope.model.grid import PriceGrid
from liqscope.model.market import (
    GridPolicy,
    MarketEstimate,
    concat_estimates,
    estimate_market,
    market_plan,
)
from liqscope.model.presets import PRESETS, preset
from liqscope.model.state import EstimatorState
from liqscope.model.steps import Steps, steps_from_columns

__all__ = [
    "MODEL_VERSION",
    "PRESETS",
    "EstimateResult",
    "EstimatorState",
    "GridPolicy",
    "Heatmap",
    "MarketEstimate",
    "ModelConfig",
    "PriceGrid",
    "Profile",
    "Steps",
    "aggregate",
    "concat_estimates",
    "estimate",
    "estimate_market",
    "market_plan",
    "preset",
    "steps_from_columns",
]
