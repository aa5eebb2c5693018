"""The API's read side of the store: one read-only handle per thread, the stored markets,
data versions (cache keys) and the rows each view renders.

The store is opened with :func:`liqscope.store.open_store` (a SQLite path or a
``postgresql://`` URL). Estimator input comes only from
:func:`liqscope.store.readers.read_steps`, through one :class:`StepsCache`, so a refresh
after a writer's new rows reads only those rows and the last steps; everything here
returns the store's and the domain's own objects. Feed ids (``/ws`` and
``/api/liquidations/feed``) are the store's liquidation insertion sequence, so a row reaches
the live feed however late it is stored relative to its event time.

Versions and data ranges (read on every request to build cache keys) are cached for
``VERSION_TTL_S`` and refreshed by one thread at a time while the others take the value
held, so a cache hit costs no SQL and no request waits on another's read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from liqscope.domain.clock import SYSTEM_CLOCK, Clock
from liqscope.domain.events import Liquidation, OpenInterest
from liqscope.domain.registry import market_of, native_symbol, sampled_feed
from liqscope.model.steps import Steps as ModelSteps
from liqscope.store.backends import open_store
from liqscope.store.base import LiquidationQuery, Steps, Store
from liqscope.store.readers import StepsCache, first_stored, read_steps

__all__ = ["MarketRef", "MarketStatus", "StoreSource", "StoredLiquidation"]

VERSION_TTL_S = 0.25  # how stale a data version / data range may be
STATUS_TTL_S = 1.0  # how stale the status (a scan of the store's tables) may be
MAX_GAPS = 50  # per market in /api/status and provenance


@dataclass(frozen=True, slots=True)
class MarketRef:
    """One stored market on one venue: the venue-neutral name and the venue's own."""

    venue: str
    market: str
    native_symbol: str

    @property
    def sampled(self) -> bool:
        return sampled_feed(self.venue)


class StoredLiquidation(NamedTuple):
    """A stored liquidation with its feed id (store seq) and venue-neutral market name."""

    id: int
    market: str
    event: Liquidation


@dataclass(frozen=True, slots=True)
class MarketStatus:
    """What the store holds for one market on one venue (``/api/status``, provenance)."""

    ref: MarketRef
    liquidations: int = 0
    candles: int = 0
    oi_points: int = 0
    first_ts: int | None = None
    last_ts: int | None = None
    last_message_ms: int | None = None
    gaps: list[tuple[int, int]] = field(default_factory=list)


