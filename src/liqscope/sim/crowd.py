"""Random draws of the simulated crowd and the regimes in force, per hour block."""

from __future__ import annotations

import math

import numpy as np

from liqscope.sim.config import F64, I64, Regime, SimConfig


def regime_arrays(c: SimConfig, secs: I64) -> dict[str, F64]:
    """Per-second drift, volatility, activity and side bias of the regimes in force."""
    regs = [Regime(-(2**62)), *sorted(c.regimes, key=lambda r: r.start_s)]  # warm-up first
    starts = np.array([r.start_s for r in regs])
    idx = np.clip(np.searchsorted(starts, secs, side="right") - 1, 0, len(regs) - 1)
    sig1 = c.annual_vol / math.sqrt(365.0 * 86400.0)

    def pick(name: str) -> F64:
        return np.array([getattr(r, name) for r in regs], float)[idx]

    vol = sig1 * pick("vol_mult")
    return {
        "mu": pick("drift_per_hour") / 3600.0 - 0.5 * vol * vol,
        "sig": vol,
        "activity": pick("activity"),
        "bias": pick("side_bias"),
    }


def draw_sizes(rng: np.random.Generator, c: SimConfig, n: int) -> F64:
    body = c.size_median_usd * np.exp(c.size_sigma * rng.standard_normal(n))
    tail = c.tail_min_usd * (1.0 - rng.random(n)) ** (-1.0 / c.tail_alpha)
    usd = np.where(rng.random(n) < c.tail_share, tail, body)
    return np.minimum(usd, c.size_max_usd)


def draw_leverage(rng: np.random.Generator, c: SimConfig, n: int) -> F64:
    w = np.asarray(c.leverage_weights, float)
    return np.asarray(c.leverages, float)[rng.choice(len(w), size=n, p=w / w.sum())]


def draw_lifetime(rng: np.random.Generator, c: SimConfig, lev: F64) -> I64:
    mean = c.mean_lifetime_s * (10.0 / lev) ** c.lifetime_leverage_exp
    return (1000.0 * (1.0 + rng.exponential(mean))).astype(np.int64)


def draw_exits(rng: np.random.Generator, c: SimConfig, n: int) -> tuple[F64, F64]:
    tp = np.where(rng.random(n) < c.tp_prob, 0.002 + rng.exponential(c.tp_mean, n), np.inf)
    sl = np.where(rng.random(n) < c.sl_prob, 0.002 + rng.exponential(c.sl_mean, n), np.inf)
    return tp, sl
