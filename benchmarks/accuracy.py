"""Benchmark: accuracy on REAL data (December 2025) and on the simulator, v1 vs v2.

Real (``<repo parent>/shared/data/real``; skipped with the reason when absent): Hyperliquid
hourly OI + Binance 1h candles against real all-venue daily long/short liquidations,
BTC/ETH/SOL. Pooled Spearman (days ranked within coin) of predicted vs realized daily
long / short / total and the dominant-side hit rate, with paired block-bootstrap 95 % CIs,
for the presets ``all`` (the prior) and ``calibrated`` (fitted on Dec 7-20) and the four
baselines, on all days, the train days (Dec 7-20, in-sample for ``calibrated``) and the
test days (Dec 21-31, out-of-sample); live/OI range; the swept-mass density check; and
v1 (``book="net"``) on the same data.

Simulated (per scenario calm, trending, squeeze, cascade; 24 h, seed 1): EMD of estimated vs
true level profiles, top-20 % share (hot share) and level percentile (scorecard method,
docs/scorecard.md), with the oracle and the shuffled control, for v1 and v2.

The last line is one JSON object with every figure.

    .venv/bin/python benchmarks/accuracy.py [--hours 24] [--seed 1] [--boot 500]
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
from liqscope.model import preset
from liqscope.signals import realdata as rd
from liqscope.signals.scorecard import (
    HOUR_MS,
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


def paired_share_diff(a: Any, b: Any, n_boot: int = 1000, seed: int = 0) -> list[float]:
    """95 % interval of hot share(a) − hot share(b) over the same resampled window blocks
    (both scorecards scored the same windows and realized liquidations)."""
    pa, pb = a.per_window, b.per_window
    start = np.asarray(pa["start"], dtype=np.int64)
    _, inv = np.unique(start // a.block_ms, return_inverse=True)
    nb = int(inv.max()) + 1
    sums = [np.bincount(inv, weights=np.asarray(x[k]), minlength=nb)
            for x in (pa, pb) for k in ("realized_usd", "hot_usd")]  # fmt: skip
    draws = np.random.default_rng(seed).integers(0, nb, size=(n_boot, nb))
    with np.errstate(invalid="ignore", divide="ignore"):
        d = sums[1][draws].sum(1) / sums[0][draws].sum(1) - sums[3][draws].sum(1) / sums[2][
            draws
        ].sum(1)
    d = d[np.isfinite(d)]
    return [float(x) for x in np.percentile(d, [2.5, 97.5])]


def sim_figures(hours: float, seed: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in SCENARIOS:
        sim = simulate(name, seed, hours)
        out[name] = {}
        cards: dict[str, Any] = {}
        for label, cfg in (("v1", replace(preset("all"), book="net")), ("v2", preset("all")),
                           ("v2_calibrated", preset("calibrated"))):  # fmt: skip
            res = estimate_sim(sim, cfg)
            wm = window_maps(res, sim.steps)
            tw = truth_maps(sim, wm)
            mids = wm.origin + wm.step * (np.arange(wm.n) + 0.5)
            emd = np.nanmean([emd_pct(wm.scores[k], tw.scores[k], mids, float(wm.price0[k]))
                              for k in range(wm.start.shape[0])])  # fmt: skip
            maps = {label: wm}
            if label == "v1":
                maps.update({"oracle": tw, "shuffled": shuffled(wm, seed)})
            for k, m in maps.items():
                sc = score_windows(m, sim.realized, block_ms=2 * HOUR_MS, n_boot=300, seed=seed)
                cards[k] = sc
                row = {"top20_share": sc.hot_share.to_dict(),
                       "level_percentile": sc.level_percentile.to_dict(),
                       "prior_top20_share": sc.baseline_share.value,
                       "prior_percentile": sc.baseline_percentile.value}  # fmt: skip
                if k == label:
                    row["emd_pct"] = float(emd)
                    inv = res.invariant()[1][1:]
                    row["live_over_oi"] = [float(np.nanmin(inv)), float(np.nanmax(inv))]
                out[name][k] = row
        out[name]["v2_minus_v1_top20_ci"] = paired_share_diff(cards["v2"], cards["v1"])
        for k, v in out[name].items():
            if k == "v2_minus_v1_top20_ci":
                print(f"sim {name:<9} v2 - v1 top-20% share, paired 95% CI: "
                      f"[{v[0]:+.3f}, {v[1]:+.3f}]")  # fmt: skip
                continue
            emd = f"EMD {v['emd_pct']:.3f}%  " if "emd_pct" in v else " " * 14
            print(f"sim {name:<9} {k:<14} {emd}top-20% {_ci(v['top20_share'])}  "
                  f"percentile {_ci(v['level_percentile'])}  (prior "
                  f"{v['prior_top20_share']:.3f} / {v['prior_percentile']:.3f})")  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--boot", type=int, default=500)
    a = ap.parse_args()
    t0 = time.perf_counter()
    real = real_figures(a.boot)
    sim = sim_figures(a.hours, a.seed)
    secs = round(time.perf_counter() - t0, 1)
    print(json.dumps({"benchmark": "accuracy", "hours": a.hours, "seed": a.seed,
                      "seconds": secs, "real": real, "sim": sim}, default=float))  # fmt: skip


if __name__ == "__main__":
    main()
