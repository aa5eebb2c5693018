"""Derived reads shared by the SQL backends: estimator steps, coverage, row counts."""

from __future__ import annotations

from typing import Any

import numpy as np

from liqscope.domain.intervals import interval_name
from liqscope.store import queries
from liqscope.store._db import Params
from liqscope.store._reads import ReadMixin
from liqscope.store.base import TABLES, Coverage, Steps

COUNTED_TABLES: tuple[str, ...] = (
    *TABLES,
    "instruments",
    "gaps",
    "frames",
    "import_files",
    "messages_stats",
    "alerts",
    "snapshots",
)
"""Every table ``counts()`` reports."""


class SummaryMixin(ReadMixin):
    """Steps, coverage and counts."""

    def _columns(self, sql: str, params: Params, dtypes: str) -> list[np.ndarray[Any, Any]]:
        """Run a query and return one array per column (``dtypes``: ``i`` int64, ``f`` float64;
        NULL becomes NaN in float columns)."""
        rows = self._all(sql, params)
        kinds = {"i": np.int64, "f": np.float64}
        if not rows:
            return [np.empty(0, dtype=kinds[d]) for d in dtypes]
        cols = zip(*rows, strict=True)
        return [np.array(c, dtype=kinds[d]) for c, d in zip(cols, dtypes, strict=True)]

    def steps(self, venue: str, symbol: str, t0: int, t1: int, interval_ms: int) -> Steps:
        """Estimator steps over ``[t0, t1)`` (see :class:`Steps`).

        Prices come from stored candles of ``interval_ms`` or of the coarsest stored
        interval dividing it, and from trades for steps candles do not cover (trades also
        supply taker-buy volume where candles lack it).
        """
        g = queries.grid(t0, t1, interval_ms)
        n = int(g.size)
        lo_t = int(g[0]) if n else t0
        hi_t = int(g[-1]) + interval_ms if n else t1
        market = (venue, symbol)
        # Candles: pick the coarsest stored interval that divides the step.
        intervals = self._all(
            "SELECT DISTINCT interval_ms FROM candles WHERE venue = ? AND symbol = ?", market
        )
        usable = sorted(
            (int(r[0]) for r in intervals if interval_ms % int(r[0]) == 0), reverse=True
        )
        ohlcv = queries.empty_ohlcv(n)
        if usable and n:
            ts, *cols = self._columns(
                "SELECT ts, open, high, low, close, volume, taker_buy_volume FROM candles "
                "WHERE venue = ? AND symbol = ? AND interval_ms = ? AND ts >= ? AND ts < ?",
                (*market, usable[0], lo_t, hi_t),
                "iffffff",
            )
            if ts.size:
                ohlcv = queries.ohlcv_from_candles(ts, cols, g, interval_ms)
        has_trades = self._one(
            "SELECT 1 FROM trades WHERE venue = ? AND symbol = ? AND ts >= ? AND ts < ? LIMIT 1",
            (*market, lo_t, hi_t),
        )
        complete = bool(ohlcv.present.all()) and not np.isnan(ohlcv.taker_buy_volume).any()
        if n and has_trades and not complete:
            ts, p, q, side = self._columns(
                "SELECT ts, price, qty, taker_side FROM trades "
                "WHERE venue = ? AND symbol = ? AND ts >= ? AND ts < ?",
                (*market, lo_t, hi_t),
                "iffi",
            )
            from_trades = queries.ohlcv_from_trades(ts, p, q, side, g, interval_ms)
            ohlcv = queries.merge_ohlcv(ohlcv, from_trades)
        # Open interest as of each step's close, carried in from before the range.
        oi_ts, oi_v = self._columns(
            "SELECT ts, oi_base FROM ("
            " SELECT ts, oi_base FROM open_interest WHERE venue = ? AND symbol = ? AND ts < ?"
            " ORDER BY ts DESC LIMIT 1) AS before_range "
            "UNION ALL SELECT ts, oi_base FROM open_interest "
            "WHERE venue = ? AND symbol = ? AND ts >= ? AND ts <= ?",
            (*market, lo_t, *market, lo_t, hi_t),
            "if",
        )
        oi = queries.asof(oi_ts, oi_v, g + interval_ms)
        # Realized liquidations per side.
        l_ts, l_side, l_usd, l_samp = self._columns(
            "SELECT ts, side, notional_usd, sampled FROM liquidations "
            "WHERE venue = ? AND symbol = ? AND ts >= ? AND ts < ?",
            (*market, lo_t, hi_t),
            "iifi",
        )
        bars = queries.realized(l_ts, l_side, l_usd, l_samp.astype(bool), lo_t, hi_t, interval_ms)
        return queries.assemble_steps(interval_ms, g, ohlcv, oi, bars)

    def coverage(self, now_ms: int) -> list[Coverage]:
        """Counts, time ranges, gaps and last message age per venue/symbol/stream."""
        groups: list[tuple[str, str, str, int, int | None, int | None, bool | None]] = []
        for table in ("liquidations", "trades", "open_interest", "marks"):
            extra = ", MAX(sampled)" if table == "liquidations" else ", NULL"
            sql = (
                f"SELECT venue, symbol, COUNT(*), MIN(ts), MAX(ts){extra} FROM {table} "
                "GROUP BY venue, symbol"
            )
            for v, s, cnt, a, b, samp in self._all(sql):
                groups.append((v, s, table, cnt, a, b, None if samp is None else bool(samp)))
        for v, s, iv, cnt, a, b in self._all(
            "SELECT venue, symbol, interval_ms, COUNT(*), MIN(ts), MAX(ts) FROM candles "
            "GROUP BY venue, symbol, interval_ms"
        ):
            groups.append((v, s, f"candles:{interval_name(iv)}", cnt, a, b, None))
        gap_stats: dict[tuple[str, str, str], tuple[int, int]] = {
            (v, s, st): (int(cnt), int(total or 0))
            for v, s, st, cnt, total in self._all(
                "SELECT venue, symbol, stream, COUNT(*), SUM(end_ms - start_ms) FROM gaps "
                "WHERE backfilled = 0 GROUP BY venue, symbol, stream"
            )
        }
        last_msg: dict[str, int] = {}
        for m in self.message_stats():
            last_msg[m.venue] = max(last_msg.get(m.venue, m.last_received_ms), m.last_received_ms)
        seen = {(g[0], g[1], g[2]) for g in groups}
        for key in gap_stats:
            if key not in seen:
                groups.append((key[0], key[1], key[2], 0, None, None, None))
        out: list[Coverage] = []
        for v, s, st, cnt, a, b, samp in sorted(groups, key=lambda x: (x[0], x[1], x[2])):
            gcnt, gms = gap_stats.get((v, s, st), (0, 0))
            last = last_msg.get(v)
            out.append(
                Coverage(
                    venue=v,
                    symbol=s,
                    stream=st,
                    rows=int(cnt),
                    first_ts=None if a is None else int(a),
                    last_ts=None if b is None else int(b),
                    gaps=gcnt,
                    gap_ms=gms,
                    last_message_age_ms=None if last is None else now_ms - last,
                    sampled=samp,
                )
            )
        return out

    def counts(self) -> dict[str, int]:
        """Row counts of every table."""
        out: dict[str, int] = {}
        for t in COUNTED_TABLES:
            row = self._one(f"SELECT COUNT(*) FROM {t}")
            out[t] = int(row[0]) if row else 0
        return out
