"""An in-memory ``Backend`` with a deterministic synthetic market, for tests and demos.

Its toy estimator places each step's new open interest at ``price·(1 ∓ 1/L)`` per tier and
removes levels the path crosses. It is *not* the liqscope model (see ``liqscope.model``); it only
gives the API and the UI something shaped like it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from liqscope.api.backend import (
    BOOL,
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

TIERS = ["5x", "10x", "25x", "50x", "100x"]
_LEV = np.array([5.0, 10.0, 25.0, 50.0, 100.0])
_WEIGHTS = {"all": np.array([0.3, 0.3, 0.2, 0.12, 0.08]), "high": np.array([0, 0, 0.5, 0.3, 0.2])}
MINUTE = 60_000


@dataclass
class _Series:
    ts: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
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
    ts = start_ms + np.arange(minutes, dtype=np.int64) * MINUTE
    return _Series(ts, open_, high, low, close, volume, np.maximum(oi, 1000.0))


class ToyEstimate:
    """Result of the toy estimator: a list of levels, each live over a run of columns."""

    def __init__(
        self,
        column_ts: I64,
        edges: F64,
        closes: F64,
        side: I64,  # 0 long, 1 short
        tier: I64,
        bucket: I64,
        first: I64,  # first column where the level is live
        stop: I64,  # first column where it is gone
        usd: F64,
    ) -> None:
        self._ts, self._edges, self._closes = column_ts, edges, closes
        self._side, self._tier, self._bucket = side, tier, bucket
        self._first, self._stop, self._usd = first, stop, usd

    @property
    def tiers(self) -> list[str]:
        return list(TIERS)

    @property
    def model_version(self) -> str:
        return "toy-0"

    def _mask(self, tiers: Sequence[str], sides: Sequence[int]) -> BOOL:
        ti = np.array([TIERS.index(t) for t in tiers], np.int64)
        si = np.array([0 if s > 0 else 1 for s in sides], np.int64)
        return np.isin(self._tier, ti) & np.isin(self._side, si)

    def grid(self, tiers: Sequence[str], sides: Sequence[int], relative: bool) -> Grid:
        n, nb = self._ts.size, self._edges.size - 1
        m = self._mask(tiers, sides)
        diff = np.zeros((nb, n + 1))
        np.add.at(diff, (self._bucket[m], self._first[m]), self._usd[m])
        np.add.at(diff, (self._bucket[m], self._stop[m]), -self._usd[m])
        matrix = np.cumsum(diff, axis=1)[:, :n]
        matrix[np.abs(matrix) < 1e-6] = 0.0
        if relative and matrix.size and matrix.max() > 0:
            matrix = matrix / matrix.max()
        return Grid(self._ts, self._edges, matrix)

    def profile(self, at: int | None, tiers: Sequence[str]) -> Profile:
        n, nb = self._ts.size, self._edges.size - 1
        j = n - 1 if at is None else int(np.searchsorted(self._ts, at, "right") - 1)
        j = max(0, min(j, n - 1))
        live = (self._first <= j) & (self._stop > j)
        out = np.zeros((2, len(tiers), nb))
        for k, t in enumerate(tiers):
            for side in (0, 1):
                m = live & (self._tier == TIERS.index(t)) & (self._side == side)
                out[side, k] = np.bincount(self._bucket[m], self._usd[m], nb)
        return Profile(
            int(self._ts[j]), float(self._closes[j]), self._edges, list(tiers), out[0], out[1]
        )


def _first_reach(values: F64, start: I64, level: F64, below: bool) -> I64:
    """First index k >= start with values[k] <= level (below) or >= level; len(values) if none.

    Binary lifting over a sparse table of running minima (maxima), vectorised over levels.
    """
    n = values.size
    v = values if below else -values
    lv = level if below else -level
    tables = [v]
    while (1 << len(tables)) <= n:
        prev, h = tables[-1], 1 << (len(tables) - 1)
        tables.append(np.minimum(prev, np.concatenate((prev[h:], np.full(h, np.inf)))))
    pos = start.copy()
    for p in range(len(tables) - 1, -1, -1):
        ok = pos < n
        idx = np.minimum(pos, n - 1)
        jump = ok & (tables[p][idx] > lv)  # no hit within [pos, pos + 2^p)
        pos = np.where(jump, pos + (1 << p), pos)
    return np.minimum(pos, n).astype(np.int64)


class MemoryBackend:
    """Synthetic markets held in memory; liquidations can be added while serving."""

    def __init__(
        self,
        start_ms: int = 1_700_000_000_000 // MINUTE * MINUTE,
        minutes: int = 3 * 24 * 60,
        markets: Sequence[tuple[str, str, str, bool]] = (
            ("binance", "BTCUSDT", "BTCUSDT", True),
            ("bybit", "BTCUSDT", "BTCUSDT", False),
            ("okx", "BTCUSDT", "BTC-USDT-SWAP", False),
        ),
        liquidations_per_day: int = 400,
        empty: bool = False,
    ) -> None:
        self._lock = threading.Lock()
        self._infos = [MarketInfo(v, m, n, s) for v, m, n, s in markets]
        self._series: dict[tuple[str, str], _Series] = {}
        self._liq: list[LiquidationRow] = []
        self._next_id = 1
        if empty:
            return
        for k, info in enumerate(self._infos):
            s = synthetic_series(start_ms, minutes, seed=7, price0=40_000.0)
            s.close *= 1 + 0.0002 * k  # venues differ slightly
            self._series[(info.venue, info.market)] = s
            rng = np.random.default_rng(100 + k)
            n = liquidations_per_day * minutes // 1440
            at = np.sort(rng.integers(0, minutes, n))
            for i in at:
                side = 1 if rng.random() < 0.5 else -1
                px = float(s.low[i] if side > 0 else s.high[i])
                usd = float(rng.lognormal(8.5, 1.4))
                self.add_liquidation(
                    info.venue,
                    info.market,
                    int(s.ts[i]) + int(rng.integers(0, MINUTE)),
                    side,
                    px,
                    usd,
                )

    # -- writes (tests and demos) ---------------------------------------------------------------

    def add_liquidation(
        self, venue: str, market: str, ts: int, side: int, price: float, notional_usd: float
    ) -> LiquidationRow:
        info = next(m for m in self._infos if m.venue == venue and m.market == market)
        with self._lock:
            row = LiquidationRow(
                self._next_id,
                venue,
                market,
                info.native_symbol,
                ts,
                side,
                price,
                notional_usd / price,
                notional_usd,
                info.sampled,
            )
            self._next_id += 1
            self._liq.append(row)
            return row

    # -- Backend --------------------------------------------------------------------------------

    def markets(self) -> list[MarketInfo]:
        return list(self._infos)

    def presets(self) -> list[str]:
        return list(_WEIGHTS)

    def tiers(self) -> list[str]:
        return list(TIERS)

    def data_version(self, venues: Sequence[str], market: str) -> tuple[int, ...]:
        with self._lock:
            return (self._next_id, sum(s.ts.size for s in self._series.values()))

    def data_range(self, venues: Sequence[str], market: str) -> tuple[int, int] | None:
        found = [self._series[(v, market)] for v in venues if (v, market) in self._series]
        if not found:
            return None
        return int(min(s.ts[0] for s in found)), int(max(s.ts[-1] for s in found))

    def candles(self, venue: str, market: str, t0: int, t1: int, interval_ms: int) -> Candles:
        s = self._series.get((venue, market))
        if s is None:
            return Candles.empty()
        m = (s.ts >= t0) & (s.ts < t1)
        if not m.any():
            return Candles.empty()
        ts = s.ts[m] // interval_ms * interval_ms
        starts = np.nonzero(np.diff(ts, prepend=ts[0] - 1))[0]
        ends = np.append(starts[1:], ts.size) - 1
        return Candles(
            ts[starts],
            s.open[m][starts],
            np.maximum.reduceat(s.high[m], starts),
            np.minimum.reduceat(s.low[m], starts),
            s.close[m][ends],
            np.add.reduceat(s.volume[m], starts),
        )

    def open_interest(self, venue: str, market: str, t0: int, t1: int) -> OISeries:
        s = self._series.get((venue, market))
        if s is None:
            z = np.zeros(0)
            return OISeries(np.zeros(0, np.int64), z, z)
        m = (s.ts >= t0) & (s.ts < t1)
        return OISeries(s.ts[m], s.oi[m], s.oi[m] * s.close[m])

    def _rows(self) -> list[LiquidationRow]:
        with self._lock:
            return list(self._liq)

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
        rows = [
            r
            for r in self._rows()
            if r.venue in venues
            and (market is None or r.market == market)
            and t0 <= r.ts < t1
            and r.notional_usd >= min_usd
        ]
        rows.sort(key=lambda r: (r.ts, r.id), reverse=newest_first)
        if limit is not None:
            rows = rows[:limit]
        return Liquidations(
            np.array([r.id for r in rows], np.int64),
            [r.venue for r in rows],
            [r.market for r in rows],
            np.array([r.ts for r in rows], np.int64),
            np.array([r.side for r in rows], np.int8),
            np.array([r.price for r in rows], np.float64),
            np.array([r.qty for r in rows], np.float64),
            np.array([r.notional_usd for r in rows], np.float64),
            np.array([r.sampled for r in rows], np.bool_),
        )

    def liquidations_after(self, last_id: int, limit: int) -> list[LiquidationRow]:
        return [r for r in self._rows() if r.id > last_id][:limit]

    def last_liquidation_id(self) -> int:
        with self._lock:
            return self._next_id - 1

    def estimate(
        self,
        venues: Sequence[str],
        market: str,
        t0: int,
        t1: int,
        interval_ms: int,
        preset: str,
        column_ms: int | None = None,
    ) -> ToyEstimate | None:
        found = [v for v in venues if (v, market) in self._series]
        if not found:
            return None
        cands = [self.candles(v, market, t0, t1, interval_ms) for v in found]
        oi = [self._series[(v, market)] for v in found]
        if not len(cands[0]):
            return None
        ts = cands[0].ts
        n = ts.size
        lo, hi = float(cands[0].low.min()) * 0.5, float(cands[0].high.max()) * 1.5
        step = 10.0 ** np.floor(np.log10(hi / 1000))
        edges = np.arange(np.floor(lo / step) * step, hi + step, step)
        nb = edges.size - 1
        weights = _WEIGHTS[preset]
        parts: list[tuple[F64, ...]] = []
        for c, s in zip(cands, oi, strict=True):
            k = min(n, len(c))
            col = np.searchsorted(ts, c.ts[:k]).astype(np.int64)
            at = np.clip(np.searchsorted(s.ts, c.ts[:k]), 0, s.ts.size - 1)
            d_oi = np.diff(s.oi[at], prepend=s.oi[at][0]) * c.close[:k]
            grow = d_oi > 0
            lows = np.full(n, np.inf)
            highs = np.full(n, -np.inf)
            lows[col] = c.low[:k]
            highs[col] = c.high[:k]
            for t, lev in enumerate(_LEV):
                for side, sign in ((0, -1.0), (1, 1.0)):
                    px = c.close[:k][grow] * (1 + sign / lev)
                    first = col[grow] + 1
                    stop = _first_reach(lows if side == 0 else highs, first, px, side == 0)
                    usd = d_oi[grow] * weights[t] / 2
                    b = np.searchsorted(edges, px, side="right") - 1
                    keep = (b >= 0) & (b < nb) & (usd > 0)
                    parts.append(
                        (
                            np.full(keep.sum(), side),
                            np.full(keep.sum(), t),
                            b[keep],
                            first[keep],
                            stop[keep],
                            usd[keep],
                        )
                    )
        cat = [np.concatenate([p[i] for p in parts]) for i in range(6)]
        return ToyEstimate(
            ts,
            edges,
            cands[0].close,
            cat[0].astype(np.int64),
            cat[1].astype(np.int64),
            cat[2].astype(np.int64),
            np.minimum(cat[3], n).astype(np.int64),
            np.minimum(cat[4], n).astype(np.int64),
            cat[5].astype(np.float64),
        )

    def price_buckets(
        self, market: str, prices: F64, lo: float, hi: float, max_buckets: int
    ) -> tuple[F64, I64]:
        step = max((hi - lo) / max(1, max_buckets - 1), 1e-9)
        edges = np.floor(lo / step) * step + np.arange(max_buckets + 1) * step
        idx = np.searchsorted(edges, prices, side="right").astype(np.int64) - 1
        idx[(idx < 0) | (idx >= max_buckets)] = -1
        return edges, idx

    def coverage(self) -> list[Coverage]:
        rows = self._rows()
        out = []
        for info in self._infos:
            s = self._series.get((info.venue, info.market))
            mine = [r for r in rows if r.venue == info.venue and r.market == info.market]
            out.append(
                Coverage(
                    info.venue,
                    info.market,
                    info.native_symbol,
                    info.sampled,
                    liquidations=len(mine),
                    candles=0 if s is None else int(s.ts.size),
                    oi_points=0 if s is None else int(s.ts.size),
                    first_ts=None if s is None else int(s.ts[0]),
                    last_ts=None if s is None else int(s.ts[-1]),
                    last_message_ms=max((r.ts for r in mine), default=None),
                    gaps=[],
                )
            )
        return out


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
                MINUTE,
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
            OpenInterest(venue, native, int(s.ts[i]) + MINUTE - 1, float(s.oi[i]), None)
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
                    int(s.ts[i]) + int(rng.integers(0, MINUTE)) + j % 7,
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