class StoreSource:
    """Reads one store (a SQLite file or a PostgreSQL database another process may be
    writing)."""

    def __init__(self, db: str | Path, clock: Clock = SYSTEM_CLOCK) -> None:
        self.location = db
        self.clock = clock
        open_store(db, clock=clock).close()  # create / migrate once
        self.steps_cache = StepsCache()
        self._local = threading.local()
        self._markets: tuple[float, list[MarketRef]] = (0.0, [])
        self._versions: dict[tuple[Any, ...], tuple[float, tuple[int, ...]]] = {}
        self._firsts: dict[tuple[Any, ...], tuple[float, tuple[int, ...]]] = {}
        self._ranges: dict[tuple[Any, ...], tuple[float, tuple[int, int] | None]] = {}
        self._status: dict[str, tuple[float, list[MarketStatus]]] = {}
        self._locks: dict[Any, threading.Lock] = {}
        self.take_held = True  # False: wait for another thread's read (the benchmark's before)

    @property
    def path(self) -> Path:
        """The store's file (as the store names it; see ``Store.path``)."""
        return self.store().path

    def store(self) -> Store:
        """This thread's read-only handle on the store (connections are per thread)."""
        st: Store | None = getattr(self._local, "store", None)
        if st is None:
            st = open_store(self.location, readonly=True, clock=self.clock)
            self._local.store = st
        return st

    # -- catalogue ------------------------------------------------------------------------------

    def markets(self) -> list[MarketRef]:
        """The stored markets, read again every 2 s by one thread (the others meanwhile
        take the list held)."""
        stamp, cached = self._markets
        if time.monotonic() - stamp < 2.0 and cached:
            return cached
        lock = self._locks.setdefault("markets", threading.Lock())
        if not lock.acquire(blocking=not cached or not self.take_held):
            return cached
        try:
            pairs = self.store().markets(("candles", "liquidations", "open_interest"))
            refs = [MarketRef(v, market_of(v, s), s) for v, s in pairs]
            self._markets = (time.monotonic(), refs)
            return refs
        finally:
            lock.release()

    def native(self, venue: str, market: str) -> str:
        for m in self.markets():
            if m.venue == venue and m.market == market:
                return m.native_symbol
        return native_symbol(venue, market)

    # -- versions and ranges --------------------------------------------------------------------

    def _ttl(
        self, memo: dict[Any, tuple[float, Any]], key: Any, read: Any, ttl: float = VERSION_TTL_S
    ) -> Any:
        hit = memo.get(key)
        if hit is not None and time.monotonic() - hit[0] < ttl:
            return hit[1]
        # one refresh of a memo at a time; meanwhile the others take the value held (one
        # read older), or wait for it when there is none
        lock = self._locks.setdefault(id(memo), threading.Lock())
        if not lock.acquire(blocking=hit is None or not self.take_held):
            return hit[1] if hit is not None else None
        try:
            hit = memo.get(key)
            now = time.monotonic()
            if hit is not None and now - hit[0] < ttl:
                return hit[1]
            value = read()
            if len(memo) > 1024:
                memo.clear()
            memo[key] = (now, value)
            return value
        finally:
            lock.release()

    def version(self, venues: Sequence[str], market: str) -> tuple[int, ...]:
        """Changes whenever anything stored for these markets changes (cache key): rows
        added, and rows deleted by retention (the oldest stored times move)."""

        def read() -> tuple[int, ...]:
            st = self.store()
            out = [st.last_liquidation_seq()]
            for v in venues:
                s = self.native(v, market)
                for table in ("candles", "open_interest"):
                    out.append(st.max_ts(table, v, s) or 0)
                out.extend(first_stored(st, v, s))
            return tuple(out)

        version: tuple[int, ...] = self._ttl(self._versions, (tuple(venues), market), read)
        return version

    def first_stored(self, venues: Sequence[str], market: str) -> tuple[int, ...]:
        """The oldest stored times of these markets (``store.readers.first_stored``)."""

        def read() -> tuple[int, ...]:
            st = self.store()
            return tuple(t for v in venues for t in first_stored(st, v, self.native(v, market)))

        first: tuple[int, ...] = self._ttl(self._firsts, (tuple(venues), market), read)
        return first

    def data_range(self, venues: Sequence[str], market: str) -> tuple[int, int] | None:
        """First and last stored 1-minute slot of candles over ``venues``, or None."""

        def read() -> tuple[int, int] | None:
            lo: int | None = None
            hi: int | None = None
            st = self.store()
            for v in venues:
                s = self.native(v, market)
                for iv in st.candle_intervals(v, s):
                    rng = st.candle_range(v, s, iv)
                    if rng is None:
                        continue
                    a, b = rng[0], rng[1] + iv - 60_000
                    lo = a if lo is None else min(lo, a)
                    hi = b if hi is None else max(hi, b)
            return None if lo is None or hi is None else (lo, hi)

        rng: tuple[int, int] | None = self._ttl(self._ranges, (tuple(venues), market), read)
        return rng

    # -- rows -----------------------------------------------------------------------------------

    def steps(self, venue: str, market: str, t0: int, t1: int, interval_ms: int) -> Steps:
        """Stored candles (and OI, liquidations) of one venue as per-step arrays."""
        return self.store().steps(venue, self.native(venue, market), t0, t1, interval_ms)

    def model_steps(
        self, venue: str, market: str, t0: int, t1: int, interval_ms: int
    ) -> ModelSteps | None:
        """The estimator input (the one store reader), None without enough data."""
        native = self.native(venue, market)
        return read_steps(self.store(), venue, native, t0, t1, interval_ms, self.steps_cache)

    def open_interest(self, venue: str, market: str, t0: int, t1: int) -> list[OpenInterest]:
        return self.store().open_interest(venue, self.native(venue, market), t0, t1)

    def liquidations(self, query: LiquidationQuery) -> list[StoredLiquidation]:
        """Stored liquidations of ``query``, whose ``symbol`` here is the venue-neutral
        market (None: all) and whose ``venues`` are the venues read (none: no rows): each
        venue's rows are read under its native symbol, then merged in time order (newest
        first when asked) and cut to ``query.limit``."""
        refs = [
            m
            for m in self.markets()
            if m.venue in query.venues and query.symbol in (None, m.market)
        ]
        st = self.store()
        rows = [
            StoredLiquidation(seq, m.market, r)
            for m in refs
            for seq, r in st.liquidation_rows(
                replace(query, venues=(m.venue,), symbol=m.native_symbol)
            )
        ]
        rows.sort(key=lambda r: (r.event.ts, r.event.venue, r.id), reverse=query.newest_first)
        return rows if query.limit is None else rows[: query.limit]

    def liquidations_after(self, last_id: int, limit: int) -> list[StoredLiquidation]:
        """Rows stored after feed id ``last_id``, in insertion order."""
        names = {(m.venue, m.native_symbol): m.market for m in self.markets()}
        return [
            StoredLiquidation(
                seq, names.get((r.venue, r.symbol)) or market_of(r.venue, r.symbol), r
            )
            for seq, r in self.store().liquidations_after(last_id, limit)
        ]

    def last_liquidation_id(self) -> int:
        return self.store().last_liquidation_seq()

    # -- health ---------------------------------------------------------------------------------

    def status(self) -> list[MarketStatus]:
        """Per market and venue: rows stored, span, last message and the open gaps (cached
        for ``STATUS_TTL_S``: every view's provenance reads it).

        A gap is open unless *that* gap (venue, symbol, stream and start) was back-filled;
        liquidation gaps stay open whatever is marked, since no venue can refill them.
        """
        status: list[MarketStatus] = self._ttl(
            self._status, "status", self._read_status, STATUS_TTL_S
        )
        return status

    def _read_status(self) -> list[MarketStatus]:
        st = self.store()
        now = self.clock.now_ms()
        acc: dict[tuple[str, str], dict[str, Any]] = {}
        for c in st.coverage(now):
            d = acc.setdefault(
                (c.venue, c.symbol),
                {"liq": 0, "candles": 0, "oi": 0, "first": None, "last": None, "age": None},
            )
            if c.stream == "liquidations":
                d["liq"] += c.rows
            elif c.stream.startswith("candles"):
                d["candles"] += c.rows
                if c.first_ts is not None:
                    d["first"] = c.first_ts if d["first"] is None else min(d["first"], c.first_ts)
                if c.last_ts is not None:
                    d["last"] = c.last_ts if d["last"] is None else max(d["last"], c.last_ts)
            elif c.stream == "open_interest":
                d["oi"] += c.rows
            if c.last_message_age_ms is not None:
                d["age"] = c.last_message_age_ms
        gaps = st.gaps()
        out = []
        for (v, s), d in sorted(acc.items()):
            open_gaps = sorted(
                {
                    (g.start_ms, g.end_ms)
                    for g in gaps
                    if g.venue == v and g.symbol == s
                    if g.stream == "liquidations" or not g.backfilled
                }
            )
            out.append(
                MarketStatus(
                    MarketRef(v, market_of(v, s), s),
                    liquidations=d["liq"],
                    candles=d["candles"],
                    oi_points=d["oi"],
                    first_ts=d["first"],
                    last_ts=d["last"],
                    last_message_ms=None if d["age"] is None else now - int(d["age"]),
                    gaps=open_gaps[-MAX_GAPS:],
                )
            )
        return out
