"""Reading the lake with DuckDB (``read_parquet(..., hive_partitioning=true)``).

:meth:`Lake.steps` builds estimator steps with exactly the semantics of the store's
``steps`` (the same pure aggregations of :mod:`liqscope.store.queries`), so
:func:`read_steps` gives the same ``model.Steps`` as ``liqscope.store.readers.read_steps``
for the same rows; long ranges read only the partitions of the days asked for.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from liqscope.domain.errors import InputError
from liqscope.domain.events import Trade
from liqscope.domain.types import Side
from liqscope.lake.layout import PART, day_of, day_text
from liqscope.model.steps import Steps as ModelSteps
from liqscope.store import queries
from liqscope.store.base import Steps

if TYPE_CHECKING:
    import duckdb

__all__ = ["Lake", "read_steps"]

_LAST_DAY = 2_932_896
"""9999-12-31 as an epoch day: open ranges (``t1 = 2**62``) are clamped to dates that exist."""
_DTYPES = {"i": np.int64, "f": np.float64, "s": np.object_}


def _array(values: Any, dtype: str) -> np.ndarray[Any, Any]:
    """A DuckDB result column as int64, float64 (NULL -> NaN) or str objects."""
    if isinstance(values, np.ma.MaskedArray):
        return np.ma.filled(values.astype(np.float64), np.nan)
    return np.asarray(values, dtype=_DTYPES[dtype])


_THREAD = threading.local()


def _connection(threads: int | None) -> duckdb.DuckDBPyConnection:
    """This thread's in-memory DuckDB connection for ``threads`` (made once, then reused:
    opening and closing one costs tens of ms, as much as reading a month of one market).
    Lakes only run ``read_parquet`` queries on it, so they share it without state."""
    import duckdb

    cons: dict[int | None, duckdb.DuckDBPyConnection] = _THREAD.__dict__.setdefault("cons", {})
    con = cons.get(threads)
    if con is None:
        config: dict[str, str | bool | int | float | list[str]] = (
            {"threads": threads} if threads else {}
        )
        con = cons[threads] = duckdb.connect(config=config)
    return con


class Lake:
    """A lake folder opened for reading (on this thread's DuckDB connection)."""

    def __init__(self, root: Path, *, threads: int | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"no lake at {self.root} (run `liqscope lake export` first)")
        self._con = _connection(threads)

    def close(self) -> None:
        """Nothing to release: the connection is the thread's, kept for the next lake."""

    def __enter__(self) -> Lake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ queries

    def _source(self, kind: str, venue: str, symbol: str) -> str | None:
        folder = self.root / f"kind={kind}" / f"venue={venue}" / f"symbol={symbol}"
        if not any(folder.glob(f"date=*/{PART}")):
            return None
        pattern = str(folder / "date=*" / PART).replace("'", "''")
        return f"read_parquet('{pattern}', hive_partitioning = true, hive_types_autocast = false)"

    def _columns(
        self,
        kind: str,
        venue: str,
        symbol: str,
        select: str,
        dtypes: str,
        where: str = "TRUE",
        params: Sequence[Any] = (),
        tail: str = "",
    ) -> list[np.ndarray[Any, Any]]:
        """One array per selected column (``dtypes``: ``i`` int64, ``f`` float64, ``s`` str)."""
        src = self._source(kind, venue, symbol)
        if src is None:
            return [np.empty(0, dtype=_DTYPES[d]) for d in dtypes]
        import duckdb

        try:
            res = self._con.execute(
                f"SELECT {select} FROM {src} WHERE {where} {tail}", list(params)
            )
            cols = list(res.fetchnumpy().values())
        except duckdb.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(
                f"cannot read the lake's {kind} of {venue} {symbol}: {first}"
            ) from None
        return [_array(c, d) for c, d in zip(cols, dtypes, strict=True)]

    def _range(self, t0: int, t1: int) -> tuple[str, list[Any]]:
        """Partition pruning by date plus the exact time filter ``t0 <= ts < t1``."""
        first, last = (min(max(day_of(t), 0), _LAST_DAY) for t in (t0, max(t1 - 1, t0)))
        return "date >= ? AND date <= ? AND ts >= ? AND ts < ?", [
            day_text(first),
            day_text(last),
            t0,
            t1,
        ]

    # ------------------------------------------------------------------ public reads

    def markets(self, kind: str = "candles") -> list[tuple[str, str]]:
        """``(venue, native symbol)`` pairs with ``kind`` rows, sorted."""
        out = []
        for vdir in sorted((self.root / f"kind={kind}").glob("venue=*")):
            for sdir in sorted(vdir.glob("symbol=*")):
                if any(sdir.glob(f"date=*/{PART}")):
                    out.append((vdir.name[len("venue=") :], sdir.name[len("symbol=") :]))
        return out

    def candle_span(self, venue: str, symbol: str) -> tuple[int, int] | None:
        """``(first, last)`` candle open time of a market, or None."""
        lo, hi = self._columns("candles", venue, symbol, "min(ts), max(ts)", "ff")
        if not lo.size or not np.isfinite(lo[0]):
            return None
        return int(lo[0]), int(hi[0])

    def liquidations(
        self, venue: str, symbol: str, t0: int, t1: int
    ) -> tuple[np.ndarray[Any, Any], ...]:
        """``(ts, side, price, notional_usd, sampled)`` of liquidations in ``[t0, t1)``,
        by time (``side`` +1 = a long was liquidated)."""
        where, params = self._range(t0, t1)
        return tuple(
            self._columns(
                "liquidations", venue, symbol,
                "ts, side, price, notional_usd, sampled::BIGINT", "iiffi", where, params,
                "ORDER BY ts, side, qty, price",
            )
        )  # fmt: skip

    def trades(self, venue: str, symbol: str, t0: int, t1: int) -> list[Trade]:
        """Public trades in ``[t0, t1)``, by time, then trade id (as ``Store.trades``)."""
        where, params = self._range(t0, t1)
        ts, price, qty, side, ids = self._columns(
            "trades", venue, symbol, "ts, price, qty, taker_side, trade_id", "iffis", where, params
        )
        out = [
            Trade(venue, symbol, int(t), float(p), float(q), Side(int(s)), str(i))
            for t, p, q, s, i in zip(ts, price, qty, side, ids, strict=True)
        ]
        out.sort(key=lambda t: (t.ts, t.trade_id))
        return out

    def steps(self, venue: str, symbol: str, t0: int, t1: int, interval_ms: int) -> Steps:
        """Estimator steps over ``[t0, t1)``: the store's ``steps`` semantics (candles of
        the coarsest interval dividing the step, trades where candles are missing, OI as
        of each step's close carried in from before the range, realized liquidations)."""
        g = queries.grid(t0, t1, interval_ms)
        n = int(g.size)
        lo_t = int(g[0]) if n else t0
        hi_t = int(g[-1]) + interval_ms if n else t1
        (intervals,) = self._columns("candles", venue, symbol, "DISTINCT interval_ms", "i")
        usable = sorted((int(i) for i in intervals if interval_ms % int(i) == 0), reverse=True)
        ohlcv = queries.empty_ohlcv(n)
        where, params = self._range(lo_t, hi_t)
        if usable and n:
            ts, *cols = self._columns(
                "candles", venue, symbol,
                "ts, open, high, low, close, volume, taker_buy_volume", "iffffff",
                f"{where} AND interval_ms = ?", [*params, usable[0]],
            )  # fmt: skip
            if ts.size:
                ohlcv = queries.ohlcv_from_candles(ts, cols, g, interval_ms)
        complete = bool(ohlcv.present.all()) and not np.isnan(ohlcv.taker_buy_volume).any()
        if n and not complete:
            ts, p, q, side = self._columns(
                "trades", venue, symbol, "ts, price, qty, taker_side", "iffi", where, params
            )
            if ts.size:
                from_trades = queries.ohlcv_from_trades(ts, p, q, side, g, interval_ms)
                ohlcv = queries.merge_ohlcv(ohlcv, from_trades)
        # OI as of each step's close: the last observation before the range, then the range
        # up to and including its end.
        before_ts, before_v = self._columns(
            "open_interest", venue, symbol, "ts, oi_base", "if",
            "date <= ? AND ts < ?", [day_text(day_of(lo_t)), lo_t], "ORDER BY ts DESC LIMIT 1",
        )  # fmt: skip
        in_where, in_params = self._range(lo_t, hi_t + 1)
        in_ts, in_v = self._columns(
            "open_interest", venue, symbol, "ts, oi_base", "if", in_where, in_params
        )
        oi_ts = np.concatenate([before_ts, in_ts])
        oi_v = np.concatenate([before_v, in_v])
        order = np.argsort(oi_ts, kind="stable")
        oi = queries.asof(oi_ts[order], oi_v[order], g + interval_ms)
        l_ts, l_side, _, l_usd, l_samp = self.liquidations(venue, symbol, lo_t, hi_t)
        bars = queries.realized(l_ts, l_side, l_usd, l_samp.astype(bool), lo_t, hi_t, interval_ms)
        return queries.assemble_steps(interval_ms, g, ohlcv, oi, bars)


def read_steps(
    lake: Lake, venue: str, symbol: str, t0: int, t1: int, interval_ms: int
) -> ModelSteps | None:
    """The estimator input from the lake, as ``liqscope.store.readers.read_steps`` gives it
    from a store: steps with prices and a known OI on ``[t0, t1)``; None when fewer than two."""
    return lake.steps(venue, symbol, t0, t1, interval_ms).to_model(venue, symbol)
