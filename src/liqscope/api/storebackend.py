"""The real ``Backend``: the SQLite store (``liqscope.store``) + the estimator (``liqscope.model``).

Every read goes through the store's public interface, on a read-only store handle per thread
(SQLite objects are per thread). The live feed follows the store's liquidation insertion
sequence: ``liquidations_after(seq)`` returns the rows stored after ``seq`` in insertion order,
so a liquidation reaches ``/ws`` however late it is stored relative to its event time (a
collector catching up, a backfill, an import). Feed ids (``/ws`` and
``/api/liquidations/feed``) are those store seqs.

Versions and data ranges (read on every request to build cache keys) are cached for
``VERSION_TTL_S`` and refreshed by one thread at a time, so a cache hit costs no SQL.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from liqscope.api.backend import (
    F64,
    I64,
    Candles,
    Coverage,
    Grid,
    LiquidationRow,
    Liquidations,
    MarketInfo,
    OISeries,
    Profile,
)
from liqscope.domain.clock import SYSTEM_CLOCK, Clock
from liqscope.domain.errors import InputError
from liqscope.domain.registry import market_of, native_symbol
from liqscope.model import PriceGrid, aggregate, estimate
from liqscope.model.estimator import Heatmap, level_ratios
from liqscope.model.grid import nice_step
from liqscope.model.presets import PRESETS
from liqscope.model.steps import Steps as ModelSteps
from liqscope.store.sqlite import SqliteStore
from liqscope.venues.registry import ADAPTERS

VERSION_TTL_S = 0.25  # how stale a data version / data range may be
API_BUCKETS = 1200  # price buckets of a model run made for the API (rows are reduced later)


def sampled_feed(venue: str) -> bool:
    """Whether the venue's liquidation feed is a sample (declared by its adapter)."""
    return any(cls.venue == venue and cls.liquidations_sampled for cls in ADAPTERS.values())


def tier_label(lev: float) -> str:
    return f"{lev:g}x"


class ModelEstimate:
    """An estimator result (one venue or an aggregate) seen through the API's interface."""

    def __init__(
        self, hm: Heatmap, version: str, venues: Sequence[str] = (), skipped: Sequence[str] = ()
    ) -> None:
        self._hm = hm
        self._version = version
        self.venues = list(venues)  # venues whose data the run used
        self.skipped = list(skipped)  # venues asked for but without model data in the window
        self._by_label = {tier_label(x): x for x in hm.leverages}

    @property
    def tiers(self) -> list[str]:
        return list(self._by_label)

    @property
    def model_version(self) -> str:
        return self._version

    def _levs(self, tiers: Sequence[str]) -> list[float]:
        return [self._by_label[t] for t in tiers if t in self._by_label]

    def grid(self, tiers: Sequence[str], sides: Sequence[int], relative: bool) -> Grid:
        sides_txt = ["long" if s > 0 else "short" for s in sides]
        levs = self._levs(tiers)
        edges = self._hm.grid.edges
        if not levs:
            n = self._hm.columns_ts.size
            return Grid(self._hm.columns_ts, edges, np.zeros((self._hm.grid.n, n)))
        ts, _lower, mat = self._hm.heatmap(tiers=levs, sides=sides_txt, relative=relative)
        return Grid(ts, edges, np.ascontiguousarray(mat.T))

    def profile(self, at: int | None, tiers: Sequence[str]) -> Profile:
        ts = self._hm.columns_ts
        j = ts.size - 1 if at is None else int(np.searchsorted(ts, at, "right") - 1)
        j = max(0, min(j, ts.size - 1))
        levs = self._levs(tiers) or None
        p = self._hm.profile(j, tiers=levs)
        price = float(p.price)
        if not math.isfinite(price):  # aggregate column without every venue: last known price
            closes = self._hm.column_close[: j + 1]
            ok = np.isfinite(closes)
            price = float(closes[ok][-1]) if ok.any() else math.nan
        return Profile(
            p.ts, price, self._hm.grid.edges, [tier_label(x) for x in p.leverages], p.long, p.short
        )


