"""The one reader from stored rows to the estimator's steps, and its incremental cache.

``read_steps(store, …, cache=StepsCache())`` gives the same steps as a fresh read, but reads
only what may have changed since the cache's last read of that market and step: the steps
from the last stored candle / open-interest point on, and the liquidations stored since
(by insertion sequence, so a row stored late for an old step is counted too). Rows written
*before* those points (a back-fill of old candles) are picked up by the full re-read the
cache does every ``full_every_s``; rows deleted by retention at once (the market's oldest
stored times, :func:`first_stored`, moved).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from liqscope.domain.events import Liquidation
from liqscope.domain.types import Side
from liqscope.model.steps import Steps as ModelSteps
from liqscope.store import queries
from liqscope.store.base import LiquidationQuery, Steps, Store

__all__ = [
    "StepsCache",
    "StepsRead",
    "first_stored",
    "read_steps",
    "read_venue_steps",
    "stored_candle_span",
]

_FIRST_TABLES = ("candles", "open_interest", "liquidations")


def first_stored(store: Store, venue: str, symbol: str) -> tuple[int, int, int]:
    """The oldest stored time of a market's candles, open interest and liquidations (-1:
    none), by index seeks. Retention deletes the oldest rows, so any deletion moves one."""
    firsts = (store.min_ts(table, venue, symbol) for table in _FIRST_TABLES)
    a, b, c = (-1 if t is None else t for t in firsts)
    return a, b, c


def stored_candle_span(store: Store, venue: str, symbol: str) -> tuple[int, int] | None:
    """``(first, last)`` open time of any stored candles of a market (None when none)."""
    spans = [
        (c.first_ts, c.last_ts)
        for c in store.coverage(0)
        if c.venue == venue and c.symbol == symbol and c.stream.startswith("candles")
        if c.first_ts is not None and c.last_ts is not None
    ]
    if not spans:
        return None
    return min(a for a, _ in spans), max(b for _, b in spans)


def read_steps(
    store: Store,
    venue: str,
    symbol: str,
    t0: int,
    t1: int,
    interval_ms: int,
    cache: StepsCache | None = None,
) -> ModelSteps | None:
    """The estimator input for ``venue`` ``symbol`` (native) on ``[t0, t1)`` in steps of
    ``interval_ms``: only steps with prices and a known OI; None when fewer than two."""
    if cache is None:
        return store.steps(venue, symbol, t0, t1, interval_ms).to_model(venue, symbol)
    return cache.steps(store, venue, symbol, t0, t1, interval_ms).to_model(venue, symbol)


StepsRead = Callable[[str, str, int, int, int], ModelSteps | None]
"""``(venue, native, t0, t1, interval_ms) -> steps or None``: :func:`read_steps` on a store,
or a history lake's reader."""


def read_venue_steps(
    natives: Iterable[tuple[str, str]], t0: int, t1: int, interval_ms: int, read: StepsRead
) -> tuple[list[ModelSteps], dict[str, str]]:
    """The steps of each ``(venue, native symbol)`` on ``[t0, t1)`` read by ``read``, and the
    venues left out (fewer than two usable steps) as ``{venue: reason}``."""
    out: list[ModelSteps] = []
    skipped: dict[str, str] = {}
    for venue, native in natives:
        steps = read(venue, native, t0, t1, interval_ms)
        if steps is None:
            skipped[venue] = f"{native}: fewer than two steps with both prices and OI"
        else:
            out.append(steps)
    return out, skipped


@dataclass(frozen=True, slots=True)
class _Entry:
    steps: Steps
    seq: int  # liquidations up to this insertion sequence are counted
    tail_ms: int  # steps from here on may change with rows stored after the read
    intervals: tuple[int, ...]
    read_at: float  # monotonic time of the last full read
    first: tuple[int, int, int]  # the oldest stored times (first_stored) when read


