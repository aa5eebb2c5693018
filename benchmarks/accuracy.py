"""Benchmark: accuracy on REAL data (December 2025) and on the simulator, v1 vs v2.

Real (``<repo parent>/shared/data/real``; skipped with the reason when absent): Hyperliquid
hourly OI + Binance 1h candles against real all-venue daily long/short liquidations,
BTC/ETH/SOL. Pooled Spearman (days ranked within coin) of predicted vs realized daily
long / short / total and the dominant-side hit rate, with paired block-bootstrap 95 % CIs,
for the presets ``all`` (the prior) and ``calibrated`` (fitted on Dec 7-20) and the four
baselines, on all days, the train days (Dec 7-20, in-sample for ``calibrated``) and the
test days (Dec 21-31, out-of-sample); live/OI range; the swept-mass density check; and
v1 (``book="net"``) on the same data.

Simulated (per scenario calm, trending, squeeze, cascade; 24 h, seeds 1..N): EMD of estimated
vs true level profiles and top-20 % share (hot share, scorecard method, docs/scorecard.md) of
v1 and v2 on the *same* seeds, with the oracle and the shuffled control; the paired mean
difference v2 - v1 per scenario with a 95 % bootstrap interval over seeds, and the verdict
(better / worse only when the whole interval is on one side of 0). One seed's sign says
nothing: the per-window block intervals of a single run are far narrower than the spread
between seeds.

The last line is one JSON object with every figure.

    .venv/bin/python benchmarks/accuracy.py [--hours 24] [--seeds 10] [--boot 500] [--no-real]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from liqscope.domain.errors import InputError
from liqscope.domain.intervals import HOUR_MS
from liqscope.model import preset
from liqscope.signals import realdata as rd
from liqscope.signals.scorecard import (
    emd_pct,
    estimate_sim,
    score_windows,
    shuffled,
    simulate,
    truth_maps,
    window_maps,
)

SCENARIOS = ("calm", "trending", "squeeze", "cascade")
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
SPLIT = "2025-12-21"


def _ci(d: dict[str, float]) -> str:
    return f"{d['value']:.3f} [{d['ci_low']:.3f}, {d['ci_high']:.3f}]"


def real_figures(n_boot: int) -> dict[str, Any]:
    try:
        data = rd.load_real(REAL)
    except InputError as exc:
        print(f"real data: skipped ({exc})")
        return {"skipped": str(exc)}
    split = rd.day_of(SPLIT)
    out: dict[str, Any] = {}
    configs = {
        "all": preset("all"),
        "calibrated": preset("calibrated"),
        "v1_all": replace(preset("all"), name="v1_all", book="net"),
    }
    for name, cfg in configs.items():
        ev = rd.evaluate(data, cfg, split_day=split, n_boot=n_boot)
        out[name] = ev
        print(f"real {name}: live/OI long {ev['live_over_oi']['long']} short "
              f"{ev['live_over_oi']['short']}; swept density {ev['swept_density']}")  # fmt: skip
        for period, per in ev["periods"].items():
            tag = {"all": "all days", "train": "train Dec 7-20", "test": "test Dec 21-31"}[period]
            print(f"  [{tag}, {per['days']} coin-days] long / short / total / dominant-side hit")
            for method in ("model", *rd.BASELINES):
                if method != "model" and name != "all":
                    continue
                row = per[method]
                print(f"    {method:<24} " + "  ".join(_ci(row[k]) for k in
                      ("long", "short", "total", "dominant_side_hit")))  # fmt: skip
            print(f"    magnitude: predicted {data.candle_venue}-candle/Hyperliquid-OI USD / "
                  f"realized all-venue USD {_ci(per['model']['usd_ratio'])}")  # fmt: skip
    a = out["all"]["periods"]["all"]
    bar = {
        "long": a["model"]["long"]["value"] - a["oi_open_low_high_open"]["long"]["value"],
        "short": a["model"]["short"]["value"] - a["oi_open_low_high_open"]["short"]["value"],
        "total": a["model"]["total"]["value"] - a["oi_range_by_sign"]["total"]["value"],
    }
    print(f"bar (all, all days): long +{bar['long']:.3f} (need 0.05), short +{bar['short']:.3f} "
          f"(need 0.05), total {bar['total']:+.3f} vs OI x range (need >= 0)")  # fmt: skip
    out["bar"] = bar
    return out


def seed_ci(d: np.ndarray, n_boot: int = 5000, seed: int = 0) -> dict[str, float]:
    """Mean of the paired per-seed differences ``d`` and its 95 % bootstrap interval
    (seeds resampled with replacement)."""
    d = d[np.isfinite(d)]
    draws = np.random.default_rng(seed).integers(0, d.size, size=(n_boot, d.size))
    lo, hi = np.percentile(d[draws].mean(axis=1), [2.5, 97.5])
    return {"mean": float(d.mean()), "ci_low": float(lo), "ci_high": float(hi), "n": int(d.size)}


def verdict(ci: dict[str, float], lower_is_better: bool) -> str:
    """``v2 better`` / ``v2 worse`` when the whole interval is on one side of 0."""
    lo, hi = (ci["ci_low"], ci["ci_high"]) if lower_is_better else (-ci["ci_high"], -ci["ci_low"])
    return "v2 better" if hi < 0 else "v2 worse" if lo > 0 else "no significant difference"


def one_seed(name: str, seed: int, hours: float) -> dict[str, dict[str, float]]:
    """EMD (estimated vs true level profile) and top-20 % share of each model on one run,
    the oracle (true levels) and the shuffled v1 map as controls, v2's live/OI range."""
    sim = simulate(name, seed, hours)
    out: dict[str, dict[str, float]] = {}
    for label, cfg in (("v1", replace(preset("all"), book="net")), ("v2", preset("all")),
                       ("v2_calibrated", preset("calibrated"))):  # fmt: skip
        res = estimate_sim(sim, cfg)
        wm = window_maps(res, sim.steps)
        tw = truth_maps(sim, wm)
        mids = (wm.origin + wm.step * (np.arange(wm.n) + 0.5)).astype(np.float64)
        emd = np.nanmean([emd_pct(wm.scores[k], tw.scores[k], mids, float(wm.price0[k]))
                          for k in range(wm.start.shape[0])])  # fmt: skip
        sc = score_windows(wm, sim.realized, block_ms=2 * HOUR_MS, n_boot=20, seed=seed)
        inv = res.invariant()[1][1:]
        out[label] = {"emd_pct": float(emd), "top20_share": sc.hot_share.value,
                      "live_over_oi_min": float(np.nanmin(inv)),
                      "live_over_oi_max": float(np.nanmax(inv))}  # fmt: skip
        if label == "v1":
            for k, m in (("oracle", tw), ("shuffled", shuffled(wm, seed))):
                c = score_windows(m, sim.realized, block_ms=2 * HOUR_MS, n_boot=20, seed=seed)
                out[k] = {"top20_share": c.hot_share.value}
    return out


