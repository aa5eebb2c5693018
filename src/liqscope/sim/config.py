"""Parameters of a simulated market and the position arrays it records (see docs/simulator.md)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from liqscope.domain.records import Columns

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]

BLOCK_S = 3600  # seconds of randomness drawn at once
FUNDING_INTERVAL_MS = 8 * 3600 * 1000

# trader kinds
TREND, MEANREV, NOISE, PASSIVE = 0, 1, 2, 3
# exit reasons
OPEN, EXIT_HAZARD, EXIT_TP, EXIT_SL, EXIT_LIQ = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class Regime:
    """A phase of the exogenous driver and of the crowd, from ``start_s`` (seconds after start)
    until the next regime."""

    start_s: int
    drift_per_hour: float = 0.0  # log-drift of the driver per hour
    vol_mult: float = 1.0  # multiplies ``annual_vol``
    activity: float = 1.0  # multiplies ``arrival_rate``
    side_bias: float = 0.0  # in [-1, 1]: noise traders go long with p = (1 + bias) / 2


@dataclass(frozen=True)
class SimConfig:
    """Every parameter of a simulated market. Defaults give a calm BTC market on Binance."""

    venue: str = "binance"
    symbol: str = "BTCUSDT"
    start_ms: int = 1_760_054_400_000  # 2025-10-10 00:00 UTC; must be a whole second
    # Simulated (calm, driftless) but not emitted before start_ms, so the market starts with a
    # realistic population; initial_price is the price at the start of the warm-up.
    warmup_s: int = 24 * 3600
    initial_price: float = 100_000.0
    annual_vol: float = 0.45  # of the exogenous driver
    regimes: tuple[Regime, ...] = (Regime(0),)
    driver_seed: int | None = None  # None: derived from the market seed
    # crowd
    arrival_rate: float = 0.25  # taker opens per second at activity 1
    size_median_usd: float = 4_000.0
    size_sigma: float = 1.3  # lognormal sigma of the body
    tail_share: float = 0.04  # share of sizes drawn from the Pareto tail
    tail_min_usd: float = 100_000.0
    tail_alpha: float = 1.4
    size_max_usd: float = 50_000_000.0
    leverages: tuple[float, ...] = (2, 3, 5, 10, 20, 25, 50, 75, 100)
    leverage_weights: tuple[float, ...] = (4, 5, 12, 25, 20, 12, 12, 5, 5)
    trader_mix: tuple[float, float, float] = (0.3, 0.2, 0.5)  # trend, mean-reversion, noise
    trend_halflife_s: float = 900.0
    meanrev_halflife_s: float = 4 * 3600.0
    signal_scale: float = 0.004  # log-price deviation giving tanh(1) conviction
    mean_lifetime_s: float = 8 * 3600.0
    lifetime_leverage_exp: float = 0.5  # mean lifetime scales as (10 / leverage) ** exp
    tp_prob: float = 0.5
    tp_mean: float = 0.02  # mean distance of take-profits (fraction of entry)
    sl_prob: float = 0.3
    sl_mean: float = 0.015
    passive_open_share: float = 0.7
    # price formation
    impact: Literal["sqrt", "linear"] = "sqrt"
    impact_coef: float = 0.0006  # log-impact of a trade of impact_ref_usd
    impact_ref_usd: float = 1_000_000.0
    impact_permanent: float = 0.5
    impact_half_life_s: float = 600.0
    half_spread: float = 0.00002
    mark_tau_s: float = 3.0
    index_spill: float = 0.5
    funding_interest: float = 0.0001
    funding_clamp: float = 0.0005
    funding_cap: float = 0.0075


@dataclass(frozen=True)
class Positions(Columns):
    """Positions as parallel arrays. ``exit_reason`` 0 = still open (exit fields -1 / nan),
    1 hazard close, 2 take-profit, 3 stop-loss, 4 liquidation. ``kind`` 0 trend, 1 mean-reversion,
    2 noise, 3 passive (maker) opener. ``qty`` in base units; ``notional_usd`` = qty × entry."""

    id: I64
    entry_ts: I64
    entry_px: F64
    side: I8
    qty: F64
    leverage: F64
    liq_px: F64
    bk_px: F64
    kind: I8
    tp_px: F64
    sl_px: F64
    exit_ts: I64
    exit_px: F64
    exit_reason: I8

    @property
    def notional_usd(self) -> F64:
        return self.qty * self.entry_px

    def select(self, mask: npt.NDArray[np.bool_] | I64) -> Positions:
        """The subset given by a boolean mask or index array."""
        return Positions(**{f.name: getattr(self, f.name)[mask] for f in fields(Positions)})


class DriverPath(Protocol):
    """A driver shared from another market: per-second steps of ``log(price / initial_price)``.

    A market given one follows that path instead of its own random walk (its own flow still
    moves its price by transient impact), so several venues share one market path."""

    @property
    def origin_ms(self) -> int:
        """Start of second 0 (the warm-up start of the market it drives)."""
        ...

    def register(self) -> int:
        """A key for a new follower market."""
        ...

    def steps(self, block: int, key: int) -> F64:
        """The ``BLOCK_S`` log-price steps of hour block ``block`` (seconds from origin), asked
        for by the follower ``key``."""
        ...
