"""Replay time and replayed history: the clock of the simulated exchanges and the arrays they serve.

``ReplayClock`` maps wall time to simulated time (``start + wall elapsed × speed``) and can be
moved by hand (``advance``) so tests drive it. ``MarketHistory`` pulls ``TraceChunk``s from a chunk
source as the clock moves and keeps them in growable arrays; everything with ``ts <= now`` is
history (REST), newer rows are not served yet.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from liqscope.domain.clock import SYSTEM_CLOCK, Clock
from liqscope.domain.instruments import Instrument
from liqscope.sim.config import FUNDING_INTERVAL_MS
from liqscope.sim.trace import TraceChunk

ChunkSource = Callable[[int], TraceChunk]
"""``source(to_ms)`` returns the next contiguous chunk, ending at ``to_ms`` (or later)."""

_GROUPS = {"trade": "trade_ts", "sec": "sec_ts", "liq": "liq_ts"}


def _group(column: str) -> str:
    """Row group of a TraceChunk column: trade, liq, or sec (mark, index, funding, oi)."""
    prefix = column.split("_", 1)[0]
    return prefix if prefix in _GROUPS else "sec"


class ReplayClock:
    """Simulated time = ``start_ms`` + wall elapsed × ``speed`` + manual offset.

    With ``manual=True`` the wall clock is ignored and time moves only through ``advance``/``set``.
    Thread-safe: the servers read it from their loop thread, tests move it from theirs.
    """

    def __init__(
        self,
        start_ms: int,
        speed: float = 1.0,
        *,
        manual: bool = False,
        wall: Clock = SYSTEM_CLOCK,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._start = int(start_ms)
        self._speed = float(speed)
        self._manual = manual
        self._wall = wall
        self._wall0 = wall.now_ms()
        self._offset = 0
        self._lock = threading.Lock()

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def manual(self) -> bool:
        return self._manual

    @property
    def start_ms(self) -> int:
        return self._start

    def now_ms(self) -> int:
        with self._lock:
            t = self._start + self._offset
            if not self._manual:
                t += int((self._wall.now_ms() - self._wall0) * self._speed)
            return t

    def advance(self, ms: int) -> None:
        """Move simulated time forward by ``ms`` (on top of the wall-driven progress)."""
        if ms < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            self._offset += int(ms)

    def set(self, ms: int) -> None:
        """Jump to simulated time ``ms`` (never backwards)."""
        delta = int(ms) - self.now_ms()
        if delta < 0:
            raise ValueError("time only moves forward")
        self.advance(delta)

    def wall_seconds(self, sim_ms: float) -> float:
        """Wall seconds that ``sim_ms`` of simulated time take at this speed."""
        return sim_ms / 1000.0 / self._speed


class MarketHistory:
    """One market's replayed trace, pulled chunk by chunk from a chunk source."""

    def __init__(self, source: ChunkSource) -> None:
        self._source = source
        self._lock = threading.Lock()
        self._arrays: dict[str, np.ndarray] = {}
        self._len = {g: 0 for g in _GROUPS}
        self._first: TraceChunk | None = None
        self.start_ms = 0
        self.end_ms = 0  # exclusive: rows with ts < end_ms are loaded

    # -- identity (known after the first pull) --------------------------------------------
    def _first_chunk(self) -> TraceChunk:
        if self._first is None:
            raise RuntimeError("history not primed: call ensure() first")
        return self._first

    @property
    def symbol(self) -> str:
        return self._first_chunk().symbol

    @property
    def instrument(self) -> Instrument:
        return self._first_chunk().instrument

    # -- loading ----------------------------------------------------------------------------
    def ensure(self, to_ms: int) -> None:
        """Pull chunks until rows up to (excluding) ``to_ms`` are loaded."""
        with self._lock:
            guard = 0
            while self._first is None or self.end_ms < to_ms:
                chunk = self._source(to_ms)
                self._append(chunk)
                guard += 1
                if guard > 1000 or chunk.end_ms <= chunk.start_ms:
                    break  # a source that cannot move (e.g. asked for its own start)

    def _append(self, chunk: TraceChunk) -> None:
        if self._first is None:
            self._first = chunk
            self.start_ms = chunk.start_ms
            self.end_ms = chunk.start_ms
        elif chunk.start_ms != self.end_ms:
            raise ValueError(f"chunk starts at {chunk.start_ms}, history ends at {self.end_ms}")
        for f in fields(TraceChunk):
            value = getattr(chunk, f.name)
            if not isinstance(value, np.ndarray):
                continue
            self._push(f.name, _group(f.name), value)
        for group, key in _GROUPS.items():
            self._len[group] += len(getattr(chunk, key))
        self.end_ms = max(self.end_ms, chunk.end_ms)

    def _push(self, name: str, group: str, values: np.ndarray) -> None:
        n = self._len[group]
        arr = self._arrays.get(name)
        need = n + len(values)
        if arr is None or len(arr) < need:
            cap = max(1024, 1 << math.ceil(math.log2(max(need, 1))))
            grown = np.empty(cap, dtype=values.dtype)
            if arr is not None:
                grown[:n] = arr[:n]
            arr = grown
            self._arrays[name] = arr
        arr[n:need] = values

    def col(self, name: str) -> npt.NDArray[Any]:
        """The loaded part of one ``TraceChunk`` column (a view)."""
        arr = self._arrays.get(name)
        if arr is None:
            return np.empty(0)
        return arr[: self._len[_group(name)]]

    # -- queries ------------------------------------------------------------------------------
    def span(self, group: str, t0: int, t1: int) -> tuple[int, int]:
        """Index range of rows of ``group`` (trade, sec, liq) with ``t0 <= ts < t1``."""
        ts = self.col(_GROUPS[group])
        return int(np.searchsorted(ts, t0, "left")), int(np.searchsorted(ts, t1, "left"))

    def sec_index(self, t: int) -> int:
        """Index of the last per-second row with ``ts <= t``; -1 when none."""
        return int(np.searchsorted(self.col("sec_ts"), t, "right")) - 1

    def sec_rows(self, times: Iterable[int]) -> list[tuple[int, int]]:
        """``(t, sec_index(t))`` for each of ``times`` that has a per-second row at or before it."""
        return [(t, j) for t in times if (j := self.sec_index(t)) >= 0]

    def last_price_before(self, t: int) -> float | None:
        """Price of the last trade before ``t``, else the mark of that second, else None."""
        i = int(np.searchsorted(self.col("trade_ts"), t, "left")) - 1
        if i >= 0:
            return float(self.col("trade_px")[i])
        j = self.sec_index(t)
        if j >= 0:
            return float(self.col("mark_px")[j])
        marks = self.col("mark_px")
        return float(marks[0]) if len(marks) else None


