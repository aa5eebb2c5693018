"""A tiny deterministic chunk source with a known truth, for tests of servers and collectors.

Every 10 s block holds three liquidations within one second (short 0.125, long 0.25, long 0.5
at +3.1 s, +3.4 s, +3.8 s) and one more (short 2.0 at +7.5 s), so a venue that samples one per
second must drop two of them (and sends one long, one short per block). Trades arrive every
250 ms; per-second rows carry mark, index, funding and open interest given by closed-form
functions of time.
"""

from __future__ import annotations

import math

import numpy as np

from liqscope.domain.instruments import Instrument
from liqscope.domain.types import ContractType
from liqscope.sim.trace import TraceChunk

TRADE_EVERY_MS = 250
TRADE_PHASE_MS = 7
BLOCK_MS = 10_000
# (offset in block, side, qty base)
LIQ_PATTERN = ((3_100, -1, 0.125), (3_400, 1, 0.25), (3_800, 1, 0.5), (7_500, -1, 2.0))


def toy_price(t: np.ndarray | int, origin_ms: int) -> np.ndarray:
    x = (np.asarray(t, dtype=np.float64) - origin_ms) / 60_000.0
    return 100_000.0 + 50.0 * np.sin(2 * math.pi * x)


class ToySource:
    """``source(to_ms) -> TraceChunk``: contiguous chunks of a deterministic market.

    ``whole_seconds``: end chunks on whole seconds (as the real simulator does).
    """

    def __init__(
        self,
        venue: str = "binance",
        symbol: str = "BTCUSDT",
        origin_ms: int = 1_760_000_000_000,
        *,
        contract_size: float = 1.0,
        whole_seconds: bool = False,
    ) -> None:
        self.origin_ms = origin_ms
        self.now_ms = origin_ms
        self.whole_seconds = whole_seconds
        self.instrument = Instrument(
            venue, symbol, "BTC", "USDT", ContractType.LINEAR, contract_size
        )

    def __call__(self, to_ms: int) -> TraceChunk:
        end = max(self.now_ms, to_ms)
        if self.whole_seconds:
            end = max(self.now_ms, end // 1000 * 1000)
        chunk = self.chunk(self.now_ms, end)
        self.now_ms = end
        return chunk

    def chunk(self, start: int, end: int) -> TraceChunk:
        """The truth for ``[start, end)`` (independent of how time is split)."""
        o = self.origin_ms
        k0 = -(-(start - o - TRADE_PHASE_MS) // TRADE_EVERY_MS)
        k1 = -(-(end - o - TRADE_PHASE_MS) // TRADE_EVERY_MS)
        k = np.arange(max(k0, 0), max(k1, 0), dtype=np.int64)
        trade_ts = o + TRADE_PHASE_MS + k * TRADE_EVERY_MS
        s0, s1 = -(-(start - o) // 1000), -(-(end - o) // 1000)
        sec_ts = o + np.arange(max(s0, 0), max(s1, 0), dtype=np.int64) * 1000
        liq_ts, liq_side, liq_qty = [], [], []
        for b in range((start - o) // BLOCK_MS, (end - o) // BLOCK_MS + 1):
            for off, side, qty in LIQ_PATTERN:
                t = o + b * BLOCK_MS + off
                if start <= t < end and b >= 0:
                    liq_ts.append(t)
                    liq_side.append(side)
                    liq_qty.append(qty)
        lts = np.array(liq_ts, dtype=np.int64)
        lside = np.array(liq_side, dtype=np.int8)
        lpx = toy_price(lts, o) * (1 - 0.01 * lside)  # a long is sold below the price
        return TraceChunk.of(
            self.instrument,
            start,
            end,
            trade_ts=trade_ts,
            trade_px=np.round(toy_price(trade_ts, o), 1),
            trade_qty=0.001 * (1 + (k % 5)).astype(np.float64),
            trade_taker=np.where(k % 3 == 0, -1, 1).astype(np.int8),
            sec_ts=sec_ts,
            mark_px=toy_price(sec_ts, o),
            index_px=toy_price(sec_ts, o) - 5.0,
            funding_rate=np.full(len(sec_ts), 0.0001),
            oi_base=(1000.0 + 0.5 * (sec_ts - o) / 1000.0).astype(np.float64),
            liq_ts=lts,
            liq_side=lside,
            liq_qty=np.array(liq_qty, dtype=np.float64),
            liq_px=lpx,
            liq_bk_px=toy_price(lts, o) * (1 - 0.015 * lside),
            liq_position_id=lts - o,
        )
