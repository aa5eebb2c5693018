"""Benchmark of the heatmap estimator: one year of 1-minute steps, 2,000 buckets, 5 tiers x 2 sides.

Prints build time (warm JIT cache), steps/s, level updates/s and peak RSS for the numba
kernel, and the same for a plain NumPy implementation (vectorised per step, no numba) run
on a shorter slice and extrapolated. The last line is one JSON object with every figure.

    .venv/bin/python benchmarks/engine.py [--steps 525600] [--baseline-steps 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from liqscope.model import ModelConfig, PriceGrid, Steps, estimate
from liqscope.model.estimator import group_layout, shortcut_ratios

MINUTE = 60_000


def synthetic_year(n: int, seed: int = 20240101) -> Steps:
    """Random-walk 1-minute OHLCV with taker share and a mean-reverting OI random walk."""
    rng = np.random.default_rng(seed)
    ret = rng.standard_t(4, n) * 0.0007
    close = 40_000.0 * np.exp(np.cumsum(ret))
    open_ = np.r_[40_000.0, close[:-1]]
    wick = np.abs(rng.normal(0, 0.0006, (2, n)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    volume = rng.gamma(2.0, 50.0, n)
    taker = volume * np.clip(rng.normal(0.5, 0.08, n), 0, 1)
    oi = np.empty(n)
    level = 80_000.0
    shocks = rng.normal(0, 60.0, n)
    for i in range(n):  # AR(1) around 80k BTC; fine in pure Python for a one-off setup
        level += 0.001 * (80_000.0 - level) + shocks[i]
        oi[i] = level
    ts = 1_704_067_200_000 + MINUTE * np.arange(n, dtype=np.int64)
    return Steps(
        ts=ts, open=open_, high=high, low=low, close=close, volume=volume,
        taker_buy_volume=taker, oi_base=np.abs(oi), venue="binance", symbol="BTCUSDT",
    )  # fmt: skip


def numpy_baseline(steps: Steps, cfg: ModelConfig, ratios: np.ndarray, grid: PriceGrid) -> float:
    """Same model semantics (proportional closing, no decay), dense state, NumPy per step.
    Returns the total live notional (so the work cannot be skipped)."""
    weights, tiers = group_layout(cfg)
    n_g = weights.shape[0]
    k = cfg.entry_points
    state = np.zeros((n_g, 2, grid.n))
    p_long = np.clip(np.nan_to_num(steps.taker_buy_volume / steps.volume, nan=0.5), 0, 1)
    p_long[0] = 0.5
    frac = (np.arange(k) + 0.5) / k
    prev_oi = 0.0
    for t in range(len(steps)):
        lo, hi, c = steps.low[t], steps.high[t], steps.close[t]
        il, ih = grid.index([lo, hi])
        state[:, 0, max(il, 0) :] = 0.0
        state[:, 1, : min(ih, grid.n - 1) + 1] = 0.0
        d = steps.oi_base[t] - prev_oi
        prev_oi = steps.oi_base[t]
        live = state.sum(axis=(0, 2))
        if d < 0:
            keep = np.where(live > 0, 1 - np.minimum(-d * c / np.maximum(live, 1e-300), 1), 1)
            state *= keep[None, :, None]
        elif d > 0:
            pts = lo + frac * (hi - lo)
            peak = (hi + lo + c) / 3
            w = np.where(
                pts <= peak,
                (pts - lo) / max(peak - lo, 1e-12),
                (hi - pts) / max(hi - peak, 1e-12),
            )
            w = w / w.sum() if w.sum() > 0 else np.full(k, 1 / k)
            amounts = np.array([2 * p_long[t], 2 * (1 - p_long[t])]) * d * c
            lev_px = pts[None, None, :] * ratios[:, :, None]  # [G, 2, K]
            idx = np.clip(grid.index(lev_px.ravel()).reshape(lev_px.shape), 0, grid.n - 1)
            add = weights[:, None, None] * amounts[None, :, None] * w[None, None, :]
            gi = np.broadcast_to(np.arange(n_g)[:, None, None], idx.shape)
            si = np.broadcast_to(np.arange(2)[None, :, None], idx.shape)
            np.add.at(state, (gi, si, idx), add)
    del tiers
    return float(state.sum())


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=525_600)
    ap.add_argument("--baseline-steps", type=int, default=20_000)
    ap.add_argument("--buckets", type=int, default=2000)
    args = ap.parse_args()

    t0 = time.perf_counter()
    steps = synthetic_year(args.steps)
    gen_s = time.perf_counter() - t0
    cfg = ModelConfig(name="all", n_buckets=args.buckets)
    try:
        from liqscope.model.estimator import level_ratios

        ratios = level_ratios(cfg, "binance", "BTCUSDT", float(np.median(steps.close)))
        ratio_source = "binance BTCUSDT exact"
    except Exception:  # the venue rules are optional for a benchmark
        ratios = shortcut_ratios(cfg)
        ratio_source = "shortcut mmr 0.004"
    grid = PriceGrid.covering(
        float(steps.low.min()), float(steps.high.max()), ratios, n=args.buckets
    )
    rss_before = peak_rss_mb()

    t0 = time.perf_counter()
    estimate(steps.slice(0, 2000), cfg, ratios=ratios, grid=grid)  # warm the JIT cache
    warm_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    res = estimate(steps, cfg, ratios=ratios, grid=grid)
    build_s = time.perf_counter() - t0
    rss_engine = peak_rss_mb()
    n = len(steps)
    updates = res.work["level_writes"] + res.work["levels_consumed"]
    snapshot_cells = int(res.snapshots.size)
    inv = res.invariant()[1]

    print(f"steps: {n:,}  grid: {grid.n} buckets of {grid.step:g} USD  tiers: 5 x 2 sides")
    print(f"ratios: {ratio_source}; columns: {res.columns_ts.shape[0]} of {res.column_ms} ms")
    print(f"synthetic data: {gen_s:.2f} s; JIT warm-up (cache load/compile): {warm_s:.2f} s")
    print(f"numba build: {build_s:.3f} s  ->  {n / build_s:,.0f} steps/s")
    print(
        f"level updates: {updates:,} ({res.work['level_writes']:,} writes + "
        f"{res.work['levels_consumed']:,} consumed) -> {updates / build_s:,.0f} /s"
    )
    print(f"snapshots: {res.snapshots.nbytes / 2**20:.0f} MB; peak RSS {rss_engine:.0f} MB")
    print(f"live/OI at the end: long {inv[-1, 0]:.3f} short {inv[-1, 1]:.3f}")
    lo, hi = np.nanmin(inv[1:], axis=0), np.nanmax(inv[1:], axis=0)
    print(
        f"live/OI over the year: long [{lo[0]:.3f}, {hi[0]:.3f}] short [{lo[1]:.3f}, {hi[1]:.3f}]"
    )
    t0 = time.perf_counter()
    for sel in (None, "long", "short"):
        res.heatmap(sides=sel)
    res.heatmap(tiers=(25.0, 50.0, 100.0))
    hm_s = (time.perf_counter() - t0) / 4
    print(f"Heatmap.heatmap(): {hm_s * 1000:.0f} ms per call (mean of 4 tier/side selections)")
    t0 = time.perf_counter()
    v1 = estimate(steps, replace(cfg, book="net"), ratios=ratios, grid=grid)
    v1_s = time.perf_counter() - t0
    v1_inv = v1.invariant()[1]
    # the kernels release the GIL: four markets in two threads vs one after the other
    parts = [steps.slice(k * n // 4, (k + 1) * n // 4) for k in range(4)]
    t0 = time.perf_counter()
    for part in parts:
        estimate(part, cfg, ratios=ratios, grid=grid)
    serial_s = time.perf_counter() - t0
    with ThreadPoolExecutor(2) as pool:
        t0 = time.perf_counter()
        list(pool.map(lambda st: estimate(st, cfg, ratios=ratios, grid=grid), parts))
        threads_s = time.perf_counter() - t0
    print(
        f"4 quarter-year markets: serial {serial_s:.3f} s, 2 threads {threads_s:.3f} s "
        f"({serial_s / threads_s:.2f}x; nogil kernels, {os.cpu_count()} cores shared)"
    )
    print(f"v1 (book=net): build {v1_s:.3f} s; live/OI at the end: long {v1_inv[-1, 0]:.3f} "
          f"short {v1_inv[-1, 1]:.3f}")  # fmt: skip

    nb = min(args.baseline_steps, n)
    t0 = time.perf_counter()
    numpy_baseline(steps.slice(0, nb), cfg, ratios, grid)
    base_s = time.perf_counter() - t0
    base_year_s = base_s * n / nb
    print(
        f"numpy baseline: {nb:,} steps in {base_s:.2f} s -> {nb / base_s:,.0f} steps/s; "
        f"extrapolated to {n:,} steps: {base_year_s:.1f} s ({base_year_s / build_s:.0f}x slower)"
    )
    print(
        json.dumps(
            {
                "steps": n,
                "buckets": grid.n,
                "bucket_usd": grid.step,
                "tiers": 5,
                "sides": 2,
                "columns": int(res.columns_ts.shape[0]),
                "build_s": round(build_s, 4),
                "jit_warmup_s": round(warm_s, 3),
                "steps_per_s": round(n / build_s),
                "level_updates": updates,
                "level_updates_per_s": round(updates / build_s),
                "snapshot_cells": snapshot_cells,
                "peak_rss_mb_engine": round(rss_engine, 1),
                "rss_mb_before_engine": round(rss_before, 1),
                "baseline_steps": nb,
                "baseline_s": round(base_s, 3),
                "baseline_steps_per_s": round(nb / base_s),
                "baseline_extrapolated_s": round(base_year_s, 2),
                "speedup_vs_numpy": round(base_year_s / build_s, 1),
                "peak_rss_mb_total": round(peak_rss_mb(), 1),
                "ratio_source": ratio_source,
                "heatmap_call_ms": round(hm_s * 1000, 1),
                "live_over_oi_min": [round(float(x), 4) for x in lo],
                "live_over_oi_max": [round(float(x), 4) for x in hi],
                "v1_build_s": round(v1_s, 4),
                "four_markets_serial_s": round(serial_s, 4),
                "four_markets_2_threads_s": round(threads_s, 4),
                "v1_live_over_oi_end": [round(float(x), 4) for x in v1_inv[-1]],
            }
        )
    )


if __name__ == "__main__":
    main()