class StepsCache:
    """The last steps read per (venue, symbol, step), extended by the rows stored since.

    Thread safe; at most ``max_items`` markets and steps are kept (least recently used
    first out). ``full_reads`` / ``tail_reads`` count what it did.
    """

    def __init__(
        self, max_items: int = 16, full_every_s: float = 60.0, max_new_rows: int = 20_000
    ) -> None:
        self.max_items = max_items
        self.full_every_s = full_every_s
        self.max_new_rows = max_new_rows
        self._items: dict[tuple[str, str, int], _Entry] = {}
        self._lock = threading.Lock()
        self.full_reads = 0
        self.tail_reads = 0

    def steps(
        self, store: Store, venue: str, symbol: str, t0: int, t1: int, interval_ms: int
    ) -> Steps:
        """``store.steps(venue, symbol, t0, t1, interval_ms)``, read incrementally."""
        key = (venue, symbol, interval_ms)
        with self._lock:
            held = self._items.get(key)
        g0 = queries.bucket_floor(t0, interval_ms)
        seq = store.last_liquidation_seq()  # before any read: rows after it wait for next time
        tail_ms = self._tail_ms(store, venue, symbol, interval_ms)
        intervals = tuple(store.candle_intervals(venue, symbol))
        first = first_stored(store, venue, symbol)  # moved: retention deleted rows
        fresh = held is not None and time.monotonic() - held.read_at < self.full_every_s
        out: Steps | None = None
        if held is not None and fresh and (held.intervals, held.first) == (intervals, first):
            out = self._extend(store, held, venue, symbol, g0, t1, seq)
        if out is None:
            out = self._counted(
                store.steps(venue, symbol, t0, t1, interval_ms), store, venue, symbol, seq
            )
            read_at = time.monotonic()
            self.full_reads += 1
        else:
            read_at = held.read_at if held is not None else time.monotonic()
            self.tail_reads += 1
        with self._lock:
            self._items.pop(key, None)
            self._items[key] = _Entry(out, seq, tail_ms, intervals, read_at, first)
            while len(self._items) > self.max_items:
                self._items.pop(next(iter(self._items)))
        return out

    @staticmethod
    def _tail_ms(store: Store, venue: str, symbol: str, interval_ms: int) -> int:
        """The first step that rows stored from now on can change: the last candle's, and
        the one whose close the last open-interest point sets."""
        candle = store.max_ts("candles", venue, symbol)
        oi = store.max_ts("open_interest", venue, symbol)
        last = [t for t in (candle, None if oi is None else oi - interval_ms) if t is not None]
        return queries.bucket_floor(min(last), interval_ms) if last else -(2**62)

    def _counted(self, st: Steps, store: Store, venue: str, symbol: str, seq: int) -> Steps:
        """``st`` with its liquidations recounted from the rows up to insertion ``seq`` (a
        read may also see rows stored after ``seq`` was taken; they are counted next time)."""
        if not len(st):
            return st
        lo, hi = int(st.ts[0]), int(st.ts[-1]) + st.interval_ms
        rows = [
            r
            for s, r in store.liquidation_rows(LiquidationQuery([venue], symbol, lo, hi))
            if s <= seq
        ]
        return _with_liquidations(st, rows, zero=True)

    def _extend(
        self, store: Store, held: _Entry, venue: str, symbol: str, g0: int, t1: int, seq: int
    ) -> Steps | None:
        """The held steps from ``g0`` up to their tail, the tail read again up to ``t1`` and
        the liquidations stored since the held read; None when a full read is needed."""
        old = held.steps
        if not len(old):
            return None
        step = old.interval_ms
        start = min(held.tail_ms, int(old.ts[-1]) + step)  # what follows is read again
        if g0 < int(old.ts[0]) or g0 > start or t1 <= start:
            return None
        new = store.liquidations_after(held.seq, self.max_new_rows + 1)
        if len(new) > self.max_new_rows:
            return None
        tail = self._counted(store.steps(venue, symbol, start, t1, step), store, venue, symbol, seq)
        a, b = (g0 - int(old.ts[0])) // step, (start - int(old.ts[0])) // step
        out = _splice(old, a, b, tail)
        late = [
            r
            for s, r in new
            if s <= seq and r.venue == venue and r.symbol == symbol and r.ts < start
        ]
        return _with_liquidations(out, late, zero=False) if late else out


def _with_liquidations(st: Steps, liqs: list[Liquidation], *, zero: bool) -> Steps:
    """``st`` with the notional of ``liqs`` added per step and side (or in place of what it
    held, ``zero``)."""
    ts = np.array([r.ts for r in liqs], np.int64)
    side = np.array([1 if r.side is Side.LONG else -1 for r in liqs], np.int64)
    usd = np.array([r.notional_usd for r in liqs], np.float64)
    sampled = np.array([r.sampled for r in liqs], np.bool_)
    lo, hi = int(st.ts[0]), int(st.ts[-1]) + st.interval_ms
    bars = queries.realized(ts, side, usd, sampled, lo, hi, st.interval_ms)
    if zero:
        return replace(
            st,
            liq_long_usd=bars.long_usd,
            liq_short_usd=bars.short_usd,
            sampled=bool(bars.sampled.any()),
        )
    return replace(
        st,
        liq_long_usd=st.liq_long_usd + bars.long_usd,
        liq_short_usd=st.liq_short_usd + bars.short_usd,
        sampled=st.sampled or bool(bars.sampled.any()),
    )


def _splice(old: Steps, a: int, b: int, tail: Steps) -> Steps:
    """Steps ``a:b`` of ``old`` followed by ``tail``."""
    parts: dict[str, Any] = {"interval_ms": old.interval_ms, "sampled": old.sampled or tail.sampled}
    for f in fields(Steps):
        if f.name not in parts:
            parts[f.name] = np.concatenate([getattr(old, f.name)[a:b], getattr(tail, f.name)])
    return Steps(**parts)