class StoreBackend:
    """``Backend`` over one SQLite store file (which another process may be writing)."""

    def __init__(self, db_path: str | Path, clock: Clock = SYSTEM_CLOCK) -> None:
        self.path = Path(db_path)
        self.clock = clock
        SqliteStore(self.path, clock=clock).close()  # create / migrate once
        self._local = threading.local()
        self._lock = threading.Lock()
        self._markets: tuple[float, list[MarketInfo]] = (0.0, [])
        self._versions: dict[tuple[Any, ...], tuple[float, tuple[int, ...]]] = {}
        self._ranges: dict[tuple[Any, ...], tuple[float, tuple[int, int] | None]] = {}
        self._version_lock = threading.Lock()

    # -- connections (SQLite objects are per thread) --------------------------------------------

    def _store(self) -> SqliteStore:
        """This thread's read-only handle on the store."""
        st: SqliteStore | None = getattr(self._local, "store", None)
        if st is None:
            st = SqliteStore(self.path, readonly=True, clock=self.clock)
            self._local.store = st
        return st

    # -- catalogue ------------------------------------------------------------------------------

    def markets(self) -> list[MarketInfo]:
        stamp, cached = self._markets
        if time.monotonic() - stamp < 2.0 and cached:
            return cached
        pairs = self._store().markets(("candles", "liquidations", "open_interest"))
        infos = [MarketInfo(v, market_of(v, s), s, sampled_feed(v)) for v, s in pairs]
        self._markets = (time.monotonic(), infos)
        return infos

    def _native(self, venue: str, market: str) -> str:
        for m in self.markets():
            if m.venue == venue and m.market == market:
                return m.native_symbol
        return native_symbol(venue, market)

    def presets(self) -> list[str]:
        return list(PRESETS)

    def tiers(self) -> list[str]:
        return [tier_label(x) for x in PRESETS["all"].leverages]

    # -- versions and ranges --------------------------------------------------------------------

    def _max_ts(self, table: str, venue: str, symbol: str) -> int:
        ts = self._store().max_ts(table, venue, symbol)
        return 0 if ts is None else ts

    def data_version(self, venues: Sequence[str], market: str) -> tuple[int, ...]:
        key = (tuple(venues), market)
        hit = self._versions.get(key)
        if hit is not None and time.monotonic() - hit[0] < VERSION_TTL_S:
            return hit[1]
        with self._version_lock:  # one refresh at a time; the others then read its result
            hit = self._versions.get(key)
            now = time.monotonic()
            if hit is not None and now - hit[0] < VERSION_TTL_S:
                return hit[1]
            out: list[int] = [self._store().last_liquidation_seq()]
            for v in venues:
                s = self._native(v, market)
                out += [self._max_ts("candles", v, s), self._max_ts("open_interest", v, s)]
            version = tuple(out)
            self._versions[key] = (now, version)
            if len(self._versions) > 1024:
                self._versions.clear()
            return version

    def data_range(self, venues: Sequence[str], market: str) -> tuple[int, int] | None:
        """[first, last] candle open time over ``venues`` (cached for ``VERSION_TTL_S``)."""
        key = (tuple(venues), market)
        hit = self._ranges.get(key)
        if hit is not None and time.monotonic() - hit[0] < VERSION_TTL_S:
            return hit[1]
        with self._version_lock:
            hit = self._ranges.get(key)
            now = time.monotonic()
            if hit is not None and now - hit[0] < VERSION_TTL_S:
                return hit[1]
            rng = self._data_range(venues, market)
            self._ranges[key] = (now, rng)
            if len(self._ranges) > 1024:
                self._ranges.clear()
            return rng

    def _data_range(self, venues: Sequence[str], market: str) -> tuple[int, int] | None:
        lo: int | None = None
        hi: int | None = None
        store = self._store()
        for v in venues:
            s = self._native(v, market)
            for iv in store.candle_intervals(v, s):
                rng = store.candle_range(v, s, iv)
                if rng is None:
                    continue
                a, b = rng
                lo = a if lo is None else min(lo, a)
                hi = b + iv - 60_000 if hi is None else max(hi, b + iv - 60_000)
        if lo is None or hi is None:
            return None
        return lo, hi

    # -- series ---------------------------------------------------------------------------------

    def candles(self, venue: str, market: str, t0: int, t1: int, interval_ms: int) -> Candles:
        st = self._store().steps(venue, self._native(venue, market), t0, t1, interval_ms)
        ok = (
            np.isfinite(st.open)
            & np.isfinite(st.close)
            & np.isfinite(st.high)
            & np.isfinite(st.low)
        )
        if not ok.any():
            return Candles.empty()
        return Candles(st.ts[ok], st.open[ok], st.high[ok], st.low[ok], st.close[ok], st.volume[ok])

    def open_interest(self, venue: str, market: str, t0: int, t1: int) -> OISeries:
        rows = self._store().open_interest(venue, self._native(venue, market), t0, t1)
        ts = np.array([r.ts for r in rows], np.int64)
        base = np.array([r.oi_base for r in rows], np.float64)
        usd = np.array([np.nan if r.oi_usd is None else r.oi_usd for r in rows], np.float64)
        return OISeries(ts, base, usd)

    # -- liquidations ---------------------------------------------------------------------------

    def liquidations(
        self,
        venues: Sequence[str],
        market: str | None,
        t0: int,
        t1: int,
        min_usd: float = 0.0,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> Liquidations:
        pairs = [
            (m.venue, m.native_symbol, m.market)
            for m in self.markets()
            if m.venue in venues and (market is None or m.market == market)
        ]
        rows: list[tuple[int, str, str, int, int, float, float, float, bool]] = []
        store = self._store()
        for v, s, mk in pairs:
            for seq, r in store.liquidation_rows(
                [v], s, t0, t1, min_usd, limit=limit, newest_first=newest_first
            ):
                rows.append(
                    (seq, v, mk, r.ts, int(r.side), r.price, r.qty, r.notional_usd, r.sampled)
                )
        rows.sort(key=lambda r: (r[3], r[1], r[0]), reverse=newest_first)
        if limit is not None:
            rows = rows[:limit]
        return Liquidations(
            np.array([r[0] for r in rows], np.int64),
            [r[1] for r in rows],
            [r[2] for r in rows],
            np.array([r[3] for r in rows], np.int64),
            np.array([r[4] for r in rows], np.int8),
            np.array([r[5] for r in rows], np.float64),
            np.array([r[6] for r in rows], np.float64),
            np.array([r[7] for r in rows], np.float64),
            np.array([r[8] for r in rows], np.bool_),
        )

    def liquidations_after(self, last_id: int, limit: int) -> list[LiquidationRow]:
        """Liquidations stored after store seq ``last_id``, in insertion order (ids = seqs)."""
        markets = {(m.venue, m.native_symbol): m.market for m in self.markets()}
        out: list[LiquidationRow] = []
        for seq, r in self._store().liquidations_after(last_id, limit):
            market = markets.get((r.venue, r.symbol))
            out.append(
                LiquidationRow(
                    seq,
                    r.venue,
                    market if market is not None else market_of(r.venue, r.symbol),
                    r.symbol,
                    r.ts,
                    int(r.side),
                    r.price,
                    r.qty,
                    r.notional_usd,
                    r.sampled,
                )
            )
        return out

    def last_liquidation_id(self) -> int:
        """The store's last liquidation seq (the live feed starts after it)."""
        return self._store().last_liquidation_seq()

    # -- model ----------------------------------------------------------------------------------

    def _model_steps(
        self, venue: str, native: str, t0: int, t1: int, interval_ms: int
    ) -> ModelSteps | None:
        return self._store().steps(venue, native, t0, t1, interval_ms).to_model(venue, native)

    def estimate(
        self,
        venues: Sequence[str],
        market: str,
        t0: int,
        t1: int,
        interval_ms: int,
        preset: str,
        column_ms: int | None = None,
    ) -> ModelEstimate | None:
        cfg = replace(PRESETS[preset], n_buckets=API_BUCKETS, column_ms=column_ms)
        runs: list[tuple[ModelSteps, F64]] = []
        used: list[str] = []
        skipped: list[str] = []
        for v in venues:
            steps = self._model_steps(v, self._native(v, market), t0, t1, interval_ms)
            if steps is None:  # no candles or no open interest in the window
                skipped.append(v)
                continue
            assert steps.symbol is not None
            try:
                ratios = level_ratios(cfg, v, steps.symbol, float(np.median(steps.close)))
            except InputError:
                skipped.append(v)
                continue  # no built-in rules for this instrument
            runs.append((steps, ratios))
            used.append(v)
        if not runs:
            return None
        lo = min(float(s.low.min()) for s, _ in runs)
        hi = max(float(s.high.max()) for s, _ in runs)
        ratios_all = np.vstack([r for _, r in runs])
        grid = PriceGrid.covering(lo, hi, ratios_all, n=API_BUCKETS)
        results = [estimate(s, cfg, ratios=r, grid=grid) for s, r in runs]
        hm: Heatmap = results[0] if len(results) == 1 else aggregate(results)
        return ModelEstimate(hm, results[0].model_version, used, skipped)

    def price_buckets(
        self, market: str, prices: F64, lo: float, hi: float, max_buckets: int
    ) -> tuple[F64, I64]:
        step = nice_step(max(hi - lo, hi * 1e-6, 1e-9) / max(1, max_buckets - 1))
        span = PriceGrid.spanning(lo, hi, step)
        n = min(max_buckets, span.n)
        grid = PriceGrid(span.origin, span.step, n)
        idx = grid.index(prices)
        idx[(idx < 0) | (idx >= n)] = -1
        return grid.edges, idx

    # -- health ---------------------------------------------------------------------------------

    def coverage(self) -> list[Coverage]:
        st = self._store()
        rows = st.coverage(self.clock.now_ms())
        gaps = st.gaps()
        out: dict[tuple[str, str], dict[str, Any]] = {}
        now = self.clock.now_ms()
        for c in rows:
            d = out.setdefault(
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
        result = []
        for (v, s), d in sorted(out.items()):
            mine = [(g.start_ms, g.end_ms) for g in gaps if g.venue == v and g.symbol == s]
            mine = [g for g in mine if not any(x.backfilled for x in gaps if x.start_ms == g[0])]
            result.append(
                Coverage(
                    v,
                    market_of(v, s),
                    s,
                    sampled_feed(v),
                    liquidations=d["liq"],
                    candles=d["candles"],
                    oi_points=d["oi"],
                    first_ts=d["first"],
                    last_ts=d["last"],
                    last_message_ms=None if d["age"] is None else now - int(d["age"]),
                    gaps=mine[-50:],
                )
            )
        return result
