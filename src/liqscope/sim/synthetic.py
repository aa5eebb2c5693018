"""A fast synthetic market written straight into a store: 1-minute random-walk candles, open
interest and liquidations. For tests and benchmarks that need data volume quickly; the
simulator (``liqscope.sim.market``) is the market with ground truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from liqscope.domain.intervals import MINUTE_MS
from liqscope.model.steps import F64, Bars


@dataclass(frozen=True)
class _Series(Bars):
    oi: F64


def synthetic_series(start_ms: int, minutes: int, seed: int, price0: float) -> _Series:
    """A 1-minute random walk with volume and open interest."""
    rng = np.random.default_rng(seed)
    ret = rng.normal(0, 0.0010, minutes) + 0.00006 * np.sin(np.arange(minutes) / 700)
    close = price0 * np.exp(np.cumsum(ret))
    open_ = np.concatenate(([price0], close[:-1]))
    wick = np.abs(rng.normal(0, 0.0008, (2, minutes)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    volume = rng.gamma(2.0, 50.0, minutes)
    oi = 50_000 + np.cumsum(rng.normal(2.0, 20.0, minutes))
    ts = start_ms + np.arange(minutes, dtype=np.int64) * MINUTE_MS
    return _Series(ts, open_, high, low, close, volume, np.maximum(oi, 1000.0))


def fill_store(
    store: Any,
    start_ms: int,
    minutes: int,
    markets: Sequence[tuple[str, str]] = (("binance", "BTCUSDT"), ("bybit", "BTCUSDT")),
    liquidations_per_day: int = 300,
    seed: int = 7,
    price0: float = 60_000.0,
) -> int:
    """Write a synthetic market (1-minute candles, OI, liquidations) through a store's public
    write API (``write_candles``, ``write_open_interest``, ``write_liquidations``); for tests,
    demos and benchmarks. Returns the number of liquidations written."""
    from liqscope.domain.events import Candle, Liquidation, OpenInterest
    from liqscope.domain.types import PriceKind, Side

    written = 0
    for k, (venue, native) in enumerate(markets):
        s = synthetic_series(start_ms, minutes, seed=seed, price0=price0 * (1 + 0.0003 * k))
        rng = np.random.default_rng(seed + 1 + k)
        taker = np.clip(rng.normal(0.5, 0.08, minutes), 0.05, 0.95)
        candles = [
            Candle(
                venue,
                native,
                int(s.ts[i]),
                MINUTE_MS,
                float(s.open[i]),
                float(s.high[i]),
                float(s.low[i]),
                float(s.close[i]),
                float(s.volume[i]),
                float(s.volume[i] * taker[i]),
                True,
            )
            for i in range(minutes)
        ]
        oi = [
            OpenInterest(venue, native, int(s.ts[i]) + MINUTE_MS - 1, float(s.oi[i]), None)
            for i in range(minutes)
        ]
        n = liquidations_per_day * minutes // 1440
        at = np.sort(rng.integers(0, minutes, n))
        liqs = []
        for j, i in enumerate(at):
            side = Side.LONG if rng.random() < 0.5 else Side.SHORT
            px = float(s.low[i] if side is Side.LONG else s.high[i])
            usd = float(rng.lognormal(8.5, 1.4))
            liqs.append(
                Liquidation(
                    venue,
                    native,
                    int(s.ts[i]) + int(rng.integers(0, MINUTE_MS)) + j % 7,
                    side,
                    usd / px,
                    px,
                    PriceKind.AVERAGE_FILL,
                    usd,
                    venue in ("binance", "okx"),
                )
            )
        with store.transaction():
            for a in range(0, minutes, 20_000):
                store.write_candles(candles[a : a + 20_000])
                store.write_open_interest(oi[a : a + 20_000])
            written += store.write_liquidations(liqs)
    return written
