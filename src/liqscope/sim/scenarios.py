"""Named market scenarios, and one scenario run on several venues along one market path.

Times in regimes are seconds after ``SimConfig.start_ms``; the last regime lasts for ever, so a
live demo can keep advancing a scenario after its event.

- ``calm``: no drift, 35 % annual volatility, balanced crowd.
- ``trending``: +4 %/day drift, slight long bias.
- ``squeeze``: 8 h of slow decline while shorts pile up, then a +5 % driver rally in one hour
  that liquidates them (forced buys push price further up), then calm.
- ``cascade``: 6 h of a grinding rally with leveraged longs building up, then a −7 % driver
  drop in one hour (as on 2025-10-10); forced sells deepen it to about −10…−14 %, then calm.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from liqscope.domain.clock import SYSTEM_CLOCK, Clock
from liqscope.sim.market import Market, Regime, SimConfig
from liqscope.sim.path import SharedPath

H = 3600

#: (venue, symbol, crowd size relative to Binance) of the default multi-venue run.
DEFAULT_VENUES: tuple[tuple[str, str, float], ...] = (
    ("binance", "BTCUSDT", 1.0),
    ("bybit", "BTCUSDT", 0.6),
    ("okx", "BTC-USDT-SWAP", 0.4),
)

#: Constant basis of each venue against the leader's mark (fraction): a few basis points, as
#: between real BTC perpetuals.
BASIS: dict[str, float] = {"binance": 0.0, "bybit": 0.00015, "okx": -0.0001, "hyperliquid": 0.0003}

#: How a follower venue's own flow moves its price: only transiently, arbitraged away fast.
FOLLOWER_IMPACT: dict[str, float] = {
    "impact_permanent": 0.0,
    "impact_half_life_s": 10.0,
    "impact_coef": 0.0001,
}

#: (start, end) in seconds after start of each scenario's event, for checks and plots.
EVENTS: dict[str, tuple[int, int]] = {
    "calm": (0, 0),
    "trending": (0, 0),
    "squeeze": (8 * H, 9 * H),
    "cascade": (6 * H, 7 * H),
}

_REGIMES: dict[str, tuple[Regime, ...]] = {
    "calm": (Regime(0),),
    "trending": (Regime(0, drift_per_hour=0.04 / 24, vol_mult=1.1, side_bias=0.1),),
    "squeeze": (
        Regime(0, drift_per_hour=-0.002, side_bias=-0.35),
        Regime(8 * H, drift_per_hour=0.05, vol_mult=2.5, activity=1.5, side_bias=0.2),
        Regime(9 * H, vol_mult=1.5, activity=1.2),
        Regime(11 * H),
    ),
    "cascade": (
        Regime(0, drift_per_hour=0.003, side_bias=0.35, activity=1.2),
        Regime(6 * H, drift_per_hour=-0.08, vol_mult=3.0, activity=1.5, side_bias=-0.2),
        Regime(7 * H, vol_mult=2.0, activity=1.2),
        Regime(9 * H),
    ),
}

SCENARIOS: tuple[str, ...] = tuple(_REGIMES)


def scenario(
    name: str, venue: str = "binance", symbol: str = "BTCUSDT", **overrides: Any
) -> SimConfig:
    """The config of scenario ``name`` on one venue; ``overrides`` replace SimConfig fields."""
    if name not in _REGIMES:
        raise ValueError(f"unknown scenario {name!r} (expected one of {', '.join(SCENARIOS)})")
    base = SimConfig(venue=venue, symbol=symbol, regimes=_REGIMES[name])
    if name == "calm":
        base = replace(base, annual_vol=0.35)
    return replace(base, **overrides)


def venue_seed(seed: int, k: int) -> int:
    """The population seed of the k-th venue of a multi-venue run."""
    return int(np.random.SeedSequence([seed, k]).generate_state(1, np.uint64)[0] >> 1)


def venue_markets(
    name: str,
    seed: int,
    venues: tuple[tuple[str, str, float], ...] = DEFAULT_VENUES,
    **overrides: Any,
) -> dict[tuple[str, str], Market]:
    """One market per venue along one market path.

    The first venue leads: its market runs the scenario with its own driver (``driver_seed`` =
    ``seed``) and its crowd's impact. The others follow the leader's mark (:class:`SharedPath`)
    at their constant :data:`BASIS`, with their own crowd (seed from :func:`venue_seed`, arrival
    rate scaled by the venue's relative size) whose impact is only transient
    (:data:`FOLLOWER_IMPACT`). So prices differ by a few basis points, as on real venues, and
    a cascade on the leader reaches every venue's positions."""
    out: dict[tuple[str, str], Market] = {}
    path: SharedPath | None = None
    for k, (venue, symbol, scale) in enumerate(venues):
        cfg = scenario(name, venue, symbol, driver_seed=seed, **overrides)
        cfg = replace(cfg, arrival_rate=cfg.arrival_rate * scale)
        if path is None:
            out[(venue, symbol)] = Market(cfg, venue_seed(seed, k))
            path = SharedPath(cfg, venue_seed(seed, k), followers=len(venues) - 1)
            continue
        p0 = path.config.initial_price * (1.0 + BASIS.get(venue, 0.0))
        impact = {key: overrides.get(key, value) for key, value in FOLLOWER_IMPACT.items()}
        cfg = replace(cfg, initial_price=p0, **impact)
        out[(venue, symbol)] = Market(cfg, venue_seed(seed, k), path=path)
    return out


def anchor_ms(clock: Clock = SYSTEM_CLOCK) -> int:
    """``--start now``: the wall clock floored to the minute, where serving starts. A run is
    deterministic relative to it (see docs/simulator.md)."""
    return clock.now_ms() // 60_000 * 60_000


def regimes_with_event_at(name: str, event_at_s: int) -> tuple[Regime, ...]:
    """The regimes of scenario ``name`` moved so that its event (:data:`EVENTS`) starts
    ``event_at_s`` seconds after start (pass as ``regimes=`` to :func:`scenario` or
    :func:`venue_markets`). A calm regime fills the time before the lead-up; an event sooner
    than its lead-up cuts the lead-up short. Scenarios without an event are returned as is."""
    if name not in _REGIMES:
        raise ValueError(f"unknown scenario {name!r} (expected one of {', '.join(SCENARIOS)})")
    if event_at_s < 0:
        raise ValueError("event_at_s must be >= 0")
    regimes = _REGIMES[name]
    start, end = EVENTS[name]
    if start == end == 0:
        return regimes
    shift = event_at_s - start
    moved = [replace(r, start_s=r.start_s + shift) for r in regimes]
    head = [replace(r, start_s=0) for r in moved if r.start_s <= 0][-1:]
    tail = [r for r in moved if r.start_s > 0]
    return tuple(head or [Regime(0)]) + tuple(tail)
