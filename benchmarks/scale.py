"""Benchmark of batch work: N symbols x D days of 1-minute steps, heatmap of every market.

Writes a synthetic lake (candles, open interest, liquidations; one venue per symbol), then
runs ``batch heatmap`` over it three ways: sequentially in this process (the baseline), on a
local process pool (its start-up timed: a real run pays it), and on a
``distributed.LocalCluster`` on loopback (workers warmed first), and checks the three give the
same bytes. Prints wall time, speed-up per core, peak memory per worker, the lake's
write and read rates and its size per venue-symbol-year. The last line is one JSON object.

    .venv/bin/python benchmarks/scale.py [--symbols 200] [--days 30] [--workers N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa

from liqscope.batch import MarketTask, Source, TaskResult, results, run_task
from liqscope.domain.intervals import DAY_MS, MINUTE_MS
from liqscope.lake import Lake, read_steps, write_partition
from liqscope.lake.layout import SCHEMAS
from liqscope.sim.synthetic import synthetic_series

START = 1_759_276_800_000  # 2025-10-01 00:00 UTC
VENUE = "binance"
NATIVE = "BTCUSDT"
"""Every synthetic market is stored as binance BTCUSDT (the estimator needs an instrument with
built-in liquidation rules) in a lake folder of its own, one folder per symbol."""


def symbols(n: int) -> list[str]:
    return [f"S{i:03d}USDT" for i in range(n)]


def write_lake(lakes: Path, names: list[str], days: int) -> dict[str, float]:
    """One lake per symbol: 1-minute candles, 1-minute OI and 300 liquidations a day."""
    rows = size = 0
    seconds = 0.0
    for k, sym in enumerate(names):
        s = synthetic_series(START, days * 1440, seed=k, price0=10.0 + 50.0 * k)
        rng = np.random.default_rng(k)
        taker = s.volume * np.clip(rng.normal(0.5, 0.08, s.ts.size), 0.05, 0.95)
        for d in range(days):
            a, b = d * 1440, (d + 1) * 1440
            n_liq = 300
            at = np.sort(rng.integers(a, b, n_liq))
            side = np.where(rng.random(n_liq) < 0.5, 1, -1).astype(np.int8)
            px = np.where(side > 0, s.low[at], s.high[at])
            usd = rng.lognormal(8.5, 1.4, n_liq)
            tables = {
                "candles": pa.table({
                    "ts": s.ts[a:b], "interval_ms": np.full(b - a, MINUTE_MS),
                    "open": s.open[a:b], "high": s.high[a:b], "low": s.low[a:b],
                    "close": s.close[a:b], "volume": s.volume[a:b], "taker_buy_volume": taker[a:b],
                }),
                "open_interest": pa.table({
                    "ts": s.ts[a:b] + MINUTE_MS - 1, "oi_base": s.oi[a:b],
                    "oi_usd": pa.nulls(b - a, pa.float64()),
                }),
                "liquidations": pa.table({
                    "ts": s.ts[at] + rng.integers(0, MINUTE_MS, n_liq) + np.arange(n_liq) % 7,
                    "side": side, "qty": usd / px, "price": px,
                    "price_kind": ["average_fill"] * n_liq, "notional_usd": usd,
                    "sampled": np.ones(n_liq, dtype=bool),
                }),
            }  # fmt: skip
            day = (START + d * DAY_MS) // DAY_MS
            for kind, table in tables.items():
                t = time.perf_counter()
                path, n = write_partition(
                    lakes / sym, kind, VENUE, NATIVE, day, table.cast(SCHEMAS[kind]), merge=False
                )
                seconds += time.perf_counter() - t
                assert path is not None
                rows += n
                size += path.stat().st_size
    return {"rows": rows, "bytes": size, "seconds": seconds}


def read_rate(lakes: Path, names: list[str], days: int) -> dict[str, float]:
    t = time.perf_counter()
    steps = 0
    for sym in names:
        with Lake(lakes / sym) as lk:
            s = read_steps(lk, VENUE, NATIVE, START, START + days * DAY_MS, MINUTE_MS)
            assert s is not None
            steps += len(s)
    return {"steps": steps, "seconds": time.perf_counter() - t}


def run(tasks: list[MarketTask], executor: str, workers: int) -> tuple[float, list[TaskResult]]:
    """Wall time and the results, each payload replaced by its SHA-256 as it arrives (200
    grids of ~16 MB each would otherwise be held three times over)."""
    t = time.perf_counter()
    done = [
        replace(r, payload=hashlib.sha256(r.payload).digest())
        for r in results(tasks, executor, workers)
    ]
    wall = time.perf_counter() - t
    bad = [r.error for r in done if r.error]
    assert not bad, bad[:3]
    return wall, sorted(done, key=lambda r: r.market)


def peak_per_worker(done: list[TaskResult]) -> float:
    peaks: dict[str, float] = {}
    for r in done:
        peaks[r.worker] = max(peaks.get(r.worker, 0.0), r.peak_rss_mb)
    return max(peaks.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--symbols", type=int, default=200)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--lake", type=Path, default=None, help="Keep the lakes in this folder.")
    args = ap.parse_args()
    names = symbols(args.symbols)
    tmp = Path(tempfile.mkdtemp(prefix="liqscope-scale-"))
    lake = args.lake or tmp / "lake"
    try:
        w = write_lake(lake, names, args.days)
        r = read_rate(lake, names, args.days)
        t1 = START + args.days * DAY_MS
        tasks = [
            MarketTask("heatmap", s, ((VENUE, NATIVE),), START, t1, Source(lake=str(lake / s)))
            for s in names
        ]
        run(tasks[:1], "inline", 1)  # warm the JIT cache
        seq, ref = run(tasks, "inline", 1)
        pool, by_pool = run(tasks, "local", args.workers)
        from distributed import Client, LocalCluster

        with LocalCluster(
            n_workers=args.workers, processes=True, threads_per_worker=1, host="127.0.0.1",
            dashboard_address=None, silence_logs=40,
        ) as cluster:  # fmt: skip
            address = str(cluster.scheduler_address)
            with Client(address) as client:  # one task on every worker: imports, JIT cache
                client.run(run_task, tasks[0])
            dask_wall, by_dask = run(tasks, address, args.workers)
        differing = [
            a.market
            for a, b, c in zip(ref, by_pool, by_dask, strict=True)
            if not a.payload == b.payload == c.payload
        ]
        same = not differing
    finally:
        if args.lake is None:
            shutil.rmtree(tmp, ignore_errors=True)
    n_steps = args.symbols * args.days * 1440
    bytes_per_symbol_day = w["bytes"] / (args.symbols * args.days)
    out = {
        "symbols": args.symbols,
        "days": args.days,
        "steps": n_steps,
        "workers": args.workers,
        "cpu_count": os.cpu_count(),
        "sequential_s": round(seq, 2),
        "pool_s": round(pool, 2),
        "cluster_s": round(dask_wall, 2),
        "pool_speedup_per_core": round(seq / pool / args.workers, 3),
        "cluster_speedup_per_core": round(seq / dask_wall / args.workers, 3),
        "sequential_s_per_symbol": round(seq / args.symbols, 3),
        "peak_rss_mb_sequential": round(peak_per_worker(ref), 1),
        "peak_rss_mb_per_pool_worker": round(peak_per_worker(by_pool), 1),
        "peak_rss_mb_per_cluster_worker": round(peak_per_worker(by_dask), 1),
        "task_s_sum_sequential": round(sum(r.seconds for r in ref), 2),
        "task_s_sum_pool": round(sum(r.seconds for r in by_pool), 2),
        "task_s_sum_cluster": round(sum(r.seconds for r in by_dask), 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "identical_outputs": same,
        "differing_markets": len(differing),
        "lake_write_rows_per_s": round(w["rows"] / w["seconds"]),
        "lake_write_mb_per_s": round(w["bytes"] / 1e6 / w["seconds"], 2),
        "lake_read_steps_per_s": round(r["steps"] / r["seconds"]),
        "lake_bytes_per_symbol_day": round(bytes_per_symbol_day),
        "lake_mb_per_venue_symbol_year": round(bytes_per_symbol_day * 365 / 1e6, 1),
    }
    print(f"{args.symbols} symbols x {args.days} days of 1-minute steps, {args.workers} workers")
    print(f"  sequential     {seq:8.2f} s  ({seq / args.symbols:.3f} s per symbol)")
    print(f"  process pool   {pool:8.2f} s  speed-up per core {out['pool_speedup_per_core']}")
    print(f"  LocalCluster   {dask_wall:8.2f} s  speed-up per core "
          f"{out['cluster_speedup_per_core']}")  # fmt: skip
    print(f"  peak RSS per worker: pool {out['peak_rss_mb_per_pool_worker']} MB, "
          f"cluster {out['peak_rss_mb_per_cluster_worker']} MB")  # fmt: skip
    print(f"  lake write {out['lake_write_rows_per_s']:,} rows/s "
          f"({out['lake_write_mb_per_s']} MB/s), read {out['lake_read_steps_per_s']:,} steps/s, "
          f"{out['lake_mb_per_venue_symbol_year']} MB per venue-symbol-year")  # fmt: skip
    print(f"  sum of task times: sequential {out['task_s_sum_sequential']} s, pool "
          f"{out['task_s_sum_pool']} s, cluster {out['task_s_sum_cluster']} s "
          f"(load average {out['load_average_1m']} on {os.cpu_count()} cores)")  # fmt: skip
    print(f"  identical outputs: {same}" + (f" ({len(differing)} differ)" if differing else ""))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
