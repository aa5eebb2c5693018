"""Ingest throughput: parse-and-store of recorded frames, and batched store writes.

Compares batched transactional writes with a naive one-row-per-transaction baseline in the
same run. Prints figures; the last line is one JSON object.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import orjson

from liqscope.domain.events import Liquidation, Trade
from liqscope.domain.types import PriceKind, Side
from liqscope.store.sqlite import SqliteStore

REAL = (
    Path(__file__).resolve().parents[2]
    / "shared/data/real/binance-forceorder-2025-01-26--02-06.jsonl"
)
LOOPS = 20
SPAN_MS = 12 * 86_400_000  # shift per loop: beyond the recording's span
BATCH = 5_000
T0 = 1_722_816_000_000


def shifted_frames(lines: list[bytes], loops: int) -> list[bytes]:
    """The recording repeated ``loops`` times, each copy moved later in time."""
    out = []
    for k in range(loops):
        for line in lines:
            msg = orjson.loads(line)
            o = msg["data"]["o"]
            o["T"] += k * SPAN_MS
            msg["data"]["E"] += k * SPAN_MS
            out.append(orjson.dumps(msg))
    return out


def bench_frames(folder: Path) -> dict[str, int] | None:
    if not REAL.is_file():
        print(f"frames: skipped, recording not found at {REAL}")
        return None
    from liqscope.venues.registry import adapter

    parse = adapter("binance").parse
    frames = shifted_frames(REAL.read_bytes().splitlines(), LOOPS)
    t = time.perf_counter()
    parsed = [e for f in frames for e in parse(f)]
    parse_s = time.perf_counter() - t
    store = SqliteStore(folder / "frames.sqlite")
    t = time.perf_counter()
    new = 0
    for i in range(0, len(frames), BATCH):
        events = [e for f in frames[i : i + BATCH] for e in parse(f)]
        new += store.write_events(events).total
    total_s = time.perf_counter() - t
    store.close()
    res = {
        "frames": len(frames),
        "events": len(parsed),
        "new_rows": new,
        "parse_frames_per_s": round(len(frames) / parse_s),
        "parse_and_store_frames_per_s": round(len(frames) / total_s),
    }
    print(
        f"frames: {len(frames):,} frames ({LOOPS} shifted copies), parse only "
        f"{res['parse_frames_per_s']:,}/s, "
        f"parse+store {res['parse_and_store_frames_per_s']:,}/s "
        f"({new:,} new rows)"
    )
    return res


def liqs(n: int, offset: int = 0) -> list[Liquidation]:
    return [
        Liquidation(
            "binance",
            "BTCUSDT",
            T0 + (offset + i) * 7,
            Side.LONG if i % 2 else Side.SHORT,
            0.001 * (i % 97 + 1),
            60_000.0 + (i % 500),
            PriceKind.AVERAGE_FILL,
            60.0,
            True,
        )
        for i in range(n)
    ]


def bench_store(folder: Path) -> dict[str, float | int]:
    n = 500_000
    rows = liqs(n)
    store = SqliteStore(folder / "batched.sqlite")
    t = time.perf_counter()
    for i in range(0, n, 50_000):
        store.write_liquidations(rows[i : i + 50_000])
    liq_rate = n / (time.perf_counter() - t)
    t = time.perf_counter()
    for i in range(0, n, 50_000):
        store.write_liquidations(rows[i : i + 50_000])
    dup_rate = n / (time.perf_counter() - t)
    trades = [
        Trade("binance", "BTCUSDT", T0 + i, 60_000.0, 0.01, Side.LONG, str(i)) for i in range(n)
    ]
    t = time.perf_counter()
    for i in range(0, n, 50_000):
        store.write_trades(trades[i : i + 50_000])
    trade_rate = n / (time.perf_counter() - t)
    ok = store.integrity_check() == ["ok"]
    store.close()

    naive_n = 5_000
    naive = SqliteStore(folder / "naive.sqlite")
    naive_rows = liqs(naive_n, offset=10 * n)
    t = time.perf_counter()
    for row in naive_rows:
        naive.write_liquidations([row])  # one transaction (and WAL commit) per row
    naive_rate = naive_n / (time.perf_counter() - t)
    naive.close()
    print(
        f"store: liquidations {liq_rate:,.0f} rows/s batched (re-write of duplicates "
        f"{dup_rate:,.0f}/s), trades {trade_rate:,.0f} rows/s; naive one row per "
        f"transaction {naive_rate:,.0f} rows/s ({liq_rate / naive_rate:.0f}x slower); "
        f"integrity {'ok' if ok else 'FAILED'}"
    )
    return {
        "store_liquidations_rows_per_s": round(liq_rate),
        "store_duplicate_rows_per_s": round(dup_rate),
        "store_trades_rows_per_s": round(trade_rate),
        "naive_rows_per_s": round(naive_rate),
        "speedup_vs_naive": round(liq_rate / naive_rate, 1),
    }


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        frames = bench_frames(folder)
        store = bench_store(folder)
    out: dict[str, object] = {"benchmark": "ingest", **store}
    out["frames"] = frames if frames is not None else "skipped: recording absent"
    print(json.dumps(out, default=str, allow_nan=False, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
