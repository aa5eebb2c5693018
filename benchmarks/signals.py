"""Benchmark: evaluation cost per step of every alert rule for 50 symbols.

Each symbol has a 2,000-bucket, 5-tier map (re-read at each step's price) and 1-minute data;
all five conditions are evaluated. Baseline in the same run: the proximity rule alone.
The last line is one JSON object with the figures.

    .venv/bin/python benchmarks/signals.py [--symbols 50] [--steps 300]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from liqscope.signals.clusters import LevelMap
from liqscope.signals.rules import AlertEngine, AlertRule, Observation


def rules() -> list[AlertRule]:
    return [
        AlertRule("p", "proximity", params={"pct": 1.0, "min_usd": 1e6}, cooldown_s=600),
        AlertRule("s", "spike", params={"band_pct": 2.0}, cooldown_s=600),
        AlertRule("c", "cascade", params={"min_usd": 1e5}, cooldown_s=600),
        AlertRule("l", "level_break", cooldown_s=600),
        AlertRule("m", "momentum", cooldown_s=600),
    ]


def run(engine: AlertEngine, maps: list[LevelMap], paths: np.ndarray, liq: np.ndarray) -> float:
    n_sym, n_steps = paths.shape
    t = time.perf_counter()
    for i in range(n_steps):
        for k in range(n_sym):
            engine.evaluate(
                Observation(i * 60_000, "binance", f"S{k}", float(paths[k, i]), maps[k],
                            float(liq[k, i, 0]), float(liq[k, i, 1]))
            )  # fmt: skip
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--symbols", type=int, default=50)
    ap.add_argument("--steps", type=int, default=300)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    nb, nt = 2000, 5
    maps = []
    for _ in range(a.symbols):
        long = rng.gamma(0.3, 1e5, (nt, nb))
        short = rng.gamma(0.3, 1e5, (nt, nb))
        maps.append(LevelMap.from_profile(80_000.0, 20.0, long, short, 100_000.0,
                                          (5.0, 10.0, 25.0, 50.0, 100.0)))  # fmt: skip
    paths = 100_000.0 * np.exp(np.cumsum(rng.normal(0, 0.001, (a.symbols, a.steps)), axis=1))
    liq = rng.gamma(0.2, 2e4, (a.symbols, a.steps, 2))
    full = AlertEngine(rules())
    t_full = run(full, maps, paths, liq)
    prox = AlertEngine(rules()[:1])
    t_prox = run(prox, maps, paths, liq)
    per = 1e3 * t_full / (a.symbols * a.steps)
    per_p = 1e3 * t_prox / (a.symbols * a.steps)
    print(f"all 5 rules: {per:.3f} ms per symbol per step ({a.symbols} symbols, {a.steps} steps)")
    print(f"proximity only (baseline): {per_p:.3f} ms per symbol per step")
    print(f"one step of {a.symbols} symbols: {per * a.symbols:.1f} ms")
    print(json.dumps({
        "benchmark": "signals", "symbols": a.symbols, "steps": a.steps, "buckets": nb,
        "tiers": nt, "ms_per_symbol_step_all_rules": round(per, 4),
        "ms_per_symbol_step_proximity_only": round(per_p, 4),
        "ms_per_step_all_symbols": round(per * a.symbols, 2),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