def sim_figures(hours: float, seeds: list[int]) -> dict[str, Any]:
    """Per scenario: v1 and v2 on the same seeds, the paired mean difference v2 - v1 of EMD
    and top-20 % share with a bootstrap interval over seeds, and the verdict."""
    out: dict[str, Any] = {}
    for name in SCENARIOS:
        runs = [one_seed(name, s, hours) for s in seeds]

        def col(model: str, key: str, runs: list[Any] = runs) -> np.ndarray:
            return np.array([r[model][key] for r in runs], dtype=np.float64)

        row: dict[str, Any] = {"seeds": seeds}
        for model in ("v1", "v2", "v2_calibrated", "oracle", "shuffled"):
            keys = (
                ("top20_share",) if model in ("oracle", "shuffled") else ("emd_pct", "top20_share")
            )
            row[model] = {k: float(np.nanmean(col(model, k))) for k in keys}
        row["v2"]["live_over_oi"] = [float(col("v2", "live_over_oi_min").min()),
                                     float(col("v2", "live_over_oi_max").max())]  # fmt: skip
        d_emd = seed_ci(col("v2", "emd_pct") - col("v1", "emd_pct"))
        d_top = seed_ci(col("v2", "top20_share") - col("v1", "top20_share"))
        row["v2_minus_v1"] = {"emd_pct": d_emd, "top20_share": d_top}
        row["verdict"] = {"emd_pct": verdict(d_emd, True), "top20_share": verdict(d_top, False)}
        out[name] = row
        print(f"sim {name:<9} ({len(seeds)} seeds x {hours:g} h)  "
              f"EMD % v1 {row['v1']['emd_pct']:.3f} v2 {row['v2']['emd_pct']:.3f} "
              f"(calibrated {row['v2_calibrated']['emd_pct']:.3f})  top-20% v1 "
              f"{row['v1']['top20_share']:.3f} v2 {row['v2']['top20_share']:.3f} "
              f"(calibrated {row['v2_calibrated']['top20_share']:.3f}, oracle "
              f"{row['oracle']['top20_share']:.3f}, shuffled "
              f"{row['shuffled']['top20_share']:.3f})")  # fmt: skip
        for key, ci in row["v2_minus_v1"].items():
            print(f"    v2 - v1 {key:<12} mean {ci['mean']:+.3f} [{ci['ci_low']:+.3f}, "
                  f"{ci['ci_high']:+.3f}]  -> {row['verdict'][key]}")  # fmt: skip
        lo, hi = row["v2"]["live_over_oi"]
        print(f"    v2 live/OI per side over all seeds: [{lo:.4f}, {hi:.4f}]")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--seeds", type=int, default=10, help="simulator seeds 1..N per scenario")
    ap.add_argument("--boot", type=int, default=500)
    ap.add_argument("--no-real", action="store_true", help="simulator figures only")
    a = ap.parse_args()
    t0 = time.perf_counter()
    real = {"skipped": "--no-real"} if a.no_real else real_figures(a.boot)
    seeds = list(range(1, a.seeds + 1))
    sim = sim_figures(a.hours, seeds)
    secs = round(time.perf_counter() - t0, 1)
    print(json.dumps({"benchmark": "accuracy", "hours": a.hours, "seeds": seeds,
                      "seconds": secs, "real": real, "sim": sim}, default=float))  # fmt: skip


if __name__ == "__main__":
    main()
