"""The simulator's output: what happened on one simulated venue, as plain arrays.

A ``TraceChunk`` covers [start_ms, end_ms) and is what the simulated exchange servers replay
(public data) and what accuracy checks read (``liq_*``: the unsampled truth). Chunks of one
market are contiguous and can be concatenated with ``TraceChunk.concat``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

from liqscope.domain.instruments import Instrument

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]


@dataclass(frozen=True)
class TraceChunk:
    venue: str
    symbol: str
    instrument: Instrument
    start_ms: int
    end_ms: int
    # Every trade, sorted by time. taker: +1 the taker bought, -1 sold. qty in base units.
    trade_ts: I64
    trade_px: F64
    trade_qty: F64
    trade_taker: I8
    # One row per second (ts = the second's start): mark, index, funding rate, open interest.
    sec_ts: I64
    mark_px: F64
    index_px: F64
    funding_rate: F64
    oi_base: F64
    # Every liquidation (truth, unsampled), sorted by time. side: +1 long, -1 short position.
    # liq_px: the price the forced order filled at; liq_bk_px: the position's bankruptcy price.
    liq_ts: I64
    liq_side: I8
    liq_qty: F64
    liq_px: F64
    liq_bk_px: F64
    liq_position_id: I64

    @staticmethod
    def concat(chunks: list[TraceChunk]) -> TraceChunk:
        """Join contiguous chunks of one market into one."""
        if not chunks:
            raise ValueError("no chunks to concatenate")
        first = chunks[0]
        for a, b in pairwise(chunks):
            if a.end_ms != b.start_ms:
                raise ValueError(f"chunks are not contiguous: {a.end_ms} != {b.start_ms}")
        arrays = {
            f.name: np.concatenate([getattr(c, f.name) for c in chunks])
            for f in fields(TraceChunk)
            if isinstance(getattr(first, f.name), np.ndarray)
        }
        return TraceChunk.of(first.instrument, first.start_ms, chunks[-1].end_ms, **arrays)

    @staticmethod
    def of(instrument: Instrument, start_ms: int, end_ms: int, **arrays: Any) -> TraceChunk:
        """The chunk of ``instrument`` (its venue and symbol) over [start_ms, end_ms)."""
        return TraceChunk(
            instrument.venue, instrument.symbol, instrument, start_ms, end_ms, **arrays
        )
