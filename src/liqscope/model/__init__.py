"""The heatmap estimator: numba kernels over arrays, configuration, presets. No I/O."""

from liqscope.model.config import MODEL_VERSION, ModelConfig
from liqscope.model.estimator import EstimateResult, Heatmap, Profile, aggregate, estimate
from liqscope.model.grid import PriceGrid
from liqscope.model.market import GridPolicy, MarketEstimate, estimate_market
from liqscope.model.presets import PRESETS, preset
from liqscope.model.steps import Steps, steps_from_columns

__all__ = [
    "MODEL_VERSION",
    "PRESETS",
    "EstimateResult",
    "GridPolicy",
    "Heatmap",
    "MarketEstimate",
    "ModelConfig",
    "PriceGrid",
    "Profile",
    "Steps",
    "aggregate",
    "estimate",
    "estimate_market",
    "preset",
    "steps_from_columns",
]