@dataclass(frozen=True)
class Candle:
    open_ms: int
    interval_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float  # base
    quote_volume: float
    trades: int
    taker_buy_base: float
    taker_buy_quote: float
    first_index: int  # index of the first trade, -1 when none
    last_index: int
    closed: bool


def align(t: int, interval_ms: int, offset_ms: int = 0) -> int:
    """Start of the period of length ``interval_ms`` that contains ``t``."""
    return (t - offset_ms) // interval_ms * interval_ms + offset_ms


def candle(h: MarketHistory, open_ms: int, interval_ms: int, upto_ms: int) -> Candle | None:
    """The candle opening at ``open_ms`` built from trades with ``ts < min(end, upto_ms)``."""
    end = open_ms + interval_ms
    cut = min(end, upto_ms)
    i0, i1 = h.span("trade", open_ms, cut)
    if i1 > i0:
        px = h.col("trade_px")[i0:i1]
        qty = h.col("trade_qty")[i0:i1]
        buy = h.col("trade_taker")[i0:i1] > 0
        quote = px * qty
        return Candle(
            open_ms,
            interval_ms,
            float(px[0]),
            float(px.max()),
            float(px.min()),
            float(px[-1]),
            float(qty.sum()),
            float(quote.sum()),
            i1 - i0,
            float(qty[buy].sum()),
            float(quote[buy].sum()),
            i0,
            i1 - 1,
            upto_ms >= end,
        )
    last = h.last_price_before(open_ms if cut <= open_ms else cut)
    if last is None:
        return None
    return Candle(
        open_ms, interval_ms, last, last, last, last, 0.0, 0.0, 0, 0.0, 0.0, -1, -1, upto_ms >= end
    )


