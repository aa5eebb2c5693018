"""Benchmark: the estimator on the simulator's public data vs ground truth, per scenario.

For every preset and, in the same run, the naive open-source method (flat 1/L shortcut,
equal tier weights, no consumption: levels are only added on rising OI and scaled down on
falling OI), per scenario (calm, trending, squeeze, cascade):

- EMD between estimated and true level profiles (natural side), % of price, mean over hours;
- share of true liquidated notional falling in the estimated top-20 % cells (±10 % of price)
  of the map known at the start of each hour;
- correlation of estimated vs true liquidated notional per 1-minute step (both sides; the
  naive method's "estimate" is the level mass its map shows inside each step's range).

The last line is one JSON object with every figure.

    .venv/bin/python benchmarks/accuracy.py [--hours 24] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import numpy as np

from liqscope.model import ModelConfig, preset
from liqscope.signals.scorecard import (
    HOUR_MS,
    WindowMaps,
    emd_pct,
    estimate_sim,
    score_windows,
    simulate,
    truth_maps,
    window_maps,
)

SCENARIOS = ("calm", "trending", "squeeze", "cascade")


def naive(sim, like: WindowMaps, cfg: ModelConfig) -> tuple[WindowMaps, np.ndarray]:  # type: ignore[no-untyped-def]
    """Flat 1/L levels, equal weights, no consumption, on ``like``'s grid and windows."""
    s = sim.steps
    n = like.n
    lev = np.asarray(cfg.leverages)
    w = np.full(lev.shape[0], 1.0 / lev.shape[0])
    long = np.zeros(n)
    short = np.zeros(n)
    out = np.zeros_like(like.scores)
    per_step = np.zeros(len(s))
    starts = {int(t): k for k, t in enumerate(like.start)}
    prev_oi = 0.0
    mids = like.origin + like.step * (np.arange(n) + 0.5)
    for i in range(len(s)):
        t = int(s.ts[i])
        if t in starts:
            k = starts[t]
            out[k] = np.where(mids < like.price0[k], long, short)
        px = float(s.close[i])
        oi = float(s.oi_base[i]) * px
        d = oi - prev_oi if i else oi
        if d > 0:
            for lv, wt in zip(lev, w, strict=True):
                for arr, r in ((long, 1 - 1 / lv), (short, 1 + 1 / lv)):
                    b = int((px * r - like.origin) // like.step)
                    if 0 <= b < n:
                        arr[b] += 0.5 * d * wt
        elif d < 0 and prev_oi > 0:
            f = max(0.0, oi / prev_oi)
            long *= f
            short *= f
        prev_oi = oi
        lo = int((s.low[i] - like.origin) // like.step)
        hi = int((s.high[i] - like.origin) // like.step)
        per_step[i] = (
            long[max(lo, 0) : max(min(hi + 1, n), 0)].sum()
            + short[max(lo, 0) : max(min(hi + 1, n), 0)].sum()
        )
    return replace(like, scores=out), per_step


def figures(wm: WindowMaps, tw: WindowMaps, sim, est_step: np.ndarray) -> dict[str, float]:  # type: ignore[no-untyped-def]
    mids = wm.origin + wm.step * (np.arange(wm.n) + 0.5)
    emd = [emd_pct(wm.scores[k], tw.scores[k], mids, float(wm.price0[k]))
           for k in range(wm.start.shape[0])]  # fmt: skip
    sc = score_windows(wm, sim.realized, q=0.2, range_pct=10.0, block_ms=2 * HOUR_MS, n_boot=200)
    true_step = np.nan_to_num(sim.steps.liq_long_usd) + np.nan_to_num(sim.steps.liq_short_usd)
    corr = (
        float(np.corrcoef(est_step, true_step)[0, 1])
        if est_step.std() > 0 and true_step.std() > 0
        else float("nan")
    )
    return {
        "emd_pct": round(float(np.nanmean(emd)), 3),
        "top20_share": round(sc.hot_share.value, 3),
        "baseline_share": round(sc.baseline_share.value, 3),
        "corr_per_step": round(corr, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    t0 = time.perf_counter()
    result: dict[str, dict[str, dict[str, float]]] = {}
    for name in SCENARIOS:
        sim = simulate(name, a.seed, a.hours)
        result[name] = {}
        like = None
        for pname in ("all", "high"):
            cfg = preset(pname)
            res = estimate_sim(sim, cfg)
            wm = window_maps(res, sim.steps, tiers=cfg.display_leverages)
            minlev = min(cfg.display_leverages) if cfg.display_leverages else 0.0
            tw = truth_maps(sim, wm, minlev)
            ti = res.tier_indices(cfg.display_leverages)
            est_step = res.consumed[:, ti].sum(axis=(1, 2))
            result[name][pname] = figures(wm, tw, sim, est_step)
            if like is None:
                like, truth = wm, tw
        cfg = preset("all")
        nw, nstep = naive(sim, like, cfg)
        result[name]["naive"] = figures(nw, truth, sim, nstep)
        for k, v in result[name].items():
            print(f"{name:<9} {k:<6} {v}")
    secs = round(time.perf_counter() - t0, 1)
    print(json.dumps({"benchmark": "accuracy", "hours": a.hours, "seed": a.seed,
                      "seconds": secs, "results": result}))  # fmt: skip


if __name__ == "__main__":
    main()