def candles(
    h: MarketHistory,
    interval_ms: int,
    now_ms: int,
    *,
    start_ms: int | None,
    end_ms: int | None,
    limit: int,
    offset_ms: int = 0,
    column: str | None = None,
) -> list[Candle]:
    """Candles ascending by open time, as the venues' kline endpoints select them.

    ``start_ms`` given: the first ``limit`` candles opening at or after it; else the last ``limit``
    candles opening at or before ``end_ms`` (default now). The candle that contains ``now_ms``
    is the open one; nothing after ``now_ms`` exists yet. ``column``: candles of a per-second
    column (``mark_px``, ``index_px``) instead of trades, without volumes.
    """
    first_open = align(h.start_ms, interval_ms, offset_ms)
    last_open = align(now_ms, interval_ms, offset_ms)
    if end_ms is not None:
        last_open = min(last_open, align(end_ms, interval_ms, offset_ms))
    if start_ms is not None:
        lo = max(first_open, align(start_ms, interval_ms, offset_ms))
        if lo < start_ms:
            lo += interval_ms
        opens = range(lo, min(last_open, lo + (limit - 1) * interval_ms) + 1, interval_ms)
    else:
        opens = range(
            max(first_open, last_open - (limit - 1) * interval_ms), last_open + 1, interval_ms
        )
    out = []
    for t in opens:
        if column is None:
            c = candle(h, t, interval_ms, now_ms + 1)
        else:
            c = _series_candle(h, column, t, interval_ms, now_ms + 1)
        if c is not None:
            out.append(c)
    return out


def _series_candle(
    h: MarketHistory, column: str, open_ms: int, interval_ms: int, upto_ms: int
) -> Candle | None:
    """The candle of a per-second column (mark, index) opening at ``open_ms``: no volumes."""
    end = open_ms + interval_ms
    j0, j1 = h.span("sec", open_ms, min(end, upto_ms))
    if j1 <= j0:
        return None
    x = h.col(column)[j0:j1]
    o, hi, lo, cl = float(x[0]), float(x.max()), float(x.min()), float(x[-1])
    return Candle(
        open_ms, interval_ms, o, hi, lo, cl, 0.0, 0.0, 0, 0.0, 0.0, -1, -1, upto_ms >= end
    )


def stamps(
    h: MarketHistory, step_ms: int, now_ms: int, start_ms: int | None, end_ms: int | None
) -> range:
    """Multiples of ``step_ms`` (funding times, OI periods) from ``start_ms`` to ``end_ms``,
    both included, within the history up to ``now_ms``; ascending."""
    last = align(min(now_ms, end_ms) if end_ms is not None else now_ms, step_ms)
    first = -(-max(h.start_ms, start_ms or 0) // step_ms) * step_ms
    return range(first, last + 1, step_ms)


def fmt_fixed(x: float, dp: int) -> str:
    return f"{x:.{dp}f}"


def price_dp(price: float) -> int:
    """Decimals a venue would quote ``price`` with: 2 for BTC, more for small prices."""
    if price <= 0 or not math.isfinite(price):
        return 2
    return max(2, min(8, 6 - math.floor(math.log10(price))))


def fmt_px(x: float, ref: float | None = None) -> str:
    return fmt_fixed(x, price_dp(ref if ref is not None else x))


def fmt_qty(x: float, min_dp: int = 3, max_dp: int = 8) -> str:
    """A quantity with at least ``min_dp`` decimals and no needless trailing zeros."""
    s = f"{x:.{max_dp}f}"
    whole, _, frac = s.partition(".")
    frac = frac.rstrip("0")
    frac = frac + "0" * max(0, min_dp - len(frac))
    return f"{whole}.{frac}" if frac else whole


def next_funding_ms(t: int, period_ms: int = FUNDING_INTERVAL_MS) -> int:
    return (t // period_ms + 1) * period_ms
